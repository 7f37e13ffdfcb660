// The tenant export format, shared by its writer (GET /export, server/export.ts)
// and its reader (npm run tenant:import, db/import.ts).
//
// Format (one JSON object per line; docs in docs/operations.md, "Tenant export and import"):
//   {"type":"header","format":"multi-tenant-saas/export","formatVersion":1,
//    "schemaVersion":"000003","exportedAt":"…","tenant":{"id":"…","slug":"…"},
//    "tables":["app_public.tenants","app_public.users",…]}
//   {"type":"row","table":"app_public.users","data":{…}}      (every row)
//   {"type":"end","rows":{"app_public.users":2,…},"total":N}   (completeness marker)
// Tables are every table of app_public with a tenant_id column, plus the
// tenant's own row in app_public.tenants, found in the catalog and ordered so
// that a row comes after the rows it references. Secrets live in app_private,
// which request roles cannot read, so they are never part of an export.
//
import type pg from "pg";

export const EXPORT_FORMAT = "multi-tenant-saas/export";
export const EXPORT_FORMAT_VERSION = 1;

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
