// The tenant export format, shared by its writer (GET /export, server/export.ts)
// and its reader (npm run tenant:import, db/import.ts).
//
// Format version 2 (one JSON object per line; docs in docs/operations.md, "Tenant export and import"):
//   {"type":"header","format":"multi-tenant-saas/export","formatVersion":2,
//    "schemaVersion":"000009-…","exportedAt":"…","tenant":{"id":"…","slug":"…"},
//    "tables":[{"name":"app_public.tenants","columns":[{"name":"id","type":"uuid"},…]},…]}
//   {"type":"row","table":"app_public.users","data":{…}}      (every row)
//   {"type":"end","rows":{"app_public.users":2,…},"total":N}   (completeness marker)
// Tables are every table of app_public with a tenant_id column, plus the
// tenant's own row in app_public.tenants, found in the catalog and ordered so
// that a row comes after the rows it references. Secrets live in app_private,
// which request roles cannot read, so they are never part of an export.
//
// Each table declares its columns (in column order) with their types as
// format_type(atttypid, atttypmod) gives them under search_path pg_catalog
// (so a type outside pg_catalog is always schema-qualified, e.g.
// "app_public.user_role", "public.citext"); a row's `data` has exactly those
// keys. Compatibility is decided by these shapes, not by the schema version
// (checkShapes): a file imports into a database where every table it
// declares is exported, with every column of the same type, and where every
// column the file lacks may be left out of an insert (nullable, a default,
// or generated). `schemaVersion` (the source's newest migration) is
// information only. Version 1 files (no shapes, compatibility by schema
// version) are refused: re-export them from a deployment of this version.
//
import type pg from "pg";

export const EXPORT_FORMAT = "multi-tenant-saas/export";
export const EXPORT_FORMAT_VERSION = 2;

/** A column as an export file declares it. */
export interface ExportColumn {
  name: string;
  /** format_type(atttypid, atttypmod) under search_path pg_catalog, e.g. "uuid", "character varying(80)", "app_public.user_role". */
  type: string;
}

/** A table as an export file's header declares it. */
export interface DeclaredTable {
  name: string;
  columns: ExportColumn[];
}

/** A column of this database, with what an import needs to know about it. */
export interface CatalogColumn extends ExportColumn {
  /** Whether an insert may leave it out: nullable, with a default, or generated. */
  optional: boolean;
  /** A generated column: computed here, never inserted. */
  generated: boolean;
}

export interface ExportTable {
  name: string;
  /** ORDER BY clause (primary key), so that exports are deterministic. */
  orderBy: string;
  /** The column holding the tenant's id: `id` in tenants, `tenant_id` elsewhere. */
  tenantColumn: string;
  /** Its columns, in column order. */
  columns: CatalogColumn[];
}

/** What a header's `tables` says: every table's name and columns (name and type). */
export function declareTables(tables: ExportTable[]): DeclaredTable[] {
  return tables.map((t) => ({ name: t.name, columns: t.columns.map(({ name, type }) => ({ name, type })) }));
}

/**
 * Tenant-scoped tables of app_public (and tenants), parents before children,
 * with their primary keys and columns. Runs inside the caller's transaction:
 * the search_path is pinned to pg_catalog for the catalog query (names and
 * types then read the same on every connection) and put back after it.
 */
export async function exportTables(client: pg.ClientBase): Promise<ExportTable[]> {
  // The materialized CTE reads the search_path before set_config changes it.
  const { rows: [{ saved }] } = await client.query<{ saved: string }>(
    `with s as materialized (select current_setting('search_path') as saved)
     select saved, set_config('search_path', 'pg_catalog', true) from s`,
  );
  const { rows } = await client.query<{ name: string; pk: string[]; parents: string[]; columns: CatalogColumn[] }>(
    `select c.oid::regclass::text as name,
            array(select quote_ident(a.attname) from pg_index i
                    join lateral unnest(i.indkey) with ordinality k(attnum, n) on true
                    join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
                   where i.indrelid = c.oid and i.indisprimary order by k.n) as pk,
            array(select f.confrelid::regclass::text from pg_constraint f
                   where f.conrelid = c.oid and f.contype = 'f' and f.confrelid <> c.oid) as parents,
            (select json_agg(json_build_object(
                      'name', a.attname,
                      'type', format_type(a.atttypid, a.atttypmod),
                      'optional', not a.attnotnull or a.atthasdef or a.attidentity <> '' or a.attgenerated <> '',
                      'generated', a.attgenerated <> '') order by a.attnum)
               from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'app_public' and c.relkind in ('r', 'p')
        and (c.relname = 'tenants' or exists (
          select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped))
      order by 1`,
  );
  await client.query("select set_config('search_path', $1, true)", [saved]);
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
        columns: r.columns,
      });
    }
  }
  return ordered;
}

/**
 * Why the tables a file declares cannot be imported into a database whose
 * exported tables are `here`: one sentence per problem, none when the shapes
 * fit. A table the file does not declare (added here since) simply gets no
 * rows.
 */
export function checkShapes(declared: DeclaredTable[], here: ExportTable[]): string[] {
  const problems: string[] = [];
  const byName = new Map(here.map((t) => [t.name, t]));
  for (const table of declared) {
    const target = byName.get(table.name);
    if (!target) {
      problems.push(`table ${table.name} is not a table this database exports`);
      continue;
    }
    const columns = new Map(target.columns.map((c) => [c.name, c]));
    for (const column of table.columns) {
      const ours = columns.get(column.name);
      if (!ours) problems.push(`${table.name}.${column.name}: no such column in this database`);
      else if (ours.type !== column.type) problems.push(`${table.name}.${column.name}: the file has type ${column.type}, this database ${ours.type}`);
    }
    const inFile = new Set(table.columns.map((c) => c.name));
    for (const ours of target.columns) {
      if (!inFile.has(ours.name) && !ours.optional) {
        problems.push(`${table.name}.${ours.name}: not null without a default in this database, and the file has no values for it`);
      }
    }
  }
  return problems;
}
