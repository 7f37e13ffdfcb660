// The worker survives a database restart: a PostgreSQL of this file's own
// (embedded, on a fixed port) is stopped and started again while the worker
// runs, with jobs queued before, due during and queued after the outage, and
// one recipient whose first delivery the SMTP server refuses (451). Every
// email arrives exactly once, and the queue ends empty.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../common/config.ts";
import { ROLES } from "../common/roles.ts";
import { freePort, startEmbedded, type EmbeddedServer } from "../db/embedded.ts";
import { runCurrentMigration, runMigrations, settled } from "../db/migrate.ts";
import { ensureDatabase, ensureRoles, withClient, withDatabase } from "../db/setup.ts";
import { startWorker } from "../worker/runner.ts";
import { onCleanup } from "./helpers/cleanup.ts";
import { startSmtpSink } from "./helpers/smtp.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the worker and a database restart", () => {
  it("retries, loses no job and sends none twice", { timeout: 120_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "mts-worker-"));
    onCleanup(() => rmSync(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const superuserPassword = randomBytes(16).toString("hex");
    let embedded: EmbeddedServer = await startEmbedded({ dataDir, superuserPassword, port, log: () => {} });
    onCleanup(() => embedded.stop());
    const passwords = { owner: randomBytes(16).toString("hex"), authenticator: randomBytes(16).toString("hex") };
    await ensureRoles(embedded.superuserUrl, passwords);
    await ensureDatabase(embedded.superuserUrl, "mts_worker");
    const ownerUrl = withDatabase(embedded.superuserUrl, "mts_worker", { user: ROLES.owner, password: passwords.owner });
    await runMigrations(ownerUrl);
    await runCurrentMigration(ownerUrl);
    await settled();

    const smtp = await startSmtpSink();
    let refusals = 0;
    smtp.reject = (to) => to === "flaky@example.test" && refusals++ === 0;
    const config = loadConfig({
      NODE_ENV: "test",
      JWT_SECRET: randomBytes(32).toString("hex"),
      DATABASE_URL: ownerUrl,
      AUTH_DATABASE_URL: ownerUrl,
      SMTP_URL: smtp.url,
      PUBLIC_URL: "https://app.example.test",
    });
    const workerLog: string[] = [];
    const worker = await startWorker(config, ownerUrl, { pollInterval: 200, log: (m) => workerLog.push(m) });
    onCleanup(() => worker.stop());

    const queue = (recipients: string[], delay = "0 seconds") =>
      withClient(ownerUrl, async (c) => {
        for (const to of recipients) {
          await c.query(
            "select graphile_worker.add_job('send_email', json_build_object('template', 'invitation', 'to', $1::text, 'token', $2::text), run_at => now() + $3::interval, max_attempts => 10)",
            [to, randomBytes(8).toString("hex"), delay],
          );
        }
      });
    const batch = (name: string) => Array.from({ length: 5 }, (_, i) => `${name}-${i}@example.test`);

    // Before: five emails and the flaky one (refused once, then retried).
    await queue([...batch("before"), "flaky@example.test"]);
    await smtp.waitFor((r) => batch("before").every((to) => r.some((m) => m.to === to)) && smtp.refused.length === 1);

    // Due during the outage: queued now, to run in 3 s; the database goes away for ~2 s.
    await queue(batch("during"), "3 seconds");
    const stopAt = Date.now();
    await embedded.stop();
    const stoppedAt = Date.now();
    await sleep(2_000);
    embedded = await startEmbedded({ dataDir, superuserPassword, port, log: () => {} });
    const backAt = Date.now();

    // After: queued once the database is back (the worker's pool and listener reconnect by themselves).
    await queue(batch("after"));
    const everyone = [...batch("before"), "flaky@example.test", ...batch("during"), ...batch("after")];
    await smtp.waitFor((r) => everyone.every((to) => r.some((m) => m.to === to)), 60_000);
    // Give a duplicate the time to show up, then count.
    await sleep(1_000);
    const left = await withClient(ownerUrl, async (c) => Number((await c.query("select count(*) as n from graphile_worker.jobs")).rows[0].n));
    const perRecipient = Object.fromEntries(everyone.map((to) => [to, smtp.to(to).length]));
    console.log(
      `worker restart: ${smtp.received.length} emails received for ${everyone.length} jobs, ${smtp.refused.length} refused (flaky, retried); ` +
        `database stop took ${stoppedAt - stopAt} ms, down ${backAt - stoppedAt} ms; last email ${Date.now() - backAt - 1_000} ms after it was back; ` +
        `jobs left: ${left}; worker warnings/errors logged: ${workerLog.length}: ${JSON.stringify(workerLog.map((m) => m.slice(0, 80)))}`,
    );
    expect(perRecipient).toEqual(Object.fromEntries(everyone.map((to) => [to, 1])));
    expect(smtp.received).toHaveLength(everyone.length);
    expect(smtp.refused).toEqual(["flaky@example.test"]);
    expect(left).toBe(0);
    // The connections the restart ended reached the worker's own error listeners (worker/runner.ts), not the process as an uncaught error.
    expect(workerLog.some((m) => /^\[worker\] (idle )?connection: terminating connection/.test(m)), JSON.stringify(workerLog)).toBe(true);
  });
});
