// app_public.tenants (the one global table): each user sees and an admin
// renames only its own tenant; operators see every tenant and change none;
// slugs and ids never change; rows come and go only through create_tenant
// and delete_tenant. And the functions that read the caller's tenant
// (current_tenant, current_tenant_id).
import type { PolicyCase } from "../helpers/policy.ts";
import { withoutPrivilege } from "./shared.ts";

export const cases: PolicyCase[] = [
  { actor: "anonymous", does: "lists tenants", sql: "select * from app_public.tenants", expect: { error: "permission denied" } },
  { actor: "member of A", does: "lists tenants", sql: "select * from app_public.tenants", expect: { rows: 1, tenant: "A", tenantColumn: "id" } },
  { actor: "admin of A", does: "lists tenants", sql: "select * from app_public.tenants", expect: { rows: 1, tenant: "A", tenantColumn: "id" } },
  { actor: "member of B", does: "lists tenants", sql: "select * from app_public.tenants", expect: { rows: 1, tenant: "B", tenantColumn: "id" } },
  {
    actor: "member of A",
    does: "looks up tenant B by slug",
    sql: "select * from app_public.tenants where slug = $1",
    params: (w) => [w.tenants.B.slug],
    expect: { rows: 0 },
  },
  { actor: "member with no claims", does: "lists tenants", sql: "select * from app_public.tenants", expect: { rows: 0 } },
  { actor: "member with a malformed tenant claim", does: "lists tenants", sql: "select * from app_public.tenants", expect: { rows: 0 } },
  { actor: "member of A", does: "renames tenant A", sql: "update app_public.tenants set name = 'x'", expect: { error: "permission denied" } },
  { actor: "admin of A", does: "renames every tenant it can", sql: "update app_public.tenants set name = 'Renamed'", expect: { affected: 1 } },
  {
    actor: "admin of A",
    does: "renames tenant B by id",
    sql: "update app_public.tenants set name = 'Pwned' where id = $1",
    params: (w) => [w.tenants.B.id],
    expect: { affected: 0 },
  },
  { actor: "admin of A", does: "changes tenant A's slug", sql: "update app_public.tenants set slug = 'other'", expect: { error: "IMMUT" } },
  { actor: "admin of A", does: "changes tenant A's id", sql: "update app_public.tenants set id = gen_random_uuid()", expect: { error: "IMMUT" } },
  {
    actor: "admin of A",
    does: "inserts a tenant",
    sql: "insert into app_public.tenants (slug, name) values ('new-tenant', 'New')",
    expect: { error: "permission denied" },
  },
  { actor: "admin of A", does: "deletes tenant A", sql: "delete from app_public.tenants", expect: { error: "permission denied" } },
  { actor: "operator", does: "lists tenants", sql: "select * from app_public.tenants", expect: { rows: 2 } },
  { actor: "operator acting in A", does: "lists tenants", sql: "select * from app_public.tenants", expect: { rows: 2 } },
  { actor: "operator", does: "renames tenants", sql: "update app_public.tenants set name = 'Pwned'", expect: { error: "permission denied" } },
  {
    actor: "operator acting in A",
    does: "renames tenant A",
    sql: "update app_public.tenants set name = 'Pwned' where id = $1",
    params: (w) => [w.tenants.A.id],
    expect: { error: "permission denied" },
  },
  {
    actor: "operator",
    does: "inserts a tenant",
    sql: "insert into app_public.tenants (slug, name) values ('rogue', 'Rogue')",
    expect: { error: "permission denied" },
  },
  { actor: "operator", does: "deletes tenants", sql: "delete from app_public.tenants", expect: { error: "permission denied" } },
  { actor: "operator acting in A", does: "deletes tenant A", sql: "delete from app_public.tenants", expect: { error: "permission denied" } },
  ...withoutPrivilege("app_public.tenants", "name", ["anonymous", "member of A"], ["insert", "delete"]),
  ...withoutPrivilege("app_public.tenants", "name", ["anonymous"], ["update"]),
  {
    actor: "member of B",
    does: "asks for its tenant",
    sql: "select t.* from app_public.current_tenant() t where t.id is not null",
    expect: { rows: 1, tenant: "B", tenantColumn: "id" },
  },
  { actor: "anonymous", does: "asks for its tenant", sql: "select t.* from app_public.current_tenant() t where t.id is not null", expect: { rows: 0 } },
  { actor: "admin of A", does: "asks for its tenant", sql: "select t.* from app_public.current_tenant() t where t.id is not null", expect: { rows: 1, tenant: "A", tenantColumn: "id" } },
  { actor: "operator", does: "asks for its tenant without naming one", sql: "select t.* from app_public.current_tenant() t where t.id is not null", expect: { rows: 0 } },
  { actor: "operator acting in A", does: "asks for its tenant", sql: "select t.* from app_public.current_tenant() t where t.id is not null", expect: { rows: 1, tenant: "A", tenantColumn: "id" } },
  { actor: "anonymous", does: "reads its tenant id", sql: "select app_public.current_tenant_id() as tenant_id where app_public.current_tenant_id() is not null", expect: { rows: 0 } },
  { actor: "member of A", does: "reads its tenant id", sql: "select app_public.current_tenant_id() as tenant_id", expect: { rows: 1, tenant: "A" } },
  { actor: "admin of B", does: "reads its tenant id", sql: "select app_public.current_tenant_id() as tenant_id", expect: { rows: 1, tenant: "B" } },
  { actor: "member with a malformed tenant claim", does: "reads its tenant id", sql: "select app_public.current_tenant_id() as tenant_id where app_public.current_tenant_id() is not null", expect: { rows: 0 } },
  { actor: "operator acting in A", does: "reads its tenant id", sql: "select app_public.current_tenant_id() as tenant_id", expect: { rows: 1, tenant: "A" } },
  { actor: "operator", does: "reads its tenant id without naming a tenant", sql: "select app_public.current_tenant_id() as tenant_id where app_public.current_tenant_id() is not null", expect: { rows: 0 } },
];
