// Row-level security and privileges, as the request roles see them.
import { beforeAll } from "vitest";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { policyMatrix } from "./helpers/policy.ts";
import { createWorld, type World } from "./helpers/world.ts";

let db: TestDatabase;
let world: World;
beforeAll(async () => {
  db = await createTestDatabase();
  world = await createWorld(db.ownerUrl);
});
const context = () => ({ authUrl: db.authUrl, world });

policyMatrix("tenants", context, [
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
]);

policyMatrix("users", context, [
  { actor: "anonymous", does: "lists users", sql: "select * from app_public.users", expect: { error: "permission denied" } },
  { actor: "member of A", does: "lists users", sql: "select * from app_public.users", expect: { rows: 2, tenant: "A" } },
  { actor: "admin of A", does: "lists users", sql: "select * from app_public.users", expect: { rows: 2, tenant: "A" } },
  { actor: "member of B", does: "lists users", sql: "select * from app_public.users", expect: { rows: 2, tenant: "B" } },
  { actor: "admin of B", does: "lists users", sql: "select * from app_public.users", expect: { rows: 2, tenant: "B" } },
  {
    actor: "member of A",
    does: "reads B's admin by tenant and id",
    sql: "select * from app_public.users where tenant_id = $1 and id = $2",
    params: (w) => [w.adminB.tenantId, w.adminB.id],
    expect: { rows: 0 },
  },
  { actor: "member with no claims", does: "lists users", sql: "select * from app_public.users", expect: { rows: 0 } },
  { actor: "member with a malformed tenant claim", does: "lists users", sql: "select * from app_public.users", expect: { rows: 0 } },
  {
    actor: "member of A",
    does: "adds a user",
    sql: "insert into app_public.users (email, name) values ('new@acme.test', 'New')",
    expect: { error: "permission denied" },
  },
  { actor: "member of A", does: "renames every user it can", sql: "update app_public.users set name = 'x'", expect: { affected: 1 } },
  {
    actor: "member of A",
    does: "renames itself",
    sql: "update app_public.users set name = 'Me' where id = $1",
    params: (w) => [w.memberA.id],
    expect: { affected: 1 },
  },
  {
    actor: "member of A",
    does: "renames A's admin",
    sql: "update app_public.users set name = 'x' where id = $1",
    params: (w) => [w.adminA.id],
    expect: { affected: 0 },
  },
  {
    actor: "member of A",
    does: "makes itself admin",
    sql: "update app_public.users set role = 'admin' where id = $1",
    params: (w) => [w.memberA.id],
    expect: { error: "IMMUT" },
  },
  {
    actor: "member of A",
    does: "changes its own email",
    sql: "update app_public.users set email = 'new@acme.test' where id = $1",
    params: (w) => [w.memberA.id],
    expect: { error: "IMMUT" },
  },
  { actor: "member of A", does: "deletes users", sql: "delete from app_public.users", expect: { error: "permission denied" } },
  {
    actor: "admin of A",
    does: "adds a user directly (only invitations add users)",
    sql: "insert into app_public.users (email, name) values ('new@acme.test', 'New') returning tenant_id",
    expect: { error: "permission denied" },
  },
  { actor: "admin of A", does: "renames every user it can", sql: "update app_public.users set name = 'Renamed'", expect: { affected: 2 } },
  {
    actor: "admin of A",
    does: "renames B's member by id",
    sql: "update app_public.users set name = 'Pwned' where id = $1",
    params: (w) => [w.memberB.id],
    expect: { affected: 0 },
  },
  {
    actor: "admin of A",
    does: "moves a user to tenant B",
    sql: "update app_public.users set tenant_id = $1 where id = $2",
    params: (w) => [w.tenants.B.id, w.memberA.id],
    expect: { error: "IMMUT" },
  },
  {
    actor: "admin of A",
    does: "promotes A's member by a plain update (only set_user_role changes roles)",
    sql: "update app_public.users set role = 'admin' where id = $1",
    params: (w) => [w.memberA.id],
    expect: { error: "IMMUT" },
  },
  {
    actor: "admin of A",
    does: "changes A's member's email",
    sql: "update app_public.users set email = 'other@acme.test' where id = $1",
    params: (w) => [w.memberA.id],
    expect: { error: "IMMUT" },
  },
  {
    actor: "admin of A",
    does: "deletes A's member directly (only remove_user removes users)",
    sql: "delete from app_public.users where id = $1",
    params: (w) => [w.memberA.id],
    expect: { error: "permission denied" },
  },
]);

policyMatrix("secrets and internal helpers", context, [
  { actor: "anonymous", does: "reads password hashes", sql: "select * from app_private.user_secrets", expect: { error: "permission denied" } },
  { actor: "member of A", does: "reads password hashes", sql: "select * from app_private.user_secrets", expect: { error: "permission denied" } },
  { actor: "admin of A", does: "reads password hashes", sql: "select * from app_private.user_secrets", expect: { error: "permission denied" } },
  {
    actor: "admin of A",
    does: "calls the internal create_user",
    sql: "select app_private.create_user($1, 'x@acme.test', 'X', 'admin', 'password123')",
    params: (w) => [w.tenants.A.id],
    expect: { error: "permission denied" },
  },
  {
    actor: "member of A",
    does: "switches its tenant context through the internal helper",
    sql: "select app_private.switch_tenant_context($1)",
    params: (w) => [w.tenants.B.id],
    expect: { error: "permission denied" },
  },
]);

// The tenant of a successful login's token. A failed login returns no
// token (null, so that the failure it records commits); the API reports it
// as CREDS (tests/api.test.ts).
const LOGGED_IN_TENANT =
  "select (r.access_token).tenant_id from app_public.login($1, $2, $3) r where r.refresh_token is not null";

policyMatrix("onboarding and login", context, [
  {
    actor: "anonymous",
    does: "creates a tenant",
    sql: "select * from app_public.create_tenant('Initech', 'initech', 'peter@initech.test', 'password123')",
    expect: { rows: 1 },
  },
  {
    actor: "anonymous",
    does: "creates a tenant with a taken slug",
    sql: "select * from app_public.create_tenant('Acme 2', $1, 'x@acme2.test', 'password123')",
    params: (w) => [w.tenants.A.slug],
    expect: { error: "TAKEN" },
  },
  {
    actor: "anonymous",
    does: "creates a tenant with an invalid slug",
    sql: "select * from app_public.create_tenant('Bad', 'Bad Slug!', 'x@bad.test', 'password123')",
    expect: { error: "BADSL" },
  },
  {
    actor: "anonymous",
    does: "creates a tenant with an invalid email",
    sql: "select * from app_public.create_tenant('Bad', 'bad-email', 'not-an-email', 'password123')",
    expect: { error: "BADEM" },
  },
  {
    actor: "anonymous",
    does: "creates a tenant with a blank name",
    sql: "select * from app_public.create_tenant('  ', 'blank-name', 'x@blank.test', 'password123')",
    expect: { error: "BADNM" },
  },
  {
    actor: "anonymous",
    does: "creates a tenant with a short password",
    sql: "select * from app_public.create_tenant('Weak', 'weak', 'x@weak.test', 'short')",
    expect: { error: "WEAKP" },
  },
  {
    actor: "anonymous",
    does: "logs in as A's admin",
    sql: LOGGED_IN_TENANT,
    params: (w) => [w.tenants.A.slug, w.adminA.email, w.password],
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "anonymous",
    does: "logs in with the email in upper case",
    sql: LOGGED_IN_TENANT.replace("$2", "upper($2)"),
    params: (w) => [w.tenants.A.slug, w.adminA.email, w.password],
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "anonymous",
    does: "logs in with a wrong password",
    sql: LOGGED_IN_TENANT.replace("$3", "'wrong-password'"),
    params: (w) => [w.tenants.A.slug, w.adminA.email],
    expect: { rows: 0 },
  },
  {
    actor: "anonymous",
    does: "logs in with an unknown email",
    sql: LOGGED_IN_TENANT.replace("$2", "'nobody@acme.test'").replace("$3", "$2"),
    params: (w) => [w.tenants.A.slug, w.password],
    expect: { rows: 0 },
  },
  {
    actor: "anonymous",
    does: "logs in to an unknown tenant",
    sql: LOGGED_IN_TENANT,
    params: (w) => ["no-such-tenant", w.adminA.email, w.password],
    expect: { rows: 0 },
  },
  {
    actor: "anonymous",
    does: "logs in to tenant B with A's admin's credentials",
    sql: LOGGED_IN_TENANT,
    params: (w) => [w.tenants.B.slug, w.adminA.email, w.password],
    expect: { rows: 0 },
  },
  {
    actor: "anonymous",
    does: "asks who it is",
    sql: "select u.* from app_public.current_user() u where u.id is not null",
    expect: { rows: 0 },
  },
  {
    actor: "member of A",
    does: "asks who it is",
    sql: "select u.* from app_public.current_user() u where u.id is not null",
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "member of B",
    does: "asks for its tenant",
    sql: "select t.* from app_public.current_tenant() t where t.id is not null",
    expect: { rows: 1, tenant: "B", tenantColumn: "id" },
  },
]);
