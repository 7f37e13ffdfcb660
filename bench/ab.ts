// `npm run bench:ab`: a quick, paired comparison of server variants (the API
// with another setting, a flag, the baseline...) on the list request, for
// deciding whether a change to the request path is worth it. One data set
// (BENCH_TENANTS × BENCH_ROWS, default 1,000 × 100,000), every variant in its
// own child process, BENCH_ROUNDS rounds of BENCH_DURATION s each, the order
// reversed every other round. Per load: req/s, p50, p99, and the server's CPU
// time per request, also of its main thread alone (what limits a Node server:
// the rest is V8's helper threads), with the share of the time its main
// thread ran and the share it was runnable but waiting for a CPU. The summary gives each variant's medians
// and its per-round ratios to the first variant, which are what to read on a
// noisy machine. Settings: readAbOptions in bench/options.ts.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../common/config.ts";
import { startServer, type ServerProcess } from "./child.ts";
import { openCluster } from "./cluster.ts";
import { loadDataset } from "./dataset.ts";
import { runLoad } from "./http-load.ts";
import { GRAPHQL_LIST_QUERY } from "./list-request.ts";
import { readAbOptions, type AbVariant } from "./options.ts";
import { median } from "./stats.ts";
import { signTokens } from "./tokens.ts";

const options = readAbOptions(process.env);
const ENTRIES: Record<AbVariant["server"], { file: string; env: Record<string, string> }> = {
  graphql: { file: "graphql-server.ts", env: {} },
  baseline: { file: "baseline-server.ts", env: { BASELINE_REVOCATION_CHECK: "on" } },
  "baseline-unchecked": { file: "baseline-server.ts", env: { BASELINE_REVOCATION_CHECK: "off" } },
};

/** Nanoseconds the main thread of a process spent waiting for a CPU while runnable (/proc schedstat). */
function runDelayMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ")[1]) / 1e6;
}

const cluster = await openCluster(options.databaseUrl, "mts_bench_ab");
const servers: { variant: AbVariant; process: ServerProcess }[] = [];
try {
  const db = await cluster.prepare("mts_bench_ab");
  console.log(`data set: ${options.tenants} tenants × ${options.rows} tasks`);
  const dataset = await loadDataset(db.superuserUrl, { name: "ab", database: "mts_bench_ab", tenants: options.tenants, rows: options.rows }, 200);
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: "production",
    JWT_SECRET: randomBytes(32).toString("hex"),
    DATABASE_URL: db.ownerUrl,
    AUTH_DATABASE_URL: db.authUrl,
    DB_POOL_SIZE: String(options.poolSize),
  };
  const body = JSON.stringify({ query: GRAPHQL_LIST_QUERY });
  const requests = signTokens(dataset.members, loadConfig(env).jwt).map((token) => ({
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body,
  }));
  for (const variant of options.variants) {
    const entry = ENTRIES[variant.server];
    servers.push({ variant, process: await startServer(variant.name, join(import.meta.dirname, entry.file), { ...env, ...entry.env, ...variant.env }, variant.flags) });
  }
  const load = (url: string, seconds: number) =>
    runLoad({ url: `${url}/graphql`, connections: options.connections, seconds, requests, verify: (b) => b.startsWith('{"data":{"tasks":{"nodes":[') });
  for (const s of servers) await load(s.process.url, 3); // JIT warm-up

  const perRound = new Map<string, { rps: number; cpuUs: number }[]>();
  for (let round = 0; round < options.rounds; round++) {
    for (const { variant, process: server } of round % 2 ? [...servers].reverse() : servers) {
      const [cpu0, wait0] = [server.cpuMs(), runDelayMs(server.pid)];
      const r = await load(server.url, options.seconds);
      const cpu = server.cpuMs();
      const [all, main, wait] = [cpu.process - cpu0.process, cpu.mainThread - cpu0.mainThread, runDelayMs(server.pid) - wait0];
      const cpuUs = (1000 * all) / r.requests;
      perRound.set(variant.name, [...(perRound.get(variant.name) ?? []), { rps: r.requestsPerSecond, cpuUs }]);
      console.log(
        `round ${round + 1} ${variant.name.padEnd(20)} ${r.requestsPerSecond.toFixed(0).padStart(6)} req/s  p50 ${r.p50Ms.toFixed(1)} ms  p99 ${r.p99Ms.toFixed(1)} ms  ` +
          `failed ${r.failures}  server CPU ${cpuUs.toFixed(0)} µs/request (main thread ${((1000 * main) / r.requests).toFixed(0)}, ` +
          `on a CPU ${((100 * main) / (options.seconds * 1000)).toFixed(0)}% of the time, waiting for one ${((100 * wait) / (options.seconds * 1000)).toFixed(0)}%)`,
      );
    }
  }
  const first = perRound.get(options.variants[0].name)!;
  console.log(`\nmedians; ratios to ${options.variants[0].name} per round:`);
  for (const { variant, process: server } of servers) {
    const rounds = perRound.get(variant.name)!;
    const ratios = rounds.map((r, i) => r.rps / first[i].rps);
    console.log(
      `${variant.name.padEnd(20)} ${median(rounds.map((r) => r.rps)).toFixed(0).padStart(6)} req/s, ${median(rounds.map((r) => r.cpuUs)).toFixed(0)} µs CPU/request, ` +
        `peak RSS ${(await server.peakRssMb()).toFixed(0)} MB; req/s ×${median(ratios).toFixed(3)} (${ratios.map((x) => x.toFixed(2)).join(" ")})`,
    );
  }
} finally {
  for (const s of servers) await s.process.stop();
  await cluster.stop();
}
