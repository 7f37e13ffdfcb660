// How a request's settings reach PostgreSQL (server/request-context.ts),
// through PostGraphile's own adaptor: in both modes the claims check runs
// first, in the same round trip, and refuses a stale session with 28000;
// DB_CONTEXT_MODE=set_local (for Citus), on plain PostgreSQL: hostile values
// stay values, and tenants stay isolated over HTTP. On a pool in pipeline
// mode (as the API's): errors reach the request, a read-only request leaves
// no transaction open, queries run read-only and mutations do not.
import pg from "pg";
import { makePgAdaptorWithPgClient } from "postgraphile/adaptors/pg";
import { beforeAll, describe, expect, it } from "vitest";
import { ROLES } from "../common/roles.ts";
import { withClient, withDatabase } from "../db/setup.ts";
import { parse } from "graphql";
import {
  READ_ONLY_SETTING,
  readOnlyFor,
  setLocalSql,
  useRequestContext,
} from "../server/request-context.ts";
import { startApi } from "./helpers/api.ts";
import { onCleanup } from "./helpers/cleanup.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { createWorld, type World } from "./helpers/world.ts";

let db: TestDatabase;
let world: World;
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

describe("SET LOCAL through PostGraphile's adaptor", () => {
  let withPgClient: ReturnType<typeof makePgAdaptorWithPgClient>;

  beforeAll(() => {
    const pool = new pg.Pool({ connectionString: db.authUrl, max: 1 });
    onCleanup(() => pool.end());
    useRequestContext(pool, "set_local");
    withPgClient = makePgAdaptorWithPgClient(pool);
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

describe("the claims check in the request's first statement", () => {
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
      const pool = new pg.Pool({ connectionString: db.authUrl, max: 1, pipeline });
      onCleanup(() => pool.end());
      useRequestContext(pool, mode);
      const withPgClient = makePgAdaptorWithPgClient(pool);
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
  function pipelinedPool() {
    const pool = new pg.Pool({ connectionString: db.authUrl, max: 1, pipeline: true });
    onCleanup(() => pool.end());
    useRequestContext(pool, "set_config");
    return { withPgClient: makePgAdaptorWithPgClient(pool), pool };
  }
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

  it("the held commit is sent: the connection is not left in a transaction", async () => {
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
