// generated/schema.sql (db/schema-dump.ts): the dump holds every object of
// app_public and app_private that the catalog holds, each as the catalog
// defines it now, and nothing of other schemas. (tests/generated.test.ts
// checks that the committed file is the dump of the migrated database.)
import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { dumpSchema } from "../db/schema-dump.ts";
import { withClient } from "../db/setup.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";

const SCHEMAS = ["app_public", "app_private"];
const count = (text: string, re: RegExp) => text.match(re)?.length ?? 0;
const asOwner = <T>(db: TestDatabase, fn: (c: pg.Client) => Promise<T>) => withClient(db.ownerUrl, fn);

describe("the schema dump of the migrated database", () => {
  let db: TestDatabase;
  let dump: string;
  const catalog = async (sql: string) => (await asOwner(db, (c) => c.query(sql, [SCHEMAS]))).rows;

  beforeAll(async () => {
    db = await createTestDatabase();
    dump = await asOwner(db, dumpSchema);
  });

  it("has one CREATE statement per table, index, policy, trigger, function and type, as many as the catalog has", async () => {
    const [n] = await catalog(`
      select (select count(*) from pg_class c join pg_namespace s on s.oid = c.relnamespace
               where s.nspname = any($1) and c.relkind = 'r')::int as tables,
             (select count(*) from pg_index i join pg_class c on c.oid = i.indexrelid join pg_namespace s on s.oid = c.relnamespace
               where s.nspname = any($1)
                 and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid and k.contype in ('p', 'u', 'x')))::int as indexes,
             (select count(*) from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace s on s.oid = c.relnamespace
               where s.nspname = any($1))::int as policies,
             (select count(*) from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace s on s.oid = c.relnamespace
               where s.nspname = any($1) and not t.tgisinternal)::int as triggers,
             (select count(*) from pg_proc p join pg_namespace s on s.oid = p.pronamespace where s.nspname = any($1))::int as functions,
             (select count(*) from pg_type t join pg_namespace s on s.oid = t.typnamespace
               where s.nspname = any($1) and (t.typtype in ('e', 'd') or (t.typtype = 'c' and exists
                     (select 1 from pg_class c where c.oid = t.typrelid and c.relkind = 'c'))))::int as types,
             (select count(*) from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace s on s.oid = c.relnamespace
               where s.nspname = any($1) and k.contype in ('p', 'u', 'f', 'c', 'x'))::int
             + (select count(*) from pg_constraint k join pg_type t on t.oid = k.contypid join pg_namespace s on s.oid = t.typnamespace
               where s.nspname = any($1) and k.contype = 'c')::int as constraints`);
    // Guard against a vacuous pass: the migrated schema has all of these.
    for (const [kind, value] of Object.entries(n)) expect(value, kind).toBeGreaterThan(0);
    expect({
      tables: count(dump, /^CREATE TABLE /gm),
      indexes: count(dump, /^CREATE (UNIQUE )?INDEX /gm),
      policies: count(dump, /^CREATE POLICY /gm),
      triggers: count(dump, /^CREATE (CONSTRAINT )?TRIGGER /gm),
      functions: count(dump, /^CREATE OR REPLACE (FUNCTION|PROCEDURE) /gm),
      types: count(dump, /^CREATE (TYPE|DOMAIN) /gm),
      constraints: count(dump, /^ {4}CONSTRAINT /gm),
    }).toEqual(n);
  });

  it("has one COMMENT ON per comment the catalog holds on objects of the two schemas", async () => {
    const [{ comments }] = await catalog(`
      select count(*)::int as comments from pg_description d
       where (d.classoid = 'pg_namespace'::regclass and d.objoid in (select oid from pg_namespace where nspname = any($1)))
          or (d.classoid = 'pg_class'::regclass and d.objoid in (select c.oid from pg_class c join pg_namespace s on s.oid = c.relnamespace where s.nspname = any($1)))
          or (d.classoid = 'pg_proc'::regclass and d.objoid in (select p.oid from pg_proc p join pg_namespace s on s.oid = p.pronamespace where s.nspname = any($1)))
          or (d.classoid = 'pg_type'::regclass and d.objoid in (select t.oid from pg_type t join pg_namespace s on s.oid = t.typnamespace where s.nspname = any($1)))
          or (d.classoid = 'pg_constraint'::regclass and d.objoid in (select k.oid from pg_constraint k join pg_namespace s on s.oid = k.connamespace where s.nspname = any($1)))
          or (d.classoid = 'pg_policy'::regclass and d.objoid in (select p.oid from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace s on s.oid = c.relnamespace where s.nspname = any($1)))
          or (d.classoid = 'pg_trigger'::regclass and d.objoid in (select t.oid from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace s on s.oid = c.relnamespace where s.nspname = any($1)))`);
    expect(comments).toBeGreaterThan(100);
    expect(count(dump, /^COMMENT ON /gm)).toBe(comments);
  });

  it("gives every function's body as it is now, not as its first migration wrote it", async () => {
    const functions = await catalog(`
      select format('%I.%I(%s)', s.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) as signature, p.prosrc as body,
             case p.prokind when 'p' then 'procedure' else 'function' end as kind
        from pg_proc p join pg_namespace s on s.oid = p.pronamespace where s.nspname = any($1) and p.prosqlbody is null`);
    expect(functions.length).toBeGreaterThan(20);
    for (const f of functions) {
      expect(dump, f.signature).toContain(`--\n-- ${f.signature} (${f.kind})\n--`);
      expect(dump, f.signature).toContain(`$${f.kind}$${f.body}$${f.kind}$;\n`);
    }
    // login was replaced by 000006; the dump has the live body, which throttles.
    expect(dump).toMatch(/CREATE OR REPLACE FUNCTION app_public\.login\(tenant_slug text, email text, password text\)[^]*?login_throttle_check[^]*?\$function\$;/);
  });

  it("states for every function whether PUBLIC may execute it, and every role granted EXECUTE", async () => {
    const functions = await catalog(`
      select format('%s %I.%I(%s)', case p.prokind when 'p' then 'PROCEDURE' else 'FUNCTION' end,
                    s.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) as signature,
             array(select case when a.grantee = 0 then 'PUBLIC' else quote_ident(pg_get_userbyid(a.grantee)) end
                     from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) as a
                    where a.grantee <> p.proowner order by 1) as grantees
        from pg_proc p join pg_namespace s on s.oid = p.pronamespace where s.nspname = any($1)`);
    const revokedFromPublic = functions.filter((f) => !f.grantees.includes("PUBLIC"));
    expect(revokedFromPublic.length).toBeGreaterThan(20);
    for (const f of functions) {
      const publicState = f.grantees.includes("PUBLIC")
        ? `GRANT EXECUTE ON ${f.signature} TO PUBLIC;`
        : `REVOKE ALL ON ${f.signature} FROM PUBLIC;`;
      expect(dump, f.signature).toContain(`\n${publicState}\n`);
      for (const role of f.grantees) expect(dump).toContain(`\nGRANT EXECUTE ON ${f.signature} TO ${role};\n`);
    }
    expect(count(dump, /^GRANT EXECUTE ON (FUNCTION|PROCEDURE) /gm)).toBe(functions.reduce((n, f) => n + f.grantees.length, 0));
  });

  it("holds nothing of graphile_migrate, public or the extensions", () => {
    // (schema_version's body reads graphile_migrate.migrations: a mention, not an object.)
    expect(dump).not.toMatch(/^(-- |CREATE (OR REPLACE )?(SCHEMA|TABLE|FUNCTION|PROCEDURE|TYPE|DOMAIN|VIEW|SEQUENCE) )(graphile_migrate|public)\b/m);
    expect(count(dump, /^-- Schema /gm)).toBe(2);
  });

  it("is the same text every time", async () => {
    expect(await asOwner(db, dumpSchema)).toBe(dump);
  });
});

describe("the schema dump of a changed database", () => {
  it("shows a new table with its columns, constraints, index, RLS, policy, trigger, grants and comments, a new domain and a new function", async () => {
    const db = await createTestDatabase();
    await asOwner(db, (c) =>
      c.query(`
        create table app_private.gadgets (
          id uuid primary key default gen_random_uuid(),
          tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id),
          label text not null constraint gadgets_label_length check (char_length(label) <= 10),
          count int generated always as identity
        );
        create index gadgets_tenant_idx on app_private.gadgets (tenant_id, label);
        alter table app_private.gadgets enable row level security;
        alter table app_private.gadgets force row level security;
        create policy a_select on app_private.gadgets for select to mts_member, mts_admin using (tenant_id = app_public.current_tenant_id());
        create policy b_guard on app_private.gadgets as restrictive for all to public using (label <> 'x') with check (label <> 'y');
        create trigger _100_protect_columns before update on app_private.gadgets
          for each row execute function app_private.tg_protect_columns('tenant_id', 'id');
        grant select, update on app_private.gadgets to mts_member;
        grant select (label) on app_private.gadgets to mts_operator;
        comment on table app_private.gadgets is 'Gadgets, for the test.';
        comment on column app_private.gadgets.label is 'It''s a label.';
        comment on constraint gadgets_label_length on app_private.gadgets is 'Short labels.';
        comment on policy b_guard on app_private.gadgets is 'Never x.';
        comment on trigger _100_protect_columns on app_private.gadgets is 'Keeps keys.';
        create function app_private.gadget_count() returns bigint language sql stable
          as $$ select count(*) from app_private.gadgets $$;
        grant execute on function app_private.gadget_count() to mts_admin;
        create domain app_private.short_text as text not null constraint short_text_length check (char_length(value) <= 10);
        comment on domain app_private.short_text is 'Short text.';
        create table public.not_dumped (id int);
        create table graphile_migrate.not_dumped (id int);
      `),
    );
    const dump = await asOwner(db, dumpSchema);
    const table = [
      "--",
      "-- app_private.gadgets (table)",
      "--",
      "",
      "CREATE TABLE app_private.gadgets (",
      "    id uuid DEFAULT gen_random_uuid() NOT NULL,",
      "    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,",
      "    label text NOT NULL,",
      "    count integer GENERATED ALWAYS AS IDENTITY NOT NULL,",
      "    CONSTRAINT gadgets_label_length CHECK ((char_length(label) <= 10)),",
      "    CONSTRAINT gadgets_pkey PRIMARY KEY (id),",
      "    CONSTRAINT gadgets_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id)",
      ");",
      "CREATE INDEX gadgets_tenant_idx ON app_private.gadgets USING btree (tenant_id, label);",
      "ALTER TABLE app_private.gadgets ENABLE ROW LEVEL SECURITY;",
      "ALTER TABLE app_private.gadgets FORCE ROW LEVEL SECURITY;",
      "CREATE POLICY a_select ON app_private.gadgets AS PERMISSIVE FOR SELECT TO mts_admin, mts_member USING ((tenant_id = app_public.current_tenant_id()));",
      "CREATE POLICY b_guard ON app_private.gadgets AS RESTRICTIVE FOR ALL TO PUBLIC USING ((label <> 'x'::text)) WITH CHECK ((label <> 'y'::text));",
      "CREATE TRIGGER _100_protect_columns BEFORE UPDATE ON app_private.gadgets FOR EACH ROW EXECUTE FUNCTION app_private.tg_protect_columns('tenant_id', 'id');",
      "GRANT SELECT, UPDATE ON TABLE app_private.gadgets TO mts_member;",
      "GRANT SELECT (label) ON TABLE app_private.gadgets TO mts_operator;",
      "COMMENT ON TABLE app_private.gadgets IS 'Gadgets, for the test.';",
      "COMMENT ON COLUMN app_private.gadgets.label IS 'It''s a label.';",
      "COMMENT ON CONSTRAINT gadgets_label_length ON app_private.gadgets IS 'Short labels.';",
      "COMMENT ON POLICY b_guard ON app_private.gadgets IS 'Never x.';",
      "COMMENT ON TRIGGER _100_protect_columns ON app_private.gadgets IS 'Keeps keys.';",
      "",
    ].join("\n");
    expect(dump).toContain(table);
    expect(dump).toContain(
      [
        "CREATE OR REPLACE FUNCTION app_private.gadget_count()",
        " RETURNS bigint",
        " LANGUAGE sql",
        " STABLE",
        "AS $function$ select count(*) from app_private.gadgets $function$;",
        "REVOKE ALL ON FUNCTION app_private.gadget_count() FROM PUBLIC;",
        "GRANT EXECUTE ON FUNCTION app_private.gadget_count() TO mts_admin;",
        "",
      ].join("\n"),
    );
    expect(dump).toContain(
      [
        "-- app_private.short_text (domain)",
        "--",
        "",
        "CREATE DOMAIN app_private.short_text AS text NOT NULL",
        "    CONSTRAINT short_text_length CHECK ((char_length(VALUE) <= 10));",
        "COMMENT ON DOMAIN app_private.short_text IS 'Short text.';",
        "",
      ].join("\n"),
    );
    // Sorted by name: gadgets comes between the tables around it, gadget_count among the functions.
    const order = ["app_private.invitation_secrets (table)", "app_private.gadgets (table)", "app_private.assert_admin() (function)", "app_private.gadget_count() (function)", "app_private.issue_tokens("];
    const positions = order.map((o) => dump.indexOf(`-- ${o}`));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect(positions[1]).toBeLessThan(positions[0]); // "gadgets" < "invitation_secrets"
    expect(positions[3]).toBeGreaterThan(positions[2]);
    expect(positions[4]).toBeGreaterThan(positions[3]);
    expect(dump).not.toContain("not_dumped");
  });
});
