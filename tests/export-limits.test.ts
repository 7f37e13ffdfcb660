// GET /export against clients that go away, stop reading or come in
// numbers: whatever they do, the export gives its pooled connection back
// (no backend of the API stays in a transaction), batches stay about
// EXPORT_BATCH_BYTES, and EXPORT_CONCURRENCY / EXPORT_CONCURRENCY_PER_TENANT
// cap the exports running at once (429 TOO_MANY_EXPORTS), while the other
// tenants' GraphQL requests keep being answered. Real PostgreSQL, real HTTP.
import { once } from "node:events";
import { request, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { beforeAll, describe, expect, it } from "vitest";
import { withClient, withDatabase } from "../db/setup.ts";
import { ROLES } from "../common/roles.ts";
import { FIRST_BATCH_ROWS, MAX_BATCH_ROWS, nextBatchSize } from "../server/export.ts";
import { startApi, type TestApi } from "./helpers/api.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { LOAD_PASSWORD, seedTenants, type LoadTenant } from "./helpers/load.ts";
import { createWorld, type World } from "./helpers/world.ts";

/** Comments of 10,000 characters (the most a comment may have) in the wide tenant: about 6 MB of rows, and as much again in its audit log. */
const WIDE_COMMENTS = 600;
const WIDE_TASKS = 20;
const COMMENT_LENGTH = 10_000;
/**
 * The fair share (server/fair-share.ts, in front of /export too) lets one
 * tenant run 40 % of the pool at once: on these small pools it would refuse a
 * tenant's second request (TENANT_BUSY) before the export's own limits are
 * reached. Raised where a test runs one tenant's requests side by side.
 */
const WIDE_FAIR_SHARE = { TENANT_CONCURRENCY: "20" };

let db: TestDatabase;
let world: World;
let superuserUrl: string;
/** A tenant whose export is big enough to be still streaming when its client misbehaves. */
let wide: LoadTenant;
/** Tenant B's task titles as the owner sees them: what B's GraphQL request must answer. */
let titlesOfB: string[];

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createWorld(db.ownerUrl);
  superuserUrl = withDatabase(db.rootUrl, db.name);
  [wide] = await seedTenants(db.ownerUrl, 1, { prefix: "wide", tasksPerTenant: WIDE_TASKS });
  const admin = wide.users.find((u) => u.role === "admin")!;
  await withClient(db.ownerUrl, async (c) => {
    // As the owner under the tenant's context, written by its admin (the comments' insert policy).
    await c.query("begin");
    await c.query("select set_config('jwt.claims.tenant_id', $1, true), set_config('jwt.claims.user_id', $2, true)", [wide.id, admin.id]);
    await c.query(
      `insert into app_public.comments (task_id, body)
         select ($1::uuid[])[1 + n % array_length($1::uuid[], 1)], left(repeat('comment ' || n || ' é, ', 1000), $3)
           from generate_series(1, $2::int) n`,
      [wide.seedTaskIds, WIDE_COMMENTS, COMMENT_LENGTH],
    );
    await c.query("commit");
    await c.query("begin");
    await c.query("select set_config('jwt.claims.tenant_id', $1, true)", [world.tenants.B.id]);
    const { rows } = await c.query<{ title: string }>("select title from app_public.tasks order by title");
    await c.query("commit");
    titlesOfB = rows.map((r) => r.title);
  });
  expect(titlesOfB.length).toBeGreaterThan(0);
});

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** An API of its own whose connections carry `name` as their application_name (so that busyBackends sees only them). */
async function startNamedApi(name: string, env: Record<string, string>): Promise<TestApi> {
  const authUrl = new URL(db.authUrl);
  authUrl.searchParams.set("application_name", name);
  return startApi({ ...db, authUrl: authUrl.toString() }, env);
}

/** The backends of API `name` (the authenticator's) that are in a transaction or running a statement, as the superuser sees them. */
async function busyBackends(name: string): Promise<{ state: string; query: string }[]> {
  const { rows } = await withClient(superuserUrl, (c) =>
    c.query<{ state: string; query: string }>(
      `select state, query from pg_stat_activity
        where datname = $1 and usename = $2 and application_name = $3 and state <> 'idle' order by pid`,
      [db.name, ROLES.authenticator, name],
    ),
  );
  return rows;
}

/** Retries `check` every 50 ms until it passes, for at most `timeoutMs`; then fails with its last error. */
async function eventually<T>(check: () => Promise<T>, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

interface OpenExport {
  status: number;
  headers: IncomingHttpHeaders;
  /** The response, not read yet: the test decides whether it is read, paused or cut. */
  res: IncomingMessage;
  req: ClientRequest;
}

/** Starts GET /export as `token` (gzipped if asked); resolves once the response's headers are in, without reading its body. */
function openExport(api: TestApi, token: string, { gzip = false } = {}): Promise<OpenExport> {
  const headers = { authorization: `Bearer ${token}`, ...(gzip ? { "accept-encoding": "gzip" } : {}) };
  return new Promise((resolve, reject) => {
    const req = request(`${api.url}/export`, { headers }, (res) =>
      resolve({ status: res.statusCode!, headers: res.headers, res, req }),
    );
    req.on("error", reject);
    req.end();
  });
}

/** Reads the rest of `res`; `complete` says whether the body ended properly (rather than being cut off). */
async function readAll(res: IncomingMessage): Promise<{ text: string; complete: boolean }> {
  let text = "";
  res.setEncoding("utf8");
  res.on("data", (chunk: string) => (text += chunk));
  // A cut-off response emits 'error' (aborted) before 'close'.
  res.on("error", () => {});
  const closed = res.closed ? Promise.resolve() : new Promise((resolve) => res.once("close", resolve));
  res.resume();
  await closed;
  return { text, complete: res.complete };
}

/** A whole GET /export as `token`, read to the end. */
async function exportAs(api: TestApi, token: string) {
  const res = await fetch(`${api.url}/export`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, retryAfter: res.headers.get("retry-after"), text: await res.text() };
}

interface Line {
  type: string;
  table?: string;
  data?: Record<string, unknown>;
  rows?: Record<string, number>;
  total?: number;
}
const parse = (ndjson: string): Line[] => ndjson.trim().split("\n").map((l) => JSON.parse(l));

/** Tenant B's member lists B's tasks through GraphQL: they must be B's rows, all of them. */
async function tasksOfB(api: TestApi, token: string): Promise<string[]> {
  const { status, body } = await api.graphql("{ tasks { nodes { title } } }", {}, token);
  expect(status).toBe(200);
  expect(body.errors).toBeUndefined();
  return body.data!.tasks.nodes.map((t: { title: string }) => t.title).sort();
}

/** Logs in as the wide tenant's admin. */
const loginWideAdmin = (api: TestApi) => api.login(wide.slug, wide.users.find((u) => u.role === "admin")!.email, LOAD_PASSWORD);

/** An export that its client stopped reading is not complete, and its answer says so (no end line). */
function expectCut(text: string) {
  expect(text.length).toBeGreaterThan(0);
  expect(text).not.toContain(`"type":"end"`);
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

describe("nextBatchSize (rows per FETCH from the last batch's average line length)", () => {
  it("starts each table at the first batch size, before any row was measured", () => {
    expect(nextBatchSize(1 << 20, 0, 0)).toBe(FIRST_BATCH_ROWS);
  });

  it("shrinks to what fits in the target for wide rows, but never below one row", () => {
    expect(nextBatchSize(4096, 50, 50 * 10_000)).toBe(1);
    expect(nextBatchSize(100_000, 50, 50 * 10_000)).toBe(10);
    expect(nextBatchSize(1, 1, 5)).toBe(1);
  });

  it("grows for narrow rows, at most twice the last batch at a time, up to the maximum", () => {
    expect(nextBatchSize(1 << 20, 50, 50 * 200)).toBe(100);
    expect(nextBatchSize(1 << 20, 800, 800 * 200)).toBe(MAX_BATCH_ROWS);
    expect(nextBatchSize(1 << 20, MAX_BATCH_ROWS, MAX_BATCH_ROWS * 10)).toBe(MAX_BATCH_ROWS);
  });

  it("settles on batches of about the target size for rows of one width", () => {
    const width = 2000;
    const target = 1 << 20;
    let rows = nextBatchSize(target, 0, 0);
    for (let i = 0; i < 10; i++) rows = nextBatchSize(target, rows, rows * width);
    expect(rows * width).toBeLessThanOrEqual(target);
    expect(rows * width).toBeGreaterThan(target - width);
  });
});

describe("an admin who cuts exports off mid-stream", () => {
  let api: TestApi;
  let tokenWide: string;
  let tokenB: string;
  beforeAll(async () => {
    api = await startNamedApi("cut", { ...WIDE_FAIR_SHARE, DB_POOL_SIZE: "2", EXPORT_CONCURRENCY: "6", EXPORT_CONCURRENCY_PER_TENANT: "6" });
    tokenWide = await loginWideAdmin(api);
    tokenB = await api.login(world.tenants.B.slug, world.memberB.email, world.password);
  });

  it("6 exports on a pool of 2 (half of them gzipped), each cut after its first chunk, leave no connection behind, and B's member then gets B's tasks", async () => {
    const statuses = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const open = await openExport(api, tokenWide, { gzip: i % 2 === 1 });
        await once(open.res, "data");
        open.req.destroy();
        return open.status;
      }),
    );
    // Every one was streaming (200 and a first chunk) when it was cut.
    expect(statuses).toEqual(Array(6).fill(200));
    await eventually(async () => expect(await busyBackends("cut")).toEqual([]));
    expect(await tasksOfB(api, tokenB)).toEqual(titlesOfB);
  });
});

describe("an admin whose client stops reading", () => {
  let api: TestApi;
  let tokenWide: string;
  let tokenB: string;
  const STALL_MS = 500;
  beforeAll(async () => {
    api = await startNamedApi("stall", { DB_POOL_SIZE: "2", EXPORT_STALL_TIMEOUT: String(STALL_MS), EXPORT_BATCH_BYTES: "4096" });
    tokenWide = await loginWideAdmin(api);
    tokenB = await api.login(world.tenants.B.slug, world.memberB.email, world.password);
  });

  it("is cut off after about EXPORT_STALL_TIMEOUT, its connection released; B's member gets B's tasks while and after it stalls", async () => {
    const started = Date.now();
    const open = await openExport(api, tokenWide);
    expect(open.status).toBe(200);
    // The response is never read: the socket's buffers fill and the export waits for a drain.
    open.res.pause();
    try {
      // While it stalls: its connection is in the export's transaction, after a small FETCH (batches of about 4 KB).
      const [held] = await eventually(async () => {
        const busy = await busyBackends("stall");
        expect(busy).toEqual([{ state: "idle in transaction", query: expect.stringMatching(/^fetch \d+ from rows_cursor$/) }]);
        return busy;
      });
      expect(Number(/^fetch (\d+)/.exec(held.query)![1])).toBeLessThanOrEqual(FIRST_BATCH_ROWS);
      expect(await tasksOfB(api, tokenB)).toEqual(titlesOfB);
      // (B's request was answered while the export still held its connection.)
      expect(await busyBackends("stall")).toHaveLength(1);

      // Then the export gives up: no backend stays in a transaction.
      await eventually(async () => expect(await busyBackends("stall")).toEqual([]));
      const released = Date.now() - started;
      expect(released).toBeGreaterThanOrEqual(STALL_MS);
      expect(released).toBeLessThan(STALL_MS + 2500);

      // The client, reading at last, gets a cut-off file without its end line.
      const { text, complete } = await readAll(open.res);
      expect(complete).toBe(false);
      expectCut(text);
      expect(await tasksOfB(api, tokenB)).toEqual(titlesOfB);
    } finally {
      open.req.destroy();
    }
  });

  it("(control) the same export, read to the end, is complete", async () => {
    const { status, text } = await exportAs(api, tokenWide);
    expect(status).toBe(200);
    expect(parse(text).at(-1)).toMatchObject({ type: "end" });
  });
});

describe("the database-side backstop (IDLE_IN_TRANSACTION_TIMEOUT)", () => {
  let api: TestApi;
  let tokenWide: string;
  let tokenB: string;
  const IDLE_MS = 300;
  beforeAll(async () => {
    // The export's own stall timeout is far away: only PostgreSQL can end the transaction in time.
    api = await startNamedApi("backstop", {
      DB_POOL_SIZE: "2",
      EXPORT_STALL_TIMEOUT: "60000",
      EXPORT_BATCH_BYTES: "4096",
      IDLE_IN_TRANSACTION_TIMEOUT: String(IDLE_MS),
    });
    tokenWide = await loginWideAdmin(api);
    tokenB = await api.login(world.tenants.B.slug, world.memberB.email, world.password);
  });

  it("ends a transaction left idle by a stalled export within about the timeout, and the pool keeps serving B's member", async () => {
    const open = await openExport(api, tokenWide);
    expect(open.status).toBe(200);
    open.res.pause();
    try {
      await eventually(async () => expect(await busyBackends("backstop")).toHaveLength(1));
      const idleSince = Date.now();
      await eventually(async () => expect(await busyBackends("backstop")).toEqual([]), 5000);
      expect(Date.now() - idleSince).toBeLessThan(IDLE_MS + 3000);
      expect(await tasksOfB(api, tokenB)).toEqual(titlesOfB);
      expect(await tasksOfB(api, tokenB)).toEqual(titlesOfB);
    } finally {
      open.req.destroy();
    }
  });
});

describe("an admin who exports a tenant of wide rows with EXPORT_BATCH_BYTES=4096", () => {
  let api: TestApi;
  let tokenWide: string;
  beforeAll(async () => {
    api = await startNamedApi("wide", { EXPORT_BATCH_BYTES: "4096" });
    tokenWide = await loginWideAdmin(api);
  });

  it("gets every row, whole, and an end line whose counts match the rows seeded", async () => {
    const { status, text } = await exportAs(api, tokenWide);
    expect(status).toBe(200);
    const lines = parse(text);
    const end = lines.at(-1)!;
    expect(end.type).toBe("end");
    const rows = lines.filter((l) => l.type === "row");
    expect(end.total).toBe(rows.length);
    expect(end.rows).toMatchObject({ "app_public.comments": WIDE_COMMENTS, "app_public.tasks": WIDE_TASKS });
    for (const [table, n] of Object.entries(end.rows!)) expect(rows.filter((l) => l.table === table), table).toHaveLength(n);
    const comments = rows.filter((l) => l.table === "app_public.comments");
    expect(new Set(comments.map((l) => l.data!.id)).size).toBe(WIDE_COMMENTS);
    for (const l of comments) {
      expect(l.data!.tenant_id).toBe(wide.id);
      expect(String(l.data!.body)).toHaveLength(COMMENT_LENGTH);
    }
  });
});

describe("export caps", () => {
  /** Opens the wide tenant's export and holds it: its client never reads (the stall timeout is long). */
  async function holdExport(api: TestApi, token: string) {
    const open = await openExport(api, token);
    expect(open.status).toBe(200);
    open.res.pause();
    return open;
  }

  /** The 429 an export past a cap gets: code TOO_MANY_EXPORTS and a Retry-After in seconds. */
  function expectTooMany(answer: { status: number; retryAfter: string | null; text: string }) {
    expect(answer.status).toBe(429);
    expect(JSON.parse(answer.text)).toEqual({ errors: [{ message: expect.any(String), extensions: { code: "TOO_MANY_EXPORTS" } }] });
    expect(Number(answer.retryAfter)).toBeGreaterThan(0);
  }

  describe("per tenant (EXPORT_CONCURRENCY_PER_TENANT=1)", () => {
    let api: TestApi;
    let tokenWide: string;
    let tokenAdminB: string;
    beforeAll(async () => {
      api = await startNamedApi("cap-tenant", { ...WIDE_FAIR_SHARE, DB_POOL_SIZE: "3", EXPORT_CONCURRENCY: "2", EXPORT_STALL_TIMEOUT: "10000" });
      tokenWide = await loginWideAdmin(api);
      tokenAdminB = await api.login(world.tenants.B.slug, world.adminB.email, world.password);
    });

    it("a second export of the same tenant gets 429 while the first runs; B's admin may export; once the first ends, the tenant may export again", async () => {
      const first = await holdExport(api, tokenWide);
      try {
        expectTooMany(await exportAs(api, tokenWide));
        const b = await exportAs(api, tokenAdminB);
        expect(b.status).toBe(200);
        expect(parse(b.text).at(-1)).toMatchObject({ type: "end" });
      } finally {
        first.req.destroy();
      }
      const again = await eventually(async () => {
        const answer = await exportAs(api, tokenWide);
        expect(answer.status).toBe(200);
        return answer;
      });
      expect(parse(again.text).at(-1)).toMatchObject({ type: "end", rows: { "app_public.comments": WIDE_COMMENTS } });
      await eventually(async () => expect(await busyBackends("cap-tenant")).toEqual([]));
    });
  });

  describe("on the server (EXPORT_CONCURRENCY=1)", () => {
    let api: TestApi;
    let tokenWide: string;
    let tokenAdminB: string;
    let tokenMemberB: string;
    beforeAll(async () => {
      api = await startNamedApi("cap-server", { ...WIDE_FAIR_SHARE, DB_POOL_SIZE: "3", EXPORT_CONCURRENCY: "1", EXPORT_STALL_TIMEOUT: "10000" });
      tokenWide = await loginWideAdmin(api);
      tokenAdminB = await api.login(world.tenants.B.slug, world.adminB.email, world.password);
      tokenMemberB = await api.login(world.tenants.B.slug, world.memberB.email, world.password);
    });

    it("another tenant's export gets 429 while one runs, that tenant's GraphQL requests still succeed, and its export succeeds once the first ends", async () => {
      const first = await holdExport(api, tokenWide);
      try {
        expectTooMany(await exportAs(api, tokenAdminB));
        expect(await tasksOfB(api, tokenMemberB)).toEqual(titlesOfB);
      } finally {
        first.req.destroy();
      }
      const b = await eventually(async () => {
        const answer = await exportAs(api, tokenAdminB);
        expect(answer.status).toBe(200);
        return answer;
      });
      expect(parse(b.text).at(-1)).toMatchObject({ type: "end" });
      await eventually(async () => expect(await busyBackends("cap-server")).toEqual([]));
    });
  });
});

describe("an export whose statement is stuck when its client goes away", () => {
  let api: TestApi;
  let tokenWide: string;
  let tokenB: string;
  beforeAll(async () => {
    // One connection, and statements allowed to wait far longer than the test.
    api = await startNamedApi("stuck", { DB_POOL_SIZE: "1", STATEMENT_TIMEOUT: "60000" });
    tokenWide = await loginWideAdmin(api);
    tokenB = await api.login(world.tenants.B.slug, world.memberB.email, world.password);
  });

  it("gives its connection up anyway (destroyed, as its rollback cannot run), so B's member gets B's tasks on a pool of 1", async () => {
    // The owner locks comments: the export's cursor over them waits for the lock.
    await withClient(db.ownerUrl, async (locker) => {
      await locker.query("begin");
      await locker.query("lock table app_public.comments in access exclusive mode");
      try {
        const open = await openExport(api, tokenWide);
        expect(open.status).toBe(200);
        await once(open.res, "data");
        await eventually(async () =>
          expect(await busyBackends("stuck")).toEqual([{ state: "active", query: expect.stringMatching(/declare rows_cursor[\s\S]*app_public\.comments/) }]),
        );
        open.req.destroy();
        const started = Date.now();
        expect(await tasksOfB(api, tokenB)).toEqual(titlesOfB);
        expect(Date.now() - started).toBeLessThan(5000);
      } finally {
        await locker.query("rollback");
      }
    });
    // Once the lock is gone, the destroyed connection's backend ends too.
    await eventually(async () => expect(await busyBackends("stuck")).toEqual([]));
  });
});
