// How a request's settings reach PostgreSQL, the check of its token's claims
// that rides along, and how the request's transaction goes over the wire.
// @dataplan/pg opens each request transaction with `begin` and one
// statement, PGSETTINGS_STATEMENT (set_config for every setting), each
// awaited before the next. Every connection of the API's pool replaces the
// settings statement:
// - set_config mode: with the same statement preceded, once and before the
//   role switch, by app_private.assert_claims_current (raises 28000 when a
//   user's session, user, tenant or role no longer hold); same statement;
// - set_local mode (Citus forwards `SET LOCAL` to the worker nodes but not
//   values set with set_config()): with one simple query, the check and then
//   a quoted `SET LOCAL` per setting.
// On a pool made with `pipeline: true` (node-postgres pipeline mode), it
// also saves round trips: `begin` and the settings statement are answered at
// once and sent in one write with the request's first real statement, whose
// result then carries their first error; and a read-only transaction's
// `commit` (GraphQL queries run with transaction_read_only = on, see
// readOnlyFor) is answered at once and sent with the connection's next
// write, at the latest on the next turn of the event loop. A list request
// costs 2 round trips instead of 4, and under load 1 write
// (docs/performance.md, "Where the API's time goes").
import type { DocumentNode } from "graphql";
import type pg from "pg";
import type { Config } from "../common/config.ts";
import { operationOf, perOperation } from "./operation.ts";

/** The statement @dataplan/pg sends after `begin` (tests/request-context.test.ts fails if that changes). */
export const PGSETTINGS_STATEMENT = "select set_config(el->>0, el->>1, true) from json_array_elements($1::json) el";

/** The same, after the claims check (a materialized CTE: evaluated once, before any set_config). */
export const CHECKED_PGSETTINGS_STATEMENT =
  "with claims_check as materialized (select app_private.assert_claims_current($2, $3, $4, $5)) " +
  "select set_config(el->>0, el->>1, true) from claims_check, json_array_elements($1::json) el";

/** The check's parameters (user, tenant, role, session; null when absent) from the settings. */
function claimsOf(settings: [string, string][]): (string | null)[] {
  const claims = new Map<string, string>(settings);
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

/** The setting that makes a transaction read-only (PostgreSQL enforces it). */
export const READ_ONLY_SETTING = "transaction_read_only";

const operationTypeOf = perOperation((document, operationName) => operationOf(document, operationName)?.operation);

/**
 * The settings for a GraphQL request: a query's (or an unknown operation's)
 * run read-only, so PostgreSQL refuses any write it attempts; mutations run
 * as they are.
 */
export function readOnlyFor<S extends Record<string, string>>(
  settings: S,
  args: { document?: DocumentNode; operationName?: string | null },
): S {
  const { document, operationName } = args;
  if (!document) return settings;
  return operationTypeOf(document, operationName) === "mutation" ? settings : { ...settings, [READ_ONLY_SETTING]: "on" };
}

/** What a statement that is held back answers at once: nothing (@dataplan/pg ignores these results). */
const HELD_RESULT = Object.freeze({ command: "", rowCount: 0, rows: Object.freeze([]), fields: Object.freeze([]) });

type QueryConfig = string | { text?: unknown; name?: string; values?: unknown[] };

/** A read-only transaction's commit, when it is held. */
const COMMIT = Object.freeze({ text: "commit" });

/** Makes every connection the pool opens check claims, apply settings the configured way, and (pipeline mode) save round trips. */
export function useRequestContext(pool: pg.Pool, mode: Config["database"]["contextMode"]) {
  pool.on("connect", (client) => {
    const send = client.query.bind(client) as (config: QueryConfig, ...rest: unknown[]) => Promise<unknown>;
    const pipelined = (client as unknown as { pipeline?: boolean }).pipeline === true;
    const stream = (client as unknown as { connection: { stream: { cork(): void; uncork(): void } } }).connection.stream;

    /** The statement the settings statement becomes (checked), and whether it makes the transaction read-only. */
    const contextStatement = (values: unknown[]): { statement: QueryConfig; readOnly: boolean } => {
      const json = String(values[0]);
      const settings: [string, string][] = JSON.parse(json);
      const readOnly = settings.some(([name, value]) => name === READ_ONLY_SETTING && value === "on");
      const claims = claimsOf(settings);
      if (mode === "set_local") {
        const args = claims.map((v) => (v === null ? "null" : client.escapeLiteral(v))).join(", ");
        const check = `select app_private.assert_claims_current(${args})`;
        return { statement: `${check}; ${setLocalSql(settings, (v) => client.escapeLiteral(v))}`, readOnly };
      }
      // Named: prepared once per connection.
      return { statement: { name: "mts_request_context", text: CHECKED_PGSETTINGS_STATEMENT, values: [json, ...claims] }, readOnly };
    };

    /** Statements answered but not yet sent, in order. */
    let held: QueryConfig[] = [];
    /** Whether the open transaction was made read-only by its settings. */
    let readOnly = false;
    let flushScheduled = false;

    /** Sends the held statements and then `config` in one write; `config`'s result carries the first error among them. */
    const sendAfterHeld = (config: QueryConfig): Promise<unknown> => {
      const ahead = held;
      held = [];
      let before: Promise<unknown>[];
      let result: Promise<unknown>;
      stream.cork();
      try {
        before = ahead.map((statement) => send(statement));
        result = send(config);
      } finally {
        stream.uncork();
      }
      return Promise.allSettled(before).then((settled) => {
        const failed = settled.find((s) => s.status === "rejected");
        if (!failed) return result;
        result.catch(() => {});
        throw failed.reason;
      });
    };
    /** Sends the first `count` held statements in one write; their errors are the connection's (the pool reports them, and the next statement gets them). */
    const sendHeld = (count: number) => {
      const ahead = held.slice(0, count);
      held = held.slice(count);
      stream.cork();
      try {
        for (const statement of ahead) send(statement).catch(() => {});
      } finally {
        stream.uncork();
      }
    };
    /**
     * A held commit goes out on the next turn of the event loop if nothing
     * else went first. A new transaction's begin and settings behind it stay
     * held for that transaction's first statement, which reports their errors.
     */
    const flushSoon = () => {
      if (flushScheduled) return;
      flushScheduled = true;
      setImmediate(() => {
        flushScheduled = false;
        sendHeld(held.lastIndexOf(COMMIT) + 1);
      });
    };

    client.query = ((config: QueryConfig, ...rest: unknown[]) => {
      const c = typeof config === "object" && config !== null ? config : null;
      const isSettings = c?.text === PGSETTINGS_STATEMENT;
      if (!pipelined || rest.length > 0) {
        // (Callback style, which @dataplan/pg does not use: after anything held, without error attribution.)
        sendHeld(held.length);
        return send(isSettings ? contextStatement(c.values!).statement : config, ...rest);
      }
      if (c?.text === "begin") {
        held.push(config);
        readOnly = false;
        return Promise.resolve(HELD_RESULT);
      }
      if (isSettings) {
        const context = contextStatement(c.values!);
        readOnly = context.readOnly;
        if (held.length === 0) return send(context.statement);
        held.push(context.statement);
        return Promise.resolve(HELD_RESULT);
      }
      if (c?.text === "commit" && readOnly) {
        readOnly = false;
        held.push(COMMIT);
        flushSoon();
        return Promise.resolve(HELD_RESULT);
      }
      if (c?.text === "commit" || c?.text === "rollback") readOnly = false;
      return held.length === 0 ? send(config) : sendAfterHeld(config);
    }) as typeof client.query;
  });
}
