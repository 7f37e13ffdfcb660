// Every function that switches the tenant context leaves its caller's
// context as it found it. The owner's functions reach one tenant's rows
// under forced RLS by setting jwt.claims.tenant_id for the transaction
// (app_private.switch_tenant_context, or set_config / SET LOCAL of a
// jwt.claims.* setting); a function that forgot to put the caller's value
// back would hand the rest of the request another tenant's rows.
//
// The functions come from the catalog at test time (their bodies and SET
// clauses); each must have a case below, keyed by its signature, so that a
// new context-switching function fails this file until someone writes its
// case. Each case calls the function as the caller that really does (a
// request role through the authenticator, the authenticator itself, or the
// owner where only the owner may) and compares every claim setting before
// and after, on the error path too (the call in a savepoint, as a caller
// that goes on after the error would make it).
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROLES } from "../common/roles.ts";
import { withClient } from "../db/setup.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { createWorld, type Person, type World } from "./helpers/world.ts";

const APP_SCHEMAS = ["app_public", "app_private"];

/** The claim settings the API sets for a request (server/auth.ts); the catalog may name more. */
const API_CLAIMS = ["jwt.claims.tenant_id", "jwt.claims.user_id", "jwt.claims.role", "jwt.claims.session_id", "jwt.claims.operator_id"];

/**
 * What switching the context looks like in a function's body: the helpers
 * (switch_tenant_context, restore_tenant_context), set_config() (of any
 * setting: a name built at run time counts too), SET LOCAL of anything (the
 * mechanism the helpers use, which Citus forwards to its workers; also in a
 * format() string such as 'set local %s = %L'), or SET of a jwt.claims setting.
 */
const SWITCHES = String.raw`(switch|restore)_tenant_context\s*\(|set_config\s*\(|\mset\s+local\M|\mset\s+(session\s+)?"?jwt"?\."?claims`;

const CONTEXT_SWITCHING_FUNCTIONS = `
  select p.oid::regprocedure::text as name
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
   where n.nspname = any($1)
     and (p.prosrc ~* $2 or exists (select 1 from unnest(p.proconfig) as c(setting) where c.setting like 'jwt.claims.%'))
   order by 1`;

interface Fixtures {
  world: World;
  /** A live session of A's admin and its (unused) refresh token. */
  adminA: { sessionId: string; refreshToken: string };
  /** A pending invitation to A, and its token. */
  invitationToken: string;
  /** A password-reset and an email-verification token of A's admin. */
  resetToken: string;
  verificationToken: string;
}

type Actor =
  | "anonymous"
  | "member of A"
  | "admin of A"
  | "member of B"
  /** The authenticator before any role switch: what the API's per-request checks run as. */
  | "authenticator"
  /** The owner (imports, demo data, npm run db:prune, and the owner's own helpers). */
  | "owner";

interface Case {
  actor: Actor;
  /** Claims the caller holds besides its actor's (the owner holding a tenant's context). */
  context?: (f: Fixtures) => Record<string, string>;
  /** What it does, in words. */
  does: string;
  /** Statements run first, in the same transaction and as the same caller (not part of the comparison). */
  before?: { sql: string; params?: (f: Fixtures) => unknown[] }[];
  sql: string;
  params?: (f: Fixtures) => unknown[];
  /** The SQLSTATE it raises (the error path); otherwise it must return. */
  raises?: string;
  /**
   * Only for the helper that is the switch itself: the tenant it leaves in
   * place, which its callers put back with the value it returned (`previous`).
   */
  switchesTo?: (f: Fixtures) => string;
}

const inTenant = (tenant: "A" | "B") => (f: Fixtures) => ({ "jwt.claims.tenant_id": f.world.tenants[tenant].id });
const unknownTokenOfA = (f: Fixtures) => `${f.world.tenants.A.id}.${"x".repeat(43)}`;
const loginAdminA = (f: Fixtures) => [f.world.tenants.A.slug, f.world.adminA.email, f.world.password];

/** One or more cases per context-switching function, keyed by its signature as the catalog prints it. */
const CASES: Record<string, Case[]> = {
  "app_private.switch_tenant_context(uuid)": [
    {
      actor: "owner",
      context: inTenant("A"),
      does: "switches from A to B and returns A, which its callers set back",
      sql: "select app_private.switch_tenant_context($1) as previous",
      params: (f) => [f.world.tenants.B.id],
      switchesTo: (f) => f.world.tenants.B.id,
    },
  ],
  "app_private.restore_tenant_context(text)": [
    {
      actor: "owner",
      context: inTenant("A"),
      does: "puts A back after switching to B, given what the switch returned",
      sql: "select app_private.restore_tenant_context(app_private.switch_tenant_context($1))",
      params: (f) => [f.world.tenants.B.id],
    },
    {
      actor: "owner",
      does: "puts 'none' back after switching to A from no context",
      sql: "select app_private.restore_tenant_context(app_private.switch_tenant_context($1))",
      params: (f) => [f.world.tenants.A.id],
    },
  ],
  "app_private.create_user(uuid,text,text,app_public.user_role,text)": [
    {
      actor: "owner",
      context: inTenant("B"),
      does: "holding B's context, creates a user in A",
      sql: "select app_private.create_user($1, 'newcomer@acme.test', 'Newcomer', 'member', 'password123')",
      params: (f) => [f.world.tenants.A.id],
    },
    {
      actor: "owner",
      context: inTenant("B"),
      does: "holding B's context, creates a user in A whose email is taken",
      sql: "select app_private.create_user($1, $2, 'Twin', 'member', 'password123')",
      params: (f) => [f.world.tenants.A.id, f.world.adminA.email],
      raises: "EMTKN",
    },
  ],
  "app_private.audit(uuid,text,text,text,text[],jsonb,uuid,uuid)": [
    {
      actor: "owner",
      context: inTenant("B"),
      does: "holding B's context, writes an event into A's log",
      sql: "select app_private.audit($1, 'login')",
      params: (f) => [f.world.tenants.A.id],
    },
    {
      actor: "owner",
      context: inTenant("B"),
      does: "writes an event for a tenant that does not exist",
      sql: "select app_private.audit(gen_random_uuid(), 'login')",
      raises: "23503",
    },
  ],
  "app_private.prune_sessions(interval)": [
    { actor: "owner", does: "prunes every tenant's ended sessions (npm run db:prune)", sql: "select app_private.prune_sessions()" },
    { actor: "owner", context: inTenant("A"), does: "holding A's context, prunes every tenant", sql: "select app_private.prune_sessions()" },
  ],
  "app_private.prune_account_data(interval,interval,interval)": [
    { actor: "owner", does: "prunes every tenant's ended tokens, invitations and old audit events (the worker's maintenance)", sql: "select app_private.prune_account_data('1 day', '30 days', '1 year')" },
    { actor: "owner", context: inTenant("A"), does: "holding A's context, prunes every tenant", sql: "select app_private.prune_account_data()" },
  ],
  "app_private.send_password_reset(text,text)": [
    {
      actor: "owner",
      does: "issues a reset token for A's admin (the worker's forgot_password task)",
      sql: "select app_private.send_password_reset($1, $2)",
      params: (f) => [f.world.tenants.A.slug, f.world.adminA.email],
    },
    {
      actor: "owner",
      context: inTenant("B"),
      does: "holding B's context, looks up an unknown email in A (false)",
      sql: "select app_private.send_password_reset($1, 'nobody@acme.test')",
      params: (f) => [f.world.tenants.A.slug],
    },
  ],
  "app_public.reset_password(text,text)": [
    { actor: "anonymous", does: "resets A's admin's password", sql: "select app_public.reset_password($1, 'a-new-password')", params: (f) => [f.resetToken] },
    { actor: "member of B", does: "resets A's admin's password", sql: "select app_public.reset_password($1, 'a-new-password')", params: (f) => [f.resetToken] },
    {
      actor: "member of B",
      does: "resets with an unknown token of A",
      sql: "select app_public.reset_password($1, 'a-new-password')",
      params: (f) => [unknownTokenOfA(f)],
      raises: "BADTK",
    },
  ],
  "app_public.verify_email(text)": [
    { actor: "anonymous", does: "verifies A's admin's email", sql: "select app_public.verify_email($1)", params: (f) => [f.verificationToken] },
    { actor: "member of B", does: "verifies A's admin's email", sql: "select app_public.verify_email($1)", params: (f) => [f.verificationToken] },
    { actor: "member of B", does: "verifies with an unknown token of A", sql: "select app_public.verify_email($1)", params: (f) => [unknownTokenOfA(f)], raises: "BADTK" },
  ],
  "app_public.login(text,text,text)": [
    { actor: "anonymous", does: "logs in as A's admin", sql: "select app_public.login($1, $2, $3)", params: loginAdminA },
    {
      actor: "member of A",
      does: "logs in to B as B's admin",
      sql: "select app_public.login($1, $2, $3)",
      params: (f) => [f.world.tenants.B.slug, f.world.adminB.email, f.world.password],
    },
    {
      actor: "anonymous",
      does: "logs in to A with a wrong password (null, the failure recorded in A)",
      sql: "select app_public.login($1, $2, 'wrong-password')",
      params: (f) => [f.world.tenants.A.slug, f.world.adminA.email],
    },
    {
      actor: "anonymous",
      does: "logs in as A's admin after five failures",
      before: Array.from({ length: 5 }, () => ({
        sql: "select app_public.login($1, $2, 'wrong-password')",
        params: (f: Fixtures) => [f.world.tenants.A.slug, f.world.adminA.email],
      })),
      sql: "select app_public.login($1, $2, $3)",
      params: loginAdminA,
      raises: "LOCKD",
    },
  ],
  "app_public.create_tenant(text,text,text,text)": [
    {
      actor: "anonymous",
      does: "signs up a new tenant",
      sql: "select app_public.create_tenant('Umbrella', 'umbrella', 'ada@umbrella.test', 'password123')",
    },
    {
      actor: "member of A",
      does: "signs up a new tenant",
      sql: "select app_public.create_tenant('Umbrella', 'umbrella', 'ada@umbrella.test', 'password123')",
    },
    {
      actor: "member of A",
      does: "signs up with a slug that is taken",
      sql: "select app_public.create_tenant('Acme again', $1, 'ada@umbrella.test', 'password123')",
      params: (f) => [f.world.tenants.A.slug],
      raises: "TAKEN",
    },
    {
      actor: "anonymous",
      does: "signs up with an email that is not one (raised inside create_user)",
      sql: "select app_public.create_tenant('Umbrella', 'umbrella', 'not an email', 'password123')",
      raises: "BADEM",
    },
  ],
  "app_public.accept_invitation(text,text,text)": [
    {
      actor: "anonymous",
      does: "accepts an invitation to A",
      sql: "select app_public.accept_invitation($1, 'Newcomer', 'password123')",
      params: (f) => [f.invitationToken],
    },
    {
      actor: "member of B",
      does: "accepts an invitation to A",
      sql: "select app_public.accept_invitation($1, 'Newcomer', 'password123')",
      params: (f) => [f.invitationToken],
    },
    {
      actor: "member of B",
      does: "accepts an unknown invitation of A",
      sql: "select app_public.accept_invitation($1, 'Newcomer', 'password123')",
      params: (f) => [unknownTokenOfA(f)],
      raises: "BADIN",
    },
  ],
  "app_public.refresh(text)": [
    {
      actor: "anonymous",
      does: "exchanges A's admin's refresh token",
      sql: "select app_public.refresh($1)",
      params: (f) => [f.adminA.refreshToken],
    },
    {
      actor: "member of B",
      does: "presents A's admin's refresh token a second time (within the grace: a fresh pair in the same session)",
      before: [{ sql: "select app_public.refresh($1)", params: (f) => [f.adminA.refreshToken] }],
      sql: "select app_public.refresh($1)",
      params: (f) => [f.adminA.refreshToken],
    },
    { actor: "anonymous", does: "presents an unknown token of A (null)", sql: "select app_public.refresh($1)", params: (f) => [unknownTokenOfA(f)] },
  ],
  // Switches no tenant: it sets citus.multi_shard_modify_mode for its own
  // transaction (on Citus; unused on plain PostgreSQL).
  "app_public.delete_tenant(text)": [
    {
      actor: "admin of A",
      does: "deletes its tenant",
      sql: "select app_public.delete_tenant($1)",
      params: (f) => [f.world.tenants.A.slug],
    },
    {
      actor: "admin of A",
      does: "confirms with another tenant's slug",
      sql: "select app_public.delete_tenant($1)",
      params: (f) => [f.world.tenants.B.slug],
      raises: "CONFM",
    },
  ],
  "app_public.logout(text)": [
    {
      actor: "admin of A",
      does: "logs out its own session",
      sql: "select app_public.logout($1)",
      params: (f) => [f.adminA.refreshToken],
    },
    { actor: "member of B", does: "logs out an unknown token of A", sql: "select app_public.logout($1)", params: (f) => [unknownTokenOfA(f)] },
  ],
  "app_private.claims_are_current(uuid,uuid,text,uuid)": [
    {
      actor: "authenticator",
      does: "checks the claims of A's admin's live session",
      sql: "select app_private.claims_are_current($1, $2, 'admin', $3)",
      params: (f) => [f.world.adminA.id, f.world.tenants.A.id, f.adminA.sessionId],
    },
  ],
  "app_private.assert_claims_current(uuid,uuid,text,uuid)": [
    {
      actor: "authenticator",
      does: "checks the claims of A's admin's live session (the start of every request)",
      sql: "select app_private.assert_claims_current($1, $2, 'admin', $3)",
      params: (f) => [f.world.adminA.id, f.world.tenants.A.id, f.adminA.sessionId],
    },
    {
      actor: "authenticator",
      does: "checks claims whose role no longer holds",
      sql: "select app_private.assert_claims_current($1, $2, 'member', $3)",
      params: (f) => [f.world.adminA.id, f.world.tenants.A.id, f.adminA.sessionId],
      raises: "28000",
    },
  ],
};

let db: TestDatabase;
let fx: Fixtures;
let owner: pg.Client;
let auth: pg.Client;
let claims: string[];

beforeAll(async () => {
  db = await createTestDatabase();
  const world = await createWorld(db.ownerUrl);
  fx = await withClient(db.ownerUrl, async (client) => {
    const { rows: [login] } = await client.query(
      "select (access_token).session_id, refresh_token from app_public.login($1, $2, $3)",
      loginAdminA({ world } as Fixtures),
    );
    await client.query("begin");
    await client.query("select set_config('jwt.claims.tenant_id', $1, true), set_config('jwt.claims.user_id', $2, true)", [
      world.tenants.A.id,
      world.adminA.id,
    ]);
    const { rows: [invitation] } = await client.query("select token from app_public.invite_user('newcomer@acme.test', 'member')");
    const issue = async (purpose: string) =>
      (await client.query("select app_private.new_account_token($1, $2, $3, $4, '1 hour') as t", [world.tenants.A.id, world.adminA.id, world.adminA.email, purpose])).rows[0].t as string;
    const resetToken = await issue("password_reset");
    const verificationToken = await issue("email_verification");
    await client.query("commit");
    return { world, adminA: { sessionId: login.session_id, refreshToken: login.refresh_token }, invitationToken: invitation.token, resetToken, verificationToken };
  });
  owner = new pg.Client({ connectionString: db.ownerUrl });
  auth = new pg.Client({ connectionString: db.authUrl });
  await Promise.all([owner.connect(), auth.connect()]);
  const { rows } = await owner.query(
    `select distinct m[1] as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace,
            regexp_matches(p.prosrc, '(jwt\\.claims\\.[a-z_]+)', 'g') as m
      where n.nspname = any($1)`,
    [APP_SCHEMAS],
  );
  claims = [...new Set([...API_CLAIMS, ...rows.map((r) => r.name as string)])].sort();
});
afterAll(async () => {
  await owner?.end();
  await auth?.end();
});

/** The claims a request of this actor carries (as server/auth.ts sets them). */
function actorClaims(actor: Actor, f: Fixtures): Record<string, string> {
  const of = (p: Person) => ({ "jwt.claims.tenant_id": p.tenantId, "jwt.claims.user_id": p.id, "jwt.claims.role": p.role });
  if (actor === "member of A") return of(f.world.memberA);
  if (actor === "admin of A") return { ...of(f.world.adminA), "jwt.claims.session_id": f.adminA.sessionId };
  if (actor === "member of B") return of(f.world.memberB);
  return {};
}

const REQUEST_ROLE: Partial<Record<Actor, string>> = {
  anonymous: ROLES.anonymous,
  "member of A": ROLES.member,
  "admin of A": ROLES.admin,
  "member of B": ROLES.member,
};

/**
 * Every claim setting, as current_setting() reads it. A setting that no
 * statement of the session has defined reads null, and once a transaction
 * has set it, '' where nothing sets it: PostgreSQL cannot make it undefined
 * again, and every reader (app_public.uuid_or_null) takes both for "none";
 * so null is compared as ''.
 */
async function claimsNow(client: pg.Client): Promise<Record<string, string>> {
  const { rows } = await client.query(
    "select name, coalesce(current_setting(name, true), '') as value from unnest($1::text[]) as name order by name",
    [claims],
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.value]));
}

describe("the functions that switch the tenant context (from the catalog)", () => {
  it("are exactly the functions with cases below: a new one needs its case", async () => {
    const { rows } = await owner.query(CONTEXT_SWITCHING_FUNCTIONS, [APP_SCHEMAS, SWITCHES]);
    expect(rows.map((r) => r.name)).toEqual(Object.keys(CASES).sort());
  });

  it.each([
    ["calls switch_tenant_context", "perform app_private.switch_tenant_context(gen_random_uuid());"],
    ["calls set_config of a claim", "perform set_config('jwt.claims.user_id', '', true);"],
    ["runs SET LOCAL of a claim through EXECUTE", `execute 'set local jwt.claims.tenant_id = ''''';`],
    ["runs SET LOCAL through EXECUTE format(), the name an argument", `execute format('set local %s = %L', 'jwt.claims.tenant_id', '');`],
    ["puts a context back with restore_tenant_context", "perform app_private.restore_tenant_context('');"],
  ])("include a new function that %s", async (_, statement) => {
    await owner.query("begin");
    try {
      await owner.query(`create function app_private.context_switch_probe() returns void language plpgsql as $$ begin ${statement} end $$`);
      const { rows } = await owner.query(CONTEXT_SWITCHING_FUNCTIONS, [APP_SCHEMAS, SWITCHES]);
      expect(rows.map((r) => r.name)).toContain("app_private.context_switch_probe()");
    } finally {
      await owner.query("rollback");
    }
  });

  it("read the claim settings the API sets, and no others", () => {
    expect(claims).toEqual([...API_CLAIMS].sort());
  });
});

/**
 * Runs a case as its caller, in a transaction rolled back afterwards (after
 * `setup`, run first as that client's login role), and returns every claim
 * setting just before the call and just after it.
 */
async function claimsAround(c: Case, setup?: string): Promise<{ before: Record<string, string>; after: Record<string, string> }> {
  const client = c.actor === "owner" ? owner : auth;
  await client.query("begin");
  try {
    if (setup) await client.query(setup);
    const role = REQUEST_ROLE[c.actor];
    if (role) await client.query(`set local role ${client.escapeIdentifier(role)}`);
    const settings = { ...actorClaims(c.actor, fx), ...c.context?.(fx) };
    for (const [name, value] of Object.entries(settings)) await client.query("select set_config($1, $2, true)", [name, value]);
    // The caller is who the case says, and no superuser or BYPASSRLS role.
    const { rows: [me] } = await client.query(
      "select current_user as me, rolsuper, rolbypassrls from pg_roles where rolname = current_user",
    );
    const expected = role ?? (c.actor === "owner" ? ROLES.owner : ROLES.authenticator);
    expect(me).toEqual({ me: expected, rolsuper: false, rolbypassrls: false });
    for (const step of c.before ?? []) await client.query(step.sql, step.params?.(fx) ?? []);

    const before = await claimsNow(client);
    expect(before).toMatchObject(settings);
    await client.query("savepoint call");
    let result: pg.QueryResult | undefined;
    let error: (Error & { code?: string }) | undefined;
    try {
      result = await client.query(c.sql, c.params?.(fx) ?? []);
    } catch (e) {
      error = e as Error & { code?: string };
      await client.query("rollback to savepoint call");
    }
    if (c.raises) expect(error?.code, error?.message).toBe(c.raises);
    else expect(error?.message).toBeUndefined();

    if (c.switchesTo) {
      expect((await claimsNow(client))["jwt.claims.tenant_id"]).toBe(c.switchesTo(fx));
      expect(result!.rows[0].previous).toBe(before["jwt.claims.tenant_id"]);
      await client.query("select set_config('jwt.claims.tenant_id', $1, true)", [result!.rows[0].previous]);
    }
    return { before, after: await claimsNow(client) };
  } finally {
    await client.query("rollback");
  }
}

describe.each(Object.entries(CASES))("%s leaves the caller's claims as they were", (_, cases) => {
  it.each(cases.map((c) => [`${c.actor} ${c.does}${c.raises ? `: raises ${c.raises}` : ""}`, c] as const))("%s", async (_, c) => {
    const { before, after } = await claimsAround(c);
    expect(after).toEqual(before);
  });
});

describe("a function that forgets to put the caller's context back", () => {
  it.each([
    ["switches with switch_tenant_context", "perform app_private.switch_tenant_context(tenant_id);"],
    ["runs SET LOCAL through EXECUTE", "execute format('set local jwt.claims.tenant_id = %L', tenant_id);"],
  ])("is caught by the comparison above when it %s and does not restore", async (_, statement) => {
    const { before, after } = await claimsAround(
      {
        actor: "owner",
        context: inTenant("A"),
        does: "switches to B and returns",
        sql: "select app_private.context_forgetful_probe($1)",
        params: (f) => [f.world.tenants.B.id],
      },
      `create function app_private.context_forgetful_probe(tenant_id uuid) returns void language plpgsql as $$ begin ${statement} end $$`,
    );
    expect(before["jwt.claims.tenant_id"]).toBe(fx.world.tenants.A.id);
    expect(after["jwt.claims.tenant_id"]).toBe(fx.world.tenants.B.id);
    expect(after).not.toEqual(before);
  });
});
