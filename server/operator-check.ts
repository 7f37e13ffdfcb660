// Before every request with an operator's token: does the database still
// agree with it? The operator exists and is not disabled, and the tenant the
// request names with X-Operator-Tenant (if any) exists; a request naming a
// tenant is written to that tenant's audit log here, in a statement of its
// own, so that the event stays even if the request then fails
// (app_private.operator_access, one of the functions the authenticator may
// call). Tenant users' tokens are checked inside the request's own
// transaction instead (server/request-context.ts).
import type pg from "pg";
import type { PgSettings } from "./auth.ts";

/** What an operator's request is recorded as in the tenant's audit log. */
export interface RequestSummary {
  method: string;
  path: string;
  operationName?: string;
  query?: string;
  /** The trusted document the request names (TRUSTED_DOCUMENTS). */
  documentId?: string;
}

export function makeOperatorCheck(pool: pg.Pool) {
  return async function operatorMayProceed(settings: PgSettings, describeRequest: () => RequestSummary): Promise<boolean> {
    const { rows } = await pool.query<{ current: boolean }>({
      name: "operator_access",
      text: "select app_private.operator_access($1, $2, $3) as current",
      values: [settings["jwt.claims.operator_id"], settings["jwt.claims.tenant_id"] ?? null, JSON.stringify(describeRequest())],
    });
    return rows[0].current === true;
  };
}
