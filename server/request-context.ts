// How a request's settings reach PostgreSQL, and the check of its token's
// claims that rides along. @dataplan/pg opens each request transaction with
// one statement, PGSETTINGS_STATEMENT (set_config for every setting). Every
// connection of the API's pool replaces it:
// - set_config mode: with the same statement preceded, once and before the
//   role switch, by app_private.assert_claims_current (raises 28000 when a
//   user's session, user, tenant or role no longer hold); same round trip;
// - set_local mode (Citus forwards `SET LOCAL` to the worker nodes but not
//   values set with set_config()): with one simple query, the check and then
//   a quoted `SET LOCAL` per setting.
import type pg from "pg";
import type { Config } from "./config.ts";

/** The statement @dataplan/pg sends after `begin` (tests/set-local.test.ts fails if that changes). */
export const PGSETTINGS_STATEMENT = "select set_config(el->>0, el->>1, true) from json_array_elements($1::json) el";

/** The same, after the claims check (a materialized CTE: evaluated once, before any set_config). */
export const CHECKED_PGSETTINGS_STATEMENT =
  "with claims_check as materialized (select app_private.assert_claims_current($2, $3, $4, $5)) " +
  "select set_config(el->>0, el->>1, true) from claims_check, json_array_elements($1::json) el";

/** The check's parameters (user, tenant, role, session; null when absent) from the settings' JSON. */
export function claimsOf(settingsJson: string): (string | null)[] {
  const claims = new Map<string, string>(JSON.parse(settingsJson));
  return ["jwt.claims.user_id", "jwt.claims.tenant_id", "jwt.claims.role", "jwt.claims.session_id"].map((name) => claims.get(name) ?? null);
}

const SETTING_NAME = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$/;

/** `SET LOCAL` statements (one simple query) for [name, value] pairs. */
export function setLocalSql(settings: [string, string][], escapeLiteral: (value: string) => string): string {
  return settings
    .map(([name, value]) => {
      if (!SETTING_NAME.test(name)) throw new Error(`Refusing to SET LOCAL the setting name ${JSON.stringify(name)}.`);
      const quotedName = name
        .split(".")
        .map((part) => `"${part}"`)
        .join(".");
      return `set local ${quotedName} = ${escapeLiteral(value)}`;
    })
    .join("; ");
}

/** Makes every connection the pool opens check claims, and apply settings the configured way. */
export function useRequestContext(pool: pg.Pool, mode: Config["database"]["contextMode"]) {
  pool.on("connect", (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    client.query = ((config: unknown, ...rest: unknown[]) => {
      const c = config as { text?: unknown; values?: unknown[] } | null;
      if (c && typeof c === "object" && c.text === PGSETTINGS_STATEMENT) {
        const json = String(c.values![0]);
        const claims = claimsOf(json);
        if (mode === "set_local") {
          const args = claims.map((v) => (v === null ? "null" : client.escapeLiteral(v))).join(", ");
          const check = `select app_private.assert_claims_current(${args})`;
          return query(`${check}; ${setLocalSql(JSON.parse(json), (v) => client.escapeLiteral(v))}`);
        }
        // Named: prepared once per connection.
        return query({ name: "mts_request_context", text: CHECKED_PGSETTINGS_STATEMENT, values: [json, ...claims] });
      }
      return query(config, ...rest);
    }) as typeof client.query;
  });
}
