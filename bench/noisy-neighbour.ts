// `npm run bench:noisy`: can one hostile tenant degrade another? The API
// runs as deployed (NODE_ENV=production, `npm start`'s V8 flags) in a child
// process on 127.0.0.1; a victim tenant's steady load (2 sequential clients:
// its 20 newest tasks, a small write every 10th request) is measured alone,
// then under each attack of tests/helpers/attacks.ts (each attack in a
// process of its own), then alone again. Prints a Markdown table and writes
// it to bench/noisy-neighbour.md (or BENCH_OUT_DIR/noisy-neighbour.md).
//
// Flags or environment: --seconds=N / NOISY_SECONDS (per phase, default 8),
// --attacks=a,b / NOISY_ATTACKS (default all), NOISY_SETTLE_SECONDS (3),
// NOISY_RECOVERY_SECONDS (5), NOISY_P99_FLOOR_MS (20), NOISY_VICTIM_ROWS
// (300), NOISY_ATTACKER_TASKS (2000), NOISY_ATTACKER_COMMENTS (1000, of
// 10,000 characters each), BENCH_DATABASE_URL (see bench/README.md). Server
// settings (DB_POOL_SIZE, STATEMENT_TIMEOUT, TENANT_*, EXPORT_*, MAX_*,
// RATE_LIMIT_*, …) are passed on to the server; EXPORT_STALL_TIMEOUT
// defaults to 2000 ms here so that the server can act within a phase.
// Default run: about 2 minutes. Misses are findings, printed as FAIL; the
// run itself fails only when something is broken.
//
// This file is also the server's entry (NOISY_BENCH_SERVER=1): it adds a
// SIGUSR2 handler that forces a GC and writes the heap figures to a file,
// then starts bench/graphql-server.ts.
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";

if (process.env.NOISY_BENCH_SERVER === "1") {
  const { setFlagsFromString } = await import("node:v8");
  const { runInNewContext } = await import("node:vm");
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const file = process.env.NOISY_MEMORY_FILE!;
  process.on("SIGUSR2", () => {
    gc();
    const m = process.memoryUsage();
    writeFileSync(`${file}.tmp`, JSON.stringify({ at: Date.now(), rss: m.rss, heapUsed: m.heapUsed }));
    renameSync(`${file}.tmp`, file);
  });
  await import("./graphql-server.ts");
} else {
  await main();
}

async function main() {
  const { randomBytes } = await import("node:crypto");
  const { mkdirSync } = await import("node:fs");
  const { cpus, tmpdir } = await import("node:os");
  const { join, resolve } = await import("node:path");
  const { withClient } = await import("../db/setup.ts");
  const { ROLES } = await import("../common/roles.ts");
  const { startServer } = await import("./child.ts");
  const { openCluster } = await import("./cluster.ts");
  const { loadDataset } = await import("./dataset.ts");
  const { signToken } = await import("./tokens.ts");
  const attacks = await import("../tests/helpers/attacks.ts");

  const arg = (name: string) => process.argv.slice(2).find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const num = (raw: string | undefined, name: string, fallback: number) => {
    if (raw === undefined || raw === "") return fallback;
    const n = Number(raw);
    if (!(n > 0)) throw new Error(`${name} must be a positive number, got "${raw}"`);
    return n;
  };
  const seconds = num(arg("seconds") ?? process.env.NOISY_SECONDS, "NOISY_SECONDS", 8);
  const attackList = (arg("attacks") ?? process.env.NOISY_ATTACKS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const chosen = (attackList.length ? attackList : attacks.ATTACK_NAMES) as (typeof attacks.ATTACK_NAMES)[number][];
  for (const a of chosen) if (!attacks.ATTACK_NAMES.includes(a)) throw new Error(`unknown attack "${a}" (known: ${attacks.ATTACK_NAMES.join(", ")})`);
  const settleMs = num(process.env.NOISY_SETTLE_SECONDS, "NOISY_SETTLE_SECONDS", 3) * 1000;
  const recoveryMs = num(process.env.NOISY_RECOVERY_SECONDS, "NOISY_RECOVERY_SECONDS", 5) * 1000;
  const p99FloorMs = num(process.env.NOISY_P99_FLOOR_MS, "NOISY_P99_FLOOR_MS", 20);
  const victimRows = Math.round(num(process.env.NOISY_VICTIM_ROWS, "NOISY_VICTIM_ROWS", 300));
  const attackerTasks = Math.round(num(process.env.NOISY_ATTACKER_TASKS, "NOISY_ATTACKER_TASKS", 2000));
  const attackerComments = Math.round(num(process.env.NOISY_ATTACKER_COMMENTS, "NOISY_ATTACKER_COMMENTS", 1000));
  const outDir = resolve(process.env.BENCH_OUT_DIR || import.meta.dirname);

  const serverSettings: Record<string, string> = { EXPORT_STALL_TIMEOUT: "2000" };
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && /^(DB_POOL_SIZE|STATEMENT_TIMEOUT|IDLE_IN_TRANSACTION_TIMEOUT|TENANT_|EXPORT_|MAX_|DEFAULT_PAGE_SIZE|RATE_LIMIT_|TRUSTED_DOCUMENTS)/.test(k)) serverSettings[k] = v;
  }

  const t0 = Date.now();
  const cluster = await openCluster(process.env.BENCH_DATABASE_URL, "mts_bench_noisy");
  const memoryFile = join(tmpdir(), `mts-noisy-${process.pid}-${randomBytes(4).toString("hex")}.json`);
  try {
    const db = await cluster.prepare("mts_bench_noisy");
    // bench-1 is the victim, bench-2 the attacker (dataset.ts: 5 users, 5 projects each; every user a live session).
    const loaded = await loadDataset(db.superuserUrl, { name: "noisy", database: db.name, tenants: 2, rows: 2 * victimRows }, 2);
    const { rows: admins } = await withClient(db.superuserUrl, (c) =>
      c.query<{ slug: string; tenant_id: string; user_id: string; session_id: string; project_id: string }>(
        `select t.slug, t.id as tenant_id, u.id as user_id, s.id as session_id,
                (select p.id from app_public.projects p where p.tenant_id = t.id order by p.id limit 1) as project_id
           from app_public.tenants t
           join app_public.users u on u.tenant_id = t.id and u.role = 'admin'
           join app_private.sessions s on s.tenant_id = u.tenant_id and s.user_id = u.id and s.revoked_at is null
          where t.slug in ('bench-1', 'bench-2') order by t.slug`,
      ),
    );
    const [victim, attacker] = admins;
    if (!victim || !attacker) throw new Error("the data set has no admins for bench-1 and bench-2");
    const t1 = Date.now();
    await withClient(db.superuserUrl, async (c) => {
      const statements = attacks.wideRowsStatements({
        tenantId: attacker.tenant_id,
        authorId: attacker.user_id,
        projects: 0,
        tasks: Math.max(0, attackerTasks - victimRows),
        comments: attackerComments,
      });
      for (const s of statements) await c.query(s);
    });
    const wideSeconds = (Date.now() - t1) / 1000;

    const jwtConfig = { secret: randomBytes(32).toString("hex"), audience: "multi-tenant-saas", issuer: "multi-tenant-saas", expiresInSeconds: 900 };
    const token = (a: typeof victim) => signToken({ tenantId: a.tenant_id, userId: a.user_id, sessionId: a.session_id }, jwtConfig, "admin");
    const start = () =>
      startServer("graphql-noisy", import.meta.filename, {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: "production",
        JWT_SECRET: jwtConfig.secret,
        DATABASE_URL: db.ownerUrl,
        AUTH_DATABASE_URL: db.authUrl,
        ...serverSettings,
        NOISY_BENCH_SERVER: "1",
        NOISY_MEMORY_FILE: memoryFile,
      });
    let server = await start();
    let restarts = 0;
    try {
      const rssMb = () => {
        try {
          const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"));
          return kb ? Number(kb[1]) / 1024 : NaN;
        } catch {
          return NaN; // the server is gone
        }
      };
      const probe = {
        async memory() {
          const asked = Date.now();
          try {
            process.kill(server.pid, "SIGUSR2");
          } catch {
            return { rssMb: NaN };
          }
          for (let i = 0; i < 30; i++) {
            await new Promise((r) => setTimeout(r, 100));
            try {
              const m = JSON.parse(readFileSync(memoryFile, "utf8"));
              if (m.at >= asked) return { rssMb: m.rss / 2 ** 20, heapAfterGcMb: m.heapUsed / 2 ** 20 };
            } catch {
              /* not written yet */
            }
          }
          return { rssMb: rssMb() };
        },
        idleInTransaction: () =>
          withClient(db.superuserUrl, async (c) => {
            const { rows: [r] } = await c.query<{ n: number }>(
              `select count(*)::int as n from pg_stat_activity
                where datname = $1 and usename = $2 and state in ('idle in transaction', 'idle in transaction (aborted)')`,
              [db.name, ROLES.authenticator],
            );
            return r.n;
          }),
      };
      const options = {
        url: server.url,
        victim: { url: server.url, token: token(victim), projectId: victim.project_id },
        attacker: {
          url: server.url,
          token: token(attacker),
          tenantSlug: attacker.slug,
          projectId: attacker.project_id,
          // A stalled export must be cut off within the stall timeout; the client looks after 2 s more (at least 4 s).
          exportHoldMs: Math.max(4000, Number(serverSettings.EXPORT_STALL_TIMEOUT) + 2000 || 4000),
        },
        attacks: chosen,
        phaseMs: seconds * 1000,
        settleMs,
        recoveryMs,
        p99FloorMs,
        aloneAfter: true,
        attackerProcess: true,
        // An attack that kills the server is a finding; the next attacks still get a server to measure.
        async restart() {
          await server.stop();
          server = await start();
          restarts++;
          return server.url;
        },
        probe,
        log: (line: string) => console.error(line),
      };
      const startupMb = await server.peakRssMb();
      const run = await attacks.runNoisyNeighbour(options);
      const { results } = run;
      const alive = () => {
        try {
          process.kill(server.pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      // (Asking a dead child would throw from an event, not from the call.)
      const peakMb = alive() ? await server.peakRssMb().catch(() => NaN) : NaN;
      const failing = [...results.filter((r) => !r.phase.startsWith("alone") && r.failures.length).map((r) => r.phase), ...run.notRun];
      const cpu = cpus();
      const flags = [
        process.argv.slice(2).join(" "),
        ...["NOISY_SECONDS", "NOISY_ATTACKS"].filter((k) => process.env[k]).map((k) => `${k}=${process.env[k]}`),
      ].filter(Boolean);
      const report = [
        "# Noisy-neighbour benchmark",
        "",
        "Written by `bench/noisy-neighbour.ts` (`npm run bench:noisy`); do not edit by hand.",
        "",
        `- Date: ${new Date().toISOString()}`,
        `- Command: \`npm run bench:noisy${flags.length ? ` -- ${flags.join(" ")}` : ""}\``,
        `- Machine: ${cpu.length} × ${cpu[0]?.model ?? "?"}, Node ${process.version}; ${cluster.kind} PostgreSQL; everything (server, database, victim, attacker) on the same cores`,
        `- Data (loaded in ${loaded.seconds.toFixed(1)} s + ${wideSeconds.toFixed(1)} s): victim bench-1 with ${victimRows} tasks; attacker bench-2 with ${Math.max(victimRows, attackerTasks)} tasks over 5 projects (descriptions of 10,000 characters) and ${attackerComments} comments of 10,000 characters; both admins`,
        `- Server: \`bench/graphql-server.ts\` (NODE_ENV=production, V8 flags of \`npm start\`), settings ${JSON.stringify(serverSettings)}; peak RSS ${startupMb.toFixed(0)} MB after start-up, ${Number.isNaN(peakMb) ? "– (the server is gone)" : `${peakMb.toFixed(0)} MB`} at the end${restarts ? ` (of the last of ${restarts + 1} server processes: it was restarted ${restarts} time(s) after it went down)` : ""}`,
        `- Victim: 2 sequential clients, its 20 newest tasks, every 10th request a createTask, 10 ms between requests. Attacks: ${chosen.join(", ")}; ${seconds} s each; 4 attacker clients (flood: 32), each attack in its own process`,
        "",
        attacks.markdownReport(run, options),
        "",
        failing.length
          ? `Attacks that degrade the victim (or the server) beyond the limits, or were not run because the server was down: ${failing.join(", ")}.`
          : "No attack degraded the victim beyond the limits.",
        "",
        `Run time: ${((Date.now() - t0) / 1000).toFixed(0)} s.`,
        "",
      ].join("\n");
      console.log(report);
      mkdirSync(outDir, { recursive: true });
      writeFileSync(join(outDir, "noisy-neighbour.md"), report);
      console.error(`written: ${join(outDir, "noisy-neighbour.md")}`);
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(memoryFile, { force: true });
    await cluster.stop();
  }
}
