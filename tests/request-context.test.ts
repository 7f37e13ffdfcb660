// A request's transaction (server/request-context.ts), through the adaptor
// PostGraphile's pg service uses (makeRequestAdaptor: its withPgClient is
// withRequestTransaction): in both modes the claims check runs before
// anything the request sends, and refuses a stale session with 28000, also
// when the request sends nothing; DB_CONTEXT_MODE=set_local (for Citus), on
// plain PostgreSQL: the claims as SET LOCALs alone, the role by set_config,
// hostile values stay values, and tenants stay isolated over HTTP. On a pool
// in pipeline mode (as the API's) and without: errors reach the request, a
// read-only request leaves no transaction open, queries run read-only and
// mutations do not, nested transactions are savepoints, and a connection is
// given back exactly once.
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { ROLES } from "../common/roles.ts";
import { withClient, withDatabase } from "../db/setup.ts";
import { parse } from "graphql";
import type { Config } from "../common/config.ts";
import {
  CHECKED_SETTINGS_STATEMENT,
  makeRequestAdaptor,
  openingStatements,
  READ_ONLY_SETTING,
  readOnlyFor,
  setLocalSql,
  withRequestTransaction,
} from "../server/request-context.ts";
import { startApi } from "./helpers/api.ts";
import { onCleanup } from "./helpers/cleanup.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { createWorld, type World } from "./helpers/world.ts";

let db: TestDatabase;
let world: World;

/** The API's withPgClient on a pool of one connection (pipeline mode as the API's by default). */
function requestPool(mode: Config["database"]["contextMode"], pipeline = true) {
  const pool = new pg.Pool({ connectionString: db.authUrl, max: 1, pipeline });
  onCleanup(() => pool.end());
  // As server/app.ts: a connection that dies is reported, not thrown.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  return { pool, withPgClient: makeRequestAdaptor(mode).createWithPgClient({ pool }) };
}
beforeAll(async () => {
  db = await createTestDatabase();
  world = await createWorld(db.ownerUrl);
});

const HOSTILE = [
  "plain",
  "it's",
  "x'; reset role; select '1",
  "back\\slash\\'; --",
  "$$; drop table app_public.users; $$",
  'double "quotes"',
  "line\nbreak",
  "ünïcødé ✓",
  "",
];

describe("SET LOCAL through the request adaptor", () => {
  let withPgClient: ReturnType<typeof requestPool>["withPgClient"];

  beforeAll(() => {
    withPgClient = requestPool("set_local", false).withPgClient;
  });

  it.each(HOSTILE)("a claim value %j arrives exactly as given, as a value", async (value) => {
    const settings = { role: ROLES.member, "jwt.claims.tenant_id": world.tenants.A.id, "jwt.claims.note": value };
    const { rows } = await withPgClient(settings, (client) =>
      client.query<{ me: string; note: string; users: number }>({
        text: "select current_user as me, current_setting('jwt.claims.note') as note, (select count(*)::int from app_public.users) as users",
      }),
    );
    expect(rows[0]).toEqual({ me: ROLES.member, note: value, users: 2 });
    // Nothing outlived the transaction, and the users table is still there.
    const after = await withPgClient({}, (client) =>
      client.query<{ me: string; note: string | null }>({ text: "select current_user as me, current_setting('jwt.claims.note', true) as note" }),
    );
    expect(after.rows[0]).toEqual({ me: ROLES.authenticator, note: "" });
  });

  it("refuses a setting name that is not a plain dotted identifier", () => {
    expect(() => setLocalSql([['role" = \'postgres', "x"]], (v) => `'${v}'`)).toThrow(/Refusing/);
    expect(() => setLocalSql([["jwt.claims.x; reset role", "x"]], (v) => `'${v}'`)).toThrow(/Refusing/);
  });
});

describe("the claims check that opens every request transaction", () => {
  /** A live session of A's member, made as the owner (a fixture), and a function to end it. */
  async function liveSession() {
    const inTenantA = <T>(fn: (c: pg.Client) => Promise<T>) =>
      withClient(db.ownerUrl, async (c) => {
        await c.query("begin");
        await c.query("select set_config('jwt.claims.tenant_id', $1, true)", [world.tenants.A.id]);
        const result = await fn(c);
        await c.query("commit");
        return result;
      });
    const session = await inTenantA(async (c) => {
      const { rows } = await c.query("select ((app_private.issue_tokens($1, $2)).access_token).session_id as s", [world.tenants.A.id, world.memberA.id]);
      return rows[0].s as string;
    });
    const revoke = () => inTenantA((c) => c.query("update app_private.sessions set revoked_at = now() where id = $1", [session]));
    return { session, revoke };
  }

  for (const [mode, pipeline] of [["set_config", true], ["set_local", true], ["set_config", false], ["set_local", false]] as const) {
    it(`${mode}${pipeline ? " (pipeline mode, as the API)" : ""}: a live session's request runs; once the session is revoked, the same settings get 28000 and run nothing`, async () => {
      const { withPgClient } = requestPool(mode, pipeline);
      const { session, revoke } = await liveSession();
      const settings = {
        role: ROLES.member,
        "jwt.claims.tenant_id": world.tenants.A.id,
        "jwt.claims.user_id": world.memberA.id,
        "jwt.claims.role": "member",
        "jwt.claims.session_id": session,
      };
      const count = () => withPgClient(settings, (client) => client.query<{ n: number }>({ text: "select count(*)::int as n from app_public.tasks" }));
      expect((await count()).rows[0].n).toBe(3);
      // A claim missing (claims_are_current is strict) refuses rather than lets through.
      const { "jwt.claims.role": _role, ...withoutRole } = settings;
      await expect(withPgClient(withoutRole, (client) => client.query({ text: "select 1" }))).rejects.toMatchObject({ code: "28000" });
      await revoke();
      await expect(count()).rejects.toMatchObject({ code: "28000" });
      // Also a callback that sends nothing gets the check's error, not its own answer.
      await expect(withPgClient(settings, async () => "answered")).rejects.toMatchObject({ code: "28000" });
      // A write sent right behind the failed check (in the same write, in pipeline mode) does not happen.
      const name = `revoked-${mode}-${pipeline}`;
      await expect(
        withPgClient(settings, (client) => client.query({ text: "insert into app_public.projects (name) values ($1)", values: [name] })),
      ).rejects.toMatchObject({ code: "28000" });
      const written = await withClient(withDatabase(db.rootUrl, db.name), (c) => c.query("select count(*)::int as n from app_public.projects where name = $1", [name]));
      expect(written.rows[0].n).toBe(0);
      // Settings without a session (anonymous) pass the check.
      const anonymous = await withPgClient({ role: ROLES.anonymous }, (client) => client.query<{ me: string }>({ text: "select current_user as me" }));
      expect(anonymous.rows[0].me).toBe(ROLES.anonymous);
    });
  }
});

describe("the API with DB_CONTEXT_MODE=set_local", () => {
  it("keeps tenants isolated through a single pooled connection", async () => {
    const api = await startApi(db, { DB_CONTEXT_MODE: "set_local", DB_POOL_SIZE: "1" });
    const tokenA = await api.login(world.tenants.A.slug, world.adminA.email, world.password);
    const tokenB = await api.login(world.tenants.B.slug, world.memberB.email, world.password);
    const TASKS = "{ tasks { nodes { tenantId } } currentUser { email } }";
    for (let i = 0; i < 3; i++) {
      const a = await api.graphql(TASKS, {}, tokenA);
      const b = await api.graphql(TASKS, {}, tokenB);
      const anonymous = await api.graphql("{ currentUser { email } }");
      expect(a.body.data!.tasks.nodes).toHaveLength(3);
      for (const t of a.body.data!.tasks.nodes) expect(t.tenantId).toBe(world.tenants.A.id);
      expect(a.body.data!.currentUser.email).toBe(world.adminA.email);
      expect(b.body.data!.tasks.nodes).toHaveLength(3);
      for (const t of b.body.data!.tasks.nodes) expect(t.tenantId).toBe(world.tenants.B.id);
      expect(anonymous.body.data!.currentUser).toBeNull();
    }
  });
});

describe("a request's transaction on a pool in pipeline mode", () => {
  /** A pipelined pool of one connection, as the API makes it. */
  const pipelinedPool = () => requestPool("set_config");
  const memberA = () => ({
    role: ROLES.member,
    "jwt.claims.tenant_id": world.tenants.A.id,
    "jwt.claims.user_id": world.memberA.id,
    "jwt.claims.role": "member",
  });
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  it("a read-only request runs as its role, in a read-only transaction, and answers; so does the next one on the same connection", async () => {
    const { withPgClient } = pipelinedPool();
    const count = () =>
      withPgClient({ ...memberA(), [READ_ONLY_SETTING]: "on" }, (client) =>
        client.query<{ n: number; me: string; ro: string }>({
          text: "select count(*)::int as n, current_user as me, current_setting('transaction_read_only') as ro from app_public.tasks",
        }),
      );
    expect((await count()).rows[0]).toEqual({ n: 3, me: ROLES.member, ro: "on" }); // connects, and sets the connection up
    await nextTurn();
    const { rows } = await count();
    expect(rows[0]).toEqual({ n: 3, me: ROLES.member, ro: "on" });
  });

  it("a read-only request (answered without waiting for its commit) leaves no transaction open: the commit is sent", async () => {
    const { withPgClient } = pipelinedPool();
    const pid = await withPgClient({ ...memberA(), [READ_ONLY_SETTING]: "on" }, (client) =>
      client.query<{ pid: number }>({ text: "select pg_backend_pid() as pid" }),
    );
    await nextTurn();
    const state = async () =>
      (await withClient(db.rootUrl, (c) => c.query("select state from pg_stat_activity where pid = $1", [pid.rows[0].pid]))).rows[0]?.state;
    let seen = await state();
    for (let i = 0; i < 20 && seen !== "idle"; i++) seen = await new Promise((r) => setTimeout(r, 25)).then(state);
    expect(seen).toBe("idle");
  });

  it("a read-only request cannot write (25006), and the connection serves the next request", async () => {
    const { withPgClient } = pipelinedPool();
    await expect(
      withPgClient({ ...memberA(), [READ_ONLY_SETTING]: "on" }, (client) =>
        client.query({ text: "insert into app_public.projects (name) values ('read-only?')" }),
      ),
    ).rejects.toMatchObject({ code: "25006" });
    const { rows } = await withPgClient(memberA(), (client) =>
      client.query<{ n: number }>({ text: "select count(*)::int as n from app_public.projects where name = 'read-only?'" }),
    );
    expect(rows[0].n).toBe(0);
  });

  it("a writing request commits before it answers, and its write is there", async () => {
    const { withPgClient } = pipelinedPool();
    await withPgClient(memberA(), (client) => client.query({ text: "select 1" }));
    await nextTurn();
    const name = `pipelined-${Date.now()}`;
    await withPgClient(memberA(), (client) => client.query({ text: "insert into app_public.projects (name) values ($1)", values: [name] }));
    const { rows } = await withClient(withDatabase(db.rootUrl, db.name), (c) => c.query("select count(*)::int as n from app_public.projects where name = $1", [name]));
    expect(rows[0].n).toBe(1);
  });

  it("requests queued on one connection keep their own settings (no claims cross between transactions)", async () => {
    const { withPgClient } = pipelinedPool();
    const asTenant = (tenant: "A" | "B") => {
      const person = tenant === "A" ? world.memberA : world.memberB;
      const settings = { role: ROLES.member, "jwt.claims.tenant_id": world.tenants[tenant].id, "jwt.claims.user_id": person.id, "jwt.claims.role": "member" };
      return withPgClient(tenant === "A" ? { ...settings, [READ_ONLY_SETTING]: "on" } : settings, (client) =>
        client.query<{ tenants: string[] }>({ text: "select array_agg(distinct tenant_id::text) as tenants from app_public.tasks" }),
      );
    };
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? "B" : "A") as "A" | "B").map(async (t) => [t, await asTenant(t)] as const));
    for (const [tenant, { rows }] of answers) expect(rows[0].tenants).toEqual([world.tenants[tenant].id]);
  });
});

describe("readOnlyFor: which GraphQL operations run read-only", () => {
  const settings: Record<string, string> = { role: ROLES.member };
  const doc = parse("query Q { currentUser { rowId } } mutation M { logout(input: {refreshToken: \"x\"}) { clientMutationId } }");
  it.each([
    ["a query", parse("{ currentUser { rowId } }"), undefined, "on"],
    ["the named query of a document with a mutation", doc, "Q", "on"],
    ["the named mutation of that document", doc, "M", undefined],
    ["a mutation", parse("mutation { logout(input: {refreshToken: \"x\"}) { clientMutationId } }"), undefined, undefined],
    ["an operation name the document does not have", doc, "Nope", "on"],
    ["no operation name in a document of two", doc, undefined, "on"],
  ])("%s → transaction_read_only %s", (_what, document, operationName, expected) => {
    expect(readOnlyFor(settings, { document, operationName })[READ_ONLY_SETTING]).toBe(expected);
  });
});

describe("the opening statements of a request transaction", () => {
  const member = {
    role: ROLES.member,
    "jwt.claims.tenant_id": "00000000-0000-4000-8000-00000000000a",
    "jwt.claims.user_id": "00000000-0000-4000-8000-00000000000b",
    "jwt.claims.role": "member",
    "jwt.claims.session_id": "00000000-0000-4000-8000-00000000000c",
  };
  const quote = (v: string) => pg.escapeLiteral(v);
  const claims = [member["jwt.claims.user_id"], member["jwt.claims.tenant_id"], "member", member["jwt.claims.session_id"]];

  it("set_config mode: begin, then one statement that runs the check before it set_configs every setting", () => {
    const { statements, readOnly } = openingStatements("set_config", { ...member, [READ_ONLY_SETTING]: "on" }, {}, quote);
    expect(readOnly).toBe(true);
    expect(statements).toEqual(["begin read only", { name: "mts_request_context", text: CHECKED_SETTINGS_STATEMENT, values: [JSON.stringify(Object.entries(member)), ...claims] }]);
  });

  it("set_local mode: begin, the claims as SET LOCALs alone (no role, nothing else), then the check, which switches the role by set_config", () => {
    const { statements } = openingStatements("set_local", member, {}, quote);
    expect(statements).toHaveLength(3);
    expect(statements[0]).toBe("begin");
    const setLocals = (statements[1] as string).split("; ");
    expect(setLocals).toHaveLength(4);
    for (const s of setLocals) expect(s).toMatch(/^set local "jwt"\."claims"\."[a-z_]+" = '[^']*'$/);
    expect(statements[1]).not.toMatch(/set local "role"/);
    expect(statements[2]).toEqual({ name: "mts_request_context", text: CHECKED_SETTINGS_STATEMENT, values: [JSON.stringify([["role", ROLES.member]]), ...claims] });
  });

  it("anonymous settings in set_local mode: no SET LOCAL query at all; the check (which passes without a session) and the role", () => {
    const { statements } = openingStatements("set_local", { role: ROLES.anonymous }, {}, quote);
    expect(statements).toEqual(["begin", { name: "mts_request_context", text: CHECKED_SETTINGS_STATEMENT, values: [JSON.stringify([["role", ROLES.anonymous]]), null, null, null, null] }]);
  });

  it("no settings at all (PostGraphile's introspection) still open a checked transaction", () => {
    expect(openingStatements("set_config", null, {}, quote).statements).toEqual([
      "begin",
      { name: "mts_request_context", text: CHECKED_SETTINGS_STATEMENT, values: ["[]", null, null, null, null] },
    ]);
  });

  it("the export's snapshot: repeatable read, read only", () => {
    expect(openingStatements("set_config", member, { isolation: "repeatable read", readOnly: true }, quote).statements[0]).toBe(
      "begin isolation level repeatable read read only",
    );
  });
});

describe("the request transaction's own rules, in both modes, with and without pipeline mode", () => {
  const memberA = () => ({
    role: ROLES.member,
    "jwt.claims.tenant_id": world.tenants.A.id,
    "jwt.claims.user_id": world.memberA.id,
    "jwt.claims.role": "member",
  });
  const ownerCount = async (name: string) =>
    (await withClient(withDatabase(db.rootUrl, db.name), (c) => c.query("select count(*)::int as n from app_public.projects where name = $1", [name]))).rows[0].n;

  for (const [mode, pipeline] of [["set_config", true], ["set_local", true], ["set_config", false], ["set_local", false]] as const) {
    const label = `${mode}${pipeline ? " (pipeline mode)" : ""}`;

    it(`${label}: the claims and the role are in place for the request's statements, and a SECURITY DEFINER function runs as its owner`, async () => {
      const { withPgClient } = requestPool(mode, pipeline);
      const { rows } = await withPgClient(memberA(), (client) =>
        client.query<{ me: string; tenant: string; helper: string; definer: string }>({
          text:
            "select current_user as me, current_setting('jwt.claims.tenant_id') as tenant, " +
            "app_public.current_tenant_id()::text as helper, app_public.schema_version() as definer",
        }),
      );
      expect(rows[0]).toMatchObject({ me: ROLES.member, tenant: world.tenants.A.id, helper: world.tenants.A.id });
      expect(rows[0].definer).toMatch(/\S/);
    });

    it(`${label}: withTransaction nests as savepoints: an inner failure is rolled back alone, the outer write commits`, async () => {
      const { withPgClient } = requestPool(mode, pipeline);
      const [kept, undone] = [`kept-${mode}-${pipeline}`, `undone-${mode}-${pipeline}`];
      await withPgClient(memberA(), async (client) => {
        await client.withTransaction(async (tx) => {
          await tx.query({ text: "insert into app_public.projects (name) values ($1)", values: [kept] });
          await expect(
            tx.withTransaction(async (inner) => {
              await inner.query({ text: "insert into app_public.projects (name) values ($1)", values: [undone] });
              await inner.query({ text: "select 1/0" });
            }),
          ).rejects.toMatchObject({ code: "22012" });
        });
      });
      expect(await ownerCount(kept)).toBe(1);
      expect(await ownerCount(undone)).toBe(0);
    });

    it(`${label}: a failing request is rolled back and its connection serves the next one`, async () => {
      const { withPgClient } = requestPool(mode, pipeline);
      const name = `rolled-back-${mode}-${pipeline}`;
      await expect(
        withPgClient(memberA(), async (client) => {
          await client.query({ text: "insert into app_public.projects (name) values ($1)", values: [name] });
          throw new Error("the request failed");
        }),
      ).rejects.toThrow("the request failed");
      expect(await ownerCount(name)).toBe(0);
      const { rows } = await withPgClient(memberA(), (client) => client.query<{ n: number }>({ text: "select count(*)::int as n from app_public.tasks" }));
      expect(rows[0].n).toBe(3);
    });
  }

  it("a connection whose rollback fails (its backend is gone) is destroyed, not given back: the pool of one serves the next request on a new one", async () => {
    const { pool, withPgClient } = requestPool("set_config");
    const first = await withPgClient(memberA(), (client) => client.query<{ pid: number }>({ text: "select pg_backend_pid() as pid" }));
    const pid = first.rows[0].pid;
    await expect(
      withPgClient(memberA(), async (client) => {
        await withClient(db.rootUrl, (c) => c.query("select pg_terminate_backend($1)", [pid]));
        await client.query({ text: "select 1" });
      }),
    ).rejects.toThrow();
    const next = await withPgClient(memberA(), (client) => client.query<{ pid: number }>({ text: "select pg_backend_pid() as pid" }));
    expect(next.rows[0].pid).not.toBe(pid);
    expect(pool.totalCount).toBe(1);
  });

  it("keeps at most 100 of PostGraphile's named statements prepared per connection, as @dataplan/pg's own adaptor does", async () => {
    const { withPgClient } = requestPool("set_config");
    for (let i = 0; i < 120; i++) {
      await withPgClient(memberA(), (client) => client.query({ text: `select ${i} as n`, name: `mts_test_${i}` }));
    }
    const { rows } = await withPgClient(memberA(), (client) =>
      client.query<{ names: string[] }>({ text: "select array_agg(name::text) as names from pg_prepared_statements" }),
    );
    const ours = rows[0].names.filter((n) => n.startsWith("mts_test_"));
    expect(ours.length).toBeLessThanOrEqual(100);
    expect(ours).toContain("mts_test_119");
    expect(ours).not.toContain("mts_test_0");
  });

  it("withRequestTransaction gives the connection back exactly once, also when the callback fails after the check failed", async () => {
    const pool = new pg.Pool({ connectionString: db.authUrl, max: 1, pipeline: true });
    onCleanup(() => pool.end());
    const stale = { ...memberA(), "jwt.claims.session_id": "00000000-0000-4000-8000-000000000000" };
    for (let i = 0; i < 3; i++) {
      await expect(withRequestTransaction(pool, "set_config", stale, {}, async () => "x")).rejects.toMatchObject({ code: "28000" });
    }
    // Released once each time (a second release would throw in node-postgres): the one connection is idle and serves.
    expect(pool.idleCount).toBe(1);
    const me = await withRequestTransaction(pool, "set_config", { role: ROLES.anonymous }, {}, (c) => c.query<{ me: string }>({ text: "select current_user as me" }));
    expect(me.rows[0].me).toBe(ROLES.anonymous);
  });
});

describe("the API over HTTP, in both modes", () => {
  for (const mode of ["set_config", "set_local"] as const) {
    it(`${mode}: a SECURITY DEFINER mutation works, a session revoked by logout gets 401 INVALID_TOKEN on its next request, GraphQL and /export alike`, async () => {
      const api = await startApi(db, { DB_CONTEXT_MODE: mode });
      const { accessToken, refreshToken } = await api.loginTokens(world.tenants.B.slug, world.adminB.email, world.password);
      const invited = await api.graphql(`mutation { inviteUser(input: {email: "seam-${mode}@b.test", role: MEMBER}) { result { token } } }`, {}, accessToken);
      expect(invited.body.errors).toBeUndefined();
      expect(typeof invited.body.data!.inviteUser.result.token).toBe("string");
      const exported = await fetch(`${api.url}/export`, { headers: { authorization: `Bearer ${accessToken}` } });
      expect(exported.status).toBe(200);
      expect(JSON.parse((await exported.text()).split("\n")[0]).tenant).toMatchObject({ id: world.tenants.B.id });
      const out = await api.graphql("mutation($t: String!) { logout(input: {refreshToken: $t}) { result } }", { t: refreshToken }, accessToken);
      expect(out.body.data!.logout.result).toBe(true);
      const after = await api.graphql("{ currentUser { email } }", {}, accessToken);
      expect(after.status).toBe(401);
      expect(after.body.errors![0].extensions!.code).toBe("INVALID_TOKEN");
      const exportAfter = await fetch(`${api.url}/export`, { headers: { authorization: `Bearer ${accessToken}` } });
      expect(exportAfter.status).toBe(401);
      expect((await exportAfter.json()).errors[0].extensions.code).toBe("INVALID_TOKEN");
    });
  }
});
