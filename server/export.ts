// GET /export: a tenant admin's whole tenant as NDJSON (gzip when asked),
// streamed in constant memory from one read-only REPEATABLE READ snapshot,
// under the caller's own role and RLS, as every other request.
//
// Format (one JSON object per line; docs in README.md, "Tenant export"):
//   {"type":"header","format":"multi-tenant-saas/export","formatVersion":1,
//    "schemaVersion":"000003","exportedAt":"…","tenant":{"id":"…","slug":"…"},
//    "tables":["app_public.tenants","app_public.users",…]}
//   {"type":"row","table":"app_public.users","data":{…}}      (every row)
//   {"type":"end","rows":{"app_public.users":2,…},"total":N}   (completeness marker)
// Tables are every table of app_public with a tenant_id column, plus the
// tenant's own row in app_public.tenants, found in the catalog and ordered so
// that a row comes after the rows it references. Secrets live in app_private,
// which request roles cannot read, so they are never part of an export.
import type { Request, Response } from "express";
import { once } from "node:events";
import type { Writable } from "node:stream";
import { createGzip } from "node:zlib";
import type pg from "pg";
import { ROLES, type Config } from "./config.ts";
import { isUnavailable, sendError, STALE_TOKEN, UNAVAILABLE } from "./errors.ts";
import { PGSETTINGS_STATEMENT } from "./request-context.ts";

export const EXPORT_FORMAT = "multi-tenant-saas/export";
export const EXPORT_FORMAT_VERSION = 1;
const BATCH = 1000;

export interface ExportTable {
  name: string;
  /** ORDER BY clause (primary key), so that exports are deterministic. */
  orderBy: string;
  /** The column holding the tenant's id: `id` in tenants, `tenant_id` elsewhere. */
  tenantColumn: string;
}

/** Tenant-scoped tables of app_public (and tenants), parents before children, with their primary keys. */
export async function exportTables(client: pg.ClientBase): Promise<ExportTable[]> {
  const { rows } = await client.query<{ name: string; pk: string[]; parents: string[] }>(
    `select c.oid::regclass::text as name,
            array(select quote_ident(a.attname) from pg_index i
                    join lateral unnest(i.indkey) with ordinality k(attnum, n) on true
                    join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
                   where i.indrelid = c.oid and i.indisprimary order by k.n) as pk,
            array(select f.confrelid::regclass::text from pg_constraint f
                   where f.conrelid = c.oid and f.contype = 'f' and f.confrelid <> c.oid) as parents
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'app_public' and c.relkind in ('r', 'p')
        and (c.relname = 'tenants' or exists (
          select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped))
      order by 1`,
  );
  // Topological order: a table after every table it references.
  const remaining = new Map(rows.map((r) => [r.name, r]));
  const ordered: ExportTable[] = [];
  while (remaining.size) {
    const ready = [...remaining.values()].filter((r) => r.parents.every((p) => !remaining.has(p)));
    if (!ready.length) throw new Error(`Circular foreign keys between ${[...remaining.keys()].join(", ")}`);
    for (const r of ready) {
      remaining.delete(r.name);
      ordered.push({
        name: r.name,
        orderBy: r.pk.length ? r.pk.join(", ") : "1",
        tenantColumn: r.name === "app_public.tenants" ? "id" : "tenant_id",
      });
    }
  }
  return ordered;
}

async function write(out: Writable, chunk: string) {
  if (!out.write(chunk)) await once(out, "drain");
}

/** Express handler; expects `req.pgSettings` from the auth middleware. */
export function makeExportHandler(pool: pg.Pool, _limits: Config["exports"], onDatabaseUnavailable: () => void = () => {}) {
  return async function exportTenant(req: Request, res: Response) {
    const settings = req.pgSettings!;
    if (settings.role === ROLES.anonymous) return sendError(res, 401, "UNAUTHENTICATED", "Log in as a tenant admin to export.");
    const operatorInTenant = settings.role === ROLES.operator && !!settings["jwt.claims.tenant_id"];
    if (settings.role !== ROLES.admin && !operatorInTenant) {
      return sendError(res, 403, "FORBIDDEN", "Only tenant admins (or an operator naming the tenant) may export a tenant.");
    }

    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      if (!isUnavailable(error as Error)) throw error;
      onDatabaseUnavailable();
      return sendError(res, 503, UNAVAILABLE.code, UNAVAILABLE.message, { "Retry-After": "2" });
    }
    let aborted = false;
    res.on("close", () => (aborted = !res.writableFinished));
    try {
      await client.query("begin isolation level repeatable read read only");
      // The same statement PostGraphile uses (so DB_CONTEXT_MODE=set_local applies here too).
      await client.query({ text: PGSETTINGS_STATEMENT, values: [JSON.stringify(Object.entries(settings))] });
      const tables = await exportTables(client);
      const { rows: [meta] } = await client.query(
        `select app_public.schema_version() as "schemaVersion", transaction_timestamp() as "exportedAt",
                (select json_build_object('id', id, 'slug', slug) from app_public.tenants where id = app_public.current_tenant_id()) as tenant`,
      );
      if (!meta.tenant) return sendError(res, 404, "NOT_FOUND", "The tenant no longer exists.");

      const gzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
      res.status(200).set({
        "content-type": "application/x-ndjson; charset=utf-8",
        "content-disposition": `attachment; filename="${meta.tenant.slug}-export.ndjson${gzip ? ".gz" : ""}"`,
        ...(gzip ? { "content-encoding": "gzip" } : {}),
      });
      const out: Writable = gzip ? createGzip() : res;
      if (gzip) (out as ReturnType<typeof createGzip>).pipe(res);

      const header = {
        type: "header",
        format: EXPORT_FORMAT,
        formatVersion: EXPORT_FORMAT_VERSION,
        ...meta,
        tables: tables.map((t) => t.name),
      };
      await write(out, JSON.stringify(header) + "\n");
      const counts: Record<string, number> = {};
      let total = 0;
      for (const table of tables) {
        // The line is built in the database; the server only passes text through.
        // RLS already confines the rows to what the caller may see; the
        // explicit tenant filter also keeps an operator (who sees every
        // tenant's row in tenants) to the one tenant named.
        await client.query(
          `declare rows_cursor no scroll cursor for
             select json_build_object('type', 'row', 'table', ${client.escapeLiteral(table.name)}, 'data', to_jsonb(t))::text as line
               from ${table.name} t where t.${table.tenantColumn} = app_public.current_tenant_id() order by ${table.orderBy}`,
        );
        counts[table.name] = 0;
        for (;;) {
          if (aborted) throw new Error("client went away");
          const { rows } = await client.query<{ line: string }>(`fetch ${BATCH} from rows_cursor`);
          if (!rows.length) break;
          await write(out, rows.map((r) => r.line).join("\n") + "\n");
          counts[table.name] += rows.length;
          total += rows.length;
        }
        await client.query("close rows_cursor");
      }
      await write(out, JSON.stringify({ type: "end", rows: counts, total }) + "\n");
      await client.query("commit");
      out.end();
    } catch (error) {
      await client.query("rollback").catch(() => {});
      if (!res.headersSent && (error as { code?: string }).code === "28000") {
        // The claims check in the settings statement (server/request-context.ts).
        return sendError(res, 401, STALE_TOKEN.code, STALE_TOKEN.message, { "WWW-Authenticate": `Bearer error="invalid_token"` });
      }
      if (!res.headersSent) return sendError(res, 500, "INTERNAL", "The export failed.");
      // Mid-stream: the missing "end" line tells the reader the file is incomplete.
      console.error("[export] failed mid-stream:", (error as Error).message);
      res.destroy();
    } finally {
      client.release();
    }
  };
}
