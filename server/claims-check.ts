// Before every authenticated request: does the database still agree with the
// token? (The user exists, in that tenant, with that role.) One indexed
// lookup through app_private.claims_are_current, the only thing the
// authenticator may call in the private schema. A removed user, a changed
// role, or a tenant_id the user does not belong to gets 401 at once, not
// when the token expires.
import type pg from "pg";
import type { PgSettings } from "./auth.ts";

export function makeClaimsCheck(pool: pg.Pool) {
  return async function claimsAreCurrent(settings: PgSettings): Promise<boolean> {
    const userId = settings["jwt.claims.user_id"];
    if (!userId) return true; // anonymous: nothing to check
    const { rows } = await pool.query<{ current: boolean }>({
      name: "claims_are_current",
      text: "select app_private.claims_are_current($1, $2, $3) as current",
      values: [userId, settings["jwt.claims.tenant_id"], settings["jwt.claims.role"]],
    });
    return rows[0].current === true;
  };
}
