// Starts graphile-worker as the owner (it reads and locks graphile_worker's
// tables, which no request role may read), with the task list and crontab
// of worker/tasks.ts. `npm start` runs it in its own process (WORKER=inline);
// `npm run worker` (bin/worker.ts) runs it alone.
import { Logger, makeWorkerUtils, run, type Runner } from "graphile-worker";
import pg from "pg";
import type { Config } from "../common/config.ts";
import { makeMailer } from "./mailer.ts";
import { CRONTAB, makeTaskList } from "./tasks.ts";

export interface Worker {
  runner: Runner;
  stop(): Promise<void>;
}

/** Logs warnings and errors only (graphile-worker reports every job at info). */
const quietLogger = (log: (message: string) => void) =>
  new Logger(() => (level, message) => {
    if (level === "error" || level === "warning") log(`[worker] ${level}: ${message}`);
  });

export async function startWorker(
  config: Config,
  ownerUrl: string,
  { log = console.log, pollInterval }: { log?: (message: string) => void; pollInterval?: number } = {},
): Promise<Worker> {
  const mailer = makeMailer(config.mail, log);
  const cleanupJobs = async () => {
    const utils = await makeWorkerUtils({ connectionString: ownerUrl, logger: quietLogger(log) });
    try {
      await utils.cleanup({ tasks: ["DELETE_PERMAFAILED_JOBS", "GC_JOB_QUEUES"] });
    } finally {
      await utils.release();
    }
  };
  // Our own pool, so that every connection has an error listener from the
  // moment it exists: a connection the database ends while it sits idle (a
  // restart, 57P01) is logged, and graphile-worker reconnects, instead of an
  // uncaught error ending the process (seen in tests/worker-restart.test.ts).
  const pgPool = new pg.Pool({ connectionString: ownerUrl, max: config.worker.concurrency + 2 });
  pgPool.on("error", (error) => log(`[worker] idle connection: ${error.message}`));
  pgPool.on("connect", (client) => client.on("error", (error) => log(`[worker] connection: ${error.message}`)));
  const runner = await run({
    pgPool,
    concurrency: config.worker.concurrency,
    noHandleSignals: true,
    pollInterval,
    logger: quietLogger(log),
    taskList: makeTaskList(config, mailer, cleanupJobs, log),
    crontab: CRONTAB,
  });
  return {
    runner,
    async stop() {
      await runner.stop();
      mailer.close();
      await pgPool.end();
    },
  };
}
