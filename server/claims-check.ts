// Before every authenticated request: does the database still agree with the
// token? One indexed lookup through the only functions the authenticator
// may call in the private schema:
// - a tenant user's token: its session is live (no logout, no password
//   change, no reused refresh token) and its user still exists in that
//   tenant with that role (app_private.claims_are_current);
// - an operator's token: the operator exists and is not disabled, and the
//   tenant it names (if any) exists; a request naming a tenant is written
//   to that tenant's audit log here, before it runs
//   (app_private.operator_access).
// Anything else gets 401 at once, not when the token expires.
import type pg from "pg";
import type { PgSettings } from "./auth.ts";

/** What an operator's request is recorded as in the tenant's audit log. */
export interface RequestSummary {
  method: string;
  path: string;
  operationName?: string;
}

export function makeClaimsCheck(pool: pg.Pool) {
  return async function claimsAreCurrent(settings: PgSettings, describeRequest: () => RequestSummary): Promise<boolean> {
    const operatorId = settings["jwt.claims.operator_id"];
    if (operatorId) {
      const { rows } = await pool.query<{ current: boolean }>({
        name: "operator_access",
        text: "select app_private.operator_access($1, $2, $3) as current",
        values: [operatorId, settings["jwt.claims.tenant_id"] ?? null, JSON.stringify(describeRequest())],
      });
      return rows[0].current === true;
    }
    const userId = settings["jwt.claims.user_id"];
    if (!userId) return true; // anonymous: nothing to check
    const { rows } = await pool.query<{ current: boolean }>({
      name: "claims_are_current",
      text: "select app_private.claims_are_current($1, $2, $3, $4) as current",
      values: [userId, settings["jwt.claims.tenant_id"], settings["jwt.claims.role"], settings["jwt.claims.session_id"]],
    });
    return rows[0].current === true;
  };
}
