// Tenant import (`npm run tenant:import -- FILE`, bin/tenant-import.ts): loads a tenant export (NDJSON, gzipped or
// not; see common/tenant-export-format.ts) into this deployment, as the owner, in one
// transaction: all of it or nothing. Compatibility is decided by shapes, not
// by the schema version (which is information only): the header declares
// every table's columns and types, and the file is refused unless each
// table is one this database exports, each column exists here with the same
// type, and each column here that the file lacks is nullable or has a
// default (checkShapes in common/tenant-export-format.ts). So an export from
// an earlier schema imports when its shapes fit. Also refused: a version 1
// file, a tenant whose id or slug already exists, rows of another tenant,
// rows of an undeclared table or with other columns than their table
// declares, and a file without its end line.
// Password hashes are never exported: imported users must set a password again.
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import pg from "pg";
import {
  checkShapes,
  type DeclaredTable,
  EXPORT_FORMAT,
  EXPORT_FORMAT_VERSION,
  exportTables,
} from "../common/tenant-export-format.ts";

export class ImportError extends Error {}

const INSERT_BATCH = 500;

/** The header's `tables`, if it has the shape format version 2 gives it. */
function declaredTables(tables: unknown): DeclaredTable[] | undefined {
  const isName = (v: unknown) => typeof v === "string" && v.length > 0;
  const ok =
    Array.isArray(tables) &&
    tables.every(
      (t) =>
        t && isName(t.name) && Array.isArray(t.columns) &&
        t.columns.every((c: any) => c && isName(c.name) && isName(c.type)),
    );
  return ok ? (tables as DeclaredTable[]) : undefined;
}

async function openExport(file: string): Promise<Readable> {
  const handle = await open(file);
  const { buffer, bytesRead } = await handle.read(Buffer.alloc(2), 0, 2, 0);
  await handle.close();
  const raw = createReadStream(file);
  return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b ? raw.pipe(createGunzip()) : raw;
}

/** Imports the export in `file` through the owner's connection. Returns the row counts. */
export async function importTenant(ownerUrl: string, file: string): Promise<{ slug: string; rows: Record<string, number> }> {
  const input = await openExport(file);
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query("begin");
    const here = await exportTables(client);
    /** Per declared table: its columns (as the file has them), and the statement that inserts a batch of its rows. */
    const declared = new Map<string, { columns: Set<string>; insert: string }>();

    let header: { tenant: { id: string; slug: string } } | undefined;
    let end: { rows: Record<string, number> } | undefined;
    const counts: Record<string, number> = {};
    let batch: { table: string; rows: unknown[] } = { table: "", rows: [] };
    const flush = async () => {
      if (!batch.rows.length) return;
      await client.query(declared.get(batch.table)!.insert, [JSON.stringify(batch.rows)]);
      batch.rows = [];
    };

    // Created only now: lines read before iteration starts would be lost.
    const lines = createInterface({ input, crlfDelay: Infinity });
    let lineNumber = 0;
    for await (const text of lines) {
      lineNumber++;
      if (!text.trim()) continue;
      if (end) throw new ImportError(`line ${lineNumber}: data after the end line`);
      let line: any;
      try {
        line = JSON.parse(text);
      } catch {
        throw new ImportError(`line ${lineNumber}: not JSON`);
      }
      if (!header) {
        if (line.type !== "header" || line.format !== EXPORT_FORMAT) throw new ImportError(`not a ${EXPORT_FORMAT} file`);
        if (line.formatVersion === 1) {
          throw new ImportError(
            `a version 1 export (compatible by schema version only, no table shapes); this deployment reads version ${EXPORT_FORMAT_VERSION}: export the tenant again`,
          );
        }
        if (line.formatVersion !== EXPORT_FORMAT_VERSION) {
          throw new ImportError(`an export of format version ${JSON.stringify(line.formatVersion)}; this deployment reads version ${EXPORT_FORMAT_VERSION}`);
        }
        const tables = declaredTables(line.tables);
        if (!tables) throw new ImportError("the header's tables are not a list of tables with their columns (name and type)");
        const problems = checkShapes(tables, here);
        if (problems.length) {
          throw new ImportError(`the export's tables do not fit this database's: ${problems.join("; ")}`);
        }
        for (const table of tables) {
          const generated = new Set(here.find((t) => t.name === table.name)!.columns.filter((c) => c.generated).map((c) => c.name));
          const insertable = table.columns.filter((c) => !generated.has(c.name)).map((c) => client.escapeIdentifier(c.name)).join(", ");
          declared.set(table.name, {
            columns: new Set(table.columns.map((c) => c.name)),
            // Only the file's columns: the others take their defaults (or stay null).
            insert: `insert into ${table.name} (${insertable}) select ${insertable} from jsonb_populate_recordset(null::${table.name}, $1::jsonb)`,
          });
        }
        const { rows: clash } = await client.query(
          "select id, slug from app_public.tenants where id = $1 or slug = $2",
          [line.tenant.id, line.tenant.slug],
        );
        if (clash.length) {
          throw new ImportError(`a tenant with id ${line.tenant.id} or slug "${line.tenant.slug}" already exists here`);
        }
        // Every policy now admits exactly this tenant's rows. Through the SQL
        // helper (SET LOCAL), which Citus forwards to its workers; set_config is not.
        await client.query("select app_private.switch_tenant_context($1)", [line.tenant.id]);
        header = line;
        continue;
      }
      if (line.type === "row") {
        const table = declared.get(line.table);
        if (!table) throw new ImportError(`line ${lineNumber}: table ${JSON.stringify(line.table)} is not declared in the header`);
        if (!line.data || typeof line.data !== "object" || Array.isArray(line.data)) throw new ImportError(`line ${lineNumber}: a row without data`);
        const keys = Object.keys(line.data);
        const undeclared = keys.filter((k) => !table.columns.has(k));
        if (undeclared.length) {
          throw new ImportError(`line ${lineNumber}: a row of ${line.table} with columns its table does not declare: ${undeclared.join(", ")}`);
        }
        if (keys.length !== table.columns.size) {
          const missing = [...table.columns].filter((c) => !(c in line.data));
          throw new ImportError(`line ${lineNumber}: a row of ${line.table} without the declared columns ${missing.join(", ")}`);
        }
        const owner = line.table === "app_public.tenants" ? line.data.id : line.data.tenant_id;
        if (owner !== header.tenant.id) throw new ImportError(`line ${lineNumber}: a row of another tenant`);
        if (line.table === "app_public.tenants" && line.data.slug !== header.tenant.slug) {
          throw new ImportError(`line ${lineNumber}: the tenant's slug differs from the header's`);
        }
        if (batch.table !== line.table || batch.rows.length >= INSERT_BATCH) {
          await flush();
          batch.table = line.table;
        }
        batch.rows.push(line.data);
        counts[line.table] = (counts[line.table] ?? 0) + 1;
      } else if (line.type === "end") {
        await flush();
        end = line;
      } else {
        throw new ImportError(`line ${lineNumber}: unexpected line type ${JSON.stringify(line.type)}`);
      }
    }
    if (!header) throw new ImportError("the file is empty");
    if (!end) throw new ImportError("the file has no end line: the export is incomplete");
    for (const [table, n] of Object.entries(end.rows)) {
      if ((counts[table] ?? 0) !== n) throw new ImportError(`${table}: the end line says ${n} rows, the file has ${counts[table] ?? 0}`);
    }
    await client.query("commit");
    return { slug: header.tenant.slug, rows: counts };
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}
