// Sessions and tokens: login (a session and a refresh token of the tenant
// named), refresh (rotation; a used, foreign, logged-out or expired token
// gets null), logout, change_password; and the authenticator's own
// claims_are_current check that every request with a session passes.
import type { Actor, PolicyCase } from "../helpers/policy.ts";
import { nullResult, withTenant } from "./shared.ts";

// The tenant of a successful login's token. A failed login returns no
// token (null, so that the failure it records commits); the API reports it
// as CREDS (tests/api.test.ts).
const LOGGED_IN_TENANT =
  "select (r.access_token).tenant_id from app_public.login($1, $2, $3) r where r.refresh_token is not null";

export const cases: PolicyCase[] = [
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
    actor: "member of A",
    does: "changes its password with a wrong current password",
    // Null, so that the failure it records commits; the API says CREDS (tests/account-holes.test.ts).
    sql: nullResult("app_public.change_password('wrong-password', 'new-password-1')"),
    expect: { rows: 1 },
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
    // Null, so that the failure it records commits; the API says CREDS (tests/account-holes.test.ts).
    sql: nullResult("app_public.change_password('wrong-password', 'new-password-1')"),
    expect: { rows: 1 },
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
    params: (_w, fx) => [fx.memberA.liveToken, fx.memberA.session],
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
    params: (_w, fx) => [fx.memberA.usedToken],
    expect: { rows: 1 },
  },
  {
    actor: "anonymous",
    does: "refreshes with A's member's live token under B's id (a null result)",
    sql: nullResult("app_public.refresh($1)"),
    params: (w, fx) => [withTenant(fx.memberA.liveToken, w.tenants.B.id)],
    expect: { rows: 1 },
  },
  {
    actor: "anonymous",
    does: "refreshes with the token of A's admin's logged-out session (a null result)",
    sql: nullResult("app_public.refresh($1)"),
    params: (_w, fx) => [fx.loggedOutA.token],
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
    params: (_w, fx) => [fx.memberA.liveToken],
    expect: { rows: 1 },
  },
  {
    actor: "operator",
    does: "refreshes with A's member's live refresh token",
    sql: "select * from app_public.refresh($1)",
    params: (_w, fx) => [fx.memberA.liveToken],
    expect: { error: "permission denied" },
  },
  {
    actor: "operator",
    does: "logs out A's member's session",
    sql: "select * from app_public.logout($1)",
    params: (_w, fx) => [fx.memberA.liveToken],
    expect: { error: "permission denied" },
  },
  {
    actor: "member of A",
    does: "logs in as B's admin (a token of B)",
    sql: LOGGED_IN_TENANT,
    params: (w) => [w.tenants.B.slug, w.adminB.email, w.password],
    expect: { rows: 1, tenant: "B" },
  },
  {
    actor: "admin of A",
    does: "logs in as A's member",
    sql: LOGGED_IN_TENANT,
    params: (w) => [w.tenants.A.slug, w.memberA.email, w.password],
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "operator",
    does: "logs in as A's admin",
    sql: LOGGED_IN_TENANT,
    params: (w) => [w.tenants.A.slug, w.adminA.email, w.password],
    expect: { error: "permission denied" },
  },
  ...(["member of A", "admin of A"] as Actor[]).flatMap((actor): PolicyCase[] => [
    { actor, does: "refreshes with a garbage token (a null result)", sql: nullResult("app_public.refresh('garbage')"), expect: { rows: 1 } },
    { actor, does: "logs out with a garbage token (true, saying nothing)", sql: "select r.ok from app_public.logout('garbage') as r(ok) where r.ok", expect: { rows: 1 } },
  ]),
  {
    actor: "authenticator itself",
    does: "checks A's admin's live session with role admin",
    sql: "select 1 as current where app_private.claims_are_current($1, $2, 'admin', $3)",
    params: (w, fx) => [w.adminA.id, w.tenants.A.id, fx.sessions.adminA],
    expect: { rows: 1 },
  },
  {
    actor: "authenticator itself",
    does: "checks A's admin's live session with role member (a stale role)",
    sql: "select 1 as current where app_private.claims_are_current($1, $2, 'member', $3)",
    params: (w, fx) => [w.adminA.id, w.tenants.A.id, fx.sessions.adminA],
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "checks A's admin's session naming tenant B",
    sql: "select 1 as current where app_private.claims_are_current($1, $2, 'admin', $3)",
    params: (w, fx) => [w.adminA.id, w.tenants.B.id, fx.sessions.adminA],
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "checks A's admin with A's member's session",
    sql: "select 1 as current where app_private.claims_are_current($1, $2, 'admin', $3)",
    params: (w, fx) => [w.adminA.id, w.tenants.A.id, fx.sessions.memberA],
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "checks A's admin's logged-out session",
    sql: "select 1 as current where app_private.claims_are_current($1, $2, 'admin', $3)",
    params: (w, fx) => [w.adminA.id, w.tenants.A.id, fx.loggedOutA.session],
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "checks A's admin's expired session",
    sql: "select 1 as current where app_private.claims_are_current($1, $2, 'admin', $3)",
    params: (w, fx) => [w.adminA.id, w.tenants.A.id, fx.expiredA.session],
    expect: { rows: 0 },
  },
  {
    actor: "anonymous",
    does: "refreshes an expired session",
    sql: "select 1 from app_public.refresh($1) r where r is not null",
    params: (_w, fx) => [fx.expiredA.token],
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
    params: (w, fx) => [w.memberA.id, w.tenants.A.id, fx.memberA.session],
    expect: { rows: 1 },
  },
];
