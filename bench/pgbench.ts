// pgbench on the list transaction, on the two sides of the RLS
// comparison, and on the per-request revocation check alone. A random tenant per transaction: `\set n random(1, :tenants)`
// and the lookup table public.bench_members (dataset.ts). Latencies come
// from pgbench's per-transaction log (-l), per script.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROLES } from "../common/roles.ts";
import { LIST_JSON_SQL, TASKS_ORDER, TASKS_SELECT } from "./list-request.ts";
import { percentile } from "./stats.ts";

export type PgbenchScript = "list" | "rls-policy" | "rls-bypass" | "claims-check";

export interface PgbenchResult {
  /** This script's share of the transactions per second. */
  tps: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  transactions: number;
  failures: number;
}

const PICK_TENANT = `\\set n random(1, :tenants)
begin;`;
const SET_CLAIMS = `select set_config('jwt.claims.tenant_id', tenant_id::text, true) as tid,
  set_config('jwt.claims.user_id', user_id::text, true) as uid,
  set_config('jwt.claims.role', 'member', true) as role,
  set_config('jwt.claims.session_id', session_id::text, true) as sid
from public.bench_members where n = :n \\gset`;
/**
 * The list transaction's settings statement, with the claims check that the
 * API's (server/request-context.ts) runs in the same statement.
 */
const SET_CLAIMS_CHECKED = SET_CLAIMS.replace(
  "as sid\n",
  `as sid,
  app_private.assert_claims_current(user_id, tenant_id, 'member', session_id) as checked\n`,
);

/**
 * The check server/request-context.ts puts in every request's settings
 * statement, alone (no transaction block), for the member and session of a
 * random tenant; the member's row is found in the
 * same statement (one primary-key probe of public.bench_members), so that
 * each transaction is this one round trip.
 */
const CLAIMS_CHECK = `\\set n random(1, :tenants)
select app_private.assert_claims_current(m.user_id, m.tenant_id, 'member', m.session_id) as checked
from public.bench_members m where m.n = :n;`;

/**
 * - list: the transaction of a tenant's list request, as the authenticator
 *   (connect with its URL): claims and their check, `set local role`, the
 *   JSON list, commit.
 * - rls-policy / rls-bypass (connect as the superuser): the same transaction
 *   and the same SELECT, once as the member role through the policy, once
 *   as the superuser (who bypasses RLS) with an explicit tenant condition.
 *   Both switch role once, so that only the access path differs.
 * - claims-check (connect as the authenticator): app_private.assert_claims_current
 *   alone, the API's per-request revocation check.
 */
export function pgbenchScript(script: PgbenchScript, superuser: string): string {
  return withoutLiteralColons(scriptText(script, superuser));
}

/**
 * pgbench takes every `:name` for a variable, also inside string literals;
 * the timestamp format's colons become chr(58) (folded at plan time).
 */
function withoutLiteralColons(sql: string): string {
  const out = sql.replaceAll(
    `'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM'`,
    `('YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS.USTZH' || chr(58) || 'TZM')`,
  );
  const unknown = /(?<!:):(?!n\b|tid\b|tenants\b)[A-Za-z_]/.exec(out);
  if (unknown) throw new Error(`pgbench would read a variable at "${out.slice(unknown.index, unknown.index + 12)}"`);
  return out;
}

function scriptText(script: PgbenchScript, superuser: string): string {
  const bypassRole = `"${superuser.replaceAll('"', '""')}"`;
  switch (script) {
    case "list":
      return `${PICK_TENANT}\n${SET_CLAIMS_CHECKED}\nset local role ${ROLES.member};\n${LIST_JSON_SQL};\ncommit;\n`;
    case "rls-policy":
      return `${PICK_TENANT}\n${SET_CLAIMS}\nset local role ${ROLES.member};\n${TASKS_SELECT}\n${TASKS_ORDER};\ncommit;\n`;
    case "rls-bypass":
      return `${PICK_TENANT}\n${SET_CLAIMS}\nset local role ${bypassRole};\n${TASKS_SELECT}\nwhere __tasks__.tenant_id = :tid::uuid\n${TASKS_ORDER};\ncommit;\n`;
    case "claims-check":
      return `${CLAIMS_CHECK}\n`;
  }
}

/** pgbench from BENCH_PGBENCH, PATH, or PostgreSQL's usual folders; undefined when there is none. */
export function findPgbench(): string | undefined {
  try {
    return execFileSync("sh", ["-c", "command -v pgbench"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    for (const version of [18, 17, 16, 15, 14, 13]) {
      const path = `/usr/lib/postgresql/${version}/bin/pgbench`;
      if (existsSync(path)) return path;
    }
    return undefined;
  }
}

/**
 * One pgbench run. With several scripts, each transaction picks one at random
 * (equal weights): the finest alternation there is, so both see the same
 * machine. Results are per script, in the order given.
 */
export async function runPgbench(options: {
  pgbench: string;
  url: string;
  scripts: PgbenchScript[];
  tenants: number;
  clients: number;
  seconds: number;
}): Promise<PgbenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "mts-pgbench-"));
  try {
    // The password goes in the environment, not on the command line (where `ps` shows it).
    const url = new URL(options.url);
    const password = decodeURIComponent(url.password);
    url.password = "";
    const superuser = decodeURIComponent(url.username);
    const files = options.scripts.map((script) => {
      const file = join(dir, `${script}.sql`);
      writeFileSync(file, pgbenchScript(script, superuser));
      return `--file=${file}@1`;
    });
    const args = [
      "--no-vacuum",
      "--protocol=prepared",
      `--client=${options.clients}`,
      `--jobs=${Math.min(options.clients, 2)}`,
      `--time=${options.seconds}`,
      `--define=tenants=${options.tenants}`,
      ...files,
      "--log",
      `--log-prefix=${join(dir, "tx")}`,
      url.toString(),
    ];
    const output = await run(options.pgbench, args, dir, { ...process.env, PGPASSWORD: password }, (options.seconds + 60) * 1000);
    const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(output)?.[1]);
    const failed = Number(/number of failed transactions: (\d+)/.exec(output)?.[1] ?? 0);
    if (!Number.isFinite(tps)) throw new Error(`pgbench printed no tps:\n${output}`);
    // Log lines: client_id transaction_no time_us script_no time_epoch time_us
    const latenciesMs: number[][] = options.scripts.map(() => []);
    for (const file of readdirSync(dir).filter((f) => f.startsWith("tx."))) {
      for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
        const [, , micros, scriptNo] = line.split(" ").map(Number);
        if (Number.isFinite(micros) && latenciesMs[scriptNo]) latenciesMs[scriptNo].push(micros / 1000);
      }
    }
    const total = latenciesMs.reduce((sum, l) => sum + l.length, 0);
    return latenciesMs.map((l) => ({
      tps: (tps * l.length) / total,
      meanMs: l.reduce((sum, v) => sum + v, 0) / l.length,
      p50Ms: percentile(l, 50),
      p99Ms: percentile(l, 99),
      transactions: l.length,
      failures: failed,
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`pgbench exited with ${code}:\n${output.slice(-2000)}`));
    });
  });
}
