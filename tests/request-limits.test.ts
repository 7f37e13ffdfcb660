// What one request of a hostile tenant may ask for, over real HTTP against
// a real database: pages are bounded by default and at most, nested lists
// and aliases share one row budget, filters are bounded, fragments count as
// what they expand to (root fields, rate-limited mutations), one tenant's
// requests take only their share of the pool, and every refusal is JSON
// with a stable code. Every test also checks that the service still
// answers another tenant.
import { request as httpRequest } from "node:http";
import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { withClient, withDatabase } from "../db/setup.ts";
import { loadConfig } from "../common/config.ts";
import { ROLES } from "../common/roles.ts";
import { startApi, type TestApi } from "./helpers/api.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { createWorld, type World } from "./helpers/world.ts";

const TASKS_A = 12;
const LIMITS = { DEFAULT_PAGE_SIZE: "5", MAX_PAGE_SIZE: "8", MAX_OFFSET: "20", MAX_ROWS_PER_REQUEST: "50", MAX_FILTER_DEPTH: "5", MAX_FILTER_SIZE: "12" };

let db: TestDatabase;
let world: World;
let api: TestApi;
let tokenAdminA: string;
let tokenAdminB: string;
/** Tenant A's task titles in primary-key order (the API's default order), as the owner sees them. */
let titlesA: string[];

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createWorld(db.ownerUrl);
  // Tenant A gets more tasks than a default page holds.
  titlesA = await withClient(db.ownerUrl, async (c) => {
    await c.query("begin");
    await c.query("select set_config('jwt.claims.tenant_id', $1, true)", [world.tenants.A.id]);
    await c.query(
      "insert into app_public.tasks (project_id, title) select $1, 'extra ' || n from generate_series(1, $2::int) n",
      [world.work.A.projectId, TASKS_A - 3],
    );
    const { rows } = await c.query("select title from app_public.tasks order by tenant_id, id");
    await c.query("commit");
    return rows.map((r) => r.title);
  });
  api = await startApi(db, LIMITS);
  tokenAdminA = await api.login(world.tenants.A.slug, world.adminA.email, world.password);
  tokenAdminB = await api.login(world.tenants.B.slug, world.adminB.email, world.password);
});

/** Tenant B's admin lists B's tasks: the service still answers another tenant, with B's 3 tasks. */
async function otherTenantStillServed(on: TestApi = api, token = tokenAdminB) {
  const { status, body } = await on.graphql("{ tasks { nodes { title } } }", {}, token);
  expect(status).toBe(200);
  expect(body.data!.tasks.nodes).toHaveLength(3);
}

function expectRefused(res: { status: number; body: { data?: unknown; errors?: { extensions?: Record<string, unknown> }[] } }, code: string) {
  expect(res.body.errors?.[0]?.extensions?.code).toBe(code);
  expect(res.body.data ?? null).toBeNull();
  expect(res.status).toBe(400);
}

describe("page sizes", () => {
  it("an admin listing tasks without first or last gets DEFAULT_PAGE_SIZE rows, and is told there are more", async () => {
    const { body } = await api.graphql("{ tasks { nodes { title } pageInfo { hasNextPage } totalCount } }", {}, tokenAdminA);
    expect(body.errors).toBeUndefined();
    expect(body.data!.tasks.nodes.map((n: { title: string }) => n.title)).toEqual(titlesA.slice(0, 5));
    expect(body.data!.tasks.pageInfo.hasNextPage).toBe(true);
    expect(body.data!.tasks.totalCount).toBe(TASKS_A);
  });

  it("an admin asking for last: 3 gets the last 3 rows (the default applies only forwards)", async () => {
    const { body } = await api.graphql("{ tasks(last: 3) { nodes { title } } }", {}, tokenAdminA);
    expect(body.errors).toBeUndefined();
    expect(body.data!.tasks.nodes.map((n: { title: string }) => n.title)).toEqual(titlesA.slice(-3));
  });

  it("an admin may ask for MAX_PAGE_SIZE rows, literally or through a variable", async () => {
    const literal = await api.graphql("{ tasks(first: 8) { nodes { title } } }", {}, tokenAdminA);
    expect(literal.body.data!.tasks.nodes).toHaveLength(8);
    const variable = await api.graphql("query($n: Int) { tasks(first: $n) { nodes { title } } }", { n: 8 }, tokenAdminA);
    expect(variable.body.data!.tasks.nodes).toHaveLength(8);
  });

  it("an admin asking for more than MAX_PAGE_SIZE (first or last, literal or variable) is refused with PAGE_TOO_LARGE", async () => {
    expectRefused(await api.graphql("{ tasks(first: 9) { nodes { title } } }", {}, tokenAdminA), "PAGE_TOO_LARGE");
    expectRefused(await api.graphql("{ tasks(last: 1000000) { nodes { title } } }", {}, tokenAdminA), "PAGE_TOO_LARGE");
    expectRefused(await api.graphql("query($n: Int = 9) { tasks(first: $n) { nodes { title } } }", {}, tokenAdminA), "PAGE_TOO_LARGE");
    await otherTenantStillServed();
  });

  it("a negative first or offset is INVALID_INPUT, an offset over MAX_OFFSET is PAGE_TOO_LARGE, and a sane offset works", async () => {
    expectRefused(await api.graphql("{ tasks(first: -1) { nodes { title } } }", {}, tokenAdminA), "INVALID_INPUT");
    expectRefused(await api.graphql("{ tasks(offset: -5) { nodes { title } } }", {}, tokenAdminA), "INVALID_INPUT");
    expectRefused(await api.graphql("query($o: Int) { tasks(offset: $o) { nodes { title } } }", { o: 21 }, tokenAdminA), "PAGE_TOO_LARGE");
    const { body } = await api.graphql("{ tasks(offset: 10) { nodes { title } } }", {}, tokenAdminA);
    expect(body.data!.tasks.nodes.map((n: { title: string }) => n.title)).toEqual(titlesA.slice(10));
  });

  it("a malformed cursor or a number that is no Int is INVALID_INPUT, not INTERNAL", async () => {
    const cursor = await api.graphql(`{ tasks(after: "bm90LWEtY3Vyc29y") { nodes { title } } }`, {}, tokenAdminA);
    expect(cursor.body.errors?.[0]?.extensions?.code).toBe("INVALID_INPUT");
    const garbage = await api.graphql(`{ tasks(after: "%%%") { nodes { title } } }`, {}, tokenAdminA);
    expect(garbage.body.errors?.[0]?.extensions?.code).toBe("INVALID_INPUT");
    const huge = await api.graphql("query($n: Int) { tasks(first: $n) { nodes { title } } }", { n: 1e12 }, tokenAdminA);
    expect(huge.status).toBe(400);
    expect(huge.body.errors).toHaveLength(1);
    await otherTenantStillServed();
  });
});

describe("row budget", () => {
  it("an admin's nested lists within MAX_ROWS_PER_REQUEST run (5 projects + 5 × 5 tasks by default)", async () => {
    const { body } = await api.graphql("{ projects { nodes { tasks { nodes { title } } } } }", {}, tokenAdminA);
    expect(body.errors).toBeUndefined();
    expect(body.data!.projects.nodes[0].tasks.nodes).toHaveLength(5);
  });

  it("nested lists whose page sizes multiply past the budget are refused with TOO_MANY_ROWS, also through a single-row relation", async () => {
    // 8 + 8 × 8 = 72 > 50
    expectRefused(await api.graphql("{ projects(first: 8) { nodes { tasks(first: 8) { nodes { title } } } } }", {}, tokenAdminA), "TOO_MANY_ROWS");
    // tasks → project (one row) → tasks: 8 + 8 × 8
    expectRefused(
      await api.graphql("{ tasks(first: 8) { nodes { project { tasks(first: 8) { nodes { title } } } } } }", {}, tokenAdminA),
      "TOO_MANY_ROWS",
    );
    // Without any first: 5 + 25 + 125 = 155 > 50
    expectRefused(
      await api.graphql("{ projects { nodes { tasks { nodes { project { tasks { nodes { title } } } } } } } }", {}, tokenAdminA),
      "TOO_MANY_ROWS",
    );
    await otherTenantStillServed();
  });

  it("aliases and fragments share the budget: 7 aliased pages of 8 (56 > 50) are refused, written out or spread", async () => {
    const aliases = Array.from({ length: 7 }, (_, i) => `a${i}: tasks(first: 8) { nodes { title } }`).join(" ");
    expectRefused(await api.graphql(`{ ${aliases} }`, {}, tokenAdminA), "TOO_MANY_ROWS");
    expectRefused(await api.graphql(`{ ...F } fragment F on Query { ${aliases} }`, {}, tokenAdminA), "TOO_MANY_ROWS");
    const six = Array.from({ length: 6 }, (_, i) => `a${i}: tasks(first: 8) { nodes { title } }`).join(" ");
    const allowed = await api.graphql(`{ ...F } fragment F on Query { ${six} }`, {}, tokenAdminA);
    expect(allowed.body.errors).toBeUndefined();
    expect(allowed.body.data!.a5.nodes).toHaveLength(8);
  });
});

describe("filters", () => {
  it("an admin's filter within the bounds runs and returns the matching rows", async () => {
    const { body } = await api.graphql(`{ tasks(first: 8, filter: { title: { startsWith: "extra" } }) { totalCount } }`, {}, tokenAdminA);
    expect(body.errors).toBeUndefined();
    expect(body.data!.tasks.totalCount).toBe(TASKS_A - 3);
  });

  it("a relation filter nested deeper than MAX_FILTER_DEPTH is refused with FILTER_TOO_COMPLEX (HTTP 400, nothing runs), literal or variable", async () => {
    const deep = `{ project: { tasks: { some: { project: { tasks: { every: { title: { equalTo: "x" } } } } } } } }`;
    expectRefused(await api.graphql(`{ tasks(filter: ${deep}) { totalCount } }`, {}, tokenAdminA), "FILTER_TOO_COMPLEX");
    const variables = { f: { project: { tasks: { some: { project: { tasks: { none: { title: { equalTo: "x" } } } } } } } } };
    expectRefused(await api.graphql(`query($f: TaskFilter) { tasks(filter: $f) { totalCount } }`, variables, tokenAdminA), "FILTER_TOO_COMPLEX");
    await otherTenantStillServed();
  });

  it("filters with more than MAX_FILTER_SIZE conditions in one request are refused, also when split across aliases", async () => {
    const or = Array.from({ length: 7 }, (_, i) => `{ title: { equalTo: "t${i}" } }`).join(", ");
    expectRefused(await api.graphql(`{ tasks(filter: { or: [${or}] }) { totalCount } }`, {}, tokenAdminA), "FILTER_TOO_COMPLEX");
    const four = Array.from({ length: 4 }, (_, i) => `{ title: { equalTo: "t${i}" } }`).join(", ");
    const split = `{ a: tasks(filter: { or: [${four}] }) { totalCount } b: tasks(filter: { or: [${four}] }) { totalCount } }`;
    expectRefused(await api.graphql(split, {}, tokenAdminA), "FILTER_TOO_COMPLEX");
  });
});

describe("nesting, before parsing", () => {
  it("a document whose brackets nest 300 deep (not: {not: {…}}) is refused with QUERY_TOO_DEEP before it is parsed", async () => {
    const res = await api.graphql(`{ tasks(filter: {${"not: {".repeat(300)}title: {equalTo: "x"}${"}".repeat(300)}}) { totalCount } }`, {}, tokenAdminA);
    expectRefused(res, "QUERY_TOO_DEEP");
    await otherTenantStillServed();
  });

  it("variables nested 300 deep are refused the same way, and brackets inside strings and comments do not count", async () => {
    let f: Record<string, unknown> = { title: { equalTo: "x" } };
    for (let i = 0; i < 300; i++) f = { not: f };
    expectRefused(await api.graphql("query($f: TaskFilter) { tasks(filter: $f) { totalCount } }", { f }, tokenAdminA), "QUERY_TOO_DEEP");
    const quoted = await api.graphql(`{ tasks(first: 1, filter: {title: {equalTo: "${"{[(".repeat(100)}"}}) { totalCount } } # ${"{".repeat(100)}`, {}, tokenAdminA);
    expect(quoted.body.errors).toBeUndefined();
    expect(quoted.body.data!.tasks.totalCount).toBe(0);
  });
});

describe("fragments count as what they expand to", () => {
  it("21 root fields spread from a fragment on Query are refused with TOO_MANY_ROOT_FIELDS", async () => {
    const fields = Array.from({ length: 21 }, (_, i) => `f${i}: currentUser { rowId }`).join(" ");
    const res = await api.graphql(`{ ...F } fragment F on Query { ${fields} }`, {}, tokenAdminA);
    expect(res.body.errors?.[0]?.extensions?.code).toBe("TOO_MANY_ROOT_FIELDS");
    expect(res.body.data ?? null).toBeNull();
  });

  it("an outsider spreading 4 logins from a fragment on Mutation is refused with TOO_MANY_CALLS, and no password is checked", async () => {
    const guess = (alias: string) =>
      `${alias}: login(input: {tenantSlug: "${world.tenants.A.slug}", email: "${world.memberA.email}", password: "wrong-guess"}) { result { accessToken } }`;
    const res = await api.graphql(`mutation { ...Guesses } fragment Guesses on Mutation { ${["a", "b", "c", "d"].map(guess).join(" ")} }`);
    expectRefused(res, "TOO_MANY_CALLS");
    const failures = await withClient(db.ownerUrl, (c) =>
      c.query("select coalesce(sum(failures), 0)::int as n from app_private.login_throttle where email = $1", [world.memberA.email]),
    );
    expect(failures.rows[0].n).toBe(0);
    await otherTenantStillServed();
  });

  it("an outsider creating 3 tenants through one fragment is refused with TOO_MANY_CALLS, and no tenant is created", async () => {
    const signup = (i: number) =>
      `t${i}: createTenant(input: {name: "Spam ${i}", slug: "spam-${i}", adminEmail: "a@spam${i}.test", adminPassword: "password123"}) { result { accessToken } }`;
    expectRefused(await api.graphql(`mutation { ...S } fragment S on Mutation { ${[1, 2, 3].map(signup).join(" ")} }`), "TOO_MANY_CALLS");
    const tenants = await withClient(db.ownerUrl, (c) => c.query("select count(*)::int as n from app_public.tenants where slug like 'spam-%'"));
    expect(tenants.rows[0].n).toBe(0);
  });

  it("a login spread from a fragment counts against the per-address limit: with 1 a minute, the second gets 429 RATE_LIMITED and no password check", async () => {
    const limited = await startApi(db, { ...LIMITS, RATE_LIMIT_LOGIN: "1" });
    const attempt = () =>
      fetch(`${limited.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          query: `mutation { ...G } fragment G on Mutation { x: login(input: {tenantSlug: "${world.tenants.B.slug}", email: "${world.memberB.email}", password: "wrong-guess"}) { result { accessToken } } }`,
        }),
      });
    expect((await attempt()).status).toBe(200);
    const refused = await attempt();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await refused.json()).errors[0].extensions.code).toBe("RATE_LIMITED");
    const failures = await withClient(db.ownerUrl, (c) =>
      c.query("select coalesce(sum(failures), 0)::int as n from app_private.login_throttle where email = $1", [world.memberB.email]),
    );
    expect(failures.rows[0].n).toBe(1);
  });
});

describe("client addresses behind a proxy (TRUST_PROXY)", () => {
  const loginFrom = (url: string, forwardedFor: string) =>
    fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": forwardedFor },
      body: JSON.stringify({
        query: `mutation { login(input: {tenantSlug: "${world.tenants.B.slug}", email: "${world.memberB.email}", password: "wrong-guess"}) { result { accessToken } } }`,
      }),
    });

  it("with TRUST_PROXY=loopback, each forwarded client address has its own login limit", async () => {
    const proxied = await startApi(db, { TRUST_PROXY: "loopback", RATE_LIMIT_LOGIN: "1" });
    expect((await loginFrom(proxied.url, "203.0.113.1")).status).toBe(200);
    expect((await loginFrom(proxied.url, "203.0.113.1")).status).toBe(429);
    expect((await loginFrom(proxied.url, "203.0.113.2")).status).toBe(200);
  });

  it("without TRUST_PROXY, X-Forwarded-For is ignored: a client cannot choose its address to escape the limit", async () => {
    const direct = await startApi(db, { RATE_LIMIT_LOGIN: "1" });
    expect((await loginFrom(direct.url, "203.0.113.1")).status).toBe(200);
    expect((await loginFrom(direct.url, "203.0.113.2")).status).toBe(429);
  });

  it("TRUST_PROXY=true (every X-Forwarded-For believed) is refused at start-up", () => {
    expect(() => loadConfig({ NODE_ENV: "test", JWT_SECRET: "x".repeat(32), DATABASE_URL: db.ownerUrl, AUTH_DATABASE_URL: db.authUrl, TRUST_PROXY: "true" })).toThrow(
      /TRUST_PROXY must name the proxies/,
    );
  });
});

describe("fair share", () => {
  let slowDb: TestDatabase;
  let slowWorld: World;
  beforeAll(async () => {
    slowDb = await createTestDatabase();
    slowWorld = await createWorld(slowDb.ownerUrl);
    await withClient(withDatabase(slowDb.rootUrl, slowDb.name), async (c) => {
      await c.query(`create function app_public.slow(seconds float) returns int language sql stable as 'select pg_sleep(seconds); select 1'`);
      await c.query(`alter function app_public.slow(float) owner to ${ROLES.owner}`);
      await c.query(`comment on function app_public.slow(float) is 'Sleeps (a test fixture).'`);
      await c.query(`grant execute on function app_public.slow(float) to ${ROLES.admin}`);
      // A list that takes its time: its rows are held in flight while it runs.
      await c.query(
        `create function app_public.slow_tasks(seconds float) returns setof app_public.tasks language sql stable as 'select pg_sleep(seconds); select * from app_public.tasks'`,
      );
      await c.query(`alter function app_public.slow_tasks(float) owner to ${ROLES.owner}`);
      await c.query(`comment on function app_public.slow_tasks(float) is 'Sleeps, then lists tasks (a test fixture).'`);
      await c.query(`grant execute on function app_public.slow_tasks(float) to ${ROLES.admin}`);
    });
  });

  it("rows in flight: while A's slow list holds 40 of its 50 rows, A's next list of 20 waits and then runs, and B's runs at once", async () => {
    const share = await startApi(slowDb, { MAX_ROWS_PER_REQUEST: "50", MAX_ROWS_IN_FLIGHT: "125", TENANT_QUEUE_TIMEOUT: "5000" });
    const a = await share.login(slowWorld.tenants.A.slug, slowWorld.adminA.email, slowWorld.password);
    const b = await share.login(slowWorld.tenants.B.slug, slowWorld.adminB.email, slowWorld.password);
    const started = Date.now();
    const slow = share.graphql("{ slowTasks(seconds: 1, first: 40) { nodes { title } } }", {}, a);
    await new Promise((r) => setTimeout(r, 200));
    const waiting = share.graphql("{ tasks(first: 20) { nodes { title } } }", {}, a).then((r) => ({ ...r, at: Date.now() - started }));
    const other = await share.graphql("{ tasks(first: 20) { nodes { title } } }", {}, b);
    expect(other.body.data!.tasks.nodes).toHaveLength(3);
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await slow).body.data!.slowTasks.nodes).toHaveLength(3);
    const queued = await waiting;
    expect(queued.body.data!.tasks.nodes).toHaveLength(3);
    expect(queued.at).toBeGreaterThanOrEqual(1000);
  });

  it("rows in flight: with a short queue, A's next list is refused with 429 TENANT_BUSY instead", async () => {
    const share = await startApi(slowDb, { MAX_ROWS_PER_REQUEST: "50", MAX_ROWS_IN_FLIGHT: "125", TENANT_QUEUE_TIMEOUT: "200" });
    const a = await share.login(slowWorld.tenants.A.slug, slowWorld.adminA.email, slowWorld.password);
    const slow = share.graphql("{ slowTasks(seconds: 1, first: 40) { nodes { title } } }", {}, a);
    await new Promise((r) => setTimeout(r, 200));
    const refused = await share.graphql("{ tasks(first: 20) { nodes { title } } }", {}, a);
    expect(refused.status).toBe(429);
    expect(refused.body.errors![0].extensions!.code).toBe("TENANT_BUSY");
    expect((await slow).body.data!.slowTasks.nodes).toHaveLength(3);
  });

  it("with TENANT_CONCURRENCY=1, a tenant's second request while its first runs gets 429 TENANT_BUSY, and another tenant is served meanwhile", async () => {
    const share = await startApi(slowDb, { TENANT_CONCURRENCY: "1", TENANT_QUEUE: "0" });
    // (Logins are anonymous: they share one slot per address, so one at a time.)
    const a = await share.login(slowWorld.tenants.A.slug, slowWorld.adminA.email, slowWorld.password);
    const b = await share.login(slowWorld.tenants.B.slug, slowWorld.adminB.email, slowWorld.password);
    const first = share.graphql("{ slow(seconds: 1) }", {}, a);
    await new Promise((r) => setTimeout(r, 200));
    const second = await fetch(`${share.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${a}` },
      body: JSON.stringify({ query: "{ currentUser { email } }" }),
    });
    expect(second.status).toBe(429);
    expect(second.headers.get("retry-after")).toBe("1");
    expect((await second.json()).errors[0].extensions.code).toBe("TENANT_BUSY");
    await otherTenantStillServed(share, b);
    expect((await first).body.data).toEqual({ slow: 1 });
    // The slot is given back: the tenant is served again.
    expect((await share.graphql("{ currentUser { email } }", {}, a)).body.data!.currentUser.email).toBe(slowWorld.adminA.email);
  });

  it("with a queue, the tenant's next request waits for the slot and then runs", async () => {
    const share = await startApi(slowDb, { TENANT_CONCURRENCY: "1", TENANT_QUEUE: "1", TENANT_QUEUE_TIMEOUT: "5000" });
    const a = await share.login(slowWorld.tenants.A.slug, slowWorld.adminA.email, slowWorld.password);
    const first = share.graphql("{ slow(seconds: 0.5) }", {}, a);
    await new Promise((r) => setTimeout(r, 100));
    const queued = await share.graphql("{ currentUser { email } }", {}, a);
    expect(queued.status).toBe(200);
    expect(queued.body.data!.currentUser.email).toBe(slowWorld.adminA.email);
    expect((await first).body.data).toEqual({ slow: 1 });
  });
});

describe("rate per tenant", () => {
  it("with TENANT_RATE=1 and TENANT_BURST=5, a tenant's quick requests get 429 RATE_LIMITED with Retry-After after about 5, and another tenant is served", async () => {
    const rated = await startApi(db, { TENANT_RATE: "1", TENANT_BURST: "5" });
    // (Logins are anonymous: the address's own bucket.)
    const a = await rated.login(world.tenants.A.slug, world.adminA.email, world.password);
    const b = await rated.login(world.tenants.B.slug, world.adminB.email, world.password);
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 8 && !refused; i++) {
      const res = await fetch(`${rated.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${a}` },
        body: JSON.stringify({ query: "{ currentUser { email } }" }),
      });
      statuses.push(res.status);
      if (res.status === 429) refused = res;
    }
    // Each costs a little more than 1 unit (its body), and a second refills 1.
    expect(statuses.slice(0, 4)).toEqual([200, 200, 200, 200]);
    expect(refused, `statuses ${statuses}`).toBeDefined();
    expect(Number(refused!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await refused!.json()).errors[0].extensions.code).toBe("RATE_LIMITED");
    await otherTenantStillServed(rated, b);
  });

  it("a tenant that keeps sending refused documents (400) runs out of its rate: each costs 50 units, and another tenant is served", async () => {
    const rated = await startApi(db, { TENANT_RATE: "1", TENANT_BURST: "120" });
    const a = await rated.login(world.tenants.A.slug, world.adminA.email, world.password);
    const b = await rated.login(world.tenants.B.slug, world.adminB.email, world.password);
    const statuses: number[] = [];
    for (let i = 0; i < 5 && !statuses.includes(429); i++) {
      statuses.push((await rated.graphql(`{ tasks(first: 5000) { nodes { title } } }`, {}, a)).status);
    }
    // 120 units: two refusals (51 each) and a third admitted on what is left, then 429.
    expect(statuses).toEqual([400, 400, 400, 429]);
    await otherTenantStillServed(rated, b);
  });

  it("a client over its rate that keeps asking is answered slowly (held about 1 s), so a flood of refusals is slowed, and another tenant is served meanwhile", async () => {
    const rated = await startApi(db, { TENANT_RATE: "1", TENANT_BURST: "10" });
    const a = await rated.login(world.tenants.A.slug, world.adminA.email, world.password);
    const b = await rated.login(world.tenants.B.slug, world.adminB.email, world.password);
    // A sends a 90 kB document (about 350 units at 1 per 256 bytes): its bucket is in debt for minutes.
    const big = await rated.graphql(`{ currentUser { email } } # ${"x".repeat(90_000)}`, {}, a);
    expect(big.status).toBe(200);
    const started = Date.now();
    const refusals = Promise.all(Array.from({ length: 3 }, () => rated.graphql("{ currentUser { email } }", {}, a)));
    await otherTenantStillServed(rated, b);
    const servedB = Date.now() - started;
    const answers = await refusals;
    expect(answers.map((r) => r.status)).toEqual([429, 429, 429]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(servedB).toBeLessThan(900);
  });

  it("large responses cost more: two 200 kB answers use up a burst of 60 units, and the tenant then waits", async () => {
    await withClient(db.ownerUrl, async (c) => {
      await c.query("begin");
      await c.query("select set_config('jwt.claims.tenant_id', $1, true)", [world.tenants.A.id]);
      await c.query("update app_public.projects set description = repeat('d', 10000)");
      await c.query("commit");
    });
    const rated = await startApi(db, { TENANT_RATE: "1", TENANT_BURST: "60" });
    const a = await rated.login(world.tenants.A.slug, world.adminA.email, world.password);
    const b = await rated.login(world.tenants.B.slug, world.adminB.email, world.password);
    const wide = `{ ${Array.from({ length: 20 }, (_, i) => `p${i}: projects { nodes { description } }`).join(" ")} }`;
    for (let i = 0; i < 2; i++) {
      const { status, body } = await rated.graphql(wide, {}, a);
      expect(status).toBe(200);
      expect(JSON.stringify(body).length).toBeGreaterThan(200_000);
    }
    const res = await fetch(`${rated.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${a}` },
      body: JSON.stringify({ query: "{ currentUser { email } }" }),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(2);
    await otherTenantStillServed(rated, b);
  });
});

describe("errors outside GraphQL are JSON", () => {
  it("an unknown path gets 404 NOT_FOUND as JSON", async () => {
    const res = await fetch(`${api.url}/no-such-thing`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    expect((await res.json()).errors[0].extensions.code).toBe("NOT_FOUND");
  });

  it.each([
    ["a syntax error", { query: "{ tasks { nodes { title }" }, "application/json", "GRAPHQL_PARSE_FAILED"],
    ["an unknown field", { query: "{ tasks { nodes { noSuchField } } }" }, "application/json", "GRAPHQL_VALIDATION_FAILED"],
    ["an Int literal out of range", { query: "{ tasks(first: 99999999999) { nodes { title } } }" }, "application/json", "INVALID_INPUT"],
    ["an Int variable out of range", { query: "query($n: Int) { tasks(first: $n) { nodes { title } } }", variables: { n: 1e12 } }, "application/json", "INVALID_INPUT"],
    ["an unknown enum value", { query: "{ tasks(orderBy: [NOT_A_COLUMN]) { nodes { title } } }" }, "application/json", "GRAPHQL_VALIDATION_FAILED"],
    ["a query that is not a string", { query: 123 }, "application/json", "BAD_REQUEST"],
    ["variables that are a string", { query: "{ currentUser { email } }", variables: "nope" }, "application/json", "BAD_REQUEST"],
    ["a body as text/plain", "{ currentUser { email } }", "text/plain", undefined],
  ])("%s gets a 4xx JSON answer whose every error has a code", async (_, body, contentType, code) => {
    const res = await fetch(`${api.url}/graphql`, {
      method: "POST",
      headers: { "content-type": contentType, authorization: `Bearer ${tokenAdminA}` },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const { errors } = await res.json();
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(typeof e.extensions?.code, e.message).toBe("string");
    if (code) expect(errors[0].extensions.code).toBe(code);
  });

  it("GET /graphql gets 405 METHOD_NOT_ALLOWED as JSON", async () => {
    const res = await fetch(`${api.url}/graphql?query=${encodeURIComponent("{ currentUser { email } }")}`, { headers: { accept: "application/json" } });
    expect(res.status).toBe(405);
    expect((await res.json()).errors[0].extensions.code).toBe("METHOD_NOT_ALLOWED");
  });

  it("a body over 100 KiB is refused with 413 TOO_LARGE: by its Content-Length before it is read, and while it streams without one (then the connection closes)", async () => {
    const big = JSON.stringify({ query: "{ currentUser { email } }", variables: { pad: "x".repeat(110 * 1024) } });
    const declared = await fetch(`${api.url}/graphql`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${tokenAdminA}` }, body: big });
    expect(declared.status).toBe(413);
    expect((await declared.json()).errors[0].extensions.code).toBe("TOO_LARGE");
    const streamed = await new Promise<{ status: number; connection?: string; body: string }>((resolve, reject) => {
      const req = httpRequest(`${api.url}/graphql`, { method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" } }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode!, connection: res.headers.connection, body }));
      });
      req.on("error", reject);
      for (let i = 0; i < 12; i++) req.write("x".repeat(10 * 1024));
      req.end();
    });
    expect(streamed.status).toBe(413);
    expect(streamed.connection).toBe("close");
    expect(JSON.parse(streamed.body).errors[0].extensions.code).toBe("TOO_LARGE");
    await otherTenantStillServed();
  });

  it("a JSON body that is not an object (a number, a string, null) gets 400 BAD_REQUEST, and a compressed body 415 UNSUPPORTED_MEDIA_TYPE", async () => {
    for (const body of ["42", '"{ currentUser { email } }"', "null"]) {
      const res = await fetch(`${api.url}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body });
      expect(res.status, body).toBe(400);
      expect((await res.json()).errors[0].extensions.code).toBe("BAD_REQUEST");
    }
    const gzipped = await fetch(`${api.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "gzip", authorization: `Bearer ${tokenAdminA}` },
      body: gzipSync(JSON.stringify({ query: "{ currentUser { email } }" })),
    });
    expect(gzipped.status).toBe(415);
    expect((await gzipped.json()).errors[0].extensions.code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  it("a malformed path or body gets a JSON 400, never Express's HTML page", async () => {
    const badPath = await fetch(`${api.url}/graphql/%E0%A4%A`);
    expect(badPath.headers.get("content-type")).toMatch(/application\/json/);
    expect(badPath.status).toBeGreaterThanOrEqual(400);
    expect(badPath.status).toBeLessThan(500);
    const badJson = await fetch(`${api.url}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
    expect(badJson.status).toBe(400);
    expect((await badJson.json()).errors[0].extensions.code).toBe("BAD_REQUEST");
    await otherTenantStillServed();
  });
});
