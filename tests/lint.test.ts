// The policy linter (db/lint.ts), rule by rule. The migrated schema must have
// no findings; then each test breaks one thing inside a transaction on a
// superuser connection, lints that same transaction, expects exactly the
// findings the breakage should cause (and nothing else), and rolls back.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APP_SCHEMAS, GLOBAL_TABLES, lintDatabase, RULES, type Finding } from "../db/lint.ts";
import { ROLES } from "../common/roles.ts";
import { withClient, withDatabase } from "../db/setup.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";

let db: TestDatabase;
let superuser: pg.Client;
/** What the untouched schema reports (nothing, if the first test passes). */
let baseline: Finding[];

beforeAll(async () => {
  db = await createTestDatabase();
  superuser = new pg.Client({ connectionString: withDatabase(db.rootUrl, db.name) });
  await superuser.connect();
  baseline = await lintDatabase(superuser);
});
afterAll(() => superuser?.end());

const key = (f: Finding) => `${f.rule} ${f.object}`;

/** Runs `sql` in a transaction, lints, rolls back; returns the findings that `sql` added. */
async function findingsAfter(sql: string): Promise<Finding[]> {
  await superuser.query("begin");
  try {
    await superuser.query(sql);
    const findings = await lintDatabase(superuser);
    return findings.filter((f) => !baseline.some((b) => key(b) === key(f) && b.message === f.message));
  } finally {
    await superuser.query("rollback");
  }
}

/** Expects exactly these [rule, object] findings, each with a message that names its object. */
function expectFindings(findings: Finding[], ...expected: [rule: string, object: string][]) {
  expect(findings.map(key).sort()).toEqual(expected.map(([rule, object]) => `${rule} ${object}`).sort());
  for (const f of findings) expect(f.message, key(f)).toContain(f.object);
}

/** A table in app_public with row-level security enabled and forced. */
const table = (name: string, columns: string) => `
  create table app_public.${name} (${columns});
  alter table app_public.${name} enable row level security;
  alter table app_public.${name} force row level security;`;

/** A tenant-scoped table done right: tenant_id first in its primary key. */
const tenantTable = (name: string, columns = "") =>
  table(name, `tenant_id uuid not null, id uuid not null, ${columns} primary key (tenant_id, id)`);

/** A grant to mts_member of the command a policy governs, so that the policy is reachable (unreachable-policy). */
const grantToMember = (name: string, command: string) => `grant ${command} on app_public.${name} to mts_member;`;

describe("the migrated schema", () => {
  it("has no findings (linted as the owner, like `npm run lint:db`)", async () => {
    const findings = await withClient(db.ownerUrl, lintDatabase);
    expect(findings).toEqual([]);
    expect(baseline).toEqual([]);
  });

  it("declares app_public.tenants as its one global table", () => {
    expect(GLOBAL_TABLES).toEqual(["app_public.tenants"]);
  });

  it("is checked by every rule below", () => {
    expect([...RULES].sort()).toEqual(
      [
        "rls",
        "uncovered-grant",
        "unreachable-policy",
        "owner-policy-name",
        "tenant-key",
        "tenant-index",
        "foreign-key-index",
        "policy-subquery",
        "policy-volatile",
        "definer-search-path",
        "public-execute",
        "request-role",
        "identity-column",
        "column-grant",
        "citus-fk-set-null",
        "citus-upsert-volatile",
        "citus-set-config",
        "citus-trigger-table-name",
      ].sort(),
    );
  });
});

describe("rls: every table has row-level security enabled and forced", () => {
  it("flags a table whose RLS is enabled but not forced", async () => {
    const found = await findingsAfter(`
      create table app_public.lint_unforced (id uuid primary key);
      alter table app_public.lint_unforced enable row level security;`);
    expectFindings(found, ["rls", "app_public.lint_unforced"]);
    expect(found[0].message).toContain("force row level security");
  });

  it("flags a table without RLS, in app_private too", async () => {
    const found = await findingsAfter("create table app_private.lint_open (id uuid primary key);");
    expectFindings(found, ["rls", "app_private.lint_open"]);
    expect(found[0].message).toContain("enable row level security");
  });
});

describe("uncovered-grant: a request role's grant is matched by a policy for that command and role", () => {
  it("flags a grant to mts_member with no policy for it, and admin, who inherits it", async () => {
    const found = await findingsAfter(`
      ${table("lint_ungoverned", "id uuid primary key")}
      create policy lint_read on app_public.lint_ungoverned for select to mts_member using (true);
      grant select, delete on app_public.lint_ungoverned to mts_member;`);
    expectFindings(
      found,
      ["uncovered-grant", "app_public.lint_ungoverned"],
      ["uncovered-grant", "app_public.lint_ungoverned"],
    );
    expect(found.map((f) => f.message)).toEqual([
      expect.stringMatching(/^Request role mts_admin holds DELETE on app_public\.lint_ungoverned /),
      expect.stringMatching(/^Request role mts_member holds DELETE on app_public\.lint_ungoverned /),
    ]);
  });

  it("flags a grant to the anonymous role covered only by a policy for another role", async () => {
    const found = await findingsAfter(`
      ${table("lint_ungoverned", "id uuid primary key")}
      create policy lint_read on app_public.lint_ungoverned for select to mts_member using (true);
      grant select on app_public.lint_ungoverned to mts_member, mts_anonymous;`);
    expectFindings(found, ["uncovered-grant", "app_public.lint_ungoverned"]);
    expect(found[0].message).toMatch(/^Request role mts_anonymous holds SELECT /);
  });

  it("flags a grant covered only by a restrictive policy (which allows nothing by itself)", async () => {
    const found = await findingsAfter(`
      ${table("lint_ungoverned", "id uuid primary key")}
      create policy lint_read on app_public.lint_ungoverned as restrictive for select using (true);
      grant select on app_public.lint_ungoverned to mts_admin;`);
    expectFindings(found, ["uncovered-grant", "app_public.lint_ungoverned"]);
  });

  it.each([
    ["a policy for a role the grantee is a member of", "for select to mts_member", "mts_admin"],
    ["a policy for PUBLIC", "for select", "mts_anonymous"],
    ["a policy for ALL commands", "for all to mts_anonymous", "mts_anonymous"],
  ])("accepts a grant covered by %s", async (_, policy, grantee) => {
    const found = await findingsAfter(`
      ${table("lint_governed", "id uuid primary key")}
      create policy lint_read on app_public.lint_governed ${policy} using (true);
      grant select on app_public.lint_governed to ${grantee};`);
    expectFindings(found);
  });
});

describe("unreachable-policy: every permissive policy applies to a request role that holds its command, or is the owner's", () => {
  it("flags a policy for PUBLIC on a command no request role holds (the old users.insert_own_tenant)", async () => {
    const found = await findingsAfter(`
      ${tenantTable("lint_items")}
      create policy lint_read on app_public.lint_items for select using (tenant_id = app_public.current_tenant_id());
      create policy lint_insert on app_public.lint_items for insert with check (tenant_id = app_public.current_tenant_id());
      grant select on app_public.lint_items to mts_member;`);
    expectFindings(found, ["unreachable-policy", "lint_insert on app_public.lint_items"]);
    expect(found[0].message).toContain("(INSERT to PUBLIC) applies to no request role that holds INSERT");
    expect(found[0].message).toContain("owner_<what> to mts_owner");
  });

  it("flags a policy for a request role that lacks the privilege while another role holds it", async () => {
    const found = await findingsAfter(`
      ${tenantTable("lint_items")}
      create policy lint_edit on app_public.lint_items for update to mts_anonymous using (true);
      create policy lint_edit_member on app_public.lint_items for update to mts_member using (true);
      grant update on app_public.lint_items to mts_member;`);
    expectFindings(found, ["unreachable-policy", "lint_edit on app_public.lint_items"]);
  });

  it("flags a policy for ALL when no role it applies to holds any privilege, also in app_private", async () => {
    const found = await findingsAfter(`
      create table app_private.lint_secrets (tenant_id uuid not null, id uuid not null, primary key (tenant_id, id));
      alter table app_private.lint_secrets enable row level security;
      alter table app_private.lint_secrets force row level security;
      create policy own_tenant on app_private.lint_secrets for all using (tenant_id = app_public.current_tenant_id());`);
    expectFindings(found, ["unreachable-policy", "own_tenant on app_private.lint_secrets"]);
    expect(found[0].message).toContain("(ALL to PUBLIC) applies to no request role that holds any privilege");
  });

  it("flags a policy for the owner and a request role without the privilege (not the owner's alone)", async () => {
    const found = await findingsAfter(`
      ${tenantTable("lint_items")}
      create policy lint_mixed on app_public.lint_items for delete to mts_owner, mts_admin using (true);`);
    expectFindings(found, ["unreachable-policy", "lint_mixed on app_public.lint_items"]);
  });

  it.each([
    ["a policy to the owner alone, named owner_*", "create policy owner_insert on app_public.lint_items for insert to mts_owner with check (true)", ""],
    ["a policy for a role whose member holds the privilege", "create policy lint_drop on app_public.lint_items for delete to mts_member using (true)", "grant delete on app_public.lint_items to mts_admin"],
    ["a policy for ALL when a role holds one of its commands", "create policy lint_all on app_public.lint_items for all using (true)", "grant select on app_public.lint_items to mts_operator"],
    ["a restrictive policy (it grants nothing by itself)", "create policy lint_narrow on app_public.lint_items as restrictive for insert with check (true)", ""],
  ])("accepts %s", async (_, policy, grant) => {
    const found = await findingsAfter(`${tenantTable("lint_items")} ${policy}; ${grant};`);
    expectFindings(found);
  });
});

describe("owner-policy-name: a policy to the owner alone is named owner_*, and only such a policy", () => {
  it("flags a policy to the owner alone with another name", async () => {
    const found = await findingsAfter(`
      ${tenantTable("lint_items")}
      create policy lint_import on app_public.lint_items for insert to mts_owner with check (true);`);
    expectFindings(found, ["owner-policy-name", "lint_import on app_public.lint_items"]);
    expect(found[0].message).toContain("name it owner_<what>");
  });

  it("flags a policy named owner_* that applies to PUBLIC (and then to every request role that holds the command)", async () => {
    const found = await findingsAfter(`
      ${tenantTable("lint_items")}
      ${grantToMember("lint_items", "select")}
      create policy owner_read on app_public.lint_items for select using (true);`);
    expectFindings(found, ["owner-policy-name", "owner_read on app_public.lint_items"]);
    expect(found[0].message).toContain("applies to PUBLIC; scope it to mts_owner alone");
  });
});

describe("tenant-key: a tenant-scoped table's keys include tenant_id", () => {
  it("flags a primary key without tenant_id", async () => {
    const found = await findingsAfter(`
      ${table("lint_items", "tenant_id uuid not null, id uuid primary key")}
      create index on app_public.lint_items (tenant_id);`);
    expectFindings(found, ["tenant-key", "app_public.lint_items"]);
    expect(found[0].message).toContain("primary key lint_items_pkey");
  });

  it.each([
    ["a unique constraint", "alter table app_public.lint_items add constraint lint_items_code_key unique (code)", "unique constraint lint_items_code_key"],
    ["a unique index", "create unique index lint_items_code_idx on app_public.lint_items (lower(code))", "unique index lint_items_code_idx"],
  ])("flags %s without tenant_id", async (_, ddl, named) => {
    const found = await findingsAfter(`${tenantTable("lint_items", "code text not null,")} ${ddl};`);
    expectFindings(found, ["tenant-key", "app_public.lint_items"]);
    expect(found[0].message).toContain(named);
  });

  it("flags a foreign key between tenant tables that pairs tenant_id with another column", async () => {
    const found = await findingsAfter(`
      ${tenantTable("lint_parents")}
      ${tenantTable("lint_children", "parent_id uuid,")}
      alter table app_public.lint_children add constraint lint_children_parent_fkey
        foreign key (tenant_id, parent_id) references app_public.lint_parents (id, tenant_id);
      create index on app_public.lint_children (tenant_id, parent_id);`);
    expectFindings(found, ["tenant-key", "app_public.lint_children"]);
    expect(found[0].message).toContain("foreign key lint_children_parent_fkey");
  });

  it("flags a foreign key between tenant tables on id alone (and the unique key it needs)", async () => {
    const found = await findingsAfter(`
      ${tenantTable("lint_parents")}
      alter table app_public.lint_parents add constraint lint_parents_id_key unique (id);
      ${tenantTable("lint_children", "parent_id uuid references app_public.lint_parents (id),")}
      create index on app_public.lint_children (parent_id);`);
    expectFindings(found, ["tenant-key", "app_public.lint_children"], ["tenant-key", "app_public.lint_parents"]);
  });

  it("accepts a foreign key that pairs tenant_id with tenant_id", async () => {
    const found = await findingsAfter(`
      ${tenantTable("lint_parents")}
      ${tenantTable("lint_children", "parent_id uuid,")}
      alter table app_public.lint_children
        add foreign key (parent_id, tenant_id) references app_public.lint_parents (id, tenant_id);
      create index on app_public.lint_children (tenant_id, parent_id);`);
    expectFindings(found);
  });

  it("does not apply to a table declared in GLOBAL_TABLES, even with a tenant_id column", async () => {
    const found = await findingsAfter("alter table app_public.tenants add column tenant_id uuid;");
    expectFindings(found);
  });
});

describe("tenant-index: a tenant-scoped table has an index that leads with tenant_id", () => {
  it("flags a table whose only index has tenant_id second", async () => {
    const found = await findingsAfter(table("lint_items", "tenant_id uuid not null, id uuid not null, primary key (id, tenant_id)"));
    expectFindings(found, ["tenant-index", "app_public.lint_items"]);
  });
});

describe("foreign-key-index: every foreign key is served by an index that leads with its columns", () => {
  it("flags a foreign key whose columns lead no index, and not one whose columns lead an index in another order", async () => {
    const found = await findingsAfter(`
      ${tenantTable("lint_items", "project_id uuid not null, other_id uuid not null,")}
      alter table app_public.lint_items add constraint lint_items_project_fkey
        foreign key (tenant_id, project_id) references app_public.projects (tenant_id, id);
      alter table app_public.lint_items add constraint lint_items_other_fkey
        foreign key (tenant_id, other_id) references app_public.projects (tenant_id, id);
      create index on app_public.lint_items (other_id, tenant_id, id);`);
    expectFindings(found, ["foreign-key-index", "app_public.lint_items"]);
    expect(found[0].message).toContain("lint_items_project_fkey");
    expect(found[0].message).toContain("(tenant_id, project_id)");
  });
});

describe("policy-subquery: no policy expression contains a subquery", () => {
  it.each([
    ["USING", "select", "for select using (exists (select 1 from app_public.tenants t where t.id = tenant_id))"],
    ["WITH CHECK", "insert", "for insert with check (tenant_id in (select id from app_public.tenants))"],
  ])("flags a subquery in %s", async (clause, command, policy) => {
    const found = await findingsAfter(`
      ${tenantTable("lint_items")}
      ${grantToMember("lint_items", command)}
      create policy lint_sub on app_public.lint_items ${policy};`);
    expectFindings(found, ["policy-subquery", "lint_sub on app_public.lint_items"]);
    expect(found[0].message).toContain(`in its ${clause} expression`);
  });
});

describe("policy-volatile: policies call only STABLE or IMMUTABLE functions", () => {
  it("flags a call to a VOLATILE function (random())", async () => {
    const found = await findingsAfter(`
      ${tenantTable("lint_items")}
      ${grantToMember("lint_items", "select")}
      create policy lint_dice on app_public.lint_items for select
        using (tenant_id = app_public.current_tenant_id() and random() < 0.5);`);
    expectFindings(found, ["policy-volatile", "lint_dice on app_public.lint_items"]);
    expect(found[0].message).toContain("random()");
  });

  it("flags an operator implemented by a VOLATILE function", async () => {
    const found = await findingsAfter(`
      ${tenantTable("lint_items")}
      ${grantToMember("lint_items", "update")}
      create function app_public.lint_volatile_eq(a uuid, b uuid) returns boolean
        language sql volatile as 'select a = b';
      revoke execute on function app_public.lint_volatile_eq(uuid, uuid) from public;
      create operator app_public.=== (function = app_public.lint_volatile_eq, leftarg = uuid, rightarg = uuid);
      create policy lint_eq on app_public.lint_items for update
        using (true) with check (tenant_id operator(app_public.===) app_public.current_tenant_id());`);
    expectFindings(found, ["policy-volatile", "lint_eq on app_public.lint_items"]);
    expect(found[0].message).toContain("app_public.lint_volatile_eq(uuid,uuid)");
  });
});

describe("definer-search-path: SECURITY DEFINER functions pin search_path", () => {
  it("flags a definer function without search_path", async () => {
    const found = await findingsAfter(`
      create function app_public.lint_definer() returns int language sql security definer as 'select 1';
      revoke execute on function app_public.lint_definer() from public;`);
    expectFindings(found, ["definer-search-path", "app_public.lint_definer()"]);
  });

  it("accepts one that sets search_path", async () => {
    const found = await findingsAfter(`
      create function app_public.lint_definer() returns int language sql security definer
        set search_path to pg_catalog, pg_temp as 'select 1';
      revoke execute on function app_public.lint_definer() from public;`);
    expectFindings(found);
  });
});

describe("public-execute: no function is executable by PUBLIC", () => {
  it("flags a function left with the default privileges", async () => {
    const found = await findingsAfter("create function app_public.lint_open() returns int language sql as 'select 1';");
    expectFindings(found, ["public-execute", "app_public.lint_open()"]);
  });

  it("flags a function granted to PUBLIC explicitly, in app_private too", async () => {
    const found = await findingsAfter(`
      create function app_private.lint_open() returns int language sql as 'select 1';
      revoke all on function app_private.lint_open() from public;
      grant execute on function app_private.lint_open() to mts_member, public;`);
    expectFindings(found, ["public-execute", "app_private.lint_open()"]);
  });
});

describe("request-role: request roles and the authenticator own nothing and bypass nothing", () => {
  it("flags a table owned by a request role", async () => {
    const found = await findingsAfter(`
      ${table("lint_owned", "id uuid primary key")}
      create policy lint_all on app_public.lint_owned using (true);
      alter table app_public.lint_owned owner to mts_member;`);
    expectFindings(found, ["request-role", "app_public.lint_owned"]);
  });

  it("flags a function owned by the authenticator", async () => {
    const found = await findingsAfter(`
      create function app_private.lint_owned() returns int language sql as 'select 1';
      revoke execute on function app_private.lint_owned() from public;
      alter function app_private.lint_owned() owner to mts_authenticator;`);
    expectFindings(found, ["request-role", "app_private.lint_owned()"]);
  });

  it("flags a request role with BYPASSRLS", async () => {
    const found = await findingsAfter("alter role mts_anonymous bypassrls;");
    expectFindings(found, ["request-role", "mts_anonymous"]);
  });
});

describe("identity-column: keys are uuids, not identity columns (Citus)", () => {
  it("flags an identity column", async () => {
    const found = await findingsAfter(table("lint_numbered", "id int generated always as identity primary key"));
    expectFindings(found, ["identity-column", "app_public.lint_numbered.id"]);
  });
});

describe("column-grant: no column-level privileges (Citus)", () => {
  it("flags a column-level grant", async () => {
    const found = await findingsAfter(`
      ${table("lint_columns", "id uuid primary key, secret text")}
      grant select (id) on app_public.lint_columns to mts_member;`);
    expectFindings(found, ["column-grant", "app_public.lint_columns.id"]);
    expect(found[0].message).toContain("SELECT to mts_member");
  });
});

describe("the citus-* rules and what a real cluster refused in this schema", () => {
  it("flag the definitions that failed there, put back as they were before migrations/current/1xx-citus-*", async () => {
    const found = await findingsAfter(`
      alter table app_public.tasks drop constraint tasks_assignee_fkey;
      alter table app_public.tasks add constraint tasks_assignee_fkey foreign key (tenant_id, assignee_id)
        references app_public.users (tenant_id, id) on delete set null (assignee_id);
      create or replace function app_private.restore_tenant_context(previous text) returns void language plpgsql as $$
      begin
        perform set_config('jwt.claims.tenant_id', coalesce(previous, ''), true);
      end $$;
      create or replace function app_private.login_throttle_fail(scope text, email text) returns void language plpgsql
        set search_path to pg_catalog, public, pg_temp as $$
      begin
        insert into app_private.login_throttle as t (scope, email, failures)
          values (scope, email::citext, 1)
          on conflict on constraint login_throttle_pkey do update set
            failures = case when t.window_started_at < now() - interval '15 minutes' then 1 else t.failures + 1 end,
            window_started_at = case when t.window_started_at < now() - interval '15 minutes' then now() else t.window_started_at end;
      end $$;
      create or replace function app_private.tg_audit() returns trigger language plpgsql security definer
        set search_path to pg_catalog, public, pg_temp as $$
      begin
        perform app_private.audit((to_jsonb(new) ->> tg_argv[0])::uuid, lower(tg_op), tg_table_schema || '.' || tg_table_name);
        return new;
      end $$;`);
    expectFindings(
      found,
      ["citus-fk-set-null", "app_public.tasks"],
      ["citus-set-config", "app_private.restore_tenant_context(text)"],
      ["citus-upsert-volatile", "app_private.login_throttle_fail(text,text)"],
      ["citus-trigger-table-name", "app_private.tg_audit()"],
    );
  });
});

describe("citus-fk-set-null: no SET NULL or SET DEFAULT in a foreign key that includes tenant_id (Citus)", () => {
  const parentAndChild = `
    ${tenantTable("lint_parents")}
    ${tenantTable("lint_children", "parent_id uuid,")}
    create index on app_public.lint_children (tenant_id, parent_id);`;

  it.each([
    ["on delete set null (parent_id)", "ON DELETE SET NULL"],
    ["on delete set default (parent_id)", "ON DELETE SET DEFAULT"],
    ["on update cascade", "ON UPDATE CASCADE"],
  ])("flags a key with %s", async (action, named) => {
    const found = await findingsAfter(`${parentAndChild}
      alter table app_public.lint_children add constraint lint_children_parent_fkey
        foreign key (tenant_id, parent_id) references app_public.lint_parents (tenant_id, id) ${action};`);
    expectFindings(found, ["citus-fk-set-null", "app_public.lint_children"]);
    expect(found[0].message).toContain(`lint_children_parent_fkey of app_public.lint_children includes tenant_id and has ${named}`);
  });

  it("accepts the same key with on delete cascade", async () => {
    const found = await findingsAfter(`${parentAndChild}
      alter table app_public.lint_children add constraint lint_children_parent_fkey
        foreign key (tenant_id, parent_id) references app_public.lint_parents (tenant_id, id) on delete cascade;`);
    expectFindings(found);
  });
});

describe("citus-upsert-volatile: no non-IMMUTABLE call in ON CONFLICT … DO UPDATE in a function (Citus; a text heuristic)", () => {
  /** A function that upserts the login throttle with this DO UPDATE clause. */
  const upsert = (set: string, declare = "") => `
    create function app_private.lint_upsert() returns void language plpgsql as $$
    ${declare}
    begin
      insert into app_private.login_throttle as t (scope, email) values ('lint', 'lint@acme.test')
        on conflict on constraint login_throttle_pkey do update set ${set};
    end $$;
    revoke all on function app_private.lint_upsert() from public;`;

  it.each([
    ["now()", "window_started_at = now()", "now"],
    ["current_timestamp (no parentheses)", "window_started_at = current_timestamp", "current_timestamp"],
    ["a STABLE function of ours", "failures = t.failures + 1, locked_until = app_public.lint_later()", "lint_later"],
  ])("flags %s", async (_, set, named) => {
    const found = await findingsAfter(`
      create function app_public.lint_later() returns timestamptz language sql stable as 'select now()';
      revoke all on function app_public.lint_later() from public;
      ${upsert(set)}`);
    expectFindings(found, ["citus-upsert-volatile", "app_private.lint_upsert()"]);
    expect(found[0].message).toContain(`calls ${named} (not IMMUTABLE)`);
  });

  it("accepts a variable (a parameter), excluded.<column> and IMMUTABLE arithmetic", async () => {
    const found = await findingsAfter(
      upsert(
        "window_started_at = v_now, failures = greatest(t.failures, excluded.failures) + abs(-1)",
        "declare v_now timestamptz := now();",
      ),
    );
    expectFindings(found);
  });
});

describe("citus-set-config: no set_config() of a claim or of role in a function (Citus; a text heuristic)", () => {
  const fn = (statement: string) => `
    create function app_private.lint_context() returns void language plpgsql as $$ begin ${statement} end $$;
    revoke all on function app_private.lint_context() from public;`;

  it.each([
    ["a jwt.claims setting", "perform set_config('jwt.claims.tenant_id', '', true);", "'jwt.claims.tenant_id'"],
    ["role", "perform set_config('role', 'mts_member', true);", "'role'"],
    ["a name built at run time", "perform set_config('jwt.claims.' || 'user_id', '', true);", "'jwt.claims.' || 'user_id'"],
  ])("flags set_config of %s", async (_, statement, named) => {
    const found = await findingsAfter(fn(statement));
    expectFindings(found, ["citus-set-config", "app_private.lint_context()"]);
    expect(found[0].message).toContain(`set_config(${named}, …)`);
  });

  it("accepts SET LOCAL through EXECUTE, the helpers, and set_config of an unrelated setting", async () => {
    const found = await findingsAfter(
      fn(`execute format('set local jwt.claims.tenant_id = %L', '');
          perform app_private.restore_tenant_context(app_private.switch_tenant_context(null));
          perform set_config('statement_timeout', '5s', true);`),
    );
    expectFindings(found);
  });
});

describe("citus-trigger-table-name: triggers record their table's name, never the relation they fire on (Citus)", () => {
  it.each([
    ["TG_TABLE_NAME", "insert into app_public.lint_log values (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);", "tg_table_name"],
    ["TG_RELID::regclass", "insert into app_public.lint_log values (TG_RELID::regclass::text);", "tg_relid::regclass"],
  ])("flags a trigger function that records %s", async (_, statement, named) => {
    const found = await findingsAfter(`
      ${table("lint_log", "name text")}
      create function app_private.lint_tg_log() returns trigger language plpgsql as $$ begin ${statement} return new; end $$;
      revoke all on function app_private.lint_tg_log() from public;`);
    expectFindings(found, ["citus-trigger-table-name", "app_private.lint_tg_log()"]);
    expect(found[0].message).toContain(`uses ${named}`);
  });

  it("accepts TG_RELID used as an oid (tg_protect_columns reads the table's owner with it)", async () => {
    const found = await findingsAfter(`
      create function app_private.lint_tg_owner() returns trigger language plpgsql as $$
      begin
        if current_user = (select pg_get_userbyid(c.relowner) from pg_class c where c.oid = tg_relid) then return new; end if;
        return new;
      end $$;
      revoke all on function app_private.lint_tg_owner() from public;`);
    expectFindings(found);
  });

  it.each([
    ["another table's name", "app_private.tg_audit('tenant_id', 'app_public.tasks')", "with the table name 'app_public.tasks'"],
    ["no name", "app_private.tg_audit('tenant_id')", "without a table name"],
  ])("flags an audit trigger given %s", async (_, call, named) => {
    const found = await findingsAfter(`
      ${tenantTable("lint_items")}
      create trigger _900_audit before insert on app_public.lint_items for each row execute procedure ${call};`);
    expectFindings(found, ["citus-trigger-table-name", "_900_audit on app_public.lint_items"]);
    expect(found[0].message).toContain(named);
    expect(found[0].message).toContain("must be 'app_public.lint_items'");
  });

  it("accepts an audit trigger given its own table's name", async () => {
    const found = await findingsAfter(`
      ${tenantTable("lint_items")}
      create trigger _900_audit before insert on app_public.lint_items
        for each row execute procedure app_private.tg_audit('tenant_id', 'app_public.lint_items');`);
    expectFindings(found);
  });
});

// What the rules above do not check, read from the migrated catalog as the
// owner: the roles' attributes and memberships, who owns the app schemas'
// objects, the private schema's USAGE, the exact pinned search_path, and
// that every object is documented.
describe("the migrated catalog, beyond the rules", () => {
  const REQUEST_ROLES = [ROLES.anonymous, ROLES.member, ROLES.admin, ROLES.operator];
  const rows = async (sql: string, params: unknown[] = []) => (await withClient(db.ownerUrl, (c) => c.query(sql, params))).rows;

  it("no role of ours is a superuser or bypasses RLS; only the owner and the authenticator log in", async () => {
    const found = await rows(
      "select rolname, rolsuper, rolbypassrls, rolcanlogin, rolinherit, rolcreaterole, rolcreatedb from pg_roles where rolname = any($1) order by rolname",
      [Object.values(ROLES)],
    );
    expect(found).toHaveLength(Object.keys(ROLES).length);
    for (const r of found) {
      expect(r, r.rolname).toMatchObject({ rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false });
      expect(r.rolcanlogin, r.rolname).toBe(r.rolname === ROLES.owner || r.rolname === ROLES.authenticator);
    }
    expect(found.find((r) => r.rolname === ROLES.authenticator).rolinherit).toBe(false);
  });

  it("the authenticator can become each request role, and nothing else", async () => {
    const granted = await rows(
      `select r.rolname from pg_auth_members m join pg_roles r on r.oid = m.roleid
        where m.member = (select oid from pg_roles where rolname = $1) order by 1`,
      [ROLES.authenticator],
    );
    expect(granted.map((r) => r.rolname)).toEqual([...REQUEST_ROLES].sort());
  });

  it("every object in the app schemas is owned by the owner", async () => {
    const others = await rows(
      `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any($1) and c.relowner <> (select oid from pg_roles where rolname = $2)`,
      [[...APP_SCHEMAS], ROLES.owner],
    );
    expect(others).toEqual([]);
  });

  it("no request role may use the private schema", async () => {
    for (const role of REQUEST_ROLES) {
      const [r] = await rows("select has_schema_privilege($1, 'app_private', 'usage') as usage", [role]);
      expect(r.usage, role).toBe(false);
    }
  });

  it("every SECURITY DEFINER function pins search_path to exactly pg_catalog, public, pg_temp (the rule only asks for one)", async () => {
    const definers = await rows(
      `select p.oid::regprocedure::text as name, p.proconfig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any($1) and p.prosecdef`,
      [[...APP_SCHEMAS]],
    );
    expect(definers.length).toBeGreaterThan(5);
    for (const d of definers) {
      expect(d.proconfig ?? [], d.name).toContainEqual(expect.stringMatching(/^search_path=pg_catalog, public, pg_temp$/));
    }
  });

  it("every table, column, function and type in the app schemas has a comment", async () => {
    const missing = await rows(
      `select 'table ' || n.nspname || '.' || c.relname as what from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any($1) and c.relkind in ('r', 'p', 'v', 'c') and obj_description(c.oid, 'pg_class') is null
          and not (c.relkind = 'c' and exists (select 1 from pg_type t where t.typrelid = c.oid and obj_description(t.oid, 'pg_type') is not null))
       union all
       select 'column ' || n.nspname || '.' || c.relname || '.' || a.attname from pg_attribute a
         join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any($1) and c.relkind in ('r', 'p', 'v', 'c') and a.attnum > 0 and not a.attisdropped
          and col_description(c.oid, a.attnum) is null
       union all
       select 'function ' || p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any($1) and obj_description(p.oid, 'pg_proc') is null
       union all
       select 'type ' || n.nspname || '.' || t.typname from pg_type t join pg_namespace n on n.oid = t.typnamespace
        where n.nspname = any($1) and t.typtype = 'e' and obj_description(t.oid, 'pg_type') is null`,
      [[...APP_SCHEMAS]],
    );
    expect(missing).toEqual([]);
  });
});
