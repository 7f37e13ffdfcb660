// Tenant import (`npm run tenant:import -- FILE`, bin/tenant-import.ts): loads a tenant export (NDJSON, gzipped or
// not; see common/tenant-export-format.ts) into this deployment, as the owner, in one
// transaction: all of it or nothing. Refuses a file of another schema
// version, a tenant whose id or slug already exists, rows of another tenant,
// tables this database does not export, and a file without its end line.
// Password hashes are never exported: imported users must set a password again.
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import pg from "pg";
import { EXPORT_FORMAT, EXPORT_FORMAT_VERSION, exportTables } from "../common/tenant-export-format.ts";

export class ImportError extends Error {}

const INSERT_BATCH = 500;

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
    const allowed = new Set((await exportTables(client)).map((t) => t.name));
    const { rows: [{ version }] } = await client.query("select app_public.schema_version() as version");

    let header: { tenant: { id: string; slug: string } } | undefined;
    let end: { rows: Record<string, number> } | undefined;
    const counts: Record<string, number> = {};
    let batch: { table: string; rows: unknown[] } = { table: "", rows: [] };
    const flush = async () => {
      if (!batch.rows.length) return;
      await client.query(
        `insert into ${batch.table} select * from jsonb_populate_recordset(null::${batch.table}, $1::jsonb)`,
        [JSON.stringify(batch.rows)],
      );
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
        if (line.type !== "header" || line.format !== EXPORT_FORMAT || line.formatVersion !== EXPORT_FORMAT_VERSION) {
          throw new ImportError(`not a ${EXPORT_FORMAT} version ${EXPORT_FORMAT_VERSION} file`);
        }
        if (line.schemaVersion !== version) {
          throw new ImportError(`the export is of schema version ${line.schemaVersion}; this database is at ${version}`);
        }
        const { rows: clash } = await client.query(
          "select id, slug from app_public.tenants where id = $1 or slug = $2",
          [line.tenant.id, line.tenant.slug],
        );
        if (clash.length) {
          throw new ImportError(`a tenant with id ${line.tenant.id} or slug "${line.tenant.slug}" already exists here`);
        }
        // Every policy now admits exactly this tenant's rows.
        await client.query("select set_config('jwt.claims.tenant_id', $1, true)", [line.tenant.id]);
        header = line;
        continue;
      }
      if (line.type === "row") {
        if (!allowed.has(line.table)) throw new ImportError(`line ${lineNumber}: unknown table ${JSON.stringify(line.table)}`);
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
