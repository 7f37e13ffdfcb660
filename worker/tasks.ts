// The worker's tasks and its crontab. Jobs are queued in SQL, in the
// transaction that makes what they act on (app_private.queue_email,
// app_public.forgot_password); the worker runs them as the owner.
// - send_email: renders and delivers one email (worker/emails.ts, worker/mailer.ts);
//   a failure is retried by graphile-worker (up to 10 attempts, backing off).
// - forgot_password: app_private.send_password_reset, which issues the token
//   and queues its send_email in one transaction, when the account exists.
// - maintenance (crontab, daily at 03:00 UTC): ended sessions
//   (app_private.prune_sessions), used or expired account tokens, long-ended
//   invitations and, with AUDIT_RETENTION, old audit events
//   (app_private.prune_account_data); then jobs that failed for good (their
//   errors were logged on each attempt; they may hold tokens, long expired).
import type { Task, TaskList } from "graphile-worker";
import type { Config } from "../common/config.ts";
import { renderEmail } from "./emails.ts";
import type { Mailer } from "./mailer.ts";

/** graphile-worker's crontab: minute hour day month weekday task. */
export const CRONTAB = "0 3 * * * maintenance";

/** Deletes jobs that exhausted their attempts (graphile-worker's cleanup). */
export type JobQueueCleanup = () => Promise<void>;

export function makeTaskList(config: Config, mailer: Mailer, cleanupJobs: JobQueueCleanup, log: (message: string) => void = console.log): TaskList {
  const sendEmail: Task = async (payload) => {
    await mailer.send(renderEmail(payload, config.mail.publicUrl));
  };
  const forgotPassword: Task = async (payload, helpers) => {
    const { tenant_slug, email } = (payload ?? {}) as { tenant_slug?: unknown; email?: unknown };
    if (typeof tenant_slug !== "string" || typeof email !== "string") throw new Error("forgot_password: the payload lacks tenant_slug or email");
    await helpers.withPgClient((client) => client.query("select app_private.send_password_reset($1, $2)", [tenant_slug, email]));
  };
  const maintenance: Task = async (_payload, helpers) => {
    const { rows: [r] } = await helpers.withPgClient((client) =>
      client.query<{ sessions: string; data: Record<string, number> }>(
        "select app_private.prune_sessions('1 day') as sessions, app_private.prune_account_data('1 day', '30 days', $1::interval) as data",
        [config.worker.auditRetention ?? null],
      ),
    );
    await cleanupJobs();
    log(`[worker] maintenance: pruned ${r.sessions} sessions, ${r.data.account_tokens} account tokens, ${r.data.invitations} invitations, ${r.data.audit_events} audit events (audit retention: ${config.worker.auditRetention ?? "forever"})`);
  };
  return { send_email: sendEmail, forgot_password: forgotPassword, maintenance };
}
