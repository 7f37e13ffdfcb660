// The Citus distribution DDL (db/citus.ts, generated/citus.sql) as far as it
// can be checked without Citus: which table becomes what, in which order,
// and that every step is guarded so the file may be applied again. Applying
// it is `npm run citus:check`'s job, against a real cluster (never in npm test).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { citusStatements, onNode, nodeLocal, planDistribution, renderCitusSql, type CitusCatalog } from "../db/citus.ts";
import { ROOT_DIR } from "../db/migrate.ts";

/** A small schema: tenants (global), users and things (tenant-scoped, things → users), staff (global, no decision needed: staff_keys → staff), a global log. */
const fk = (table: string, name: string, references: string, definition: string) => ({ table, name, ident: name, references, definition });
const catalog: CitusCatalog = {
  tables: [
    { name: "app_public.things", tenantScoped: true },
    { name: "app_public.users", tenantScoped: true },
    { name: "app_public.tenants", tenantScoped: false },
    { name: "app_public.staff", tenantScoped: false },
    { name: "app_private.staff_keys", tenantScoped: false },
    { name: "app_private.log", tenantScoped: false },
  ],
  foreignKeys: [
    fk("app_public.things", "things_owner_fkey", "app_public.users", "FOREIGN KEY (tenant_id, owner_id) REFERENCES app_public.users(tenant_id, id) ON DELETE CASCADE"),
    fk("app_public.things", "things_tenant_id_fkey", "app_public.tenants", "FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE"),
    fk("app_public.users", "users_tenant_id_fkey", "app_public.tenants", "FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE"),
    fk("app_private.staff_keys", "staff_keys_staff_fkey", "app_public.staff", "FOREIGN KEY (staff_id) REFERENCES app_public.staff(id)"),
  ],
  triggers: [{ table: "app_public.things", ident: "_900_audit" }],
  functions: [
    { signature: "app_public.current_tenant_id()", rowTypes: [] },
    { signature: "app_public.me()", rowTypes: ["app_public.users"] },
    { signature: "app_private.last_log()", rowTypes: ["app_private.log"] },
  ],
};
const decisions = { local: { "app_private.log": "written often, read by nobody's request" }, reference: { "app_public.staff": "read everywhere" } };

describe("the distribution plan (from the catalog)", () => {
  const plan = planDistribution(catalog, decisions);

  it("distributes every table with tenant_id, parents before the tables that reference them", () => {
    expect(plan.distributed).toEqual(["app_public.users", "app_public.things"]);
  });

  it("makes a global table referenced by a distributed table a reference table, and one linked to a reference table too", () => {
    expect(plan.reference.map((r) => r.table)).toEqual(["app_public.staff", "app_private.staff_keys", "app_public.tenants"]);
    expect(plan.reference.find((r) => r.table === "app_public.tenants")!.reason).toMatch(/referenced by foreign keys of distributed tables \(app_public\.things, app_public\.users\)/);
    expect(plan.reference.find((r) => r.table === "app_private.staff_keys")!.reason).toMatch(/staff_keys_staff_fkey/);
  });

  it("keeps a global table local only by decision, with its reason", () => {
    expect(plan.local).toEqual([{ table: "app_private.log", reason: "written often, read by nobody's request" }]);
  });

  it("refuses a global table without a decision", () => {
    expect(() => planDistribution(catalog, { local: {}, reference: decisions.reference })).toThrow(/app_private\.log has no tenant_id and no decision/);
  });

  it("refuses to keep local a table that a foreign key makes a reference table", () => {
    expect(() => planDistribution(catalog, { ...decisions, local: { ...decisions.local, "app_public.tenants": "no" } })).toThrow(
      /app_public\.tenants is listed in LOCAL_TABLES .* must be a reference table/,
    );
  });

  it("refuses a global table with a foreign key to a distributed table", () => {
    const bad = { ...catalog, foreignKeys: [...catalog.foreignKeys, fk("app_private.log", "log_user_fkey", "app_public.users", "FOREIGN KEY (tenant_id, user_id) REFERENCES app_public.users(tenant_id, id)")] };
    expect(() => planDistribution(bad, decisions)).toThrow(/log_user_fkey to the distributed table app_public\.users, which Citus refuses/);
  });
});

describe("the distribution DDL", () => {
  const sql = renderCitusSql(catalog, decisions);
  const statements = citusStatements(sql);

  it("is one transaction, in sequential mode, with triggers allowed", () => {
    expect(statements[0]).toBe("begin;");
    expect(statements.at(-1)).toBe("commit;");
    expect(statements).toContain("set local citus.multi_shard_modify_mode to 'sequential';");
    expect(statements).toContain("set local citus.enable_unsafe_triggers to on;");
  });

  it("drops PostGraphile's watch schema (its event trigger breaks Citus DDL)", () => {
    expect(statements).toContain("drop schema if exists postgraphile_watch cascade;");
  });

  it("creates each table only while it is not yet a Citus table, reference tables first, the first distributed table anchoring the colocation", () => {
    const creates = statements.filter((s) => /perform create_(reference|distributed)_table/.test(s));
    expect(creates.map((s) => s.match(/create_\w+_table\('([^']+)'/)![1])).toEqual([
      "app_public.staff",
      "app_private.staff_keys",
      "app_public.tenants",
      "app_public.users",
      "app_public.things",
    ]);
    for (const s of creates) expect(s).toMatch(/if not exists \(select 1 from pg_dist_partition where logicalrelid = '[^']+'::regclass\)/);
    expect(creates[3]).toContain("create_distributed_table('app_public.users', 'tenant_id', colocate_with => 'none')");
    expect(creates[4]).toContain("create_distributed_table('app_public.things', 'tenant_id', colocate_with => 'app_public.users')");
  });

  it("turns a table's triggers off only around its own copy into the shards", () => {
    const things = statements.find((s) => s.includes("create_distributed_table('app_public.things'"))!;
    const lines = things.split("\n").map((l) => l.trim());
    const at = (text: string) => lines.findIndex((l) => l.startsWith(text));
    expect(at("alter table app_public.things disable trigger _900_audit;")).toBeLessThan(at("perform create_distributed_table"));
    expect(at("perform truncate_local_data_after_distributing_table('app_public.things');")).toBeGreaterThan(at("perform create_distributed_table"));
    expect(at("alter table app_public.things enable trigger _900_audit;")).toBeGreaterThan(at("perform truncate_local_data"));
  });

  it("drops every foreign key between Citus tables before the first create, and adds each again (if missing) after the last", () => {
    const isCreate = (s: string) => /perform create_(reference|distributed)_table/.test(s);
    const firstCreate = statements.findIndex(isCreate);
    const lastCreate = statements.findLastIndex(isCreate);
    for (const k of catalog.foreignKeys) {
      const drop = statements.findIndex((s) => s.includes(`drop constraint if exists ${k.name};`));
      const add = statements.findIndex((s) => s.includes(`add constraint ${k.name} ${k.definition};`));
      expect(drop, k.name).toBeGreaterThan(-1);
      expect(drop, k.name).toBeLessThan(firstCreate);
      expect(add, k.name).toBeGreaterThan(lastCreate);
      expect(statements[add]).toContain(`conname = '${k.name}'`);
    }
  });

  it("distributes every function (if not yet), except one whose signature uses a local table's row type", () => {
    expect(statements.filter((s) => s.includes("create_distributed_function")).map((s) => s.match(/create_distributed_function\('([^']+)'\)/)![1])).toEqual([
      "app_public.current_tenant_id()",
      "app_public.me()",
    ]);
    expect(sql.replace(/\n-- /g, " ")).toContain("app_private.last_log(): not on the workers, its signature uses the row type of the local table app_private.log.");
  });

  it("quotes names as literals inside its guards", () => {
    const odd = { ...catalog, tables: [...catalog.tables, { name: `app_public."it's"`, tenantScoped: true }] };
    expect(renderCitusSql(odd, decisions)).toContain(`create_distributed_table('app_public."it''s"', 'tenant_id'`);
  });
});

describe("generated/citus.sql (the project's own schema)", () => {
  const statements = citusStatements(readFileSync(join(ROOT_DIR, "generated/citus.sql"), "utf8"));

  it("splits into statements of which none is only a comment, each a whole statement", () => {
    for (const s of statements) expect(s).toMatch(/;$/);
    expect(statements.filter((s) => s.startsWith("do $$")).every((s) => s.endsWith("end $$;"))).toBe(true);
  });

  it("makes tenants a reference table and distributes users by tenant_id", () => {
    expect(statements.some((s) => s.includes("create_reference_table('app_public.tenants')"))).toBe(true);
    expect(statements.some((s) => s.includes("create_distributed_table('app_public.users', 'tenant_id'"))).toBe(true);
  });
});

describe("node URLs", () => {
  it("points the root URL at a worker, keeping credentials and database", () => {
    expect(onNode("postgres://postgres:pw@coord:5432/postgres?sslmode=require", "10.0.0.2", 5433)).toBe("postgres://postgres:pw@10.0.0.2:5433/postgres?sslmode=require");
    expect(onNode("postgres://postgres@coord/postgres", "::1", 9701)).toBe("postgres://postgres@[::1]:9701/postgres");
  });

  it("turns Citus's DDL propagation off for a node-local session", () => {
    expect(new URL(nodeLocal("postgres://postgres@coord:5432/postgres")).searchParams.get("options")).toBe("-c citus.enable_ddl_propagation=off");
  });
});
