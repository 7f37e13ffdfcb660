// The benchmark's settings: every BENCH_* environment variable is read here.

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
  /** Seconds per measured load. */
  duration: number;
  /** Seconds of unmeasured load on each server before the first round (JIT warm-up). */
  warmup: number;
  /** HTTP connections of the load generator. */
  connections: number;
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
  return {
    large,
    small,
    duration: positiveInt(env, "BENCH_DURATION", 10),
    warmup: positiveInt(env, "BENCH_WARMUP", 3),
    connections: positiveInt(env, "BENCH_CONNECTIONS", 32),
    rounds: positiveInt(env, "BENCH_ROUNDS", 2),
    startupRuns: positiveInt(env, "BENCH_STARTUP_RUNS", 3),
    pgbenchClients: positiveInt(env, "BENCH_PGBENCH_CLIENTS", poolSize),
    poolSize,
    databaseUrl: env.BENCH_DATABASE_URL || undefined,
    pgbench: env.BENCH_PGBENCH || findPgbench(),
  };
}
