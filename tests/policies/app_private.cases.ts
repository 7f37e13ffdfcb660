// The private schema: no request role reaches its tables or functions (no
// USAGE on the schema); the authenticator itself reaches only the claims
// and operator checks (see sessions and operators), nothing else.
import type { PolicyCase } from "../helpers/policy.ts";
import { REQUEST_ACTORS } from "./shared.ts";

/** Every table of the private schema (the coverage test fails when one is missing here). */
const PRIVATE_TABLES = ["sessions", "refresh_tokens", "invitation_secrets", "user_secrets", "login_throttle", "operator_secrets", "tenant_deletions", "account_tokens"];

export const cases: PolicyCase[] = [
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
  // Writes: app_private.<table> cannot even be named (no USAGE on the schema).
  ...PRIVATE_TABLES.flatMap((table) =>
    REQUEST_ACTORS.flatMap((actor): PolicyCase[] => [
      { actor, does: `inserts into app_private.${table}`, sql: `insert into app_private.${table} default values`, expect: { error: "permission denied" } },
      { actor, does: `updates app_private.${table}`, sql: `update app_private.${table} set tenant_id = null`, expect: { error: "permission denied" } },
      { actor, does: `deletes from app_private.${table}`, sql: `delete from app_private.${table}`, expect: { error: "permission denied" } },
    ]),
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
    params: (w, fx) => [w.tenants.A.id, fx.sessions.adminA],
    expect: { error: "permission denied" },
  },
  {
    actor: "admin of A",
    does: "plants an invitation token hash",
    sql: "insert into app_private.invitation_secrets (tenant_id, invitation_id, token_hash) values ($1, $2, '\\x00')",
    params: (w, fx) => [w.tenants.A.id, fx.invitations.pendingA.id],
    expect: { error: "permission denied" },
  },
  {
    actor: "operator",
    does: "sets an operator's password hash",
    sql: "update app_private.operator_secrets set password_hash = 'x'",
    expect: { error: "permission denied" },
  },
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
  ...REQUEST_ACTORS.flatMap((actor): PolicyCase[] => [
    {
      actor,
      does: "calls the authenticator's claims_are_current",
      sql: "select app_private.claims_are_current($1, $2, 'admin', $3)",
      params: (w, fx) => [w.adminA.id, w.tenants.A.id, fx.sessions.adminA],
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
    params: (w, fx) => [w.tenants.A.id, fx.sessions.memberA],
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
];
