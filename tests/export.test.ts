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
import { ROLES } from "../common/roles.ts";
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
  const invited = await api.graphql(`mutation { inviteUser(input: {email: "new.hire@acme.test", role: MEMBER}) { result { token } } }`, {}, tokenAdminA);
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

/** Each table's columns (in order) with format_type under search_path pg_catalog, as the owner reads the catalog. */
async function catalogColumns(): Promise<Record<string, { name: string; type: string }[]>> {
  return withClient(db.ownerUrl, async (c) => {
    await c.query("begin");
    await c.query("set local search_path to pg_catalog");
    const { rows } = await c.query(
      `select c.oid::regclass::text as name,
              json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod)) order by a.attnum) as columns
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
         join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where n.nspname = 'app_public' and c.relkind = 'r'
        group by c.oid`,
    );
    await c.query("rollback");
    return Object.fromEntries(rows.map((r) => [r.name, r.columns]));
  });
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

  it("starts with a header carrying the format, the schema version (information) and the export time", async () => {
    const { rows: [{ v }] } = await withClient(db.ownerUrl, (c) => c.query("select app_public.schema_version() as v"));
    expect(lines[0]).toMatchObject({
      type: "header",
      format: "multi-tenant-saas/export",
      formatVersion: 2,
      schemaVersion: v,
      tenant: { id: world.tenants.A.id, slug: world.tenants.A.slug },
    });
    expect(Date.parse(String(lines[0].exportedAt))).toBeGreaterThan(Date.now() - 60_000);
  });

  it("declares every table's columns and types as the catalog has them, and every row carries exactly its table's columns", async () => {
    const declared = lines[0].tables as { name: string; columns: { name: string; type: string }[] }[];
    const catalog = await catalogColumns();
    expect(Object.fromEntries(declared.map((t) => [t.name, t.columns]))).toEqual(
      Object.fromEntries(declared.map((t) => [t.name, catalog[t.name]])),
    );
    // Spot checks, written out: a type of the app's own (schema-qualified), a built-in one.
    const tasks = declared.find((t) => t.name === "app_public.tasks")!.columns;
    expect(tasks).toContainEqual({ name: "status", type: "app_public.task_status" });
    expect(tasks).toContainEqual({ name: "created_at", type: "timestamp with time zone" });
    const rows = lines.filter((l) => l.type === "row");
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(Object.keys(row.data!).sort(), row.table).toEqual(catalog[row.table!].map((c) => c.name).sort());
    }
  });

  it("contains exactly the rows an owner query sees for tenant A, in every tenant-scoped table of the API", async () => {
    const apiTables = (await tenantTables()).filter((t) => t.startsWith("app_public."));
    expect((lines[0].tables as { name: string }[]).map((t) => t.name)).toEqual(expect.arrayContaining(["app_public.tenants", ...apiTables]));
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

// Who may export, role by role: tests/policies/assert_may_export.test.ts.
describe("GET /export asks app_public.assert_may_export, not the server's code", () => {
  const REFUSAL = /Only a tenant admin, or an operator naming the tenant, may export a tenant/;

  it("the function is STABLE, not a definer, executable by the member and operator roles but not PUBLIC or anonymous", async () => {
    const { rows: [f] } = await withClient(db.ownerUrl, (c) =>
      c.query(
        `select p.provolatile, p.prosecdef, p.proconfig, obj_description(p.oid, 'pg_proc') as comment,
                has_function_privilege($1, p.oid, 'execute') as member, has_function_privilege($2, p.oid, 'execute') as admin,
                has_function_privilege($3, p.oid, 'execute') as operator, has_function_privilege($4, p.oid, 'execute') as anonymous,
                exists (select 1 from aclexplode(p.proacl) a where a.grantee = 0) as public
           from pg_proc p where p.oid = 'app_public.assert_may_export()'::regprocedure`,
        [ROLES.member, ROLES.admin, ROLES.operator, ROLES.anonymous],
      ),
    );
    expect(f).toMatchObject({ provolatile: "s", prosecdef: false, member: true, admin: true, operator: true, anonymous: false, public: false });
    expect(f.proconfig).toContain("search_path=pg_catalog, public, pg_temp");
    expect(f.comment).toMatch(/GET \/export calls it/);
  });

  it("raises for A's member called directly as the member role with the member's claims, with its message", async () => {
    await withClient(db.authUrl, async (c) => {
      await c.query("begin");
      await c.query(`set local role ${ROLES.member}`);
      await c.query("select set_config('jwt.claims.tenant_id', $1, true), set_config('jwt.claims.user_id', $2, true)", [world.tenants.A.id, world.memberA.id]);
      const { rows: [me] } = await c.query("select current_user as me");
      expect(me.me).toBe(ROLES.member);
      await expect(c.query("select app_public.assert_may_export()")).rejects.toMatchObject({ code: "42501", message: expect.stringMatching(REFUSAL) });
      await c.query("rollback");
    });
  });

  /** Runs `during` with the function's body replaced by `body` (as the owner), and puts the original back after. */
  async function withBody(body: string, during: () => Promise<void>) {
    const { rows: [{ def }] } = await withClient(db.ownerUrl, (c) =>
      c.query("select pg_get_functiondef('app_public.assert_may_export()'::regprocedure) as def"),
    );
    await withClient(db.ownerUrl, (c) =>
      c.query(`create or replace function app_public.assert_may_export() returns void language plpgsql stable
                 set search_path to pg_catalog, public, pg_temp as $$ begin ${body} end; $$`),
    );
    try {
      await during();
    } finally {
      await withClient(db.ownerUrl, (c) => c.query(def));
    }
  }

  it("when the function refuses everyone, A's admin gets 403 FORBIDDEN and no data", async () => {
    await withBody("raise exception 'nobody' using errcode = '42501';", async () => {
      const res = await exportAs(tokenAdminA);
      expect(res.status).toBe(403);
      expect(JSON.parse(res.text)).toEqual({ errors: [{ message: expect.any(String), extensions: { code: "FORBIDDEN" } }] });
      expect(res.text).not.toContain(world.adminA.email);
    });
    expect((await exportAs(tokenAdminA)).status).toBe(200);
  });

  it("when the function admits everyone, A's member's export starts (200 and a header): the server itself decides nothing", async () => {
    const tokenMemberA = await api.login(world.tenants.A.slug, world.memberA.email, world.password);
    expect((await exportAs(tokenMemberA)).status).toBe(403);
    await withBody("return;", async () => {
      // Only the start: the member's own grants (no SELECT on the admins' tables) still cut the stream further on.
      const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        request(`${api.url}/export`, { headers: { authorization: `Bearer ${tokenMemberA}` } }, (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (body += c));
          res.on("error", () => {});
          res.on("close", () => resolve({ status: res.statusCode!, text: body }));
        })
          .on("error", reject)
          .end();
      });
      expect(status).toBe(200);
      expect(JSON.parse(text.slice(0, text.indexOf("\n")))).toMatchObject({ type: "header", tenant: { id: world.tenants.A.id } });
    });
    expect((await exportAs(tokenMemberA)).status).toBe(403);
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
    expect(body.errors![0].extensions).toMatchObject({ code: "CONFIRMATION_MISMATCH" });
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

type Declared = { name: string; columns: { name: string; type: string }[] };

/** `ndjson` (an export) as the export of a new tenant: a fresh id, slug `slug`. */
function moved(ndjson: string, slug: string): string {
  const tenant = JSON.parse(ndjson.slice(0, ndjson.indexOf("\n"))).tenant;
  return ndjson
    .trim()
    .replaceAll(tenant.id, crypto.randomUUID())
    .replace(new RegExp(`"slug": ?"${tenant.slug}"`, "g"), `"slug":"${slug}"`);
}

/** `ndjson` with `table`'s declared columns changed by `columns`, and each of its rows' data by `data`. */
function editTable(
  ndjson: string,
  table: string,
  columns: (columns: Declared["columns"]) => Declared["columns"],
  data: (data: Record<string, unknown>) => Record<string, unknown> = (d) => d,
): string {
  return ndjson
    .split("\n")
    .map((text, i) => {
      const line = JSON.parse(text);
      if (i === 0) {
        line.tables = (line.tables as Declared[]).map((t) => (t.name === table ? { ...t, columns: columns(t.columns) } : t));
      } else if (line.type === "row" && line.table === table) {
        line.data = data(line.data);
      }
      return JSON.stringify(line);
    })
    .join("\n");
}

describe("npm run tenant:import accepts an export from an earlier schema whose shapes fit", () => {
  let exportB: string;
  beforeAll(async () => {
    exportB = (await exportAs(await api.login(world.tenants.B.slug, world.adminB.email, world.password))).text;
  });
  const fileWith = (text: string) => {
    const file = join(dir, `earlier-${Math.random().toString(36).slice(2)}.ndjson`);
    writeFileSync(file, text);
    return file;
  };
  /** The tasks of the tenant with `slug`, as the owner sees them. */
  const tasksOf = (slug: string) =>
    withClient(db.ownerUrl, async (c) => {
      await c.query("begin");
      const { rows: [t] } = await c.query("select id from app_public.tenants where slug = $1", [slug]);
      await c.query("select set_config('jwt.claims.tenant_id', $1, true)", [t.id]);
      const { rows } = await c.query("select title, due_date, created_at from app_public.tasks order by title");
      await c.query("rollback");
      return rows;
    });

  it("whose schema version is older than this database's (information only)", async () => {
    const lines = moved(exportB, "older-version").split("\n");
    lines[0] = JSON.stringify({ ...JSON.parse(lines[0]), schemaVersion: "000001-foundation" });
    const { rows } = await importTenant(db.ownerUrl, fileWith(lines.join("\n")));
    expect(rows["app_public.tasks"]).toBe(3);
  });

  it("without a nullable column that this database has since added (its values stay null)", async () => {
    const file = editTable(
      moved(exportB, "no-due-date"),
      "app_public.tasks",
      (columns) => columns.filter((c) => c.name !== "due_date"),
      ({ due_date, ...data }) => data,
    );
    const { rows } = await importTenant(db.ownerUrl, fileWith(file));
    expect(rows["app_public.tasks"]).toBe(3);
    const tasks = await tasksOf("no-due-date");
    expect(tasks).toHaveLength(3);
    for (const t of tasks) expect(t.due_date).toBeNull();
  });

  it("without a not-null column that has a default here (it takes the default)", async () => {
    const file = editTable(
      moved(exportB, "no-created-at"),
      "app_public.tasks",
      (columns) => columns.filter((c) => c.name !== "created_at"),
      ({ created_at, ...data }) => data,
    );
    const started = Date.now();
    await importTenant(db.ownerUrl, fileWith(file));
    const tasks = await tasksOf("no-created-at");
    expect(tasks).toHaveLength(3);
    for (const t of tasks) expect((t.created_at as Date).getTime()).toBeGreaterThan(started - 60_000);
  });

  it("into a database that has since gained a nullable column and a table's new column with a default (added as the owner)", async () => {
    await withClient(db.ownerUrl, (c) =>
      c.query("alter table app_public.projects add column archived_note text, add column priority integer not null default 3"),
    );
    try {
      const { rows } = await importTenant(db.ownerUrl, fileWith(moved(exportB, "before-new-columns")));
      expect(rows["app_public.projects"]).toBeGreaterThan(0);
      const { rows: projects } = await withClient(db.ownerUrl, async (c) => {
        await c.query("begin");
        const { rows: [t] } = await c.query("select id from app_public.tenants where slug = 'before-new-columns'");
        await c.query("select set_config('jwt.claims.tenant_id', $1, true)", [t.id]);
        const result = await c.query("select archived_note, priority from app_public.projects");
        await c.query("rollback");
        return result;
      });
      expect(projects.length).toBe(rows["app_public.projects"]);
      for (const p of projects) expect(p).toEqual({ archived_note: null, priority: 3 });
    } finally {
      await withClient(db.ownerUrl, (c) => c.query("alter table app_public.projects drop column archived_note, drop column priority"));
    }
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
  /** Refused with `message`, and no tenant more than before. */
  const expectRefused = async (text: string, message: RegExp) => {
    const before = await tenantCount();
    await expect(importTenant(db.ownerUrl, fileWith(text))).rejects.toThrow(message);
    expect(await tenantCount()).toBe(before);
  };

  it("a tenant that already exists", async () => {
    await expect(importTenant(db.ownerUrl, fileWith(exportB))).rejects.toThrow(/already exists/);
  });

  it("a version 1 file (compatible by schema version only), with a clear message", async () => {
    const [header, ...rest] = moved(exportB, "version-one").split("\n");
    const { tables, ...v1 } = JSON.parse(header);
    const v1Header = { ...v1, formatVersion: 1, tables: (tables as Declared[]).map((t) => t.name) };
    await expectRefused([JSON.stringify(v1Header), ...rest].join("\n"), /a version 1 export .*export the tenant again/);
  });

  it("a column whose type differs here (the file says text, this database date), naming table and column", async () => {
    const file = editTable(moved(exportB, "retyped"), "app_public.tasks", (columns) =>
      columns.map((c) => (c.name === "due_date" ? { ...c, type: "text" } : c)),
    );
    await expectRefused(file, /app_public\.tasks\.due_date: the file has type text, this database date/);
  });

  it("a column this database does not have, in the header and the rows", async () => {
    const file = editTable(
      moved(exportB, "unknown-column"),
      "app_public.tasks",
      (columns) => [...columns, { name: "priority", type: "integer" }],
      (data) => ({ ...data, priority: 1 }),
    );
    await expectRefused(file, /app_public\.tasks\.priority: no such column in this database/);
  });

  it("a file without a column that is not null and has no default here", async () => {
    const file = editTable(
      moved(exportB, "no-title"),
      "app_public.tasks",
      (columns) => columns.filter((c) => c.name !== "title"),
      ({ title, ...data }) => data,
    );
    await expectRefused(file, /app_public\.tasks\.title: not null without a default in this database/);
  });

  it("a table this database does not export", async () => {
    const lines = moved(exportB, "unknown-table").split("\n");
    const header = JSON.parse(lines[0]);
    header.tables.push({ name: "app_private.sessions", columns: [{ name: "id", type: "uuid" }] });
    lines[0] = JSON.stringify(header);
    await expectRefused(lines.join("\n"), /table app_private\.sessions is not a table this database exports/);
  });

  it("a row with a column its table does not declare (the header fits, the row does not)", async () => {
    const lines = moved(exportB, "extra-key").split("\n");
    const i = lines.findIndex((l) => JSON.parse(l).table === "app_public.tasks");
    const row = JSON.parse(lines[i]);
    lines[i] = JSON.stringify({ ...row, data: { ...row.data, secret: "x" } });
    await expectRefused(lines.join("\n"), new RegExp(`line ${i + 1}: a row of app_public\\.tasks with columns its table does not declare: secret`));
  });

  it("npm run tenant:import prints the refusal and exits with 1", async () => {
    const file = fileWith(
      editTable(moved(exportB, "cli-refused"), "app_public.tasks", (columns) =>
        columns.map((c) => (c.name === "due_date" ? { ...c, type: "text" } : c)),
      ),
    );
    const before = await tenantCount();
    const run = promisify(execFile)(process.execPath, [join(ROOT_DIR, "bin/tenant-import.ts"), file], {
      cwd: ROOT_DIR,
      env: { PATH: process.env.PATH, DATABASE_URL: db.ownerUrl, AUTH_DATABASE_URL: db.authUrl },
    });
    await expect(run).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/import refused, nothing was written: .*app_public\.tasks\.due_date: the file has type text, this database date/),
    });
    expect(await tenantCount()).toBe(before);
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
