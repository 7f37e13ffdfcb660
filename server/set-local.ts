// DB_CONTEXT_MODE=set_local, for Citus: Citus forwards `SET LOCAL` to the
// worker nodes but not values set with set_config(), which is how
// PostGraphile applies a request's settings. In this mode each pooled
// connection replaces that one statement with `SET LOCAL` statements, in the
// same transaction, with every name and value quoted.
import type pg from "pg";

/** The statement @dataplan/pg sends after `begin` (tests/set-local.test.ts fails if that changes). */
export const PGSETTINGS_STATEMENT = "select set_config(el->>0, el->>1, true) from json_array_elements($1::json) el";

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

/** Makes every connection the pool opens apply request settings with SET LOCAL. */
export function useSetLocal(pool: pg.Pool) {
  pool.on("connect", (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    client.query = ((config: unknown, ...rest: unknown[]) => {
      const c = config as { text?: unknown; values?: unknown[] } | null;
      if (c && typeof c === "object" && c.text === PGSETTINGS_STATEMENT) {
        return query(setLocalSql(JSON.parse(String(c.values![0])), (v) => client.escapeLiteral(v)));
      }
      return query(config, ...rest);
    }) as typeof client.query;
  });
}
