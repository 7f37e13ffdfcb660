// `npm run citus:check`: the whole project against a running Citus cluster,
// given ROOT_DATABASE_URL (the coordinator's superuser URL; the workers from
// its pg_dist_node). Never part of `npm test` (CI has no Citus).
//   1. citus:setup, the migrations as `npm start` runs them (and the demo
//      data on a first start), citus:distribute (generated/citus.sql, compared
//      with what the cluster's own catalog generates);
//   2. the API (server/app.ts) in set_local mode, over HTTP: sign-up, login,
//      refresh, member lists of two tenants with no foreign rows, a create
//      mutation, invite and accept, GET /export, deleteTenant;
//   3. routing: EXPLAIN's Task Count for a list without and with a tenant
//      condition, and req/s of both over HTTP (a short autocannon run each).
// Prints a table of checks and exits 1 if any failed. It creates tenants (and
// deletes one it created): point it at a test cluster, or DATABASE_NAME at a
// scratch database.
// Options (environment): CITUS_CHECK_FRESH=1 drops the app database on every
// node first; CITUS_CHECK_CURRENT=1 also applies migrations/current/ (as the
// test template does); CITUS_CHECK_GENERATE=1 distributes with the DDL
// generated from the cluster's own catalog instead of generated/citus.sql (to
// try schema changes not yet generated); CITUS_CHECK_SECONDS (default 5) per
// load run.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { ConfigError, loadConfig } from "../common/config.ts";
import { ROLES } from "../common/roles.ts";
import { applyCitusSql, generateCitusSql, listNodes, nodeLocal, setupCitus } from "../db/citus.ts";
import { openDatabase, type Database } from "../db/database.ts";
import { ROOT_DIR, runCurrentMigration } from "../db/migrate.ts";
import { DEMO_PASSWORD, DEMO_TENANTS, seedDemoData } from "../db/seed.ts";
import { withClient, withDatabase } from "../db/setup.ts";

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}
const checks: Check[] = [];
const log = (m: string) => console.log(`  ${m}`);

/** Runs one check; a thrown error fails it with its message (and Citus's detail). */
let namePrefix = "";
/** The server's own log of an internal error, by the reference its response names (server/app.ts, errors.ts). */
const serverErrors = new Map<string, string>();
const consoleError = console.error;
console.error = (...args: unknown[]) => {
  const ref = typeof args[0] === "string" && args[0].match(/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/);
  const e = args.find((a) => a instanceof Error) as (Error & { detail?: string; where?: string }) | undefined;
  if (ref && e) {
    serverErrors.set(ref[1], [e.message, e.detail && `DETAIL: ${e.detail}`, e.where && `WHERE: ${e.where.split("\n").slice(-1)[0]}`].filter(Boolean).join(" | "));
    return;
  }
  consoleError(...args);
};
/** A GraphQL error message with the server's log of it, when it names a reference. */
const explain = (message: string) => {
  const ref = message.match(/reference ([0-9a-f-]{36})/);
  const logged = ref && serverErrors.get(ref[1]);
  return logged ? `${message} <- server log: ${logged}` : message;
};
async function check<T>(label: string, fn: () => Promise<{ detail: string; value?: T } | string>): Promise<T | undefined> {
  const name = namePrefix + label;
  const started = performance.now();
  try {
    const result = await fn();
    const { detail, value } = typeof result === "string" ? { detail: result, value: undefined } : result;
    checks.push({ name, ok: true, detail: `${detail} (${Math.round(performance.now() - started)} ms)` });
    console.log(`✔ ${name}: ${detail}`);
    return value;
  } catch (error) {
    const e = error as Error & { detail?: string; where?: string };
    const detail = [e.message.split("\n")[0], e.detail && `DETAIL: ${e.detail}`, e.where && `WHERE: ${e.where.split("\n")[0]}`].filter(Boolean).join(" | ");
    checks.push({ name, ok: false, detail });
    console.log(`✘ ${name}: ${e.message}${e.detail ? `\n  DETAIL: ${e.detail}` : ""}${e.where ? `\n  WHERE: ${e.where}` : ""}`);
    return undefined;
  }
}

function printTable() {
  const width = Math.max(...checks.map((c) => c.name.length));
  console.log(`\n${"check".padEnd(width)}  result  detail`);
  console.log(`${"-".repeat(width)}  ------  ------`);
  for (const c of checks) console.log(`${c.name.padEnd(width)}  ${c.ok ? "pass  " : "FAIL  "}  ${c.detail}`);
  const failed = checks.filter((c) => !c.ok).length;
  console.log(`\n${checks.length - failed} of ${checks.length} checks passed`);
  return failed;
}

interface GraphQLBody {
  data?: Record<string, any> | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

async function main() {
  const env = {
    ...process.env,
    DB_CONTEXT_MODE: "set_local",
    REQUEST_ROLES_LOGIN: "true",
    // One client runs every check and the load runs: no limit of its own.
    RATE_LIMIT_LOGIN: process.env.RATE_LIMIT_LOGIN ?? "100000",
    RATE_LIMIT_SIGNUP: process.env.RATE_LIMIT_SIGNUP ?? "100000",
    TENANT_RATE: process.env.TENANT_RATE ?? "1000000",
    TENANT_CONCURRENCY: process.env.TENANT_CONCURRENCY ?? "10",
    TENANT_QUEUE: process.env.TENANT_QUEUE ?? "20",
  };
  const config = loadConfig(env);
  const rootUrl = config.database.rootUrl;
  if (!rootUrl) throw new ConfigError(["citus:check needs ROOT_DATABASE_URL: the superuser's URL of the coordinator's maintenance database"]);
  // SQL errors in GraphQL responses unmasked, so that a failure says why.
  process.env.GRAPHILE_ENV ??= "development";
  const name = config.database.name;
  const seconds = Number(process.env.CITUS_CHECK_SECONDS || 5);
  console.log(`Citus check: database ${name}, coordinator ${new URL(rootUrl).host}, DB_CONTEXT_MODE=set_local\n`);

  const nodes = await check("cluster", async () => {
    const nodes = await listNodes(rootUrl);
    const version = await withClient(rootUrl, async (c) => (await c.query("select citus_version() as v")).rows[0].v as string);
    return { detail: `${version.split(" on ")[0]}; ${nodes.map((n) => `${n.kind} ${n.host}:${n.port}`).join(", ")}`, value: nodes };
  });
  if (!nodes) return;

  if (process.env.CITUS_CHECK_FRESH === "1") {
    await check("fresh database", async () => {
      for (const n of nodes) {
        await withClient(nodeLocal(n.url), (c) => c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`));
      }
      return `dropped ${name} on ${nodes.length} nodes`;
    });
  }

  // 1. Set-up, migrations, distribution.
  const setupOk = await check("citus:setup", async () => {
    const lines: string[] = [];
    await setupCitus({
      rootUrl,
      database: name,
      passwords: { owner: config.database.ownerPassword, authenticator: config.database.authenticatorPassword },
      log: (m) => lines.push(m),
    });
    await setupCitus({ rootUrl, database: name, passwords: { owner: config.database.ownerPassword, authenticator: config.database.authenticatorPassword }, log: () => {} });
    return { detail: `${nodes.length} nodes: roles, database, CONNECT, extensions; nodes and settings in ${name}; run twice (idempotent)`, value: true };
  });
  if (!setupOk) return;

  let db: Database | undefined;
  await check("migrations (npm start's path)", async () => {
    db = await openDatabase(config, log);
    if (process.env.CITUS_CHECK_CURRENT === "1") await runCurrentMigration(db.ownerUrl);
    let demo = "no demo data";
    if (db.firstStart && config.demoData) {
      await seedDemoData(db.ownerUrl);
      demo = "demo data loaded";
    }
    const version = await withClient(db.ownerUrl, async (c) => (await c.query("select app_public.schema_version() as v")).rows[0].v);
    return `${db.firstStart ? "first start" : "already migrated"}, at ${version}${process.env.CITUS_CHECK_CURRENT === "1" ? " + migrations/current" : ""}; ${demo}`;
  });
  if (!db) return;
  const superuserAppUrl = withDatabase(rootUrl, name);

  let committedSql = readFileSync(join(ROOT_DIR, "generated/citus.sql"), "utf8");
  await check("generated/citus.sql matches the cluster's catalog", async () => {
    const tables = await withClient(superuserAppUrl, async (c) => (await c.query("select count(*)::int as n from pg_dist_partition")).rows[0].n);
    if (tables > 0) return `not compared: ${tables} tables already distributed (the catalog has changed since)`;
    const fresh = await withClient(superuserAppUrl, generateCitusSql);
    if (process.env.CITUS_CHECK_GENERATE === "1" && fresh !== committedSql) {
      committedSql = fresh;
      return "differs; CITUS_CHECK_GENERATE=1: distributing with the DDL generated from the cluster's catalog";
    }
    if (fresh !== committedSql) throw new Error("stale: run `npm run generate` on a database at the same migration and commit generated/citus.sql");
    return "same";
  });
  await check("citus:distribute", async () => {
    const tables = await applyCitusSql(superuserAppUrl, committedSql, () => {});
    const kinds: string[] = Object.entries(Object.groupBy(tables, (t) => t.kind)).map(([k, ts]) => `${ts!.length} ${k}`);
    await applyCitusSql(superuserAppUrl, committedSql, () => {});
    return `${kinds.join(", ")}; applied again (idempotent)`;
  });
  await check("functions on every worker", async () => {
    const count = (url: string) =>
      withClient(withDatabase(url, name), async (c) =>
        (await c.query("select count(*)::int as n from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname in ('app_public', 'app_private')")).rows[0].n as number,
      );
    const [coordinator, ...workers] = await Promise.all(nodes.map((n) => count(n.url)));
    const missing = workers.filter((w) => w !== coordinator);
    if (missing.length) throw new Error(`coordinator has ${coordinator} functions, workers ${workers.join(", ")}`);
    return `${coordinator} on each of ${nodes.length} nodes`;
  });

  const distributed = await withClient(superuserAppUrl, async (c) => (await c.query("select count(*)::int as n from pg_dist_partition where logicalrelid::text like 'app_%'")).rows[0].n as number);
  if (!distributed) console.log("\n!! No table is distributed: the API checks below run on plain local tables on the coordinator and say little about Citus.\n");
  const apiPrefix = distributed ? "" : "[NOT DISTRIBUTED] ";

  // 2. The API over HTTP, in set_local mode.
  namePrefix = apiPrefix;
  const { createApp } = await import("../server/app.ts");
  const app = await createApp(config, db.authUrl);
  await new Promise<void>((resolve) => app.server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  try {
    const graphql = async (query: string, variables: Record<string, unknown> = {}, token?: string) => {
      const res = await fetch(`${url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as GraphQLBody;
      if (body.errors?.length) throw new Error(`HTTP ${res.status}: ${body.errors.map((e) => explain(`${e.message}${e.extensions?.code ? ` [${e.extensions.code}]` : ""}`)).join("; ")}`);
      if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
      return body.data!;
    };
    const run = randomBytes(3).toString("hex");
    const password = "citus-check-password";
    type Tenant = { slug: string; email: string; accessToken: string; refreshToken: string; id: string; demo?: boolean };
    const signUp = async (label: string): Promise<Tenant> => {
      const slug = `citus-${label}-${run}`;
      const email = `admin@${slug}.test`;
      const data = await graphql(
        "mutation($name: String!, $slug: String!, $email: String!, $password: String!) { createTenant(input: {name: $name, slug: $slug, adminEmail: $email, adminPassword: $password}) { result { accessToken refreshToken } } }",
        { name: `Citus check ${label}`, slug, email, password },
      );
      const tokens = data.createTenant?.result;
      if (!tokens?.accessToken) throw new Error(`no token: ${JSON.stringify(data)}`);
      const claims = JSON.parse(Buffer.from(tokens.accessToken.split(".")[1], "base64url").toString());
      return { slug, email, ...tokens, id: claims.tenant_id };
    };
    let a = await check("createTenant (sign-up) A", async () => {
      const t = await signUp("a");
      return { detail: `tenant ${t.slug}`, value: t };
    });
    let b = await check("createTenant (sign-up) B", async () => {
      const t = await signUp("b");
      return { detail: `tenant ${t.slug}`, value: t };
    });
    // Without a sign-up, the demo tenants (loaded on the first start) stand in.
    const demoLogin = async (slug: string, email: string): Promise<Tenant> => {
      const data = await graphql(
        "mutation($s: String!, $e: String!, $p: String!) { login(input: {tenantSlug: $s, email: $e, password: $p}) { result { accessToken refreshToken } } }",
        { s: slug, e: email, p: DEMO_PASSWORD },
      );
      const tokens = data.login?.result;
      if (!tokens?.accessToken) throw new Error(`no token: ${JSON.stringify(data)}`);
      const claims = JSON.parse(Buffer.from(tokens.accessToken.split(".")[1], "base64url").toString());
      return { slug, email, ...tokens, id: claims.tenant_id, demo: true };
    };
    const demo = await withClient(superuserAppUrl, async (c) => (await c.query("select count(*)::int as n from app_public.tenants where slug = any($1)", [DEMO_TENANTS.map((t) => t.slug)])).rows[0].n === DEMO_TENANTS.length);
    if (!a && demo) {
      const [t] = DEMO_TENANTS;
      a = await check(`login (demo tenant ${t.slug}, no sign-up)`, async () => ({ detail: "admin", value: await demoLogin(t.slug, t.users.find((u) => u.role === "admin")!.email) }));
    } else if (a) {
      await check("login", async () => {
        const data = await graphql(
          "mutation($s: String!, $e: String!, $p: String!) { login(input: {tenantSlug: $s, email: $e, password: $p}) { result { accessToken refreshToken } } }",
          { s: a.slug, e: a.email, p: password },
        );
        if (!data.login?.result?.accessToken) throw new Error(`no token: ${JSON.stringify(data)}`);
        a.accessToken = data.login.result.accessToken;
        a.refreshToken = data.login.result.refreshToken;
        return `admin of ${a.slug}`;
      });
    }
    if (!b && demo) {
      const t = DEMO_TENANTS[1];
      b = await check(`login (demo tenant ${t.slug}, no sign-up)`, async () => ({ detail: "admin", value: await demoLogin(t.slug, t.users.find((u) => u.role === "admin")!.email) }));
    }
    if (a) {
      await check("refresh", async () => {
        const data = await graphql("mutation($t: String!) { refresh(input: {refreshToken: $t}) { result { accessToken refreshToken } } }", { t: a.refreshToken });
        if (!data.refresh?.result?.accessToken) throw new Error(`no token: ${JSON.stringify(data)}`);
        a.accessToken = data.refresh.result.accessToken;
        a.refreshToken = data.refresh.result.refreshToken;
        return "new token pair";
      });
    }
    const members = async (t: Tenant) => {
      const data = await graphql("{ users { nodes { rowId tenantId email } } }", {}, t.accessToken);
      const rows = data.users.nodes as { tenantId: string }[];
      const foreign = rows.filter((r) => r.tenantId !== t.id).length;
      if (!rows.length) throw new Error("no rows (the workers saw no tenant?)");
      if (foreign) throw new Error(`${foreign} of ${rows.length} rows belong to another tenant`);
      return `${rows.length} rows, 0 foreign`;
    };
    if (a) await check("member list A", () => members(a));
    if (b) await check("member list B", () => members(b));
    if (a) {
      await check("create mutation (createProject)", async () => {
        const data = await graphql('mutation { createProject(input: {project: {name: "Citus check"}}) { project { rowId tenantId name } } }', {}, a.accessToken);
        const project = data.createProject?.project;
        if (project?.tenantId !== a.id) throw new Error(`unexpected: ${JSON.stringify(data)}`);
        const seen = await graphql("{ projects { nodes { rowId } } }", {}, a.accessToken);
        if (!seen.projects.nodes.some((p: { rowId: string }) => p.rowId === project.rowId)) throw new Error("the new project is not in A's list");
        if (b) {
          const other = await graphql("{ projects { nodes { rowId } } }", {}, b.accessToken);
          if (other.projects.nodes.some((p: { rowId: string }) => p.rowId === project.rowId)) throw new Error("B sees A's project");
        }
        return "project created in A, listed in A, not in B";
      });
      const invitation = await check("inviteUser", async () => {
        const data = await graphql('mutation($e: String!) { inviteUser(input: {email: $e, role: member}) { result { token } } }', { e: `member@${a.slug}.test` }, a.accessToken);
        const token = data.inviteUser?.result?.token;
        if (!token) throw new Error(`no token: ${JSON.stringify(data)}`);
        return { detail: "invitation token issued", value: token as string };
      });
      if (invitation) {
        await check("acceptInvitation", async () => {
          const data = await graphql(
            'mutation($t: String!, $p: String!) { acceptInvitation(input: {token: $t, name: "Invited member", password: $p}) { result { accessToken } } }',
            { t: invitation, p: password },
          );
          const token = data.acceptInvitation?.result?.accessToken;
          if (!token) throw new Error(`no token: ${JSON.stringify(data)}`);
          const me = await graphql("{ currentUser { email role } }", {}, token);
          if (me.currentUser?.role !== "MEMBER" && me.currentUser?.role !== "member") throw new Error(`currentUser: ${JSON.stringify(me)}`);
          return `member ${me.currentUser.email} logged in`;
        });
      }
      await check("GET /export", async () => {
        const res = await fetch(`${url}/export`, { headers: { authorization: `Bearer ${a.accessToken}` } });
        // fetch decodes a gzip body itself.
        const text = await res.text();
        if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`);
        const lines = text.trim().split("\n").map((l) => JSON.parse(l));
        const last = lines.at(-1);
        if (last?.type !== "end") throw new Error(`no end line (${lines.length} lines): ${JSON.stringify(last).slice(0, 200)}`);
        if (b && text.includes(b.id)) throw new Error("the export contains B's tenant id");
        return `${lines.length} lines, ends with its end line, nothing of B`;
      });
    }

    // 3. Routing.
    if (a) {
      await check("routing: EXPLAIN Task Count", async () => {
        const taskCount = (sql: string) =>
          withClient(db!.authUrl, async (c) => {
            await c.query("begin");
            try {
              const claims = { tenant_id: a.id, role: "admin" };
              await c.query(Object.entries(claims).map(([k, v]) => `set local "jwt.claims.${k}" = ${c.escapeLiteral(v)};`).join(" "));
              await c.query("select set_config('role', $1, true)", [ROLES.admin]);
              const { rows } = await c.query(`explain ${sql}`);
              const line = rows.map((r) => r["QUERY PLAN"] as string).find((l) => /Task Count:/.test(l));
              if (!line) throw new Error(`no Citus plan (is app_public.users distributed?): ${rows.map((r) => r["QUERY PLAN"]).join(" / ").slice(0, 200)}`);
              return Number(line.match(/Task Count: (\d+)/)![1]);
            } finally {
              await c.query("rollback");
            }
          });
        const fanOut = await taskCount("select id, email from app_public.users");
        const routed = await taskCount(`select id, email from app_public.users where tenant_id = '${a.id}'`);
        if (routed !== 1) throw new Error(`with a tenant condition: Task Count ${routed}`);
        return `users list without tenant condition: Task Count ${fanOut}; with tenant_id = <A>: Task Count ${routed}`;
      });
      const autocannon = (await import("autocannon")).default;
      const load = async (query: string) => {
        const result = await autocannon({
          url: `${url}/graphql`,
          connections: 10,
          duration: seconds,
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${a.accessToken}` },
          body: JSON.stringify({ query }),
        });
        const bad = result.non2xx + result.errors + result.timeouts;
        return `${Math.round(result.requests.average)} req/s, p99 ${result.latency.p99} ms${bad ? `, ${bad} failed` : ""}`;
      };
      // The same list straight in SQL, as the admin with the claims as SET
      // LOCAL: the database's share of a fan-out against a routed query,
      // whatever the API adds (the single-shard plugin adds the condition).
      const sqlLoad = async (sql: string) => {
        const clients = await Promise.all(Array.from({ length: 10 }, async () => {
          const c = new pg.Client({ connectionString: db!.authUrl });
          await c.connect();
          return c;
        }));
        let done = 0;
        const until = performance.now() + seconds * 1000;
        const setup = `begin; set local "jwt.claims.tenant_id" = '${a.id}'; set local "jwt.claims.role" = 'admin'`;
        try {
          await Promise.all(clients.map(async (c) => {
            while (performance.now() < until) {
              await c.query(setup);
              await c.query("select set_config('role', $1, true)", [ROLES.admin]);
              await c.query(sql);
              await c.query("commit");
              done++;
            }
          }));
        } finally {
          await Promise.all(clients.map((c) => c.end()));
        }
        return `${Math.round(done / seconds)} transactions/s`;
      };
      await check(`routing: SQL list without tenant condition (${seconds} s, 10 conn.)`, () => sqlLoad("select id, email from app_public.users"));
      await check(`routing: SQL list with tenant_id = <A> (${seconds} s, 10 conn.)`, () => sqlLoad(`select id, email from app_public.users where tenant_id = '${a.id}'`));
      await check(`routing: HTTP users list, no condition given (${seconds} s, 10 conn.)`, async () => load("{ users { nodes { rowId email } } }"));
      await check(`routing: HTTP users list, condition tenantId (${seconds} s, 10 conn.)`, async () => load(`{ users(condition: {tenantId: "${a.id}"}) { nodes { rowId email } } }`));
    }

    if (b && !b.demo) {
      await check("deleteTenant", async () => {
        const data = await graphql("mutation($s: String!) { deleteTenant(input: {confirmSlug: $s}) { result } }", { s: b.slug }, b.accessToken);
        if (data.deleteTenant?.result !== true) throw new Error(`unexpected: ${JSON.stringify(data)}`);
        const left = await withClient(superuserAppUrl, async (c) => (await c.query("select count(*)::int as n from app_public.users where tenant_id = $1", [b.id])).rows[0].n);
        if (left) throw new Error(`${left} users of B left`);
        return "B deleted, none of its users left";
      });
    }
  } finally {
    await app.close(2000);
    await db.stop();
  }
}

let failed = 1;
try {
  await main();
  failed = printTable();
} catch (error) {
  printTable();
  console.error(error instanceof ConfigError ? error.message : error);
}
// graphile-migrate and autocannon may keep handles open.
process.exit(failed ? 1 : 0);
