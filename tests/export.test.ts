// Tenant export (GET /export), offboarding (deleteTenant) and import
// (npm run tenant:import): complete, isolated, secret-free, all-or-nothing.
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync, gzipSync } from "node:zlib";
import jwt from "jsonwebtoken";
import { beforeAll, describe, expect, it } from "vitest";
import { importTenant } from "../db/import.ts";
import { ROOT_DIR } from "../db/migrate.ts";
import { withClient, withDatabase } from "../db/setup.ts";
import { startApi, type TestApi } from "./helpers/api.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { createWorld, type World } from "./helpers/world.ts";

let db: TestDatabase;
let world: World;
let api: TestApi;
let tokenAdminA: string;
const dir = mkdtempSync(join(tmpdir(), "mts-export-"));

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createWorld(db.ownerUrl);
  api = await startApi(db);
  tokenAdminA = await api.login(world.tenants.A.slug, world.adminA.email, world.password);
  // So that every tenant table has a row of A (the demo data has no invitation).
  const invited = await api.graphql(`mutation { inviteUser(input: {email: "new.hire@acme.test", role: member}) { result { token } } }`, {}, tokenAdminA);
  expect(invited.body.errors).toBeUndefined();
});

interface Line {
  type: string;
  table?: string;
  data?: Record<string, unknown>;
  [key: string]: unknown;
}
const parse = (ndjson: string): Line[] => ndjson.trim().split("\n").map((l) => JSON.parse(l));

async function exportAs(token: string | undefined) {
  const res = await fetch(`${api.url}/export`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
}

/** Every table with a tenant_id column in the app schemas, from the catalog (so it covers future tables). */
async function tenantTables(): Promise<string[]> {
  const { rows } = await withClient(db.ownerUrl, (c) =>
    c.query(`select c.oid::regclass::text as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where n.nspname in ('app_public', 'app_private') and c.relkind in ('r', 'p')
                and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
              order by 1`),
  );
  return rows.map((r) => r.name);
}

/** What the owner sees of one tenant in one table, as sorted JSON strings. */
async function ownerRows(table: string, tenantId: string): Promise<string[]> {
  return withClient(db.ownerUrl, async (c) => {
    await c.query("begin");
    await c.query("select set_config('jwt.claims.tenant_id', $1, true)", [tenantId]);
    const column = table === "app_public.tenants" ? "id" : "tenant_id";
    const { rows } = await c.query(`select to_jsonb(t) as r from ${table} t where ${column} = $1`, [tenantId]);
    await c.query("rollback");
    return rows.map((r) => JSON.stringify(r.r)).sort();
  });
}

describe("GET /export", () => {
  let lines: Line[];
  beforeAll(async () => {
    const res = await exportAs(tokenAdminA);
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^application\/x-ndjson/);
    lines = parse(res.text);
  });

  it("starts with a header carrying the format, the schema version and the export time", async () => {
    const { rows: [{ v }] } = await withClient(db.ownerUrl, (c) => c.query("select app_public.schema_version() as v"));
    expect(lines[0]).toMatchObject({
      type: "header",
      format: "multi-tenant-saas/export",
      formatVersion: 1,
      schemaVersion: v,
      tenant: { id: world.tenants.A.id, slug: world.tenants.A.slug },
    });
    expect(Date.parse(String(lines[0].exportedAt))).toBeGreaterThan(Date.now() - 60_000);
  });

  it("contains exactly the rows an owner query sees for tenant A, in every tenant-scoped table of the API", async () => {
    const apiTables = (await tenantTables()).filter((t) => t.startsWith("app_public."));
    expect(lines[0].tables).toEqual(expect.arrayContaining(["app_public.tenants", ...apiTables]));
    for (const table of ["app_public.tenants", ...apiTables]) {
      const exported = lines.filter((l) => l.table === table).map((l) => JSON.stringify(l.data)).sort();
      const expected = await ownerRows(table, world.tenants.A.id);
      expect(expected.length, table).toBeGreaterThan(0);
      expect(exported, table).toEqual(expected);
    }
  });

  it("contains nothing of tenant B and no secrets", () => {
    const text = JSON.stringify(lines);
    expect(text).not.toContain(world.tenants.B.id);
    expect(text).not.toContain(world.memberB.email);
    expect(text).not.toMatch(/password|\$2[aby]\$/i);
    expect(lines.some((l) => String(l.table).startsWith("app_private."))).toBe(false);
  });

  it("ends with the row counts, which match the rows", () => {
    const end = lines.at(-1)!;
    expect(end.type).toBe("end");
    const rows = lines.filter((l) => l.type === "row");
    expect(end.total).toBe(rows.length);
    for (const [table, n] of Object.entries(end.rows as Record<string, number>)) {
      expect(rows.filter((l) => l.table === table)).toHaveLength(n);
    }
  });

  it("is gzipped when the client asks for it, with the same content", async () => {
    const { headers, body } = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      request(`${api.url}/export`, { headers: { authorization: `Bearer ${tokenAdminA}`, "accept-encoding": "gzip" } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      })
        .on("error", reject)
        .end();
    });
    expect(headers["content-encoding"]).toBe("gzip");
    const unzipped = parse(gunzipSync(body).toString("utf8"));
    expect(unzipped.slice(1)).toEqual(lines.slice(1));
  });

  it("a member gets 403 and an anonymous caller 401, without data", async () => {
    const member = await exportAs(await api.login(world.tenants.A.slug, world.memberA.email, world.password));
    expect(member.status).toBe(403);
    expect(JSON.parse(member.text).errors[0].extensions.code).toBe("FORBIDDEN");
    const anonymous = await exportAs(undefined);
    expect(anonymous.status).toBe(401);
    expect(anonymous.text).not.toContain(world.adminA.email);
  });

  it("an admin whose session has ended (logout) gets 401 INVALID_TOKEN and no data", async () => {
    const { accessToken, refreshToken } = await api.loginTokens(world.tenants.B.slug, world.adminB.email, world.password);
    expect((await exportAs(accessToken)).status).toBe(200);
    const out = await api.graphql("mutation($t: String!) { logout(input: {refreshToken: $t}) { result } }", { t: refreshToken });
    expect(out.body.data!.logout.result).toBe(true);
    const after = await exportAs(accessToken);
    expect(after.status).toBe(401);
    expect(JSON.parse(after.text).errors[0].extensions.code).toBe("INVALID_TOKEN");
    expect(after.text).not.toContain(world.adminB.email);
  });

  it("B's admin exports only B", async () => {
    const b = parse((await exportAs(await api.login(world.tenants.B.slug, world.adminB.email, world.password))).text);
    expect(b[0].tenant).toMatchObject({ id: world.tenants.B.id });
    for (const l of b.filter((x) => x.type === "row")) {
      expect(l.table === "app_public.tenants" ? l.data!.id : l.data!.tenant_id).toBe(world.tenants.B.id);
    }
  });
});

describe("deleteTenant", () => {
  const DELETE = `mutation($slug: String!) { deleteTenant(input: {confirmSlug: $slug}) { result } }`;

  it("a member may not delete the tenant", async () => {
    const token = await api.login(world.tenants.B.slug, world.memberB.email, world.password);
    const { body } = await api.graphql(DELETE, { slug: world.tenants.B.slug }, token);
    expect(body.errors![0].extensions).toMatchObject({ code: "FORBIDDEN" });
  });

  it("an admin must repeat the tenant's slug", async () => {
    const token = await api.login(world.tenants.B.slug, world.adminB.email, world.password);
    const { body } = await api.graphql(DELETE, { slug: world.tenants.A.slug }, token);
    expect(body.errors![0].extensions).toMatchObject({ code: "CONFM" });
  });
});

describe("export, delete, import: a round trip", () => {
  it("deletes every row of tenant A, leaves B alone, audits it, and the import restores an identical tenant", async () => {
    const before = (await exportAs(tokenAdminA)).text;
    const file = join(dir, "acme.ndjson");
    writeFileSync(file, before);
    const tablesB = await Promise.all((await tenantTables()).map(async (t) => [t, await ownerRows(t, world.tenants.B.id)]));

    const deleted = await api.graphql(
      `mutation($slug: String!) { deleteTenant(input: {confirmSlug: $slug}) { result } }`,
      { slug: world.tenants.A.slug },
      tokenAdminA,
    );
    expect(deleted.body.data!.deleteTenant.result).toBe(true);

    // As the superuser, from the catalog: no table anywhere holds a row of A.
    const superuserUrl = withDatabase(db.rootUrl, db.name);
    await withClient(superuserUrl, async (c) => {
      for (const table of await tenantTables()) {
        const { rows } = await c.query(`select count(*)::int as n from ${table} where tenant_id = $1`, [world.tenants.A.id]);
        expect(rows[0].n, table).toBe(0);
      }
      const { rows: tenant } = await c.query("select 1 from app_public.tenants where id = $1", [world.tenants.A.id]);
      expect(tenant).toHaveLength(0);
      const { rows: audit } = await c.query("select slug, deleted_by, rows_deleted from app_private.tenant_deletions where deleted_tenant_id = $1", [
        world.tenants.A.id,
      ]);
      expect(audit).toEqual([{ slug: world.tenants.A.slug, deleted_by: world.adminA.id, rows_deleted: expect.objectContaining({ "app_public.tasks": 3 }) }]);
    });
    for (const [table, rows] of tablesB) expect(await ownerRows(table as string, world.tenants.B.id), table as string).toEqual(rows);

    // The command a DBA runs.
    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT_DIR, "bin/tenant-import.ts"), file], {
      cwd: ROOT_DIR,
      env: { PATH: process.env.PATH, DATABASE_URL: db.ownerUrl, AUTH_DATABASE_URL: db.authUrl },
    });
    expect(stdout).toMatch(/imported tenant "acme"/);

    // Sessions are not exported, so A's admin needs a new one; passwords are
    // not exported either, so it is made as the owner (a fixture) rather than
    // by logging in (which would also add a login event to the log).
    const session = await withClient(db.ownerUrl, async (c) => {
      await c.query("begin");
      await c.query("select set_config('jwt.claims.tenant_id', $1, true)", [world.tenants.A.id]);
      const { rows } = await c.query("select to_jsonb((app_private.issue_tokens($1, $2)).access_token) as claims", [world.tenants.A.id, world.adminA.id]);
      await c.query("commit");
      return rows[0].claims;
    });
    const tokenAfterImport = jwt.sign(session, api.config.jwt.secret, {
      algorithm: "HS256",
      audience: api.config.jwt.audience,
      issuer: api.config.jwt.issuer,
      expiresIn: 600,
    });
    const after = (await exportAs(tokenAfterImport)).text;
    const withoutTime = (text: string) => parse(text).map((l) => (l.type === "header" ? { ...l, exportedAt: null } : l));
    expect(withoutTime(after)).toEqual(withoutTime(before));
  });
});

describe("npm run tenant:import refuses, and writes nothing", () => {
  let exportB: string;
  beforeAll(async () => {
    exportB = (await exportAs(await api.login(world.tenants.B.slug, world.adminB.email, world.password))).text;
  });
  const fileWith = (text: string) => {
    const file = join(dir, `case-${Math.random().toString(36).slice(2)}.ndjson`);
    writeFileSync(file, text);
    return file;
  };
  const tenantCount = () => withClient(db.ownerUrl, (c) => c.query("select count(*)::int as n from app_public.tenants")).then((r) => r.rows[0].n);

  it("a tenant that already exists", async () => {
    await expect(importTenant(db.ownerUrl, fileWith(exportB))).rejects.toThrow(/already exists/);
  });

  it("an export of another schema version", async () => {
    const lines = exportB.trim().split("\n");
    const header = JSON.parse(lines[0]);
    lines[0] = JSON.stringify({ ...header, schemaVersion: "000001", tenant: { id: crypto.randomUUID(), slug: "elsewhere" } });
    await expect(importTenant(db.ownerUrl, fileWith(lines.join("\n")))).rejects.toThrow(/schema version 000001/);
  });

  it("a file cut short before its end line, even though every row before it was fine", async () => {
    const newId = crypto.randomUUID();
    const moved = exportB.replaceAll(world.tenants.B.id, newId).replace(new RegExp(`"slug": ?"${world.tenants.B.slug}"`, "g"), '"slug":"moved"');
    const cut = moved.trim().split("\n").slice(0, -1).join("\n");
    const before = await tenantCount();
    await expect(importTenant(db.ownerUrl, fileWith(cut))).rejects.toThrow(/no end line/);
    expect(await tenantCount()).toBe(before);
    // The complete file goes in (control): same rows under a new id and slug.
    const { rows } = await importTenant(db.ownerUrl, fileWith(moved));
    expect(rows["app_public.tasks"]).toBe(3);
    expect(await tenantCount()).toBe(before + 1);
  });

  it("a row of another tenant smuggled into the file", async () => {
    const lines = exportB.trim().split("\n");
    const newId = crypto.randomUUID();
    const rewritten = lines.map((l, i) => (i === 0 ? l.replaceAll(world.tenants.B.id, newId).replace(/"slug":"[^"]+"/, '"slug":"smuggler"') : l));
    await expect(importTenant(db.ownerUrl, fileWith(rewritten.join("\n")))).rejects.toThrow(/another tenant/);
  });

  it("(control) accepts a gzipped export of a new tenant", async () => {
    const newId = crypto.randomUUID();
    const moved = exportB.replaceAll(world.tenants.B.id, newId).replace(new RegExp(`"slug": ?"${world.tenants.B.slug}"`, "g"), '"slug":"zipped"');
    const file = join(dir, "zipped.ndjson.gz");
    writeFileSync(file, gzipSync(moved));
    const { slug, rows } = await importTenant(db.ownerUrl, file);
    expect(slug).toBe("zipped");
    expect(rows["app_public.users"]).toBe(2);
  });
});
