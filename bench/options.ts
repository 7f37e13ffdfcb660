// The benchmark's settings: every BENCH_* environment variable is read here.
import { isAbsolute, join, resolve } from "node:path";

export interface Scale {
  /** "small" or "large": the label in the table and the chart. */
  name: string;
  /** The database that holds this data set. */
  database: string;
  tenants: number;
  /** Domain rows: tasks (projects and users come on top, see dataset.ts). */
  rows: number;
}

export interface Options {
  /** The data set every comparison runs on, and the small one for the scale comparison. */
  large: Scale;
  small: Scale;
  /**
   * The data sets loaded and measured, in order: small and large (default),
   * or only small (BENCH_SCALES=small, a quick run: what runs on the large
   * set alone then runs on the small one, and the scale ratio is skipped).
   */
  scales: Scale[];
  /** Seconds per measured load. */
  duration: number;
  /** Seconds of unmeasured load on each server before the first round (JIT warm-up). */
  warmup: number;
  /** HTTP connections of the load generator. */
  connections: number;
  /** Concurrent clients of the refresh load, each with its own chain of refresh tokens. */
  refreshClients: number;
  /** How many times each comparison alternates. */
  rounds: number;
  /** Runs of each start-up measurement (first start, restart). */
  startupRuns: number;
  /** pgbench clients (default: the API's pool size, the concurrency the server gives PostgreSQL). */
  pgbenchClients: number;
  /** The API's pool size, for the GraphQL server and the baseline alike. */
  poolSize: number;
  /** A superuser URL of an existing server, instead of an embedded PostgreSQL. */
  databaseUrl?: string;
  /** Path of pgbench; undefined when none was found. */
  pgbench?: string;
  /** Folder for results.json, results.svg and RESULTS.md (default: bench/). */
  outDir: string;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw.replaceAll("_", ""));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

export function readOptions(env: NodeJS.ProcessEnv, findPgbench: () => string | undefined): Options {
  const poolSize = positiveInt(env, "DB_POOL_SIZE", 10);
  const large: Scale = {
    name: "large",
    database: "mts_bench",
    tenants: positiveInt(env, "BENCH_TENANTS", 10_000),
    rows: positiveInt(env, "BENCH_ROWS", 1_000_000),
  };
  const small: Scale = {
    name: "small",
    database: "mts_bench_small",
    tenants: positiveInt(env, "BENCH_SMALL_TENANTS", 10),
    rows: positiveInt(env, "BENCH_SMALL_ROWS", 1_000),
  };
  const scalesRaw = (env.BENCH_SCALES ?? "").trim() || "small,large";
  const byName: Record<string, Scale> = { small, large };
  const names = scalesRaw.split(",").map((s) => s.trim()).filter(Boolean);
  if (!names.every((n) => n in byName) || !names.includes("small")) {
    throw new Error(`BENCH_SCALES must be "small,large" or "small", got "${scalesRaw}"`);
  }
  const connections = positiveInt(env, "BENCH_CONNECTIONS", 32);
  const outRaw = env.BENCH_OUT_DIR || join(import.meta.dirname);
  return {
    large,
    small,
    scales: [small, large].filter((s) => names.includes(s.name)),
    duration: positiveInt(env, "BENCH_DURATION", 10),
    warmup: positiveInt(env, "BENCH_WARMUP", 3),
    connections,
    refreshClients: positiveInt(env, "BENCH_REFRESH_CLIENTS", connections),
    rounds: positiveInt(env, "BENCH_ROUNDS", 2),
    startupRuns: positiveInt(env, "BENCH_STARTUP_RUNS", 3),
    pgbenchClients: positiveInt(env, "BENCH_PGBENCH_CLIENTS", poolSize),
    poolSize,
    databaseUrl: env.BENCH_DATABASE_URL || undefined,
    pgbench: env.BENCH_PGBENCH || findPgbench(),
    outDir: isAbsolute(outRaw) ? outRaw : resolve(outRaw),
  };
}

/** A server variant of `npm run bench:ab`: which server, with what extra environment and V8 flags. */
export interface AbVariant {
  name: string;
  /** `graphql`, `baseline` or `baseline-unchecked`. */
  server: "graphql" | "baseline" | "baseline-unchecked";
  env: Record<string, string>;
  /** V8 flags instead of those of `npm start` (package.json). */
  flags?: string[];
}

export interface AbOptions {
  variants: AbVariant[];
  tenants: number;
  rows: number;
  seconds: number;
  rounds: number;
  connections: number;
  poolSize: number;
  databaseUrl?: string;
}

const AB_SERVERS = new Set(["graphql", "baseline", "baseline-unchecked"]);

/**
 * `npm run bench:ab`: BENCH_AB_VARIANTS is a JSON object of variants by
 * name, each `{"server": "graphql"|"baseline"|"baseline-unchecked", "env":
 * {...}, "flags": [...]}` (default: the API and the baseline, as they are).
 */
export function readAbOptions(env: NodeJS.ProcessEnv): AbOptions {
  const raw = env.BENCH_AB_VARIANTS?.trim() || '{"graphql":{"server":"graphql"},"baseline":{"server":"baseline"}}';
  let parsed: Record<string, { server?: string; env?: Record<string, string>; flags?: string[] }>;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`BENCH_AB_VARIANTS must be a JSON object, got ${raw}`);
  }
  const variants = Object.entries(parsed).map(([name, v]) => {
    const server = v?.server ?? "graphql";
    if (!AB_SERVERS.has(server)) throw new Error(`BENCH_AB_VARIANTS: "${name}" has server "${server}" (graphql, baseline or baseline-unchecked)`);
    if (v.flags !== undefined && !(Array.isArray(v.flags) && v.flags.every((f) => typeof f === "string" && f.startsWith("--")))) {
      throw new Error(`BENCH_AB_VARIANTS: "${name}".flags must be a list of --flags`);
    }
    return { name, server: server as AbVariant["server"], env: { ...v.env }, flags: v.flags };
  });
  if (variants.length < 2) throw new Error("BENCH_AB_VARIANTS needs at least two variants to compare");
  return {
    variants,
    tenants: positiveInt(env, "BENCH_TENANTS", 1_000),
    rows: positiveInt(env, "BENCH_ROWS", 100_000),
    seconds: positiveInt(env, "BENCH_DURATION", 5),
    rounds: positiveInt(env, "BENCH_ROUNDS", 6),
    connections: positiveInt(env, "BENCH_CONNECTIONS", 32),
    poolSize: positiveInt(env, "DB_POOL_SIZE", 10),
    databaseUrl: env.BENCH_DATABASE_URL || undefined,
  };
}

/** The kinds of request of the soak's mixed load (bench/soak.ts). */
export const SOAK_KINDS = ["list", "write", "login", "refresh", "export"] as const;
export type SoakKind = (typeof SOAK_KINDS)[number];

export interface SoakOptions {
  tenants: number;
  rows: number;
  /** Minutes of mixed load on the API (at least 10 for a real run; 1 for a smoke run). */
  minutes: number;
  /** Seconds between two memory samples (each forces a full GC in the server). */
  sampleSeconds: number;
  /** Target rate of each kind, requests per second (a client never sends faster; it catches up at most 1 s of backlog). */
  rates: Record<SoakKind, number>;
  /** Keep-alive connections of each kind (16 in all by default). */
  connections: Record<SoakKind, number>;
  /** Seconds of the baseline's list load (same rate and connections as the API's list kind), after the soak. */
  baselineSeconds: number;
  poolSize: number;
  databaseUrl?: string;
  /** Folder for SOAK.md and soak.json (default: bench/). */
  outDir: string;
}

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw.replaceAll("_", ""));
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return n;
}

/**
 * `npm run bench:soak`: SOAK_MINUTES (10), SAMPLE_SECONDS (10), the rates
 * SOAK_LIST_RATE (500/s), SOAK_WRITE_RATE (40/s), SOAK_REFRESH_RATE (20/s),
 * SOAK_LOGINS_PER_MINUTE (30), SOAK_EXPORTS_PER_MINUTE (6),
 * SOAK_BASELINE_SECONDS (60), and as the other benches BENCH_TENANTS (1,000),
 * BENCH_ROWS (100,000), DB_POOL_SIZE, BENCH_DATABASE_URL, BENCH_OUT_DIR.
 */
export function readSoakOptions(env: NodeJS.ProcessEnv): SoakOptions {
  const outRaw = env.BENCH_OUT_DIR || join(import.meta.dirname);
  const minutes = positiveInt(env, "SOAK_MINUTES", 10);
  const sampleSeconds = positiveInt(env, "SAMPLE_SECONDS", 10);
  if (sampleSeconds > 30) throw new Error(`SAMPLE_SECONDS must be at most 30 (a minute needs samples of its own), got ${sampleSeconds}`);
  return {
    tenants: positiveInt(env, "BENCH_TENANTS", 1_000),
    rows: positiveInt(env, "BENCH_ROWS", 100_000),
    minutes,
    sampleSeconds,
    rates: {
      list: positiveNumber(env, "SOAK_LIST_RATE", 500),
      write: positiveNumber(env, "SOAK_WRITE_RATE", 40),
      login: positiveNumber(env, "SOAK_LOGINS_PER_MINUTE", 30) / 60,
      refresh: positiveNumber(env, "SOAK_REFRESH_RATE", 20),
      export: positiveNumber(env, "SOAK_EXPORTS_PER_MINUTE", 6) / 60,
    },
    connections: { list: 10, write: 2, login: 1, refresh: 2, export: 1 },
    baselineSeconds: positiveInt(env, "SOAK_BASELINE_SECONDS", 60),
    poolSize: positiveInt(env, "DB_POOL_SIZE", 10),
    databaseUrl: env.BENCH_DATABASE_URL || undefined,
    outDir: isAbsolute(outRaw) ? outRaw : resolve(outRaw),
  };
}
