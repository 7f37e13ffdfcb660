// Pruning (`npm run db:prune`, bin/prune.ts): deletes sessions (and their refresh tokens) that ended
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
