// Coverage of the policy specs, driven by the catalog: every table of
// app_public and app_private × select/insert/update/delete × request role,
// and every app_public function a request role may execute × request role,
// has at least one case in tests/policies/*.cases.ts (the data the specs
// run). The finder is in ./coverage-finder.ts; below, it is shown to fail
// on made-up cases and on a table and a function added to the database.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROLES } from "../../common/roles.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import type { PolicyCase } from "../helpers/policy.ts";
import { CATALOG_SQL, type CoverageCatalog, missingCoverage, statementTargets } from "./coverage-finder.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const REQUEST_ROLES = [ROLES.anonymous, ROLES.member, ROLES.admin, ROLES.operator];
/** Every *.cases.ts beside this file: found by listing the folder, so a new one is counted without being named here. */
const CASE_MODULES = readdirSync(HERE).filter((f) => f.endsWith(".cases.ts")).sort();

let db: TestDatabase;
let owner: pg.Client;
let allCases: PolicyCase[];

beforeAll(async () => {
  db = await createTestDatabase();
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
  allCases = [];
  for (const file of CASE_MODULES) {
    const module = (await import(join(HERE, file))) as { cases?: PolicyCase[] };
    expect(Array.isArray(module.cases), `${file} exports its cases as \`cases\``).toBe(true);
    allCases.push(...module.cases!);
  }
});
afterAll(() => owner?.end());

async function readCatalog(client: pg.Client): Promise<CoverageCatalog> {
  const { rows } = await client.query<{ kind: string; name: string }>(CATALOG_SQL, [REQUEST_ROLES]);
  return {
    tables: rows.filter((r) => r.kind === "table").map((r) => r.name),
    functions: rows.filter((r) => r.kind === "function").map((r) => r.name),
    roles: REQUEST_ROLES,
  };
}

describe("the policy specs", () => {
  it("each *.cases.ts is data that its spec runs: X.test.ts imports ./X.cases.ts and hands its cases to policyMatrix", () => {
    expect(CASE_MODULES.length).toBeGreaterThan(5);
    for (const file of CASE_MODULES) {
      const spec = file.replace(/\.cases\.ts$/, ".test.ts");
      const text = readFileSync(join(HERE, spec), "utf8");
      expect(text, spec).toContain(`import { cases } from "./${file}";`);
      expect(text, spec).toMatch(/policyMatrix\([^;]*\bcases\)/);
      // A cases module is data: were it to declare tests, importing it here would run them twice.
      expect(readFileSync(join(HERE, file), "utf8"), file).not.toMatch(/from "vitest"|policyMatrix\(/);
    }
  });

  it("cover every table × command × request role and every exposed function × request role in the catalog", async () => {
    const catalog = await readCatalog(owner);
    expect(catalog.tables).toContain("app_public.users");
    expect(catalog.tables).toContain("app_private.sessions");
    expect(catalog.functions).toContain("app_public.login");
    expect(catalog.functions).toContain("app_public.current_user");
    expect(missingCoverage(catalog, allCases)).toEqual([]);
  });
});

describe("the coverage finder", () => {
  it("reads the command and table of each kind of statement, and the functions it calls", () => {
    expect(statementTargets("select * from app_public.users u join app_public.tenants t on t.id = u.tenant_id")).toEqual({
      tables: [["app_public.users", "select"], ["app_public.tenants", "select"]],
      functions: [],
    });
    expect(statementTargets("insert into app_public.tasks (project_id) values ($1) returning tenant_id").tables).toEqual([["app_public.tasks", "insert"]]);
    expect(statementTargets("update app_private.sessions set revoked_at = null").tables).toEqual([["app_private.sessions", "update"]]);
    expect(statementTargets("delete from app_public.comments where id = $1").tables).toEqual([["app_public.comments", "delete"]]);
    // A function in FROM is a call, not a table read.
    expect(statementTargets("select u.* from app_public.current_user() u where u.id is not null")).toEqual({
      tables: [],
      functions: ["app_public.current_user"],
    });
    expect(statementTargets('select app_public."current_user"()').functions).toEqual(["app_public.current_user"]);
    expect(statementTargets("truncate app_public.audit_events").tables).toEqual([]);
  });

  it("lists what no case covers; the authenticator itself covers nothing", () => {
    const catalog: CoverageCatalog = {
      tables: ["app_public.widgets"],
      functions: ["app_public.frobnicate"],
      roles: [ROLES.anonymous, ROLES.member],
    };
    const cases: Pick<PolicyCase, "actor" | "sql">[] = [
      { actor: "anonymous", sql: "select * from app_public.widgets" },
      { actor: "member of B", sql: "update app_public.widgets set name = 'x'" },
      { actor: "member with no claims", sql: "select app_public.frobnicate()" },
      { actor: "authenticator itself", sql: "delete from app_public.widgets" },
    ];
    expect(missingCoverage(catalog, cases)).toEqual([
      "table app_public.widgets select as mts_member",
      "table app_public.widgets insert as mts_anonymous",
      "table app_public.widgets insert as mts_member",
      "table app_public.widgets update as mts_anonymous",
      "table app_public.widgets delete as mts_anonymous",
      "table app_public.widgets delete as mts_member",
      "function app_public.frobnicate as mts_anonymous",
    ]);
  });

  it("reports a table and a function added to the database that no spec knows (created as the owner, rolled back)", async () => {
    await owner.query("begin");
    try {
      await owner.query(`
        create table app_public.uncovered_widgets (id uuid primary key);
        grant select on app_public.uncovered_widgets to ${ROLES.member};
        create function app_public.uncovered_answer() returns int language sql stable as 'select 42';
        revoke execute on function app_public.uncovered_answer() from public;
        grant execute on function app_public.uncovered_answer() to ${ROLES.admin};
        create function app_public.unexposed_answer() returns int language sql stable as 'select 42';
        revoke execute on function app_public.unexposed_answer() from public;`);
      const missing = missingCoverage(await readCatalog(owner), allCases);
      expect(missing).toEqual([
        ...["select", "insert", "update", "delete"].flatMap((command) =>
          REQUEST_ROLES.map((role) => `table app_public.uncovered_widgets ${command} as ${role}`),
        ),
        ...REQUEST_ROLES.map((role) => `function app_public.uncovered_answer as ${role}`),
      ]);
    } finally {
      await owner.query("rollback");
    }
  });
});
