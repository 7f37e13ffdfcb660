// DB_CONTEXT_MODE=set_local (for Citus), on plain PostgreSQL: settings arrive
// as quoted SET LOCAL statements through PostGraphile's own adaptor, hostile
// values stay values, and tenants stay isolated over HTTP.
import pg from "pg";
import { makePgAdaptorWithPgClient } from "postgraphile/adaptors/pg";
import { beforeAll, describe, expect, it } from "vitest";
import { ROLES } from "../server/config.ts";
import { PGSETTINGS_STATEMENT, setLocalSql, useSetLocal } from "../server/set-local.ts";
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
  let statements: string[];
  let withPgClient: ReturnType<typeof makePgAdaptorWithPgClient>;

  beforeAll(() => {
    const pool = new pg.Pool({ connectionString: db.authUrl, max: 1 });
    onCleanup(() => pool.end());
    statements = [];
    // Registered first, so it sees what reaches the connection after translation.
    pool.on("connect", (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      client.query = ((config: unknown, ...rest: unknown[]) => {
        statements.push(typeof config === "string" ? config : String((config as { text: string }).text));
        return query(config, ...rest);
      }) as typeof client.query;
    });
    useSetLocal(pool);
    withPgClient = makePgAdaptorWithPgClient(pool);
  });

  it.each(HOSTILE)("a claim value %j arrives exactly as given, as a value", async (value) => {
    statements.length = 0;
    const settings = { role: ROLES.member, "jwt.claims.tenant_id": world.tenants.A.id, "jwt.claims.note": value };
    const { rows } = await withPgClient(settings, (client) =>
      client.query<{ me: string; note: string; users: number }>({
        text: "select current_user as me, current_setting('jwt.claims.note') as note, (select count(*)::int from app_public.users) as users",
      }),
    );
    expect(rows[0]).toEqual({ me: ROLES.member, note: value, users: 2 });
    expect(statements).not.toContain(PGSETTINGS_STATEMENT);
    expect(statements.filter((s) => s.startsWith("set local "))).toHaveLength(1);
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
