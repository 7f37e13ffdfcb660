// A request's transaction: the one way the API runs SQL for a request.
//
// withRequestTransaction(pool, mode, settings, options, fn) checks out a
// pooled connection, opens the transaction, checks the token's claims,
// applies the settings, runs `fn`, commits (or rolls back) and gives the
// connection back exactly once. PostGraphile reaches it through its
// documented seam, the pg service's adaptor (`pgServices[].adaptor`, whose
// createWithPgClient returns the `withPgClient(pgSettings, callback)` that
// @dataplan/pg runs all its SQL through): makeRequestPgService. GET /export
// (server/export.ts) calls it directly.
//
// The opening, in both modes:
// - `begin` (`begin read only` when the settings say transaction_read_only
//   = on: GraphQL queries, readOnlyFor; the export's isolation level when given);
// - set_local mode only (Citus forwards `SET LOCAL` to the worker nodes, and
//   replays the whole simple query that carried one on each of them): the
//   settings other than `role`, as one simple query of `SET LOCAL`s and
//   nothing else (setLocalSql: names validated, values quoted);
// - CHECKED_SETTINGS_STATEMENT: app_private.assert_claims_current (raises
//   28000 when a user's session, user, tenant or role no longer hold) and
//   then, in the same statement, set_config(…, true) for the settings: all of
//   them in set_config mode, only `role` in set_local mode (`SET LOCAL role`
//   would be forwarded too, and the owner's SECURITY DEFINER functions would
//   then open worker connections that try to become the request role).
//
// Fails closed by construction: this module exports no other way to a
// request connection; the opening is built from the very settings that are
// applied (the check's parameters are read from them); `fn` runs only after
// the opening was sent, on the same connection, inside the same transaction
// (so an opening that fails aborts the transaction and every statement `fn`
// sends after it fails too); and nothing `fn` asks for is answered, nor
// committed, before the opening succeeded (its error, 28000, is what the
// caller gets).
//
// Round trips: on a pool made with `pipeline: true` (node-postgres
// pipeline mode, as server/app.ts makes it), the opening and what `fn` sends
// before it first waits go out in one write and are answered together: one
// round trip for `begin`, check, settings and the query. A read-only
// transaction's result is handed back at once; the connection goes back to
// the pool with its `commit` written behind the last statement but held in
// the socket until the connection's next write (the next request's opening,
// when the pool hands the connection on at once) or the next turn of the
// event loop: a list request costs one round trip and, under load, one
// write. Measured (bench:ab, noisy 2 cores): without pipeline mode the API
// spent 10 to 20 % more CPU per request, and releasing only after the
// commit's answer about 8 % more. A writing transaction answers only after its commit. On a pool
// without pipeline mode the opening is sent one statement after another,
// `fn` starts once it succeeded, and the connection goes back once the
// commit is answered.
import type { DocumentNode } from "graphql";
import type pg from "pg";
import type { PgClientQuery, PgClientResult, WithPgClient } from "postgraphile/@dataplan/pg";
import { createWithPgClient as createDefaultWithPgClient, makePgService, type NodePostgresPgClient } from "postgraphile/adaptors/pg";
import type { Config } from "../common/config.ts";
import { operationOf, perOperation } from "./operation.ts";

type ContextMode = Config["database"]["contextMode"];

/**
 * The check and the settings, in one statement (named, so prepared once per
 * connection): the materialized CTE runs the check once, before any
 * set_config. $1: the [name, value] pairs to set_config, as JSON; $2–$5:
 * user, tenant, role, session (null when absent).
 */
export const CHECKED_SETTINGS_STATEMENT =
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

/** The setting that makes a request's transaction read-only (`begin read only`; PostgreSQL refuses writes with 25006). */
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

export interface RequestTransactionOptions {
  /** `begin isolation level …` (the export's snapshot). */
  isolation?: "repeatable read";
  /** `begin … read only`, whatever the settings say (the export). */
  readOnly?: boolean;
}

type Statement = string | { name?: string; text: string; values?: unknown[] };

/**
 * The statements that open a request's transaction, in order (see the top
 * of this file), and whether it is read-only. Every path to a request
 * connection sends exactly these first.
 */
export function openingStatements(
  mode: ContextMode,
  pgSettings: Record<string, string | undefined> | null,
  options: RequestTransactionOptions,
  escapeLiteral: (value: string) => string,
): { statements: Statement[]; readOnly: boolean } {
  const settings: [string, string][] = [];
  let readOnly = options.readOnly === true;
  for (const [name, value] of Object.entries(pgSettings ?? {})) {
    if (value == null) continue;
    if (name === READ_ONLY_SETTING) readOnly ||= value === "on";
    else settings.push([name, String(value)]);
  }
  const begin = ["begin", options.isolation && `isolation level ${options.isolation}`, readOnly && "read only"].filter(Boolean).join(" ");
  const claims = claimsOf(settings);
  const check = (configured: [string, string][]): Statement => ({
    name: "mts_request_context",
    text: CHECKED_SETTINGS_STATEMENT,
    values: [JSON.stringify(configured), ...claims],
  });
  if (mode === "set_config") return { statements: [begin, check(settings)], readOnly };
  const role = settings.filter(([name]) => name === "role");
  const local = settings.filter(([name]) => name !== "role");
  return { statements: [begin, ...(local.length ? [setLocalSql(local, escapeLiteral)] : []), check(role)], readOnly };
}

/** How long a rollback may take before the connection is destroyed instead. */
export const ROLLBACK_GRACE_MS = 2000;

/** Undefined once `promise` resolves; its error if it rejects, or an error if it has not settled within `ms`. */
function settleWithin(promise: Promise<unknown>, ms: number): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(new Error(`no answer within ${ms} ms`)), ms);
    promise
      .then(
        () => resolve(undefined),
        (error: Error) => resolve(error),
      )
      .finally(() => clearTimeout(timer));
  });
}

/** Closes a connection's socket at once (PostgreSQL ends the backend when its statement is over, at the latest at statement_timeout). */
function closeSocket(client: pg.PoolClient) {
  (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
}

/** Connections already given @dataplan/pg's session setting. */
const prepared = new WeakSet<pg.PoolClient>();
const noop = () => {};

/**
 * Runs `fn` on a pooled connection inside the request's transaction (see the
 * top of this file). The connection is given back exactly once: after the
 * commit (a read-only one in pipeline mode: once the commit is written,
 * ahead of anything sent after it); or after a rollback, which when it fails or does not finish within
 * ROLLBACK_GRACE_MS (a statement stuck) releases it with that error, so that
 * the pool destroys it, and closes its socket at once (in pipeline mode a
 * client ends only once the statements on its wire are answered, and the
 * pool gives the freed place to a waiting request only then).
 */
export async function withRequestTransaction<T>(
  pool: pg.Pool,
  mode: ContextMode,
  pgSettings: Record<string, string | undefined> | null,
  options: RequestTransactionOptions,
  fn: (client: RequestClient) => Promise<T>,
): Promise<T> {
  const raw = await pool.connect();
  const pipelined = (raw as unknown as { pipeline?: boolean }).pipeline === true;
  // Pipeline mode: the opening and what fn sends before it first waits leave in one write.
  const stream = (raw as unknown as { connection: { stream: { cork(): void; uncork(): void } } }).connection.stream;
  let corked = pipelined;
  if (corked) stream.cork();
  const uncork = () => {
    if (!corked) return;
    corked = false;
    stream.uncork();
  };
  let opening: Promise<unknown>;
  let readOnly: boolean;
  try {
    const open = openingStatements(mode, pgSettings, options, (v) => raw.escapeLiteral(v));
    readOnly = open.readOnly;
    const statements: Statement[] = open.statements;
    let setup: Promise<unknown> = Promise.resolve();
    if (!prepared.has(raw)) {
      prepared.add(raw);
      // As @dataplan/pg's own adaptor: no JIT optimisation for its many short queries.
      setup = raw.query("set jit_optimize_above_cost = -1").catch((e) => console.error(`[pool] session setting: ${e}`));
    }
    // Pipeline mode: all sent now, in order, in the write that carries fn's
    // first statement. Otherwise one after another (node-postgres wants one
    // statement at a time on such a connection), and fn starts after them.
    opening = pipelined
      ? Promise.all(statements.map((s) => raw.query(s)))
      : statements.reduce<Promise<unknown>>((previous, s) => previous.then(() => raw.query(s)), setup);
  } catch (error) {
    uncork();
    raw.release();
    throw error;
  }
  opening.catch(noop);
  let result: T;
  try {
    if (!pipelined) await opening;
    let running: Promise<T>;
    try {
      running = fn(requestClient(raw, opening, 1));
    } finally {
      uncork();
    }
    result = await running;
    // Also when fn sent nothing: no answer, and no commit, without the check.
    await opening;
  } catch (error) {
    const failed = await settleWithin(raw.query("rollback"), ROLLBACK_GRACE_MS);
    raw.release(failed);
    if (failed) closeSocket(raw);
    throw error;
  }
  if (readOnly && pipelined) {
    // Pipeline mode: the connection goes back now; the commit leaves with
    // its next write (the next request's opening, when the pool hands it on
    // at once), at the latest on the next turn of the event loop, and what
    // is sent behind it runs after it. A commit that fails closes the
    // connection (the pool then drops it).
    stream.cork();
    raw.query("commit").catch(() => closeSocket(raw));
    setImmediate(() => stream.uncork());
    raw.release();
    return result;
  }
  const commit = raw.query("commit");
  if (readOnly) {
    // Nothing to make durable: answer now; the connection goes back once the commit is answered.
    commit.then(
      () => raw.release(),
      (error: Error) => {
        raw.release(error);
        closeSocket(raw);
      },
    );
    return result;
  }
  try {
    await commit;
  } catch (error) {
    raw.release(error as Error);
    closeSocket(raw);
    throw error;
  }
  raw.release();
  return result;
}

/** What `fn` gets: @dataplan/pg's client interface (query, withTransaction), with the connection (`rawClient`) inside the transaction. */
export type RequestClient = NodePostgresPgClient;

/** Named (prepared) statements kept per connection, least recently used deallocated first: @dataplan/pg's own adaptor's default. */
const PREPARED_STATEMENT_CACHE_SIZE = 100;
/** Named statements prepared on each connection, oldest first. */
const preparedNames = new WeakMap<object, Map<string, true>>();

/** Marks `name` as used on the connection; beyond the cache size, deallocates the least recently used. */
function usePreparedName(raw: pg.PoolClient, name: string) {
  const connection = (raw as unknown as { connection?: { parsedStatements?: Record<string, unknown> } }).connection;
  const parsed = connection?.parsedStatements;
  if (!connection || !parsed) return;
  let names = preparedNames.get(connection);
  if (!names) preparedNames.set(connection, (names = new Map()));
  names.delete(name);
  names.set(name, true);
  if (names.size <= PREPARED_STATEMENT_CACHE_SIZE) return;
  const [oldest] = names.keys();
  names.delete(oldest);
  if (parsed[oldest]) {
    raw.query(`deallocate ${raw.escapeIdentifier(oldest)}`).then(
      () => delete parsed[oldest],
      (e) => console.error("[pool] deallocating a prepared statement:", e),
    );
  }
}

/**
 * @dataplan/pg's client on a connection inside a request transaction (as
 * @dataplan/pg/adaptors/pg builds it: queries run at once unless a nested
 * transaction is running, which queues them; withTransaction nests with
 * savepoints, at `level` 1 and deeper since the request's transaction is
 * level 0). Each answer waits for the opening: its error comes first.
 */
function requestClient(raw: pg.PoolClient, opening: Promise<unknown>, level: number): RequestClient {
  let queue: Promise<unknown> | null = null;
  const addToQueue = <R>(callback: () => Promise<R>): Promise<R> => {
    const result = queue ? queue.then(callback) : callback();
    const clearIfSame = () => {
      if (queue === next) queue = null;
    };
    const next = result.then(clearIfSame, clearIfSame);
    queue = next;
    return result;
  };
  const send = async <R>(config: Statement & { rowMode?: "array" }): Promise<pg.QueryResult<R & pg.QueryResultRow>> => {
    const answer = raw.query<R & pg.QueryResultRow>(config as pg.QueryConfig);
    answer.catch(noop);
    await opening;
    return answer;
  };
  const client: RequestClient = {
    rawClient: raw,
    query<TData>(opts: PgClientQuery): Promise<PgClientResult<TData>> {
      const run = async (): Promise<PgClientResult<TData>> => {
        const { text, name, values, arrayMode } = opts;
        const config: Statement & { rowMode?: "array" } = arrayMode ? { text, values: values as unknown[], rowMode: "array" } : { text, values: values as unknown[] };
        if (name != null) {
          usePreparedName(raw, name);
          (config as { name?: string }).name = name;
        }
        const notices: PgClientResult<TData>["notices"] = [];
        const onNotice = (n: Partial<Record<"severity" | "message" | "code" | "detail" | "hint" | "position" | "where" | "schema" | "table" | "column" | "dataType" | "constraint" | "routine", string>>) =>
          (notices as unknown[]).push({
            severity: n.severity ?? "NOTICE",
            message: n.message ?? "",
            code: n.code,
            detail: n.detail,
            hint: n.hint,
            position: n.position != null ? parseInt(n.position, 10) : undefined,
            where: n.where,
            schema: n.schema,
            table: n.table,
            column: n.column,
            dataType: n.dataType,
            constraint: n.constraint,
            routine: n.routine,
          });
        raw.addListener("notice", onNotice);
        try {
          const { rows, rowCount } = await send<TData>(config);
          return { rows: rows as readonly TData[], rowCount, notices };
        } finally {
          raw.removeListener("notice", onNotice);
        }
      };
      return queue ? addToQueue(run) : run();
    },
    withTransaction<T>(callback: (client: RequestClient) => Promise<T>): Promise<T> {
      return addToQueue(async () => {
        const savepoint = `tx${level}`;
        await send({ text: `savepoint ${savepoint}` });
        try {
          const result = await callback(requestClient(raw, opening, level + 1));
          await send({ text: `release savepoint ${savepoint}` });
          return result;
        } catch (error) {
          await send({ text: `rollback to savepoint ${savepoint}` }).catch((e) => console.error(`[pool] rolling back to a savepoint: ${e}`));
          throw error;
        }
      });
    },
  };
  return client;
}

/**
 * The pg adaptor @dataplan/pg calls (pgServices[].adaptor): its
 * withPgClient is withRequestTransaction on the service's pool. The
 * superuser variant (development watch mode's fixtures only, on
 * SUPERUSER_DATABASE_URL, with no request settings) stays @dataplan/pg's own.
 */
export function makeRequestAdaptor(mode: ContextMode) {
  const adaptor = {
    createWithPgClient(
      adaptorSettings: { pool?: pg.Pool } | undefined,
      variant?: "SUPERUSER" | string | null,
    ): WithPgClient<RequestClient> {
      if (variant === "SUPERUSER") return createDefaultWithPgClient(adaptorSettings, variant);
      const pool = adaptorSettings?.pool;
      if (!pool) throw new Error("The request adaptor needs the API's pool (makeRequestPgService).");
      const withPgClient = (<T>(pgSettings: Record<string, string | undefined> | null, callback: (client: RequestClient) => T | Promise<T>) =>
        withRequestTransaction(pool, mode, pgSettings, {}, async (client) => callback(client))) as WithPgClient<RequestClient>;
      withPgClient.release = noop;
      return withPgClient;
    },
    makePgService: (options: Parameters<typeof makePgService>[0]) => makeRequestPgService(mode, options),
  };
  return adaptor;
}

/** PostGraphile's pg service (makePgService: schemas, pub/sub, watch mode) with the request adaptor in place of @dataplan/pg's. */
export function makeRequestPgService(mode: ContextMode, options: Parameters<typeof makePgService>[0]): GraphileConfig.PgServiceConfiguration {
  return { ...makePgService(options), adaptor: makeRequestAdaptor(mode) };
}

