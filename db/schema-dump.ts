// The current-state schema (generated/schema.sql): the definition of every
// object in app_private and app_public, read from the live catalog, for a DBA
// to read the schema as it is now instead of replaying the migrations.
// Embedded PostgreSQL ships no pg_dump, so the statements are assembled from
// the catalog's own deparsers (pg_get_constraintdef, pg_get_indexdef,
// pg_get_triggerdef, pg_get_functiondef, pg_get_expr, pg_get_viewdef) and the
// ACLs. The output is the same bytes on PostgreSQL 15 and 18:
// - NOT NULL constraints, which PostgreSQL 18 also records in pg_constraint
//   (contype 'n'), are taken from attnotnull/typnotnull only;
// - the MAINTAIN privilege (PostgreSQL 17+, part of an owner's default rights)
//   is left out of grants and revokes;
// - deparsing runs with fixed settings (search_path pg_catalog, so every name
//   outside pg_catalog is schema-qualified; UTC; ISO dates; postgres intervals).
// One difference remains that cannot be normalised: a view's body
// (pg_get_viewdef) is deparsed differently (PostgreSQL 18 leaves the columns of
// a one-table view unqualified, 15 writes `w.label`). The project has no views;
// a migration that adds one makes tests/generated.test.ts fail on one of the
// two servers until this is settled (for example by leaving view bodies out).
// Objects are sorted per schema, then by kind and name (code-point order,
// `collate "C"`), each table with its columns, constraints, indexes, RLS,
// policies, triggers, grants and comments together. It is for reading and
// review, not for restoring (objects are not in dependency order).
// `npm run generate` writes it (bin/generate.ts); a test fails when it is stale.
import pg from "pg";
import { ROLES } from "../common/roles.ts";

/** The schemas dumped, in output order. */
export const DUMPED_SCHEMAS = ["app_private", "app_public"] as const;

interface AclEntry {
  grantee: string;
  privilege: string;
  grantable: boolean;
}

/** Privileges in the order GRANT statements list them (MAINTAIN, PostgreSQL 17+, left out). */
const PRIVILEGE_ORDER = ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "USAGE", "CREATE", "EXECUTE", "TEMPORARY", "CONNECT"];
const OMITTED_PRIVILEGES = new Set(["MAINTAIN"]);

/** SQL for a JSON array of the entries of an ACL (an aclitem[] expression). */
const aclJson = (expr: string) =>
  `(select coalesce(json_agg(json_build_object(
       'grantee', case when a.grantee = 0 then 'PUBLIC' else quote_ident(pg_get_userbyid(a.grantee)) end,
       'privilege', a.privilege_type, 'grantable', a.is_grantable)), '[]'::json)
      from aclexplode(${expr}) as a)`;

/**
 * SQL for two JSON arrays, `acl` (the effective ACL: the stored one, or the
 * default when none is stored) and `default_acl`, of an object whose ACL
 * column, acldefault() object type (a "char" expression) and owner are given.
 */
const aclColumns = (acl: string, type: string, owner: string) =>
  `${aclJson(`coalesce(${acl}, acldefault(${type}, ${owner}))`)} as acl, ${aclJson(`acldefault(${type}, ${owner})`)} as default_acl`;

const byPrivilege = (a: string, b: string) => PRIVILEGE_ORDER.indexOf(a) - PRIVILEGE_ORDER.indexOf(b);
const codePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * GRANT and REVOKE statements that take an object from its default ACL to
 * the one it has: a REVOKE per grantee for default privileges taken away
 * (`REVOKE ALL` when all were), a GRANT per grantee for privileges added.
 * `explicitPublic`: also state PUBLIC's default privileges when it kept them
 * (functions: whether PUBLIC may execute is always written out).
 */
function aclStatements(
  on: string,
  acl: AclEntry[],
  defaultAcl: AclEntry[],
  { explicitPublic = false, columns = "" }: { explicitPublic?: boolean; columns?: string } = {},
): string[] {
  const key = (e: AclEntry) => `${e.grantee} ${e.privilege} ${e.grantable}`;
  const has = new Set(acl.map(key));
  const hadByDefault = new Set(defaultAcl.map(key));
  const kept = (e: AclEntry) => !OMITTED_PRIVILEGES.has(e.privilege);
  const group = (entries: AclEntry[]) => {
    const groups = new Map<string, string[]>();
    for (const e of entries.filter(kept)) {
      const k = `${e.grantee}\u0000${e.grantable}`;
      groups.set(k, [...(groups.get(k) ?? []), e.privilege]);
    }
    return [...groups.entries()]
      .map(([k, privileges]) => {
        const [grantee, grantable] = k.split("\u0000");
        return { grantee, grantable: grantable === "true", privileges: privileges.sort(byPrivilege) };
      })
      .sort((a, b) => codePoint(a.grantee, b.grantee) || Number(a.grantable) - Number(b.grantable));
  };
  const out: string[] = [];
  for (const g of group(defaultAcl.filter((e) => !has.has(key(e))))) {
    const all = defaultAcl.filter((e) => kept(e) && e.grantee === g.grantee).length === g.privileges.length;
    out.push(`REVOKE ${all ? "ALL" : g.privileges.join(", ")} ON ${on} FROM ${g.grantee};`);
  }
  const added = acl.filter((e) => !hadByDefault.has(key(e)) || (explicitPublic && e.grantee === "PUBLIC"));
  for (const g of group(added)) {
    const privileges = g.privileges.map((p) => (columns ? `${p} (${columns})` : p)).join(", ");
    out.push(`GRANT ${privileges} ON ${on} TO ${g.grantee}${g.grantable ? " WITH GRANT OPTION" : ""};`);
  }
  return out;
}

const commentStatement = (on: string, comment: string | null) =>
  comment === null ? [] : [`COMMENT ON ${on} IS ${literal(comment)};`];

/** A string literal as PostgreSQL's quote_literal writes it. */
function literal(s: string) {
  const quoted = `'${s.replaceAll("'", "''").replaceAll("\\", "\\\\")}'`;
  return s.includes("\\") ? `E${quoted}` : quoted;
}

const ownerStatement = (kind: string, name: string, owner: string) =>
  owner === ROLES.owner ? [] : [`ALTER ${kind} ${name} OWNER TO ${owner};`];

const banner = (title: string) => ["--", `-- ${title}`, "--"];

/** Runs `fn` in a read-only snapshot with the settings that make deparsed SQL the same on every server. */
export async function withDeparseSettings<T>(client: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  await client.query("begin transaction isolation level repeatable read read only");
  try {
    await client.query(`
      select set_config('search_path', 'pg_catalog', true), set_config('quote_all_identifiers', 'off', true),
             set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, MDY', true),
             set_config('IntervalStyle', 'postgres', true), set_config('extra_float_digits', '1', true),
             set_config('bytea_output', 'hex', true)`);
    return await fn();
  } finally {
    await client.query("rollback");
  }
}

/** The schema dump as SQL text. Deterministic: same catalog, same bytes, on PostgreSQL 15 and 18. */
export async function dumpSchema(client: pg.ClientBase): Promise<string> {
  return withDeparseSettings(client, () => render(client));
}

async function render(client: pg.ClientBase): Promise<string> {
  const q = async (sql: string, params: unknown[] = [DUMPED_SCHEMAS]) => (await client.query(sql, params)).rows;
  // Objects that belong to an extension (created by CREATE EXTENSION) are not the project's.
  const notExtension = (classid: string, oid: string) =>
    `not exists (select 1 from pg_depend d where d.classid = '${classid}'::regclass and d.objid = ${oid} and d.deptype = 'e')`;

  const schemas = await q(
    `select n.oid, n.nspname as name, quote_ident(n.nspname) as ident, quote_ident(pg_get_userbyid(n.nspowner)) as owner,
            obj_description(n.oid, 'pg_namespace') as comment, ${aclColumns("n.nspacl", "'n'", "n.nspowner")}
       from pg_namespace n where n.nspname = any($1) order by n.nspname collate "C"`,
  );
  const missing = DUMPED_SCHEMAS.filter((s) => !schemas.some((r) => r.name === s));
  if (missing.length) throw new Error(`schema dump: schema ${missing.join(", ")} does not exist`);

  const defaultAcls = await q(
    `select quote_ident(pg_get_userbyid(d.defaclrole)) as role, d.defaclobjtype as objtype,
            case when d.defaclnamespace = 0 then null else quote_ident(n.nspname) end as schema,
            ${aclColumns("d.defaclacl", "case d.defaclobjtype when 'S' then 's' else d.defaclobjtype end", "d.defaclrole")}
       from pg_default_acl d left join pg_namespace n on n.oid = d.defaclnamespace
      where d.defaclnamespace = 0 or n.nspname = any($1)
      order by pg_get_userbyid(d.defaclrole) collate "C", n.nspname collate "C" nulls first, d.defaclobjtype::text collate "C"`,
  );

  // Types: enums, domains, composite types. (Table row types and array types come with their tables and element types.)
  const types = await q(
    `select t.oid, n.nspname as schema, t.typname as name, format('%I.%I', n.nspname, t.typname) as ident, t.typtype as kind,
            quote_ident(pg_get_userbyid(t.typowner)) as owner, obj_description(t.oid, 'pg_type') as comment,
            array(select quote_literal(e.enumlabel) from pg_enum e where e.enumtypid = t.oid order by e.enumsortorder) as labels,
            format_type(t.typbasetype, t.typtypmod) as base_type, t.typnotnull as not_null,
            pg_get_expr(t.typdefaultbin, 0) as default,
            case when t.typcollation <> 0 and t.typcollation <> coalesce((select b.typcollation from pg_type b where b.oid = t.typbasetype), 0)
                 then (select format('%I.%I', cn.nspname, co.collname) from pg_collation co join pg_namespace cn on cn.oid = co.collnamespace where co.oid = t.typcollation) end as collation,
            coalesce((select json_agg(json_build_object('name', quote_ident(c.conname), 'def', pg_get_constraintdef(c.oid), 'comment', obj_description(c.oid, 'pg_constraint')) order by c.conname collate "C")
                        from pg_constraint c where c.contypid = t.oid and c.contype <> 'n'), '[]'::json) as constraints,
            t.typrelid as relid, ${aclColumns("t.typacl", "'T'", "t.typowner")}
       from pg_type t join pg_namespace n on n.oid = t.typnamespace
      where n.nspname = any($1)
        and not exists (select 1 from pg_type a where a.typarray = t.oid)
        and (t.typtype <> 'c' or (select c.relkind from pg_class c where c.oid = t.typrelid) = 'c')
        and ${notExtension("pg_type", "t.oid")}
      order by n.nspname collate "C", t.typname collate "C"`,
  );

  // Relations: tables, views, sequences (an identity column's sequence comes with its column).
  const relations = await q(
    `select c.oid, n.nspname as schema, c.relname as name, format('%I.%I', n.nspname, c.relname) as ident, c.relkind as kind,
            c.relpersistence as persistence, c.relrowsecurity as rls, c.relforcerowsecurity as forced, c.relreplident as replident,
            c.reloptions as options, quote_ident(pg_get_userbyid(c.relowner)) as owner, obj_description(c.oid, 'pg_class') as comment,
            case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid, true) end as view_def,
            ${aclColumns("c.relacl", "case c.relkind when 'S' then 's' else 'r' end::\"char\"", "c.relowner")}
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any($1) and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
        and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('i', 'e'))
      order by n.nspname collate "C", c.relname collate "C"`,
  );
  const unsupportedRelation = relations.find((r) => r.kind === "f" || r.kind === "p");
  if (unsupportedRelation) throw new Error(`schema dump: ${unsupportedRelation.ident} (relkind ${unsupportedRelation.kind}) is not supported`);

  const columns = await q(
    `select a.attrelid as relid, quote_ident(a.attname) as name, format_type(a.atttypid, a.atttypmod) as type,
            a.attnotnull as not_null, a.attidentity as identity, a.attgenerated as generated,
            pg_get_expr(ad.adbin, ad.adrelid) as default,
            case when a.attcollation <> t.typcollation
                 then (select format('%I.%I', cn.nspname, co.collname) from pg_collation co join pg_namespace cn on cn.oid = co.collnamespace where co.oid = a.attcollation) end as collation,
            col_description(a.attrelid, a.attnum) as comment,
            case when a.attacl is null then '[]'::json else ${aclJson("a.attacl")} end as acl
       from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
       join pg_type t on t.oid = a.atttypid
       left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
      where n.nspname = any($1) and a.attnum > 0 and not a.attisdropped
      order by a.attrelid, a.attnum`,
  );

  // Constraints of tables (not NOT NULL: attnotnull says it; constraint triggers are triggers).
  const constraints = await q(
    `select c.conrelid as relid, quote_ident(c.conname) as name, pg_get_constraintdef(c.oid) as def,
            obj_description(c.oid, 'pg_constraint') as comment
       from pg_constraint c join pg_class r on r.oid = c.conrelid join pg_namespace n on n.oid = r.relnamespace
      where n.nspname = any($1) and c.contype in ('p', 'u', 'f', 'c', 'x')
      order by c.conname collate "C"`,
  );

  // Indexes that no constraint creates.
  const indexes = await q(
    `select i.indrelid as relid, format('%I.%I', n.nspname, ic.relname) as ident, pg_get_indexdef(i.indexrelid) as def,
            obj_description(i.indexrelid, 'pg_class') as comment
       from pg_index i join pg_class ic on ic.oid = i.indexrelid join pg_namespace n on n.oid = ic.relnamespace
      where n.nspname = any($1)
        and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid and c.contype in ('p', 'u', 'x'))
      order by ic.relname collate "C"`,
  );

  const policies = await q(
    `select p.polrelid as relid, quote_ident(p.polname) as name, p.polpermissive as permissive,
            case p.polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' when 'w' then 'UPDATE' when 'd' then 'DELETE' else 'ALL' end as command,
            array(select r.name from unnest(p.polroles) as pr(oid)
                   cross join lateral (select case when pr.oid = 0 then 'PUBLIC' else quote_ident(pg_get_userbyid(pr.oid)) end) as r(name)
                   order by r.name collate "C") as roles,
            pg_get_expr(p.polqual, p.polrelid) as using, pg_get_expr(p.polwithcheck, p.polrelid) as check,
            (select d.description from pg_description d where d.classoid = 'pg_policy'::regclass and d.objoid = p.oid and d.objsubid = 0) as comment
       from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any($1)
      order by p.polname collate "C"`,
  );

  const triggers = await q(
    `select t.tgrelid as relid, quote_ident(t.tgname) as name, pg_get_triggerdef(t.oid) as def, t.tgenabled as enabled,
            obj_description(t.oid, 'pg_trigger') as comment
       from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any($1) and not t.tgisinternal
      order by t.tgname collate "C"`,
  );

  const sequences = await q(
    `select s.seqrelid as relid, format_type(s.seqtypid, null) as type, s.seqstart as start, s.seqincrement as increment,
            s.seqmin as min, s.seqmax as max, s.seqcache as cache, s.seqcycle as cycle,
            (select format('%I.%I.%I', tn.nspname, tc.relname, ta.attname)
               from pg_depend d join pg_class tc on tc.oid = d.refobjid join pg_namespace tn on tn.oid = tc.relnamespace
               join pg_attribute ta on ta.attrelid = d.refobjid and ta.attnum = d.refobjsubid
              where d.classid = 'pg_class'::regclass and d.objid = s.seqrelid and d.deptype = 'a') as owned_by
       from pg_sequence s join pg_class c on c.oid = s.seqrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any($1)`,
  );

  const functions = await q(
    `select p.oid, n.nspname as schema, p.prokind as kind,
            format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) as signature,
            case when p.prokind in ('f', 'p', 'w') then pg_get_functiondef(p.oid) end as def,
            quote_ident(pg_get_userbyid(p.proowner)) as owner, obj_description(p.oid, 'pg_proc') as comment,
            ${aclColumns("p.proacl", "'f'", "p.proowner")}
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = any($1) and ${notExtension("pg_proc", "p.oid")}
      order by n.nspname collate "C", p.proname collate "C", pg_get_function_identity_arguments(p.oid) collate "C"`,
  );
  const aggregate = functions.find((f) => f.def === null);
  if (aggregate) throw new Error(`schema dump: ${aggregate.signature} (prokind ${aggregate.kind}) is not supported`);

  const byRelation = <T extends { relid: number }>(rows: T[]) => {
    const map = new Map<number, T[]>();
    for (const r of rows) map.set(r.relid, [...(map.get(r.relid) ?? []), r]);
    return (relid: number) => map.get(relid) ?? [];
  };
  const columnsOf = byRelation(columns);
  const constraintsOf = byRelation(constraints);
  const indexesOf = byRelation(indexes);
  const policiesOf = byRelation(policies);
  const triggersOf = byRelation(triggers);
  const sequenceOf = byRelation(sequences);

  const out: string[] = [
    "-- Generated by `npm run generate` from the migrated database (db/schema-dump.ts). Do not edit.",
    "--",
    `-- The current definition of every object in the schemas ${DUMPED_SCHEMAS.join(" and ")}, read from the`,
    "-- catalog: tables with their columns, constraints, indexes, row-level security, policies, triggers,",
    "-- grants and comments; types; functions with their bodies. Sorted by schema, kind and name, so it is",
    "-- for reading and review, not for restoring: the migrations build the database. A test fails when it",
    "-- differs from what the migrations (committed/, then current/) produce; regenerate with `npm run generate`.",
    "--",
    `-- Every object is owned by ${ROLES.owner} unless an OWNER TO line says otherwise. GRANT and REVOKE lines`,
    "-- take each object from PostgreSQL's default privileges to the ones it has; for functions, whether",
    "-- PUBLIC may execute is always stated.",
  ];

  if (defaultAcls.length) {
    out.push("", ...banner("Default privileges (for objects created from now on)"), "");
    const objects: Record<string, string> = { r: "TABLES", S: "SEQUENCES", f: "FUNCTIONS", T: "TYPES", n: "SCHEMAS" };
    for (const d of defaultAcls) {
      const prefix = `ALTER DEFAULT PRIVILEGES FOR ROLE ${d.role}${d.schema ? ` IN SCHEMA ${d.schema}` : ""}`;
      // Per-schema entries add to the global default; global entries replace it.
      const statements = aclStatements(objects[d.objtype], d.acl, d.schema ? [] : d.default_acl);
      out.push(...statements.map((s) => `${prefix} ${s}`));
    }
  }

  for (const schema of schemas) {
    out.push("", ...banner(`Schema ${schema.name}`), "", `CREATE SCHEMA ${schema.ident};`);
    out.push(...ownerStatement("SCHEMA", schema.ident, schema.owner));
    out.push(...aclStatements(`SCHEMA ${schema.ident}`, schema.acl, schema.default_acl));
    out.push(...commentStatement(`SCHEMA ${schema.ident}`, schema.comment));

    for (const t of types.filter((t) => t.schema === schema.name)) {
      const kindName: Record<string, string> = { e: "enum", d: "domain", c: "composite type" };
      if (!kindName[t.kind]) throw new Error(`schema dump: type ${t.ident} (typtype ${t.kind}) is not supported`);
      out.push("", ...banner(`${t.ident} (${kindName[t.kind]})`), "");
      const typeKeyword = t.kind === "d" ? "DOMAIN" : "TYPE";
      if (t.kind === "e") {
        out.push(`CREATE TYPE ${t.ident} AS ENUM (`, t.labels.map((l: string) => `    ${l}`).join(",\n"), ");");
      } else if (t.kind === "d") {
        const head = [`CREATE DOMAIN ${t.ident} AS ${t.base_type}`];
        if (t.collation) head.push(`COLLATE ${t.collation}`);
        if (t.default !== null) head.push(`DEFAULT ${t.default}`);
        if (t.not_null) head.push("NOT NULL");
        const checks = t.constraints.map((c: { name: string; def: string }) => `    CONSTRAINT ${c.name} ${c.def}`);
        out.push(checks.length ? [head.join(" "), ...checks].join("\n") + ";" : head.join(" ") + ";");
      } else {
        const attributes = columnsOf(t.relid).map((a) => `    ${a.name} ${a.type}${a.collation ? ` COLLATE ${a.collation}` : ""}`);
        out.push(`CREATE TYPE ${t.ident} AS (`, attributes.join(",\n"), ");");
      }
      out.push(...ownerStatement(typeKeyword, t.ident, t.owner));
      out.push(...aclStatements(`${typeKeyword} ${t.ident}`, t.acl, t.default_acl));
      out.push(...commentStatement(`${typeKeyword} ${t.ident}`, t.comment));
      for (const c of t.constraints) out.push(...commentStatement(`CONSTRAINT ${c.name} ON DOMAIN ${t.ident}`, c.comment));
      if (t.kind === "c") {
        for (const a of columnsOf(t.relid)) out.push(...commentStatement(`COLUMN ${t.ident}.${a.name}`, a.comment));
      }
    }

    const inSchema = relations.filter((r) => r.schema === schema.name);
    for (const kind of ["r", "S", "v", "m"]) {
      for (const r of inSchema.filter((r) => r.kind === kind)) out.push(...renderRelation(r));
    }

    for (const f of functions.filter((f) => f.schema === schema.name)) {
      const keyword = f.kind === "p" ? "PROCEDURE" : "FUNCTION";
      out.push("", ...banner(`${f.signature} (${keyword.toLowerCase()})`), "");
      out.push(`${f.def.replace(/\n$/, "")};`);
      out.push(...ownerStatement(keyword, f.signature, f.owner));
      out.push(...aclStatements(`${keyword} ${f.signature}`, f.acl, f.default_acl, { explicitPublic: true }));
      out.push(...commentStatement(`${keyword} ${f.signature}`, f.comment));
    }
  }
  return out.join("\n") + "\n";

  function renderRelation(r: (typeof relations)[number]): string[] {
    const kindName: Record<string, [string, string]> = {
      r: ["table", "TABLE"],
      S: ["sequence", "SEQUENCE"],
      v: ["view", "VIEW"],
      m: ["materialized view", "MATERIALIZED VIEW"],
    };
    const [name, keyword] = kindName[r.kind];
    const lines = ["", ...banner(`${r.ident} (${name})`), ""];
    const options = r.options ? ` WITH (${r.options.join(", ")})` : "";
    if (r.kind === "r") {
      const defs = [
        ...columnsOf(r.oid).map((c) => {
          const parts = [`    ${c.name} ${c.type}`];
          if (c.collation) parts.push(`COLLATE ${c.collation}`);
          if (c.generated) parts.push(`GENERATED ALWAYS AS (${c.default})${c.generated === "s" ? " STORED" : " VIRTUAL"}`);
          else if (c.default !== null) parts.push(`DEFAULT ${c.default}`);
          if (c.identity) parts.push(`GENERATED ${c.identity === "a" ? "ALWAYS" : "BY DEFAULT"} AS IDENTITY`);
          if (c.not_null) parts.push("NOT NULL");
          return parts.join(" ");
        }),
        ...constraintsOf(r.oid).map((c) => `    CONSTRAINT ${c.name} ${c.def}`),
      ];
      lines.push(`CREATE ${r.persistence === "u" ? "UNLOGGED " : ""}TABLE ${r.ident} (`, defs.join(",\n"), `)${options};`);
      const replident: Record<string, string> = { n: "NOTHING", f: "FULL", i: "USING INDEX" };
      if (replident[r.replident]) lines.push(`ALTER TABLE ${r.ident} REPLICA IDENTITY ${replident[r.replident]};`);
    } else if (r.kind === "S") {
      const s = sequenceOf(r.oid)[0];
      lines.push(
        `CREATE SEQUENCE ${r.ident} AS ${s.type} START WITH ${s.start} INCREMENT BY ${s.increment} MINVALUE ${s.min} MAXVALUE ${s.max} CACHE ${s.cache}${s.cycle ? " CYCLE" : ""};`,
      );
      if (s.owned_by) lines.push(`ALTER SEQUENCE ${r.ident} OWNED BY ${s.owned_by};`);
    } else {
      lines.push(`CREATE ${keyword} ${r.ident}${options} AS`, `${r.view_def.replace(/;$/, "")};`);
    }
    lines.push(...ownerStatement(keyword, r.ident, r.owner));
    for (const i of indexesOf(r.oid)) lines.push(`${i.def};`);
    if (r.rls) lines.push(`ALTER TABLE ${r.ident} ENABLE ROW LEVEL SECURITY;`);
    if (r.forced) lines.push(`ALTER TABLE ${r.ident} FORCE ROW LEVEL SECURITY;`);
    for (const p of policiesOf(r.oid)) {
      const parts = [`CREATE POLICY ${p.name} ON ${r.ident} AS ${p.permissive ? "PERMISSIVE" : "RESTRICTIVE"} FOR ${p.command} TO ${p.roles.join(", ")}`];
      if (p.using !== null) parts.push(`USING (${p.using})`);
      if (p.check !== null) parts.push(`WITH CHECK (${p.check})`);
      lines.push(`${parts.join(" ")};`);
    }
    const enabling: Record<string, string> = { D: "DISABLE", R: "ENABLE REPLICA", A: "ENABLE ALWAYS" };
    for (const t of triggersOf(r.oid)) {
      lines.push(`${t.def};`);
      if (enabling[t.enabled]) lines.push(`ALTER TABLE ${r.ident} ${enabling[t.enabled]} TRIGGER ${t.name};`);
    }
    const on = `${r.kind === "S" ? "SEQUENCE" : "TABLE"} ${r.ident}`;
    lines.push(...aclStatements(on, r.acl, r.default_acl));
    for (const c of columnsOf(r.oid)) lines.push(...aclStatements(on, c.acl, [], { columns: c.name }));
    lines.push(...commentStatement(`${keyword} ${r.ident}`, r.comment));
    for (const c of columnsOf(r.oid)) lines.push(...commentStatement(`COLUMN ${r.ident}.${c.name}`, c.comment));
    for (const c of constraintsOf(r.oid)) lines.push(...commentStatement(`CONSTRAINT ${c.name} ON ${r.ident}`, c.comment));
    for (const i of indexesOf(r.oid)) lines.push(...commentStatement(`INDEX ${i.ident}`, i.comment));
    for (const p of policiesOf(r.oid)) lines.push(...commentStatement(`POLICY ${p.name} ON ${r.ident}`, p.comment));
    for (const t of triggersOf(r.oid)) lines.push(...commentStatement(`TRIGGER ${t.name} ON ${r.ident}`, t.comment));
    return lines;
  }
}
