// The tenant lifecycle (invitations, member and role management, sessions
// and refresh tokens, login lockout, platform operators, the audit log) as
// the request roles and the authenticator see it in the database: every new
// table and function, for every kind of caller, including each refusal.
// Fixtures are made as the owner, through the SQL functions; every
// assertion runs as the authenticator, switched to a request role or not.
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { withClient } from "../db/setup.ts";
import { ROLES } from "../common/roles.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { type Actor, type PolicyCase, policyMatrix, type Sessions } from "./helpers/policy.ts";
import { createWorld, type Person, type World } from "./helpers/world.ts";

interface Invitation {
  id: string;
  token: string;
}

interface Fixtures {
  /** A live session of each person (their actors carry it as jwt.claims.session_id). */
  sessions: Required<Sessions>;
  /** A's member's session: its first refresh token (already exchanged) and the one it was exchanged for. */
  memberA: { session: string; usedToken: string; liveToken: string };
  /** A session of A's admin ended by logout, and its refresh token. */
  loggedOutA: { session: string; token: string };
  /** A session of A's admin past its expiry (30 days after login), and its refresh token. */
  expiredA: { session: string; token: string };
  /** A second live session of A's member (its password change ends it). */
  memberAOtherSession: string;
  /** A pending, a revoked and an expired invitation in A, a pending one in B. */
  invitations: { pendingA: Invitation; revokedA: Invitation; expiredA: Invitation; pendingB: Invitation };
  /** A disabled operator, with its password. */
  disabledOperator: { id: string; email: string; password: string };
}

let db: TestDatabase;
let world: World;
let fx: Fixtures;

/** Runs fn as the owner in one transaction, with a person's claims set (as the API would set them). */
async function asOwnerFor<T>(client: pg.Client, person: Person, fn: () => Promise<T>): Promise<T> {
  await client.query("begin");
  try {
    await client.query("select set_config('jwt.claims.tenant_id', $1, true)", [person.tenantId]);
    await client.query("select set_config('jwt.claims.user_id', $1, true)", [person.id]);
    await client.query("select set_config('jwt.claims.role', $1, true)", [person.role]);
    const result = await fn();
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback");
    throw error;
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createWorld(db.ownerUrl);
  fx = await withClient(db.ownerUrl, async (client) => {
    const issue = (p: Person) =>
      asOwnerFor(client, p, async () => {
        const { rows: [t] } = await client.query(
          "select (access_token).session_id, refresh_token from app_private.issue_tokens($1, $2)",
          [p.tenantId, p.id],
        );
        return t as { session_id: string; refresh_token: string };
      });
    const invite = (admin: Person, email: string) =>
      asOwnerFor(client, admin, async () => {
        const { rows: [i] } = await client.query("select invitation_id as id, token from app_public.invite_user($1, 'member')", [email]);
        return i as Invitation;
      });

    const adminA = await issue(world.adminA);
    const memberA = await issue(world.memberA);
    const adminB = await issue(world.adminB);
    const memberB = await issue(world.memberB);

    // Rotation: the member's first refresh token is exchanged once.
    const { rows: [rotated] } = await client.query("select refresh_token from app_public.refresh($1)", [memberA.refresh_token]);
    expect(rotated.refresh_token).toMatch(new RegExp(`^${world.tenants.A.id}\\.`));

    // A second session of A's admin, ended by logout.
    const loggedOut = await issue(world.adminA);
    await client.query("select app_public.logout($1)", [loggedOut.refresh_token]);

    const pendingA = await invite(world.adminA, "carol@acme.test");
    const revokedA = await invite(world.adminA, "dave@acme.test");
    await asOwnerFor(client, world.adminA, () => client.query("select app_public.revoke_invitation($1)", [revokedA.id]));
    const pendingB = await invite(world.adminB, "ivan@globex.test");
    const expiredA = await invite(world.adminA, "frank@acme.test");
    await asOwnerFor(client, world.adminA, () =>
      client.query("update app_public.invitations set expires_at = now() - interval '1 day' where id = $1", [expiredA.id]),
    );
    const memberAOther = await issue(world.memberA);
    const expired = await issue(world.adminA);
    await asOwnerFor(client, world.adminA, () =>
      client.query("update app_private.sessions set expires_at = now() - interval '1 second' where id = $1", [expired.session_id]),
    );

    const disabled = { email: "former@platform.test", password: "former-password" };
    await client.query("begin");
    const { rows: [op] } = await client.query("select (app_private.create_operator($1, 'Former operator', $2)).id", [
      disabled.email,
      disabled.password,
    ]);
    await client.query("update app_public.operators set disabled_at = now() where id = $1", [op.id]);
    await client.query("commit");

    return {
      sessions: { adminA: adminA.session_id, memberA: memberA.session_id, adminB: adminB.session_id, memberB: memberB.session_id },
      memberA: { session: memberA.session_id, usedToken: memberA.refresh_token, liveToken: rotated.refresh_token },
      loggedOutA: { session: loggedOut.session_id, token: loggedOut.refresh_token },
      expiredA: { session: expired.session_id, token: expired.refresh_token },
      memberAOtherSession: memberAOther.session_id,
      invitations: { pendingA, revokedA, expiredA, pendingB },
      disabledOperator: { id: op.id, ...disabled },
    };
  });
});
const context = () => ({ authUrl: db.authUrl, world, sessions: fx.sessions });

/** Every role a request can run as. */
const REQUEST_ACTORS: Actor[] = ["anonymous", "member of A", "admin of A", "admin of B", "operator", "operator acting in A"];

/** The same token with another tenant's id in front. */
const withTenant = (token: string, tenantId: string) => tenantId + token.slice(token.indexOf("."));

// ---------------------------------------------------------------------------
// Invitations (the table)
// ---------------------------------------------------------------------------

policyMatrix("invitations", context, [
  { actor: "admin of A", does: "lists invitations", sql: "select * from app_public.invitations", expect: { rows: 3, tenant: "A" } },
  {
    actor: "admin of A",
    does: "reads B's pending invitation by id",
    sql: "select * from app_public.invitations where id = $1",
    params: () => [fx.invitations.pendingB.id],
    expect: { rows: 0 },
  },
  {
    actor: "admin of A",
    does: "lists expired invitations by their status",
    sql: "select i.* from app_public.invitations i where app_public.invitations_status(i) = 'expired'",
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "admin of A",
    does: "lists pending invitations by their status",
    sql: "select i.* from app_public.invitations i where app_public.invitations_status(i) = 'pending'",
    expect: { rows: 1, tenant: "A" },
  },
  { actor: "admin of B", does: "lists invitations", sql: "select * from app_public.invitations", expect: { rows: 1, tenant: "B" } },
  {
    actor: "admin of B",
    does: "lists A's invitations by tenant id",
    sql: "select * from app_public.invitations where tenant_id = $1",
    params: (w) => [w.tenants.A.id],
    expect: { rows: 0 },
  },
  { actor: "member of A", does: "lists invitations", sql: "select * from app_public.invitations", expect: { error: "permission denied" } },
  { actor: "member of B", does: "lists invitations", sql: "select * from app_public.invitations", expect: { error: "permission denied" } },
  { actor: "anonymous", does: "lists invitations", sql: "select * from app_public.invitations", expect: { error: "permission denied" } },
  { actor: "operator", does: "lists invitations without naming a tenant", sql: "select * from app_public.invitations", expect: { rows: 0 } },
  { actor: "operator acting in A", does: "lists invitations", sql: "select * from app_public.invitations", expect: { rows: 3, tenant: "A" } },
  {
    actor: "operator acting in A",
    does: "lists B's invitations by tenant id",
    sql: "select * from app_public.invitations where tenant_id = $1",
    params: (w) => [w.tenants.B.id],
    expect: { rows: 0 },
  },
  ...(["admin of A", "member of A", "anonymous", "operator acting in A"] as Actor[]).flatMap((actor): PolicyCase[] => [
    {
      actor,
      does: "inserts an invitation directly",
      sql: "insert into app_public.invitations (email, role) values ('eve@acme.test', 'admin')",
      expect: { error: "permission denied" },
    },
    {
      actor,
      does: "revokes invitations by a direct update",
      sql: "update app_public.invitations set revoked_at = now()",
      expect: { error: "permission denied" },
    },
    { actor, does: "deletes invitations directly", sql: "delete from app_public.invitations", expect: { error: "permission denied" } },
  ]),
  {
    actor: "admin of A",
    does: "extends an invitation by a direct update",
    sql: "update app_public.invitations set expires_at = now() + interval '1 year' where id = $1",
    params: () => [fx.invitations.pendingA.id],
    expect: { error: "permission denied" },
  },
]);

// ---------------------------------------------------------------------------
// The private schema: tables and functions no request role may reach
// ---------------------------------------------------------------------------

const PRIVATE_TABLES = ["sessions", "refresh_tokens", "invitation_secrets", "user_secrets", "login_throttle", "operator_secrets"];

policyMatrix("private tables", context, [
  ...PRIVATE_TABLES.flatMap((table) =>
    REQUEST_ACTORS.map(
      (actor): PolicyCase => ({
        actor,
        does: `reads app_private.${table}`,
        sql: `select * from app_private.${table}`,
        expect: { error: "permission denied" },
      }),
    ),
  ),
  {
    actor: "anonymous",
    does: "clears the login throttle (to lift a lockout)",
    sql: "delete from app_private.login_throttle",
    expect: { error: "permission denied" },
  },
  {
    actor: "member of A",
    does: "revives its revoked sessions",
    sql: "update app_private.sessions set revoked_at = null",
    expect: { error: "permission denied" },
  },
  {
    actor: "admin of A",
    does: "plants a refresh token hash",
    sql: "insert into app_private.refresh_tokens (tenant_id, token_hash, session_id) values ($1, '\\x00', $2)",
    params: (w) => [w.tenants.A.id, fx.sessions.adminA],
    expect: { error: "permission denied" },
  },
  {
    actor: "admin of A",
    does: "plants an invitation token hash",
    sql: "insert into app_private.invitation_secrets (tenant_id, invitation_id, token_hash) values ($1, $2, '\\x00')",
    params: (w) => [w.tenants.A.id, fx.invitations.pendingA.id],
    expect: { error: "permission denied" },
  },
  {
    actor: "operator",
    does: "sets an operator's password hash",
    sql: "update app_private.operator_secrets set password_hash = 'x'",
    expect: { error: "permission denied" },
  },
]);

policyMatrix("private functions, as request roles", context, [
  ...REQUEST_ACTORS.flatMap((actor): PolicyCase[] => [
    {
      actor,
      does: "calls the authenticator's claims_are_current",
      sql: "select app_private.claims_are_current($1, $2, 'admin', $3)",
      params: (w) => [w.adminA.id, w.tenants.A.id, fx.sessions.adminA],
      expect: { error: "permission denied" },
    },
    {
      actor,
      does: "calls the authenticator's operator_access",
      sql: "select app_private.operator_access($1::uuid, $2::uuid, '{}'::jsonb)",
      params: (w) => [w.operator.id, w.tenants.A.id],
      expect: { error: "permission denied" },
    },
    {
      actor,
      does: "writes a forged audit event with app_private.audit",
      sql: "select app_private.audit($1, 'forged')",
      params: (w) => [w.tenants.A.id],
      expect: { error: "permission denied" },
    },
    {
      actor,
      does: "issues itself tokens for A's admin with app_private.issue_tokens",
      sql: "select app_private.issue_tokens($1, $2)",
      params: (w) => [w.tenants.A.id, w.adminA.id],
      expect: { error: "permission denied" },
    },
    {
      actor,
      does: "creates an operator with app_private.create_operator",
      sql: "select app_private.create_operator('mallory@platform.test', 'Mallory', 'password123')",
      expect: { error: "permission denied" },
    },
  ]),
  {
    actor: "anonymous",
    does: "counts failed logins against A's admin with app_private.login_throttle_fail",
    sql: "select app_private.login_throttle_fail($1, $2)",
    params: (w) => [w.tenants.A.slug, w.adminA.email],
    expect: { error: "permission denied" },
  },
  {
    actor: "member of A",
    does: "mints a refresh token for its session with app_private.new_refresh_token",
    sql: "select app_private.new_refresh_token($1, $2)",
    params: (w) => [w.tenants.A.id, fx.sessions.memberA],
    expect: { error: "permission denied" },
  },
  {
    actor: "admin of A",
    does: "mints a token with app_private.new_token",
    sql: "select app_private.new_token($1)",
    params: (w) => [w.tenants.A.id],
    expect: { error: "permission denied" },
  },
  {
    actor: "member of A",
    does: "reads its session id with app_private.current_session_id",
    sql: "select app_private.current_session_id()",
    expect: { error: "permission denied" },
  },
  {
    actor: "operator acting in A",
    does: "checks itself with app_private.assert_admin",
    sql: "select app_private.assert_admin()",
    expect: { error: "permission denied" },
  },
]);

// The authenticator calls claims_are_current and operator_access before
// each request, outside any request role: true or false, nothing more.
policyMatrix("the authenticator's own checks", context, [
  {
    actor: "authenticator itself",
    does: "checks A's admin's live session with role admin",
    sql: "select 1 as current where app_private.claims_are_current($1, $2, 'admin', $3)",
    params: (w) => [w.adminA.id, w.tenants.A.id, fx.sessions.adminA],
    expect: { rows: 1 },
  },
  {
    actor: "authenticator itself",
    does: "checks A's admin's live session with role member (a stale role)",
    sql: "select 1 as current where app_private.claims_are_current($1, $2, 'member', $3)",
    params: (w) => [w.adminA.id, w.tenants.A.id, fx.sessions.adminA],
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "checks A's admin's session naming tenant B",
    sql: "select 1 as current where app_private.claims_are_current($1, $2, 'admin', $3)",
    params: (w) => [w.adminA.id, w.tenants.B.id, fx.sessions.adminA],
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "checks A's admin with A's member's session",
    sql: "select 1 as current where app_private.claims_are_current($1, $2, 'admin', $3)",
    params: (w) => [w.adminA.id, w.tenants.A.id, fx.sessions.memberA],
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "checks A's admin's logged-out session",
    sql: "select 1 as current where app_private.claims_are_current($1, $2, 'admin', $3)",
    params: (w) => [w.adminA.id, w.tenants.A.id, fx.loggedOutA.session],
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "checks A's admin's expired session",
    sql: "select 1 as current where app_private.claims_are_current($1, $2, 'admin', $3)",
    params: (w) => [w.adminA.id, w.tenants.A.id, fx.expiredA.session],
    expect: { rows: 0 },
  },
  {
    actor: "anonymous",
    does: "refreshes an expired session",
    sql: "select 1 from app_public.refresh($1) r where r is not null",
    params: () => [fx.expiredA.token],
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "checks A's admin without a session",
    sql: "select 1 as current where app_private.claims_are_current($1, $2, 'admin', null)",
    params: (w) => [w.adminA.id, w.tenants.A.id],
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "checks A's member's session rotated once (still live)",
    sql: "select 1 as current where app_private.claims_are_current($1, $2, 'member', $3)",
    params: (w) => [w.memberA.id, w.tenants.A.id, fx.memberA.session],
    expect: { rows: 1 },
  },
  {
    actor: "authenticator itself",
    does: "calls the old, session-less claims_are_current(user, tenant, role)",
    sql: "select app_private.claims_are_current($1::uuid, $2::uuid, 'admin'::text)",
    params: (w) => [w.adminA.id, w.tenants.A.id],
    expect: { error: "42883" },
  },
  {
    actor: "authenticator itself",
    does: "checks the operator without a tenant",
    sql: "select 1 as good where app_private.operator_access($1::uuid, null, '{}'::jsonb)",
    params: (w) => [w.operator.id],
    expect: { rows: 1 },
  },
  {
    actor: "authenticator itself",
    does: "checks the operator acting in A",
    sql: "select 1 as good where app_private.operator_access($1::uuid, $2::uuid, '{}'::jsonb)",
    params: (w) => [w.operator.id, w.tenants.A.id],
    expect: { rows: 1 },
  },
  {
    actor: "authenticator itself",
    does: "checks the operator acting in a tenant that does not exist",
    sql: "select 1 as good where app_private.operator_access($1::uuid, gen_random_uuid(), '{}'::jsonb)",
    params: (w) => [w.operator.id],
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "checks a disabled operator acting in A",
    sql: "select 1 as good where app_private.operator_access($1::uuid, $2::uuid, '{}'::jsonb)",
    params: (w) => [fx.disabledOperator.id, w.tenants.A.id],
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "checks a disabled operator without a tenant",
    sql: "select 1 as good where app_private.operator_access($1::uuid, null, '{}'::jsonb)",
    params: () => [fx.disabledOperator.id],
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "checks an unknown operator",
    sql: "select 1 as good where app_private.operator_access(gen_random_uuid(), null, '{}'::jsonb)",
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "checks a token without an operator id",
    sql: "select 1 as good where app_private.operator_access(null, $1::uuid, '{}'::jsonb)",
    params: (w) => [w.tenants.A.id],
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "writes a forged audit event with app_private.audit",
    sql: "select app_private.audit($1, 'forged')",
    params: (w) => [w.tenants.A.id],
    expect: { error: "permission denied" },
  },
  {
    actor: "authenticator itself",
    does: "issues tokens for A's admin with app_private.issue_tokens",
    sql: "select app_private.issue_tokens($1, $2)",
    params: (w) => [w.tenants.A.id, w.adminA.id],
    expect: { error: "permission denied" },
  },
  {
    actor: "authenticator itself",
    does: "creates an operator with app_private.create_operator",
    sql: "select app_private.create_operator('mallory@platform.test', 'Mallory', 'password123')",
    expect: { error: "permission denied" },
  },
  {
    actor: "authenticator itself",
    does: "reads app_private.sessions",
    sql: "select * from app_private.sessions",
    expect: { error: "permission denied" },
  },
  {
    actor: "authenticator itself",
    does: "clears the login throttle",
    sql: "delete from app_private.login_throttle",
    expect: { error: "permission denied" },
  },
  {
    actor: "authenticator itself",
    does: "reads app_public.users",
    sql: "select * from app_public.users",
    expect: { error: "permission denied" },
  },
]);

// ---------------------------------------------------------------------------
// The audit log
// ---------------------------------------------------------------------------

policyMatrix("audit events", context, [
  { actor: "admin of A", does: "reads the audit log", sql: "select * from app_public.audit_events", expect: { atLeast: 1, tenant: "A" } },
  {
    actor: "admin of A",
    does: "reads the invitation events (3 sent, 1 revoked)",
    sql: "select * from app_public.audit_events where action like 'invitation_%'",
    expect: { rows: 4, tenant: "A" },
  },
  {
    actor: "admin of A",
    does: "reads B's events by tenant id",
    sql: "select * from app_public.audit_events where tenant_id = $1",
    params: (w) => [w.tenants.B.id],
    expect: { rows: 0 },
  },
  { actor: "admin of B", does: "reads the audit log", sql: "select * from app_public.audit_events", expect: { atLeast: 1, tenant: "B" } },
  {
    actor: "admin of B",
    does: "reads A's events by tenant id",
    sql: "select * from app_public.audit_events where tenant_id = $1",
    params: (w) => [w.tenants.A.id],
    expect: { rows: 0 },
  },
  { actor: "member of A", does: "reads the audit log", sql: "select * from app_public.audit_events", expect: { error: "permission denied" } },
  { actor: "member of B", does: "reads the audit log", sql: "select * from app_public.audit_events", expect: { error: "permission denied" } },
  { actor: "anonymous", does: "reads the audit log", sql: "select * from app_public.audit_events", expect: { error: "permission denied" } },
  { actor: "operator", does: "reads the audit log without naming a tenant", sql: "select * from app_public.audit_events", expect: { rows: 0 } },
  { actor: "operator acting in A", does: "reads the audit log", sql: "select * from app_public.audit_events", expect: { atLeast: 1, tenant: "A" } },
  {
    actor: "operator acting in A",
    does: "reads B's events by tenant id",
    sql: "select * from app_public.audit_events where tenant_id = $1",
    params: (w) => [w.tenants.B.id],
    expect: { rows: 0 },
  },
  ...REQUEST_ACTORS.flatMap((actor): PolicyCase[] => [
    {
      actor,
      does: "inserts an audit event",
      sql: "insert into app_public.audit_events (action) values ('forged')",
      expect: { error: "permission denied" },
    },
    {
      actor,
      does: "rewrites audit events",
      sql: "update app_public.audit_events set action = 'nothing'",
      expect: { error: "permission denied" },
    },
    { actor, does: "deletes audit events", sql: "delete from app_public.audit_events", expect: { error: "permission denied" } },
  ]),
  { actor: "admin of A", does: "truncates the audit log", sql: "truncate app_public.audit_events", expect: { error: "permission denied" } },
]);

// ---------------------------------------------------------------------------
// Operators
// ---------------------------------------------------------------------------

policyMatrix("operators", context, [
  { actor: "operator", does: "lists operators", sql: "select * from app_public.operators", expect: { rows: 2 } },
  { actor: "operator acting in A", does: "lists operators", sql: "select * from app_public.operators", expect: { rows: 2 } },
  {
    actor: "operator",
    does: "asks who it is",
    sql: "select o.* from app_public.current_operator() o where o.id = $1",
    params: (w) => [w.operator.id],
    expect: { rows: 1 },
  },
  { actor: "member of A", does: "lists operators", sql: "select * from app_public.operators", expect: { error: "permission denied" } },
  { actor: "admin of A", does: "lists operators", sql: "select * from app_public.operators", expect: { error: "permission denied" } },
  { actor: "admin of B", does: "lists operators", sql: "select * from app_public.operators", expect: { error: "permission denied" } },
  { actor: "anonymous", does: "lists operators", sql: "select * from app_public.operators", expect: { error: "permission denied" } },
  // Not an operator: no row (null), and still no way to read operators.
  { actor: "admin of A", does: "asks which operator it is", sql: "select o.* from app_public.current_operator() o where o.id is not null", expect: { rows: 0 } },
  { actor: "anonymous", does: "asks which operator it is", sql: "select o.* from app_public.current_operator() o where o.id is not null", expect: { rows: 0 } },
  {
    actor: "member with no claims",
    does: "claims to be an operator by setting jwt.claims.operator_id (a request role without the operator role)",
    sql: "select set_config('jwt.claims.operator_id', $1, true), (select count(*) from app_public.current_operator() o where o.id is not null) as n",
    params: (w) => [w.operator.id],
    expect: { error: "permission denied" },
  },
  {
    actor: "operator",
    does: "adds an operator",
    sql: "insert into app_public.operators (email, name) values ('mallory@platform.test', 'Mallory')",
    expect: { error: "permission denied" },
  },
  {
    actor: "operator",
    does: "re-enables a disabled operator",
    sql: "update app_public.operators set disabled_at = null",
    expect: { error: "permission denied" },
  },
  { actor: "operator", does: "deletes operators", sql: "delete from app_public.operators", expect: { error: "permission denied" } },
  { actor: "operator", does: "reads the schema version (for exports)", sql: "select app_public.schema_version() as v", expect: { rows: 1 } },
]);

policyMatrix("tenants, as operators", context, [
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
]);

policyMatrix("tenant data, as operators", context, [
  { actor: "operator acting in A", does: "lists users", sql: "select * from app_public.users", expect: { rows: 2, tenant: "A" } },
  { actor: "operator acting in A", does: "lists projects", sql: "select * from app_public.projects", expect: { rows: 1, tenant: "A" } },
  { actor: "operator acting in A", does: "lists tasks", sql: "select * from app_public.tasks", expect: { rows: 3, tenant: "A" } },
  { actor: "operator acting in A", does: "lists comments", sql: "select * from app_public.comments", expect: { rows: 1, tenant: "A" } },
  ...["users", "projects", "tasks", "comments"].map(
    (table): PolicyCase => ({
      actor: "operator acting in A",
      does: `reads B's ${table} by tenant id`,
      sql: `select * from app_public.${table} where tenant_id = $1`,
      params: (w) => [w.tenants.B.id],
      expect: { rows: 0 },
    }),
  ),
  ...["users", "projects", "tasks", "comments"].map(
    (table): PolicyCase => ({
      actor: "operator",
      does: `lists ${table} without naming a tenant`,
      sql: `select * from app_public.${table}`,
      expect: { rows: 0 },
    }),
  ),
  {
    actor: "operator acting in A",
    does: "adds a task to A's project",
    sql: "insert into app_public.tasks (project_id, title) values ($1, 'Support')",
    params: (w) => [w.work.A.projectId],
    expect: { error: "permission denied" },
  },
  { actor: "operator acting in A", does: "renames A's tasks", sql: "update app_public.tasks set title = 'x'", expect: { error: "permission denied" } },
  { actor: "operator acting in A", does: "deletes A's tasks", sql: "delete from app_public.tasks", expect: { error: "permission denied" } },
  {
    actor: "operator acting in A",
    does: "adds a project",
    sql: "insert into app_public.projects (name) values ('Support')",
    expect: { error: "permission denied" },
  },
  { actor: "operator acting in A", does: "renames A's projects", sql: "update app_public.projects set name = 'x'", expect: { error: "permission denied" } },
  { actor: "operator acting in A", does: "deletes A's projects", sql: "delete from app_public.projects", expect: { error: "permission denied" } },
  {
    actor: "operator acting in A",
    does: "comments on A's task",
    sql: "insert into app_public.comments (task_id, body) values ($1, 'Hi')",
    params: (w) => [w.work.A.assignedTaskId],
    expect: { error: "permission denied" },
  },
  { actor: "operator acting in A", does: "edits A's comments", sql: "update app_public.comments set body = 'x'", expect: { error: "permission denied" } },
  { actor: "operator acting in A", does: "deletes A's comments", sql: "delete from app_public.comments", expect: { error: "permission denied" } },
  {
    actor: "operator acting in A",
    does: "adds a user",
    sql: "insert into app_public.users (email, name) values ('spy@acme.test', 'Spy')",
    expect: { error: "permission denied" },
  },
  { actor: "operator acting in A", does: "renames A's users", sql: "update app_public.users set name = 'x'", expect: { error: "permission denied" } },
  { actor: "operator acting in A", does: "deletes A's users", sql: "delete from app_public.users", expect: { error: "permission denied" } },
]);

// ---------------------------------------------------------------------------
// Users: names by update; roles, emails and membership only by functions
// ---------------------------------------------------------------------------

policyMatrix("users, after the lifecycle", context, [
  {
    actor: "member of A",
    does: "renames itself",
    sql: "update app_public.users set name = 'Robert' where id = $1",
    params: (w) => [w.memberA.id],
    expect: { affected: 1 },
  },
  { actor: "member of A", does: "renames every user it can", sql: "update app_public.users set name = 'Renamed'", expect: { affected: 1 } },
  {
    actor: "member of A",
    does: "renames A's admin",
    sql: "update app_public.users set name = 'Pwned' where id = $1",
    params: (w) => [w.adminA.id],
    expect: { affected: 0 },
  },
  {
    actor: "member of A",
    does: "renames B's member by id",
    sql: "update app_public.users set name = 'Pwned' where id = $1",
    params: (w) => [w.memberB.id],
    expect: { affected: 0 },
  },
  {
    actor: "member of A",
    does: "makes itself admin by a plain update",
    sql: "update app_public.users set role = 'admin' where id = $1",
    params: (w) => [w.memberA.id],
    expect: { error: "IMMUT" },
  },
  {
    actor: "member of A",
    does: "changes its own email",
    sql: "update app_public.users set email = 'bobby@acme.test' where id = $1",
    params: (w) => [w.memberA.id],
    expect: { error: "IMMUT" },
  },
  { actor: "member of A", does: "deletes users", sql: "delete from app_public.users", expect: { error: "permission denied" } },
  {
    actor: "member of A",
    does: "adds a user",
    sql: "insert into app_public.users (email, name) values ('new@acme.test', 'New')",
    expect: { error: "permission denied" },
  },
  {
    actor: "admin of A",
    does: "renames A's member",
    sql: "update app_public.users set name = 'Robert' where id = $1",
    params: (w) => [w.memberA.id],
    expect: { affected: 1 },
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
    does: "promotes A's member by a plain update",
    sql: "update app_public.users set role = 'admin' where id = $1",
    params: (w) => [w.memberA.id],
    expect: { error: "IMMUT" },
  },
  {
    actor: "admin of A",
    does: "changes A's member's email",
    sql: "update app_public.users set email = 'bobby@acme.test' where id = $1",
    params: (w) => [w.memberA.id],
    expect: { error: "IMMUT" },
  },
  {
    actor: "admin of A",
    does: "adds a user directly",
    sql: "insert into app_public.users (email, name) values ('new@acme.test', 'New')",
    expect: { error: "permission denied" },
  },
  {
    actor: "admin of A",
    does: "deletes A's member directly",
    sql: "delete from app_public.users where id = $1",
    params: (w) => [w.memberA.id],
    expect: { error: "permission denied" },
  },
  {
    actor: "admin of B",
    does: "renames A's member by id",
    sql: "update app_public.users set name = 'Pwned' where id = $1",
    params: (w) => [w.memberA.id],
    expect: { affected: 0 },
  },
  { actor: "anonymous", does: "renames users", sql: "update app_public.users set name = 'x'", expect: { error: "permission denied" } },
]);

// ---------------------------------------------------------------------------
// Invitation functions
// ---------------------------------------------------------------------------

policyMatrix("invite_user, revoke_invitation, accept_invitation", context, [
  {
    actor: "admin of A",
    does: "invites someone (the token starts with A's id)",
    sql: "select split_part(token, '.', 1)::uuid as tenant_id from app_public.invite_user('erin@acme.test', 'member')",
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "admin of A",
    does: "invites an existing user of A",
    sql: "select * from app_public.invite_user($1, 'member')",
    params: (w) => [w.memberA.email],
    expect: { error: "EMTKN" },
  },
  {
    actor: "admin of A",
    does: "invites an invalid email",
    sql: "select * from app_public.invite_user('not-an-email', 'member')",
    expect: { error: "BADEM" },
  },
  {
    actor: "demoted admin of A (token still says admin)",
    does: "invites someone",
    sql: "select * from app_public.invite_user('erin@acme.test', 'admin')",
    expect: { error: "42501" },
  },
  ...(["member of A", "anonymous", "operator", "operator acting in A"] as Actor[]).map(
    (actor): PolicyCase => ({
      actor,
      does: "invites someone",
      sql: "select * from app_public.invite_user('erin@acme.test', 'admin')",
      expect: { error: "permission denied" },
    }),
  ),
  {
    actor: "admin of A",
    does: "revokes A's pending invitation",
    sql: "select * from app_public.revoke_invitation($1) where revoked_at is not null",
    params: () => [fx.invitations.pendingA.id],
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "admin of A",
    does: "revokes A's already revoked invitation",
    sql: "select * from app_public.revoke_invitation($1)",
    params: () => [fx.invitations.revokedA.id],
    expect: { error: "NOINV" },
  },
  {
    actor: "admin of A",
    does: "revokes A's expired invitation",
    sql: "select * from app_public.revoke_invitation($1)",
    params: () => [fx.invitations.expiredA.id],
    expect: { error: "NOINV" },
  },
  {
    actor: "admin of A",
    does: "revokes B's pending invitation",
    sql: "select * from app_public.revoke_invitation($1)",
    params: () => [fx.invitations.pendingB.id],
    expect: { error: "NOINV" },
  },
  {
    actor: "admin of B",
    does: "revokes A's pending invitation",
    sql: "select * from app_public.revoke_invitation($1)",
    params: () => [fx.invitations.pendingA.id],
    expect: { error: "NOINV" },
  },
  {
    actor: "demoted admin of A (token still says admin)",
    does: "revokes A's pending invitation",
    sql: "select * from app_public.revoke_invitation($1)",
    params: () => [fx.invitations.pendingA.id],
    expect: { error: "42501" },
  },
  ...(["member of A", "anonymous", "operator acting in A"] as Actor[]).map(
    (actor): PolicyCase => ({
      actor,
      does: "revokes A's pending invitation",
      sql: "select * from app_public.revoke_invitation($1)",
      params: () => [fx.invitations.pendingA.id],
      expect: { error: "permission denied" },
    }),
  ),
  {
    actor: "anonymous",
    does: "accepts A's pending invitation",
    sql: `select (r.access_token).tenant_id as tenant_id from app_public.accept_invitation($1, 'Carol', 'password123') r
          where (r.access_token).role = 'member' and (r.access_token).session_id is not null and r.refresh_token is not null`,
    params: () => [fx.invitations.pendingA.token],
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "anonymous",
    does: "accepts a garbage token",
    sql: "select * from app_public.accept_invitation('garbage', 'Mallory', 'password123')",
    expect: { error: "BADIN" },
  },
  {
    actor: "anonymous",
    does: "accepts a well-formed token A never issued",
    sql: "select * from app_public.accept_invitation($1 || '.' || repeat('A', 43), 'Mallory', 'password123')",
    params: (w) => [w.tenants.A.id],
    expect: { error: "BADIN" },
  },
  {
    actor: "anonymous",
    does: "accepts A's revoked invitation",
    sql: "select * from app_public.accept_invitation($1, 'Dave', 'password123')",
    params: () => [fx.invitations.revokedA.token],
    expect: { error: "BADIN" },
  },
  {
    actor: "anonymous",
    does: "accepts A's expired invitation",
    sql: "select * from app_public.accept_invitation($1, 'Frank', 'password123')",
    params: () => [fx.invitations.expiredA.token],
    expect: { error: "BADIN" },
  },
  {
    actor: "anonymous",
    does: "accepts A's pending invitation with B's id in front of the token",
    sql: "select * from app_public.accept_invitation($1, 'Carol', 'password123')",
    params: (w) => [withTenant(fx.invitations.pendingA.token, w.tenants.B.id)],
    expect: { error: "BADIN" },
  },
  {
    actor: "anonymous",
    does: "accepts A's pending invitation with a short password",
    sql: "select * from app_public.accept_invitation($1, 'Carol', 'short')",
    params: () => [fx.invitations.pendingA.token],
    expect: { error: "WEAKP" },
  },
  {
    actor: "operator",
    does: "accepts A's pending invitation",
    sql: "select * from app_public.accept_invitation($1, 'Carol', 'password123')",
    params: () => [fx.invitations.pendingA.token],
    expect: { error: "permission denied" },
  },
]);

// ---------------------------------------------------------------------------
// Member and role management
// ---------------------------------------------------------------------------

policyMatrix("set_user_role and remove_user", context, [
  {
    actor: "admin of A",
    does: "promotes A's member with set_user_role",
    sql: "select * from app_public.set_user_role($1, 'admin') where role = 'admin'",
    params: (w) => [w.memberA.id],
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "admin of A",
    does: "sets the role of B's member",
    sql: "select * from app_public.set_user_role($1, 'admin')",
    params: (w) => [w.memberB.id],
    expect: { error: "NOUSR" },
  },
  {
    actor: "admin of A",
    does: "demotes itself, A's last admin",
    sql: "select * from app_public.set_user_role($1, 'member')",
    params: (w) => [w.adminA.id],
    expect: { error: "LASTA" },
  },
  {
    actor: "demoted admin of A (token still says admin)",
    does: "promotes itself with set_user_role",
    sql: "select * from app_public.set_user_role($1, 'admin')",
    params: (w) => [w.memberA.id],
    expect: { error: "42501" },
  },
  ...(["member of A", "anonymous", "operator", "operator acting in A"] as Actor[]).map(
    (actor): PolicyCase => ({
      actor,
      does: "promotes A's member with set_user_role",
      sql: "select * from app_public.set_user_role($1, 'admin')",
      params: (w) => [w.memberA.id],
      expect: { error: "permission denied" },
    }),
  ),
  {
    actor: "admin of A",
    does: "removes A's member",
    sql: "select r.removed from app_public.remove_user($1) as r(removed) where r.removed",
    params: (w) => [w.memberA.id],
    expect: { rows: 1 },
  },
  {
    actor: "admin of A",
    does: "removes itself, A's last admin",
    sql: "select * from app_public.remove_user($1)",
    params: (w) => [w.adminA.id],
    expect: { error: "LASTA" },
  },
  {
    actor: "admin of A",
    does: "removes a user id that does not exist",
    sql: "select * from app_public.remove_user(gen_random_uuid())",
    expect: { error: "NOUSR" },
  },
  {
    actor: "admin of B",
    does: "removes A's member",
    sql: "select * from app_public.remove_user($1)",
    params: (w) => [w.memberA.id],
    expect: { error: "NOUSR" },
  },
  {
    actor: "demoted admin of A (token still says admin)",
    does: "removes A's admin",
    sql: "select * from app_public.remove_user($1)",
    params: (w) => [w.adminA.id],
    expect: { error: "42501" },
  },
  ...(["member of A", "anonymous", "operator", "operator acting in A"] as Actor[]).map(
    (actor): PolicyCase => ({
      actor,
      does: "removes A's member",
      sql: "select * from app_public.remove_user($1)",
      params: (w) => [w.memberA.id],
      expect: { error: "permission denied" },
    }),
  ),
]);

// ---------------------------------------------------------------------------
// Passwords, logins, refresh and logout
// ---------------------------------------------------------------------------

/** One row when the composite the function returned is null (a recorded failure). */
const nullResult = (call: string) => `select 1 as failed from ${call} r where r is null`;

policyMatrix("change_password, login, refresh, logout, operator_login", context, [
  {
    actor: "member of A",
    does: "changes its password with a wrong current password",
    sql: "select * from app_public.change_password('wrong-password', 'new-password-1')",
    expect: { error: "CREDS" },
  },
  {
    actor: "member of A",
    does: "changes its password",
    sql: "select r.changed from app_public.change_password($1, 'new-password-1') as r(changed) where r.changed",
    params: (w) => [w.password],
    expect: { rows: 1 },
  },
  {
    actor: "member of A",
    does: "changes its password to a short one",
    sql: "select * from app_public.change_password($1, 'short')",
    params: (w) => [w.password],
    expect: { error: "WEAKP" },
  },
  {
    actor: "admin of A",
    does: "changes its password with a wrong current password",
    sql: "select * from app_public.change_password('wrong-password', 'new-password-1')",
    expect: { error: "CREDS" },
  },
  ...(["anonymous", "operator", "operator acting in A"] as Actor[]).map(
    (actor): PolicyCase => ({
      actor,
      does: "changes a password",
      sql: "select * from app_public.change_password($1, 'new-password-1')",
      params: (w) => [w.password],
      expect: { error: "permission denied" },
    }),
  ),
  {
    actor: "anonymous",
    does: "logs in as A's admin (a new session and refresh token)",
    sql: `select (r.access_token).tenant_id as tenant_id from app_public.login($1, $2, $3) r
          where (r.access_token).session_id is not null and r.refresh_token like $4 || '.%'`,
    params: (w) => [w.tenants.A.slug, w.adminA.email, w.password, w.tenants.A.id],
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "anonymous",
    does: "logs in as A's admin with a wrong password (a null result)",
    sql: nullResult("app_public.login($1, $2, 'wrong-password')"),
    params: (w) => [w.tenants.A.slug, w.adminA.email],
    expect: { rows: 1 },
  },
  {
    actor: "anonymous",
    does: "refreshes with A's member's live refresh token",
    sql: `select (r.access_token).tenant_id as tenant_id from app_public.refresh($1) r
          where (r.access_token).session_id = $2 and (r.access_token).role = 'member' and r.refresh_token <> $1`,
    params: () => [fx.memberA.liveToken, fx.memberA.session],
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "anonymous",
    does: "refreshes with a garbage token (a null result)",
    sql: nullResult("app_public.refresh('garbage')"),
    expect: { rows: 1 },
  },
  {
    actor: "anonymous",
    does: "refreshes with A's member's already used refresh token (a null result)",
    sql: nullResult("app_public.refresh($1)"),
    params: () => [fx.memberA.usedToken],
    expect: { rows: 1 },
  },
  {
    actor: "anonymous",
    does: "refreshes with A's member's live token under B's id (a null result)",
    sql: nullResult("app_public.refresh($1)"),
    params: (w) => [withTenant(fx.memberA.liveToken, w.tenants.B.id)],
    expect: { rows: 1 },
  },
  {
    actor: "anonymous",
    does: "refreshes with the token of A's admin's logged-out session (a null result)",
    sql: nullResult("app_public.refresh($1)"),
    params: () => [fx.loggedOutA.token],
    expect: { rows: 1 },
  },
  {
    actor: "anonymous",
    does: "logs out with a garbage token (true, saying nothing)",
    sql: "select r.ok from app_public.logout('garbage') as r(ok) where r.ok",
    expect: { rows: 1 },
  },
  {
    actor: "anonymous",
    does: "logs out A's member's session",
    sql: "select r.ok from app_public.logout($1) as r(ok) where r.ok",
    params: () => [fx.memberA.liveToken],
    expect: { rows: 1 },
  },
  {
    actor: "operator",
    does: "refreshes with A's member's live refresh token",
    sql: "select * from app_public.refresh($1)",
    params: () => [fx.memberA.liveToken],
    expect: { error: "permission denied" },
  },
  {
    actor: "operator",
    does: "logs out A's member's session",
    sql: "select * from app_public.logout($1)",
    params: () => [fx.memberA.liveToken],
    expect: { error: "permission denied" },
  },
  {
    actor: "anonymous",
    does: "logs in as the operator",
    sql: `select (r.access_token).operator_id as id from app_public.operator_login($1, $2) r
          where (r.access_token).role = 'operator' and (r.access_token).operator_id = $3
            and (r.access_token).tenant_id is null and (r.access_token).user_id is null and r.refresh_token is null`,
    params: (w) => [w.operator.email, w.password, w.operator.id],
    expect: { rows: 1 },
  },
  {
    actor: "anonymous",
    does: "logs in as the operator with a wrong password (a null result)",
    sql: nullResult("app_public.operator_login($1, 'wrong-password')"),
    params: (w) => [w.operator.email],
    expect: { rows: 1 },
  },
  {
    actor: "anonymous",
    does: "logs in as an operator with A's admin's credentials (a null result)",
    sql: nullResult("app_public.operator_login($1, $2)"),
    params: (w) => [w.adminA.email, w.password],
    expect: { rows: 1 },
  },
  {
    actor: "anonymous",
    does: "logs in as a disabled operator with its right password (a null result)",
    sql: nullResult("app_public.operator_login($1, $2)"),
    params: () => [fx.disabledOperator.email, fx.disabledOperator.password],
    expect: { rows: 1 },
  },
  {
    actor: "operator",
    does: "logs in as the operator again",
    sql: "select * from app_public.operator_login($1, $2)",
    params: (w) => [w.operator.email, w.password],
    expect: { error: "permission denied" },
  },
]);

// ---------------------------------------------------------------------------
// What a change does to live tokens: several statements in one transaction
// (rolled back), switching between request roles and the authenticator's
// own check, as consecutive API requests would.
// ---------------------------------------------------------------------------

describe("what lifecycle changes do to live tokens (several statements, rolled back)", () => {
  let auth: pg.Client;

  beforeAll(async () => {
    auth = new pg.Client({ connectionString: db.authUrl });
    await auth.connect();
  });
  afterAll(() => auth?.end());

  /** Runs steps in one transaction on the authenticator's connection, then rolls it back. */
  async function inTransaction(steps: () => Promise<void>) {
    await auth.query("begin");
    try {
      await steps();
    } finally {
      await auth.query("rollback");
    }
  }
  /** Switches to a request role with these claims only (as the API does for a request). */
  async function as(role: string, claims: Record<string, string> = {}) {
    await auth.query(`set local role ${auth.escapeIdentifier(role)}`);
    const cleared = Object.fromEntries(["tenant_id", "user_id", "role", "session_id", "operator_id"].map((c) => [`jwt.claims.${c}`, ""]));
    for (const [name, value] of Object.entries({ ...cleared, ...claims })) {
      await auth.query("select set_config($1, $2, true)", [name, value]);
    }
    const { rows: [me] } = await auth.query("select current_user as me, rolsuper, rolbypassrls from pg_roles where rolname = current_user");
    expect(me).toEqual({ me: role, rolsuper: false, rolbypassrls: false });
  }
  const claimsOf = (p: Person, session: string) => ({
    "jwt.claims.tenant_id": p.tenantId,
    "jwt.claims.user_id": p.id,
    "jwt.claims.role": p.role,
    "jwt.claims.session_id": session,
  });
  /** The authenticator's check of a user token, run as the authenticator itself. */
  async function claimsAreCurrent(userId: string, role: string, session: string) {
    await auth.query("reset role");
    const { rows: [r] } = await auth.query("select app_private.claims_are_current($1, $2, $3, $4) as current", [
      userId,
      world.tenants.A.id,
      role,
      session,
    ]);
    return r.current as boolean;
  }

  it("anonymous presents A's member's refresh token a second time: gets null, the whole session ends, and A's admin sees refresh_token_reused", async () => {
    await inTransaction(async () => {
      await as(ROLES.anonymous);
      const first = await auth.query("select refresh_token from app_public.refresh($1)", [fx.memberA.liveToken]);
      const next = first.rows[0].refresh_token as string;
      expect(next).toMatch(new RegExp(`^${world.tenants.A.id}\\.`));
      const again = await auth.query("select r is null as failed from app_public.refresh($1) r", [fx.memberA.liveToken]);
      expect(again.rows).toEqual([{ failed: true }]);
      const after = await auth.query("select r is null as failed from app_public.refresh($1) r", [next]);
      expect(after.rows).toEqual([{ failed: true }]);
      expect(await claimsAreCurrent(world.memberA.id, "member", fx.memberA.session)).toBe(false);
      await as(ROLES.admin, claimsOf(world.adminA, fx.sessions.adminA));
      const { rows } = await auth.query("select tenant_id from app_public.audit_events where action = 'refresh_token_reused' and row_key = $1", [
        world.memberA.id,
      ]);
      expect(rows).toEqual([{ tenant_id: world.tenants.A.id }]);
    });
  });

  it("anonymous logs out A's member's session: its access tokens stop passing the authenticator's check", async () => {
    await inTransaction(async () => {
      expect(await claimsAreCurrent(world.memberA.id, "member", fx.memberA.session)).toBe(true);
      await as(ROLES.anonymous);
      await auth.query("select app_public.logout($1)", [fx.memberA.liveToken]);
      expect(await claimsAreCurrent(world.memberA.id, "member", fx.memberA.session)).toBe(false);
    });
  });

  it("member of A changes its password: its other session ends, the current one goes on, only the new password logs in", async () => {
    await inTransaction(async () => {
      expect(await claimsAreCurrent(world.memberA.id, "member", fx.memberAOtherSession)).toBe(true);
      await as(ROLES.member, claimsOf(world.memberA, fx.sessions.memberA));
      await auth.query("select app_public.change_password($1, 'new-password-1')", [world.password]);
      expect(await claimsAreCurrent(world.memberA.id, "member", fx.sessions.memberA)).toBe(true);
      expect(await claimsAreCurrent(world.memberA.id, "member", fx.memberAOtherSession)).toBe(false);
      await as(ROLES.anonymous);
      const login = (password: string) =>
        auth.query("select r is null as failed from app_public.login($1, $2, $3) r", [world.tenants.A.slug, world.memberA.email, password]);
      expect((await login(world.password)).rows).toEqual([{ failed: true }]);
      expect((await login("new-password-1")).rows).toEqual([{ failed: false }]);
    });
  });

  it("admin of A promotes A's member: the member's tokens saying member stop passing the check; saying admin they pass", async () => {
    await inTransaction(async () => {
      await as(ROLES.admin, claimsOf(world.adminA, fx.sessions.adminA));
      await auth.query("select app_public.set_user_role($1, 'admin')", [world.memberA.id]);
      expect(await claimsAreCurrent(world.memberA.id, "member", fx.sessions.memberA)).toBe(false);
      expect(await claimsAreCurrent(world.memberA.id, "admin", fx.sessions.memberA)).toBe(true);
      await as(ROLES.admin, claimsOf(world.adminA, fx.sessions.adminA));
      const { rows } = await auth.query("select details from app_public.audit_events where action = 'role_changed' and row_key = $1", [
        world.memberA.id,
      ]);
      expect(rows).toEqual([{ details: { email: world.memberA.email, from: "member", to: "admin" } }]);
    });
  });

  it("admin of A removes A's member: the member's sessions stop passing the check and its refresh token stops working", async () => {
    await inTransaction(async () => {
      await as(ROLES.admin, claimsOf(world.adminA, fx.sessions.adminA));
      await auth.query("select app_public.remove_user($1)", [world.memberA.id]);
      expect(await claimsAreCurrent(world.memberA.id, "member", fx.sessions.memberA)).toBe(false);
      expect(await claimsAreCurrent(world.memberA.id, "member", fx.memberAOtherSession)).toBe(false);
      await as(ROLES.anonymous);
      const { rows } = await auth.query("select r is null as failed from app_public.refresh($1) r", [fx.memberA.liveToken]);
      expect(rows).toEqual([{ failed: true }]);
    });
  });

  it("anonymous accepts A's pending invitation: a live member session of A; accepting it again fails with BADIN", async () => {
    await inTransaction(async () => {
      await as(ROLES.anonymous);
      const { rows: [t] } = await auth.query(
        "select (access_token).user_id, (access_token).session_id, (access_token).role from app_public.accept_invitation($1, 'Carol', 'password123')",
        [fx.invitations.pendingA.token],
      );
      expect(t.role).toBe("member");
      expect(await claimsAreCurrent(t.user_id, "member", t.session_id)).toBe(true);
      await as(ROLES.anonymous);
      const error = await auth
        .query("select app_public.accept_invitation($1, 'Carol again', 'password123')", [fx.invitations.pendingA.token])
        .then(() => undefined, (e: { code?: string }) => e.code);
      expect(error).toBe("BADIN");
    });
  });
});

// ---------------------------------------------------------------------------
// Login lockout: failures must commit, so these run statement by statement
// through an authenticator connection switched to the anonymous role (no
// surrounding transaction); the owner only clears the throttle afterwards.
// ---------------------------------------------------------------------------

describe("login lockout (committed statement by statement)", () => {
  let auth: pg.Client;

  beforeAll(async () => {
    auth = new pg.Client({ connectionString: db.authUrl });
    await auth.connect();
  });
  afterAll(() => auth?.end());
  afterEach(async () => {
    await auth.query("reset role");
    await withClient(db.ownerUrl, (owner) => owner.query("delete from app_private.login_throttle"));
  });

  async function becomeAnonymous() {
    await auth.query(`set role ${auth.escapeIdentifier(ROLES.anonymous)}`);
    const { rows: [me] } = await auth.query(
      "select current_user as me, session_user as via, rolsuper, rolbypassrls from pg_roles where rolname = current_user",
    );
    expect(me).toEqual({ me: ROLES.anonymous, via: ROLES.authenticator, rolsuper: false, rolbypassrls: false });
  }
  const login = (email: string, password: string) =>
    auth.query("select r is null as failed from app_public.login($1, $2, $3) r", [world.tenants.A.slug, email, password]);
  const operatorLogin = (email: string, password: string) =>
    auth.query("select r is null as failed from app_public.operator_login($1, $2) r", [email, password]);
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => "no error",
      (e: { code?: string }) => e.code,
    );

  it("anonymous fails 5 logins as A's admin, then logs in with the right password: fails with LOCKD; A's member still logs in; A's admins see 5 login_failed events", async () => {
    await becomeAnonymous();
    for (let i = 0; i < 5; i++) {
      expect((await login(world.adminA.email, "wrong-password")).rows).toEqual([{ failed: true }]);
    }
    expect(await codeOf(login(world.adminA.email, world.password))).toBe("LOCKD");
    expect(await codeOf(login(world.adminA.email.toUpperCase(), world.password))).toBe("LOCKD");
    expect((await login(world.memberA.email, world.password)).rows).toEqual([{ failed: false }]);

    // Read back as A's admin (a request role, in a transaction).
    await auth.query("reset role");
    await auth.query("begin");
    try {
      await auth.query(`set local role ${auth.escapeIdentifier(ROLES.admin)}`);
      await auth.query("select set_config('jwt.claims.tenant_id', $1, true), set_config('jwt.claims.user_id', $2, true)", [
        world.tenants.A.id,
        world.adminA.id,
      ]);
      const { rows } = await auth.query(
        "select tenant_id from app_public.audit_events where action = 'login_failed' and row_key = $1",
        [world.adminA.id],
      );
      expect(rows).toHaveLength(5);
      for (const r of rows) expect(r.tenant_id).toBe(world.tenants.A.id);
    } finally {
      await auth.query("rollback");
    }
  });

  it("anonymous fails 4 logins as A's admin, then logs in with the right password: logs in", async () => {
    await becomeAnonymous();
    for (let i = 0; i < 4; i++) {
      expect((await login(world.adminA.email, "wrong-password")).rows).toEqual([{ failed: true }]);
    }
    expect((await login(world.adminA.email, world.password)).rows).toEqual([{ failed: false }]);
    // The success cleared the count: 4 more failures still do not lock.
    for (let i = 0; i < 4; i++) {
      expect((await login(world.adminA.email, "wrong-password")).rows).toEqual([{ failed: true }]);
    }
    expect((await login(world.adminA.email, world.password)).rows).toEqual([{ failed: false }]);
  });

  it("anonymous fails 5 operator logins, then logs in with the right password: fails with LOCKD", async () => {
    await becomeAnonymous();
    for (let i = 0; i < 5; i++) {
      expect((await operatorLogin(world.operator.email, "wrong-password")).rows).toEqual([{ failed: true }]);
    }
    expect(await codeOf(operatorLogin(world.operator.email, world.password))).toBe("LOCKD");
  });
});
