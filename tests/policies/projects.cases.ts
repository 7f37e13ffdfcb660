// app_public.projects: members and admins of a tenant read, add and rename
// its projects, only admins delete them; anonymous has no access;
// operators (acting in a tenant) only read.
import type { PolicyCase } from "../helpers/policy.ts";
import { operatorReads, withoutPrivilege } from "./shared.ts";

export const cases: PolicyCase[] = [
  { actor: "operator acting in A", does: "lists projects", sql: "select * from app_public.projects", expect: { rows: 1, tenant: "A" } },
  ...operatorReads("projects"),
  {
    actor: "operator acting in A",
    does: "adds a project",
    sql: "insert into app_public.projects (name) values ('Support')",
    expect: { error: "permission denied" },
  },
  { actor: "operator acting in A", does: "renames A's projects", sql: "update app_public.projects set name = 'x'", expect: { error: "permission denied" } },
  { actor: "operator acting in A", does: "deletes A's projects", sql: "delete from app_public.projects", expect: { error: "permission denied" } },
  ...withoutPrivilege("app_public.projects", "name", ["anonymous"], ["select", "insert", "update", "delete"]),
  { actor: "member of A", does: "lists projects", sql: "select * from app_public.projects", expect: { rows: 1, tenant: "A" } },
  { actor: "admin of B", does: "lists projects", sql: "select * from app_public.projects", expect: { rows: 1, tenant: "B" } },
  {
    actor: "member of A",
    does: "reads B's project by id",
    sql: "select * from app_public.projects where id = $1",
    params: (w) => [w.work.B.projectId],
    expect: { rows: 0 },
  },
  { actor: "member with no claims", does: "lists projects", sql: "select * from app_public.projects", expect: { rows: 0 } },
  {
    actor: "member of A",
    does: "adds a project (it lands in A)",
    sql: "insert into app_public.projects (name) values ('Launch') returning tenant_id",
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "admin of A",
    does: "adds a project (it lands in A)",
    sql: "insert into app_public.projects (name) values ('Launch') returning tenant_id",
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "member of A",
    does: "adds a project to tenant B",
    sql: "insert into app_public.projects (tenant_id, name) values ($1, 'Planted')",
    params: (w) => [w.tenants.B.id],
    expect: { error: "RLS violation" },
  },
  { actor: "member of A", does: "renames every project it can", sql: "update app_public.projects set name = 'Renamed'", expect: { affected: 1 } },
  { actor: "admin of A", does: "renames every project it can", sql: "update app_public.projects set name = 'Renamed'", expect: { affected: 1 } },
  {
    actor: "admin of A",
    does: "renames B's project by id",
    sql: "update app_public.projects set name = 'Pwned' where id = $1",
    params: (w) => [w.work.B.projectId],
    expect: { affected: 0 },
  },
  { actor: "member of A", does: "deletes projects", sql: "delete from app_public.projects", expect: { error: "permission denied" } },
  { actor: "admin of A", does: "deletes every project it can", sql: "delete from app_public.projects", expect: { affected: 1 } },
  {
    actor: "admin of A",
    does: "deletes B's project by id",
    sql: "delete from app_public.projects where id = $1",
    params: (w) => [w.work.B.projectId],
    expect: { affected: 0 },
  },
  { actor: "anonymous", does: "lists projects", sql: "select * from app_public.projects", expect: { error: "permission denied" } },
  { actor: "member of B", does: "lists projects", sql: "select * from app_public.projects", expect: { rows: 1, tenant: "B" } },
  {
    actor: "member of A",
    does: "creates a project",
    sql: "insert into app_public.projects (name) values ('New') returning tenant_id",
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "member of A",
    does: "creates a project in tenant B",
    sql: "insert into app_public.projects (tenant_id, name) values ($1, 'Spy')",
    params: (w) => [w.tenants.B.id],
    expect: { error: "RLS violation" },
  },
  { actor: "member of A", does: "renames every project it can", sql: "update app_public.projects set name = 'x'", expect: { affected: 1 } },
  {
    actor: "member of A",
    does: "renames B's project by id",
    sql: "update app_public.projects set name = 'x' where id = $1",
    params: (w) => [w.work.B.projectId],
    expect: { affected: 0 },
  },
  {
    actor: "member of A",
    does: "moves its project to tenant B",
    sql: "update app_public.projects set tenant_id = $1",
    params: (w) => [w.tenants.B.id],
    expect: { error: "IMMUT" },
  },
];
