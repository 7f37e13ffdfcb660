// Start-up time of `node bin/start.ts` (what `npm start` runs, without
// npm's own start-up): from spawn to its "ready in … ms" line, on a fresh
// DATA_DIR (first start: initdb, roles, migrations, demo data) and again on
// the same DATA_DIR (restart). Each start is stopped with SIGTERM.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { median } from "./stats.ts";
import { START_FLAGS } from "./child.ts";

export interface StartupResult {
  /** Wall-clock milliseconds from spawn to the "ready in" line, per run. */
  firstStartMs: number[];
  restartMs: number[];
  /** The server's own "ready in" figures. */
  firstStartReportedMs: number[];
  restartReportedMs: number[];
  medianFirstStartMs: number;
  medianRestartMs: number;
}

const ROOT = join(import.meta.dirname, "..");
const TIMEOUT_MS = 120_000;
/**
 * bin/start.ts installs its SIGTERM handler just after printing "ready in";
 * a signal that arrived in between would kill it before it stops its
 * PostgreSQL. The measurement is taken at the line; the stop waits this long.
 */
const SETTLE_MS = 250;

/** One start: resolves with [wall ms, reported ms] once ready, after the server has stopped again. */
function startOnce(dataDir: string): Promise<[number, number]> {
  // A clean environment: only what `npm start` on a fresh machine would see.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TMPDIR: process.env.TMPDIR,
    DATA_DIR: dataDir,
    PORT: "0",
    HOST: "127.0.0.1",
  };
  const started = performance.now();
  const child = spawn(process.execPath, [...START_FLAGS, "bin/start.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  return new Promise((resolve, reject) => {
    let ready: [number, number] | undefined;
    const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const match = /ready in (\d+) ms/.exec(output);
      if (match && !ready) {
        ready = [performance.now() - started, Number(match[1])];
        setTimeout(() => child.kill("SIGTERM"), SETTLE_MS);
      }
    });
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (ready) resolve(ready);
      else reject(new Error(`node bin/start.ts exited (${code ?? signal}) before "ready in":\n${output.slice(-2000)}`));
    });
  });
}

/** A PostgreSQL left behind (its server was killed) would hold the folder: stop it and wait until it is gone. */
async function stopLeftoverPostgres(dataDir: string) {
  const pidFile = join(dataDir, "postgres", "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!pid || !alive()) return;
  process.kill(pid, "SIGINT");
  for (let i = 0; i < 150 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
}

export async function measureStartup(runs: number): Promise<StartupResult> {
  const dirs: string[] = [];
  const first: [number, number][] = [];
  const restart: [number, number][] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const dir = mkdtempSync(join(tmpdir(), "mts-bench-start-"));
      dirs.push(dir);
      first.push(await startOnce(dir));
      await stopLeftoverPostgres(dir);
    }
    for (let i = 0; i < runs; i++) {
      restart.push(await startOnce(dirs[dirs.length - 1]));
      await stopLeftoverPostgres(dirs[dirs.length - 1]);
    }
  } finally {
    for (const dir of dirs) {
      await stopLeftoverPostgres(dir);
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    }
  }
  return {
    firstStartMs: first.map(([wall]) => wall),
    restartMs: restart.map(([wall]) => wall),
    firstStartReportedMs: first.map(([, reported]) => reported),
    restartReportedMs: restart.map(([, reported]) => reported),
    medianFirstStartMs: median(first.map(([wall]) => wall)),
    medianRestartMs: median(restart.map(([wall]) => wall)),
  };
}
