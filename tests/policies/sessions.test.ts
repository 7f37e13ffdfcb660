// The policy spec of sessions and tokens: login, refresh, logout,
// change_password and the authenticator's claims_are_current. The matrix's
// cases are in ./sessions.cases.ts (data the coverage test reads too); below
// them, what takes several statements: lifecycle changes seen by the
// authenticator's check, the login lockout (committed statement by
// statement), and the tenant context login leaves behind.
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ROLES } from "../../common/roles.ts";
import { withClient } from "../../db/setup.ts";
import type { TestDatabase } from "../helpers/database.ts";
import type { Fixtures } from "../helpers/fixtures.ts";
import { policyMatrix } from "../helpers/policy.ts";
import type { Person, World } from "../helpers/world.ts";
import { cases } from "./sessions.cases.ts";
import { policySpec } from "./setup.ts";

const spec = policySpec();
let db: TestDatabase;
let world: World;
let fx: Fixtures;
beforeAll(() => {
  db = spec.db();
  world = spec.world();
  fx = spec.fx();
});

policyMatrix("login, refresh, logout, change_password, claims_are_current", spec.context, cases);

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

  it("anonymous presents A's member's refresh token a second time within the grace, its successor unused (two tabs): a fresh pair in the same session", async () => {
    await inTransaction(async () => {
      await as(ROLES.anonymous);
      const refreshed = async (token: string) =>
        (await auth.query("select refresh_token, (access_token).session_id from app_public.refresh($1)", [token])).rows[0] as { refresh_token: string | null; session_id: string | null };
      const tabOne = await refreshed(fx.memberA.liveToken);
      const tabTwo = await refreshed(fx.memberA.liveToken);
      expect(tabOne.session_id).toBe(fx.memberA.session);
      expect(tabTwo.session_id).toBe(fx.memberA.session);
      expect(tabTwo.refresh_token).toMatch(new RegExp(`^${world.tenants.A.id}\\.`));
      expect(tabTwo.refresh_token).not.toBe(tabOne.refresh_token);
      // Both tabs go on, each with its own successor.
      expect((await refreshed(tabOne.refresh_token!)).session_id).toBe(fx.memberA.session);
      expect((await refreshed(tabTwo.refresh_token!)).session_id).toBe(fx.memberA.session);
      expect(await claimsAreCurrent(world.memberA.id, "member", fx.memberA.session)).toBe(true);
      await as(ROLES.admin, claimsOf(world.adminA, fx.sessions.adminA));
      const { rows } = await auth.query("select 1 from app_public.audit_events where action = 'refresh_token_reused' and row_key = $1", [world.memberA.id]);
      expect(rows).toEqual([]);
    });
  });

  it("anonymous presents A's member's refresh token again once its successor was used: gets null, the whole session ends, and A's admin sees refresh_token_reused", async () => {
    await inTransaction(async () => {
      await as(ROLES.anonymous);
      const first = await auth.query("select refresh_token from app_public.refresh($1)", [fx.memberA.liveToken]);
      const next = first.rows[0].refresh_token as string;
      expect(next).toMatch(new RegExp(`^${world.tenants.A.id}\\.`));
      // The successor is used (within the grace, so only this rule can refuse the replay below).
      const following = await auth.query("select r is null as failed from app_public.refresh($1) r", [next]);
      expect(following.rows).toEqual([{ failed: false }]);
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

describe("the tenant context login leaves behind", () => {
  let auth: pg.Client;
  beforeAll(async () => {
    auth = new pg.Client({ connectionString: db.authUrl });
    await auth.connect();
  });
  afterAll(() => auth?.end());

  async function asAnonymous<T>(fn: () => Promise<T>) {
    await auth.query("begin");
    try {
      await auth.query(`set local role ${ROLES.anonymous}`);
      return await fn();
    } finally {
      await auth.query("rollback");
    }
  }
  const contextNow = async () =>
    (await auth.query("select app_public.current_tenant_id() as t, current_setting('jwt.claims.tenant_id', true) as raw")).rows[0];

  it("login leaves the caller's transaction without a tenant context", async () => {
    await asAnonymous(async () => {
      const { rows: [token] } = await auth.query("select (access_token).tenant_id from app_public.login($1, $2, $3)", [
        world.tenants.A.slug,
        world.adminA.email,
        world.password,
      ]);
      expect(token.tenant_id).toBe(world.tenants.A.id);
      expect(await contextNow()).toEqual({ t: null, raw: "" });
    });
  });
  it("a member's own context is back in place after it calls login for another tenant", async () => {
    await auth.query("begin");
    try {
      await auth.query(`set local role ${ROLES.member}`);
      await auth.query("select set_config('jwt.claims.tenant_id', $1, true)", [world.tenants.A.id]);
      await auth.query("select * from app_public.login($1, $2, $3)", [world.tenants.B.slug, world.adminB.email, world.password]);
      expect((await contextNow()).t).toBe(world.tenants.A.id);
      const { rows: users } = await auth.query("select tenant_id from app_public.users");
      expect(users).toHaveLength(2);
      for (const u of users) expect(u.tenant_id).toBe(world.tenants.A.id);
    } finally {
      await auth.query("rollback");
    }
  });
  it("a transaction-local setting does not outlive its transaction on the same connection", async () => {
    await auth.query("begin");
    await auth.query("select set_config('jwt.claims.tenant_id', $1, true)", [world.tenants.A.id]);
    await auth.query("commit");
    const { rows: [after] } = await auth.query("select current_setting('jwt.claims.tenant_id', true) as raw");
    expect(after.raw).toBe("");
  });
});
