// `npm run worker`: the job queue's worker alone (emails, forgot_password,
// the daily maintenance), for when the API runs with WORKER=off or on
// several machines. Connects to an existing database (DATABASE_URL, the
// owner, or ROOT_DATABASE_URL); the embedded database belongs to `npm start`,
// which runs the worker itself. Stops on SIGTERM/SIGINT after the jobs in hand.
import { ConfigError, loadConfig } from "../common/config.ts";
import { connectDatabase } from "../db/database.ts";
import { runJobQueueMigrations } from "../db/migrate.ts";
import { startWorker } from "../worker/runner.ts";

async function main() {
  const config = loadConfig(process.env, { worker: "alone" });
  if (config.database.mode === "embedded") {
    throw new ConfigError([
      "npm run worker needs DATABASE_URL (the owner's connection) or ROOT_DATABASE_URL; with the embedded database, npm start runs the worker in its own process (WORKER=inline)",
    ]);
  }
  const db = await connectDatabase(config);
  await runJobQueueMigrations(db.ownerUrl);
  const worker = await startWorker(config, db.ownerUrl);
  console.log(`worker running (concurrency ${config.worker.concurrency}${config.mail.smtpUrl ? "" : `; no SMTP_URL: emails go to ${config.mail.outboxDir}`})`);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: finishing the jobs in hand, then stopping`);
    try {
      await worker.stop();
    } finally {
      await db.stop();
    }
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((error) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
