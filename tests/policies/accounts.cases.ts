// Account recovery and email verification: forgot_password, reset_password,
// send_verification_email, verify_email; users.email_verified_at (nobody
// sets it directly); and the job queue (graphile_worker), which no request
// role reaches (its jobs carry raw tokens). The tokens the cases redeem are
// made by ./accounts.test.ts as the owner before the cases run (`tokens`).
import type { Actor, PolicyCase } from "../helpers/policy.ts";
import { REQUEST_ACTORS, withTenant } from "./shared.ts";

/** Raw tokens of A's member, issued as the owner (app_private.new_account_token) before the matrix runs. */
export const tokens = {
  reset: "",
  expiredReset: "",
  usedReset: "",
  verification: "",
  expiredVerification: "",
};

const ok = (call: string) => `select 1 as ok from ${call} r where r`;

export const cases: PolicyCase[] = [
  // forgot_password: the same answer, known account or not.
  ...(["anonymous", "member of A", "admin of A", "admin of B"] as Actor[]).flatMap((actor): PolicyCase[] => [
    {
      actor,
      does: "asks for a reset of A's member",
      sql: ok("app_public.forgot_password($1, $2)"),
      params: (w) => [w.tenants.A.slug, w.memberA.email],
      expect: { rows: 1 },
    },
    {
      actor,
      does: "asks for a reset of an unknown email in A",
      sql: ok("app_public.forgot_password($1, 'nobody@acme.test')"),
      params: (w) => [w.tenants.A.slug],
      expect: { rows: 1 },
    },
  ]),
  { actor: "anonymous", does: "asks for a reset in an unknown tenant", sql: ok("app_public.forgot_password('no-such-tenant', 'x@y.test')"), expect: { rows: 1 } },
  ...(["operator", "operator acting in A"] as Actor[]).map(
    (actor): PolicyCase => ({
      actor,
      does: "asks for a reset of A's member",
      sql: "select app_public.forgot_password($1, $2)",
      params: (w) => [w.tenants.A.slug, w.memberA.email],
      expect: { error: "permission denied" },
    }),
  ),

  // reset_password
  { actor: "anonymous", does: "resets A's member's password with its token", sql: ok("app_public.reset_password($1, 'a-new-password')"), params: () => [tokens.reset], expect: { rows: 1 } },
  { actor: "admin of B", does: "resets A's member's password with its token (a bearer token)", sql: ok("app_public.reset_password($1, 'a-new-password')"), params: () => [tokens.reset], expect: { rows: 1 } },
  { actor: "anonymous", does: "resets with a garbage token", sql: "select app_public.reset_password('garbage', 'a-new-password')", expect: { error: "BADTK" } },
  { actor: "anonymous", does: "resets with a garbage token and a too-short password: the link is refused first", sql: "select app_public.reset_password('garbage', 'x')", expect: { error: "BADTK" } },
  {
    actor: "anonymous",
    does: "resets with a well-formed token A never issued",
    sql: "select app_public.reset_password($1 || '.' || repeat('A', 43), 'a-new-password')",
    params: (w) => [w.tenants.A.id],
    expect: { error: "BADTK" },
  },
  { actor: "anonymous", does: "resets with an expired token", sql: "select app_public.reset_password($1, 'a-new-password')", params: () => [tokens.expiredReset], expect: { error: "BADTK" } },
  { actor: "anonymous", does: "resets with a used token", sql: "select app_public.reset_password($1, 'a-new-password')", params: () => [tokens.usedReset], expect: { error: "BADTK" } },
  {
    actor: "anonymous",
    does: "resets with a verification token",
    sql: "select app_public.reset_password($1, 'a-new-password')",
    params: () => [tokens.verification],
    expect: { error: "BADTK" },
  },
  {
    actor: "admin of B",
    does: "resets with A's token carrying B's id in front",
    sql: "select app_public.reset_password($1, 'a-new-password')",
    params: (w) => [withTenant(tokens.reset, w.tenants.B.id)],
    expect: { error: "BADTK" },
  },
  { actor: "anonymous", does: "resets to a short password", sql: "select app_public.reset_password($1, 'short')", params: () => [tokens.reset], expect: { error: "WEAKP" } },
  { actor: "member of A", does: "resets with a garbage token", sql: "select app_public.reset_password('garbage', 'a-new-password')", expect: { error: "BADTK" } },
  { actor: "admin of A", does: "resets with a garbage token", sql: "select app_public.reset_password('garbage', 'a-new-password')", expect: { error: "BADTK" } },
  ...(["operator", "operator acting in A"] as Actor[]).map(
    (actor): PolicyCase => ({
      actor,
      does: "resets A's member's password with its token",
      sql: "select app_public.reset_password($1, 'a-new-password')",
      params: () => [tokens.reset],
      expect: { error: "permission denied" },
    }),
  ),

  // send_verification_email: the current user only.
  ...(["member of A", "admin of A", "admin of B"] as Actor[]).map(
    (actor): PolicyCase => ({ actor, does: "asks for a verification email (not yet verified)", sql: ok("app_public.send_verification_email()"), expect: { rows: 1 } }),
  ),
  { actor: "member with no claims", does: "asks for a verification email", sql: "select app_public.send_verification_email()", expect: { error: "42501" } },
  ...(["anonymous", "operator", "operator acting in A"] as Actor[]).map(
    (actor): PolicyCase => ({ actor, does: "asks for a verification email", sql: "select app_public.send_verification_email()", expect: { error: "permission denied" } }),
  ),

  // verify_email
  ...(["anonymous", "member of A", "admin of B"] as Actor[]).map(
    (actor): PolicyCase => ({ actor, does: "verifies A's member's email with its token", sql: ok("app_public.verify_email($1)"), params: () => [tokens.verification], expect: { rows: 1 } }),
  ),
  { actor: "anonymous", does: "verifies with a garbage token", sql: "select app_public.verify_email('garbage')", expect: { error: "BADTK" } },
  { actor: "anonymous", does: "verifies with an expired token", sql: "select app_public.verify_email($1)", params: () => [tokens.expiredVerification], expect: { error: "BADTK" } },
  { actor: "anonymous", does: "verifies with a reset token", sql: "select app_public.verify_email($1)", params: () => [tokens.reset], expect: { error: "BADTK" } },
  {
    actor: "admin of A",
    does: "verifies with A's token carrying B's id in front",
    sql: "select app_public.verify_email($1)",
    params: (w) => [withTenant(tokens.verification, w.tenants.B.id)],
    expect: { error: "BADTK" },
  },
  ...(["operator", "operator acting in A"] as Actor[]).map(
    (actor): PolicyCase => ({ actor, does: "verifies A's member's email with its token", sql: "select app_public.verify_email($1)", params: () => [tokens.verification], expect: { error: "permission denied" } }),
  ),

  // users.email_verified_at: read by the tenant, set by nobody directly.
  {
    actor: "admin of A",
    does: "lists who in A is verified",
    sql: "select tenant_id, email, email_verified_at from app_public.users where email_verified_at is null",
    expect: { rows: 2, tenant: "A" },
  },
  { actor: "member of A", does: "reads A's users' verification", sql: "select tenant_id, email_verified_at from app_public.users", expect: { rows: 2, tenant: "A" } },
  {
    actor: "member of A",
    does: "marks its own email verified by a direct update",
    sql: "update app_public.users set email_verified_at = now() where id = $1",
    params: (w) => [w.memberA.id],
    expect: { error: "IMMUT" },
  },
  {
    actor: "admin of A",
    does: "marks its member's email verified by a direct update",
    sql: "update app_public.users set email_verified_at = now() where id = $1",
    params: (w) => [w.memberA.id],
    expect: { error: "IMMUT" },
  },
  {
    actor: "admin of A",
    does: "sees A's member verified after verify_email in its transaction",
    sql: `with v as (select app_public.verify_email($1) as ok)
          select u.tenant_id from app_public.users u, v where u.id = $2 and v.ok`,
    params: (w) => [tokens.verification, w.memberA.id],
    expect: { rows: 1, tenant: "A" },
  },
  { actor: "operator acting in A", does: "reads A's users' verification", sql: "select tenant_id, email_verified_at from app_public.users", expect: { rows: 2, tenant: "A" } },

  // The job queue: out of every request role's reach.
  ...REQUEST_ACTORS.flatMap((actor): PolicyCase[] => [
    { actor, does: "reads the job queue (raw tokens)", sql: "select * from graphile_worker.jobs", expect: { error: "permission denied" } },
    { actor, does: "queues a job directly", sql: "select graphile_worker.add_job('send_email', '{}')", expect: { error: "permission denied" } },
  ]),
];
