// GET /export: a tenant admin's whole tenant as NDJSON (gzip when asked),
// streamed from one read-only REPEATABLE READ snapshot, under the caller's
// own role and RLS, as every other request.
//
// The format (header with every table's columns and types, rows, end line)
// is common/tenant-export-format.ts.
//
// Who may export is decided in the database: app_public.assert_may_export()
// is the first statement of the export's transaction after the request's
// settings (a tenant's admin, or an operator naming the tenant; it raises
// 42501 for anyone else, answered 403 FORBIDDEN before anything is sent).
// Only a request without a token is refused here (401), before it takes a
// slot or a connection.
//
// What an export may hold, and for how long (limits: Config["exports"]):
// - Memory: about one batch plus the socket's buffer. Rows come from a
//   cursor, a batch at a time; the next batch is fetched only once the last
//   one was taken by the socket ('drain'). A batch is about `batchBytes`: its
//   row count follows the average line length of the batch before
//   (nextBatchSize), starting at 50 rows for each table.
// - Its connection: only while the client reads. The export stops, destroys
//   the response, rolls back and releases the connection as soon as the
//   client goes away (the response closes before it finished) or a write
//   has not drained for `stallTimeoutMs`. Every wait (a statement, a drain)
//   is raced against that, so none can hold the connection forever. A
//   connection whose rollback does not finish in ROLLBACK_GRACE_MS (a
//   statement stuck, say on a lock) is released with an error, so that the
//   pool destroys it, and its socket is closed at once. Each connection is
//   released exactly once, after a commit or a rollback, also when the
//   answer is an error (404, 403, 401, 500): withRequestTransaction
//   (server/request-context.ts), the same transaction as GraphQL's.
// - Slots: at most `maxConcurrent` exports on this server and `maxPerTenant`
//   per tenant run at once; past either, 429 TOO_MANY_EXPORTS with a
//   Retry-After. A slot is taken before the connection and always given back.
//   A full pool (no connection within the pool's timeout) answers 503 BUSY.
// An export that stops early has no `end` line, which tells the reader that
// the file is incomplete.
import type { Request, Response } from "express";
import type { EventEmitter } from "node:events";
import { pipeline, type Writable } from "node:stream";
import { createGzip } from "node:zlib";
import type pg from "pg";
import { type Config } from "../common/config.ts";
import { ROLES } from "../common/roles.ts";
import { declareTables, EXPORT_FORMAT, EXPORT_FORMAT_VERSION, exportTables } from "../common/tenant-export-format.ts";
import { isUnavailable, sendError, STALE_TOKEN, UNAVAILABLE } from "./errors.ts";
import { withRequestTransaction, type RequestClient } from "./request-context.ts";


/** Rows of a table's first batch, before any of its rows was measured. */
export const FIRST_BATCH_ROWS = 50;
/** Most rows in one batch, however narrow they are. */
export const MAX_BATCH_ROWS = 1000;
/** What a refused export is told to wait, in seconds. */
const RETRY_AFTER_SECONDS = 5;
/** The SQLSTATE app_public.assert_may_export() raises for a caller who may not export (insufficient_privilege). */
const MAY_NOT_EXPORT = "42501";

/**
 * Rows to fetch next so that a batch is about `batchBytes`, from the batch
 * before (`lastRows` rows, `lastBytes` bytes): FIRST_BATCH_ROWS when nothing
 * was measured yet; else as many rows of the last batch's average line
 * length as fit, at most twice the last batch (so that wider rows further on
 * cost little), within [1, MAX_BATCH_ROWS].
 */
export function nextBatchSize(batchBytes: number, lastRows: number, lastBytes: number): number {
  if (lastRows <= 0) return FIRST_BATCH_ROWS;
  const averageLine = Math.max(1, lastBytes / lastRows);
  const fit = Math.floor(batchBytes / averageLine);
  return Math.max(1, Math.min(fit, lastRows * 2, MAX_BATCH_ROWS));
}

/** Why an export stopped early because of its client: gone, or not reading. */
class ExportStopped extends Error {}

/** Running exports, on the server and per tenant, against the two limits. */
function makeSlots(maxConcurrent: number, maxPerTenant: number) {
  let running = 0;
  const perTenant = new Map<string, number>();
  return {
    /** Takes a slot for `tenant`; false when either limit is reached. */
    take(tenant: string): boolean {
      const ofTenant = perTenant.get(tenant) ?? 0;
      if (running >= maxConcurrent || ofTenant >= maxPerTenant) return false;
      running++;
      perTenant.set(tenant, ofTenant + 1);
      return true;
    },
    /** Gives back a slot that `take` gave. */
    give(tenant: string) {
      running--;
      const left = (perTenant.get(tenant) ?? 1) - 1;
      if (left > 0) perTenant.set(tenant, left);
      else perTenant.delete(tenant);
    },
  };
}

/** A signal that aborts (with ExportStopped) when the response closes before it finished: the client went away. */
function watchClient(res: Response) {
  const controller = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) controller.abort(new ExportStopped("the client went away"));
  };
  res.on("close", onClose);
  if (res.destroyed) onClose();
  return { signal: controller.signal, dispose: () => res.off("close", onClose) };
}

/** Settles as `promise` does, or rejects with the stop reason as soon as `signal` aborts (the promise then settles unheard). */
function unlessStopped<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Waits for `event` (a 'drain', a 'finish') on `emitter`; rejects with the
 * stop reason when `signal` aborts, and with ExportStopped when the event has
 * not come within `timeoutMs` (the client stopped reading).
 */
function waitFor(emitter: EventEmitter, event: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (error?: unknown) => {
      clearTimeout(timer);
      emitter.off(event, onEvent);
      signal.removeEventListener("abort", onAbort);
      if (error) reject(error);
      else resolve();
    };
    const onEvent = () => done();
    const onAbort = () => done(signal.reason);
    const timer = setTimeout(() => done(new ExportStopped(`the client read nothing for ${timeoutMs} ms`)), timeoutMs);
    emitter.once(event, onEvent);
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) onAbort();
  });
}

/** Writes `chunk`; when the stream's buffer is full, waits for it to drain (see waitFor). */
async function write(out: Writable, chunk: string, stallTimeoutMs: number, signal: AbortSignal) {
  if (signal.aborted) throw signal.reason;
  if (!out.write(chunk)) await waitFor(out, "drain", stallTimeoutMs, signal);
}

/** Express handler; expects `req.pgSettings` from the auth middleware. */
export function makeExportHandler(
  pool: pg.Pool,
  mode: Config["database"]["contextMode"],
  limits: Config["exports"],
  onDatabaseUnavailable: () => void = () => {},
) {
  const slots = makeSlots(limits.maxConcurrent, limits.maxPerTenant);
  return async function exportTenant(req: Request, res: Response) {
    const settings = req.pgSettings!;
    // Authentication only: who may export is app_public.assert_may_export's answer (streamExport).
    if (settings.role === ROLES.anonymous) return sendError(res, 401, "UNAUTHENTICATED", "Log in as a tenant admin to export.");
    const tenant = settings["jwt.claims.tenant_id"] ?? "";
    if (!slots.take(tenant)) {
      return sendError(res, 429, "TOO_MANY_EXPORTS", "Too many exports are running; retry later.", { "Retry-After": String(RETRY_AFTER_SECONDS) });
    }
    try {
      await runExport(pool, mode, limits, onDatabaseUnavailable, req, res);
    } finally {
      slots.give(tenant);
    }
  };
}

/** One export, from taking a connection to giving it back, whatever happens in between. */
async function runExport(
  pool: pg.Pool,
  mode: Config["database"]["contextMode"],
  limits: Config["exports"],
  onDatabaseUnavailable: () => void,
  req: Request,
  res: Response,
) {
  const watch = watchClient(res);
  try {
    // The request's transaction (server/request-context.ts): begin (a read-only
    // snapshot), the claims check, the settings; commit or rollback; the
    // connection given back exactly once (destroyed if its rollback fails).
    const out = await withRequestTransaction(pool, mode, req.pgSettings!, { isolation: "repeatable read", readOnly: true }, async (client) => {
      try {
        return await streamExport(client, req, res, limits, watch.signal);
      } catch (error) {
        // Stop sending first (the client sees the cut at once), then the transaction ends.
        if (error instanceof ExportStopped || res.headersSent) res.destroy();
        throw error;
      }
    });
    if (!out) return;
    // Committed: the last bytes still have to leave; a client that stops reading now is cut off too.
    out.end();
    if (!res.writableFinished) await waitFor(res, "finish", limits.stallTimeoutMs, watch.signal);
  } catch (error) {
    if (error instanceof ExportStopped || res.headersSent) res.destroy();
    reportFailure(res, error as Error, onDatabaseUnavailable);
  } finally {
    watch.dispose();
  }
}

/** Answers (before the headers) or logs (after them) an export that did not complete. */
function reportFailure(res: Response, error: Error & { code?: string }, onDatabaseUnavailable: () => void) {
  if (error instanceof ExportStopped) {
    console.warn(`[export] stopped: ${error.message}`);
    return;
  }
  if (res.headersSent) {
    // Mid-stream: the missing "end" line tells the reader the file is incomplete.
    console.error("[export] failed mid-stream:", error.message);
    return;
  }
  if (/^timeout exceeded when trying to connect/.test(error.message)) {
    // The pool stayed full.
    return sendError(res, 503, "BUSY", "The server is busy; retry shortly.", { "Retry-After": "2" });
  }
  if (error.code === "28000") {
    // The claims check that opens the request's transaction (server/request-context.ts).
    return sendError(res, 401, STALE_TOKEN.code, STALE_TOKEN.message, { "WWW-Authenticate": `Bearer error="invalid_token"` });
  }
  if (isUnavailable(error)) {
    onDatabaseUnavailable();
    return sendError(res, 503, UNAVAILABLE.code, UNAVAILABLE.message, { "Retry-After": "2" });
  }
  console.error("[export] failed:", error.message);
  sendError(res, 500, "INTERNAL", "The export failed.");
}

/**
 * The export itself, inside the request's transaction (a read-only
 * REPEATABLE READ snapshot, claims checked, settings applied): header, every
 * table's rows in batches of about `limits.batchBytes`, end line. Returns the
 * stream to end once the transaction has committed, or nothing when it
 * answered 403 or 404 itself. Every statement and every wait rejects as soon
 * as `signal` aborts; a write that does not drain within
 * `limits.stallTimeoutMs` throws ExportStopped.
 */
async function streamExport(client: RequestClient, req: Request, res: Response, limits: Config["exports"], signal: AbortSignal): Promise<Writable | undefined> {
  // Each answer comes after the transaction's opening (its error, 28000 for a stale token, first).
  const sql = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => unlessStopped(client.query<R>({ text, values }), signal);

  // Who may export: the database decides, under the request's settings.
  try {
    await sql("select app_public.assert_may_export()");
  } catch (error) {
    if ((error as { code?: unknown }).code !== MAY_NOT_EXPORT) throw error;
    sendError(res, 403, "FORBIDDEN", "Only tenant admins (or an operator naming the tenant) may export a tenant.");
    return undefined;
  }
  const tables = await unlessStopped(exportTables(client.rawClient), signal);
  const { rows: [meta] } = await sql<{ schemaVersion: string; exportedAt: Date; tenant: { id: string; slug: string } | null }>(
    `select app_public.schema_version() as "schemaVersion", transaction_timestamp() as "exportedAt",
            (select json_build_object('id', id, 'slug', slug) from app_public.tenants where id = app_public.current_tenant_id()) as tenant`,
  );
  if (!meta.tenant) {
    sendError(res, 404, "NOT_FOUND", "The tenant no longer exists.");
    return undefined;
  }

  const gzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
  res.status(200).set({
    "content-type": "application/x-ndjson; charset=utf-8",
    "content-disposition": `attachment; filename="${meta.tenant.slug}-export.ndjson${gzip ? ".gz" : ""}"`,
    ...(gzip ? { "content-encoding": "gzip" } : {}),
  });
  const zipper = gzip ? createGzip() : undefined;
  const out: Writable = zipper ?? res;
  // Either side closing or failing destroys the other (the caller destroys res).
  if (zipper) pipeline(zipper, res, () => {});
  const send = (chunk: string) => write(out, chunk, limits.stallTimeoutMs, signal);

  const header = {
    type: "header",
    format: EXPORT_FORMAT,
    formatVersion: EXPORT_FORMAT_VERSION,
    ...meta,
    tables: declareTables(tables),
  };
  await send(JSON.stringify(header) + "\n");
  const counts: Record<string, number> = {};
  let total = 0;
  for (const table of tables) {
    // The line is built in the database; the server only passes text through.
    // RLS already confines the rows to what the caller may see; the
    // explicit tenant filter also keeps an operator (who sees every
    // tenant's row in tenants) to the one tenant named.
    await sql(
      `declare rows_cursor no scroll cursor for
         select json_build_object('type', 'row', 'table', ${client.rawClient.escapeLiteral(table.name)}, 'data', to_jsonb(t))::text as line
           from ${table.name} t where t.${table.tenantColumn} = app_public.current_tenant_id() order by ${table.orderBy}`,
    );
    counts[table.name] = 0;
    // Row widths differ from table to table: each starts small again.
    let batch = nextBatchSize(limits.batchBytes, 0, 0);
    for (;;) {
      const { rows } = await sql<{ line: string }>(`fetch ${batch} from rows_cursor`);
      if (!rows.length) break;
      const chunk = rows.map((r) => r.line).join("\n") + "\n";
      counts[table.name] += rows.length;
      total += rows.length;
      batch = nextBatchSize(limits.batchBytes, rows.length, Buffer.byteLength(chunk));
      await send(chunk);
    }
    await sql("close rows_cursor");
  }
  await send(JSON.stringify({ type: "end", rows: counts, total }) + "\n");
  return out;
}
