// Policy linter: reads the live catalog and reports every object that breaks
// the security model in docs/security.md: RLS forced everywhere,
// grants covered by policies, every permissive policy usable by a request
// role or else named owner_* and scoped to the owner, Citus-ready tenant
// keys, policies without subqueries or volatile calls, pinned search paths,
// no PUBLIC EXECUTE, request roles that own nothing and bypass nothing.
//
// Each rule is one catalog query; a row it returns is a finding. `npm run
// lint:db` runs it against the configured database; tests/lint.test.ts runs
// it in `npm test` and shows, rule by rule, what each one catches.
import pg from "pg";
import { ROLES } from "../common/roles.ts";

export interface Finding {
  /** The rule's name, e.g. "rls". */
  rule: string;
  /** The object at fault: a table (`app_public.users`), column (`app_public.users.email`),
   * policy (`select_own_tenant on app_public.users`), function (`app_public.login(text,text,text)`) or role. */
  object: string;
  /** One sentence naming the object and saying what to fix. */
  message: string;
}

/**
 * Tables without tenant_id scoping by design: the one place they are
 * declared. They are exempt from the tenant-key and tenant-index rules.
 */
export const GLOBAL_TABLES: readonly string[] = ["app_public.tenants"];

/** The schemas the linter checks. */
export const APP_SCHEMAS: readonly string[] = ["app_public", "app_private"];

/** The roles a request runs as (admin is a member of member and inherits its grants). */
const REQUEST_ROLES = [ROLES.anonymous, ROLES.member, ROLES.admin, ROLES.operator];

type Row = Record<string, any>;

interface Check {
  rule: string;
  /** A catalog query; every row is one finding. */
  sql: string;
  params: unknown[];
  finding: (row: Row) => Omit<Finding, "rule">;
}

/** "a, b and c" */
const list = (items: string[]) =>
  items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;

// Shared SQL fragments. $1 is always the array of app schemas.
const POLICY_NAME = `p.polname || ' on ' || n.nspname || '.' || c.relname`;
/** Tables with a tenant_id column, except the global ones ($2). */
const TENANT_TABLES = `tenant_tables as (
  select c.oid, n.nspname || '.' || c.relname as name, a.attnum as tenant_col
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
   where n.nspname = any($1) and c.relkind in ('r', 'p') and n.nspname || '.' || c.relname <> all($2)
)`;
/** The four commands: privilege name and the matching pg_policy.polcmd. */
const COMMANDS = `(values (1, 'SELECT', 'r'), (2, 'INSERT', 'a'), (3, 'UPDATE', 'w'), (4, 'DELETE', 'd')) as cmd(ord, name, polcmd)`;

const CHECKS: Check[] = [
  {
    rule: "rls",
    sql: `select n.nspname || '.' || c.relname as object, c.relrowsecurity as enabled
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = any($1) and c.relkind in ('r', 'p')
             and not (c.relrowsecurity and c.relforcerowsecurity)`,
    params: [APP_SCHEMAS],
    finding: (r) => ({
      object: r.object,
      message: r.enabled
        ? `Table ${r.object} has row-level security enabled but not forced, so its owner bypasses the policies; run "alter table ${r.object} force row level security".`
        : `Table ${r.object} does not have row-level security enabled; run "alter table ${r.object} enable row level security" and "alter table ${r.object} force row level security".`,
    }),
  },
  {
    // A grant is covered when a permissive policy for that command (or ALL)
    // names PUBLIC, the role, or a role it is a member of. Restrictive
    // policies only narrow what permissive ones allow, so alone they cover nothing.
    rule: "uncovered-grant",
    sql: `select n.nspname || '.' || c.relname as object, r.role,
                 array_agg(cmd.name order by cmd.ord) as commands
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
           cross join unnest($2::name[]) as r(role)
           cross join ${COMMANDS}
           where n.nspname = any($1) and c.relkind in ('r', 'p')
             and has_table_privilege(r.role, c.oid, cmd.name)
             and not exists (
                   select 1 from pg_policy p
                    where p.polrelid = c.oid and p.polpermissive and p.polcmd in ('*', cmd.polcmd)
                      and exists (select 1 from unnest(p.polroles) as pr(oid)
                                   where pr.oid = 0 or pg_has_role(r.role, pr.oid, 'member')))
           group by 1, 2`,
    params: [APP_SCHEMAS, REQUEST_ROLES],
    finding: (r) => ({
      object: r.object,
      message: `Request role ${r.role} holds ${list(r.commands)} on ${r.object} but no permissive policy for ${r.commands.length > 1 ? "those commands" : "that command"} applies to it; add a policy for ${list(r.commands)} (to PUBLIC or to ${r.role}) or revoke the grant.`,
    }),
  },
  {
    // The converse: a permissive policy that no request role can use, because
    // none it applies to (PUBLIC: all of them) holds the table privilege for
    // its command. Only the owner's SECURITY DEFINER functions (and imports)
    // exercise such a policy; written `to PUBLIC` it looks like a request
    // path and invites being dropped as unused. Owner-only policies are
    // exempt: they are named and scoped as what they are (owner-policy-name).
    // pg_has_role(…, 'usage') is the membership row-level security applies.
    rule: "unreachable-policy",
    sql: `select ${POLICY_NAME} as object, n.nspname || '.' || c.relname as "table",
                 case p.polcmd when '*' then 'ALL' when 'r' then 'SELECT' when 'a' then 'INSERT' when 'w' then 'UPDATE' else 'DELETE' end as command,
                 array(select case when pr.oid = 0 then 'PUBLIC' else pg_get_userbyid(pr.oid)::text end
                         from unnest(p.polroles) as pr(oid) order by 1) as roles
            from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = any($1) and p.polpermissive
             and p.polroles is distinct from array[to_regrole($3)::oid]
             and not exists (
                   select 1 from unnest($2::name[]) as r(role) cross join ${COMMANDS}
                    where p.polcmd in ('*', cmd.polcmd)
                      and has_table_privilege(r.role, c.oid, cmd.name)
                      and exists (select 1 from unnest(p.polroles) as pr(oid)
                                   where pr.oid = 0 or pg_has_role(r.role, pr.oid, 'usage')))`,
    params: [APP_SCHEMAS, REQUEST_ROLES, ROLES.owner],
    finding: (r) => ({
      object: r.object,
      message: `Policy ${r.object} (${r.command} to ${list(r.roles)}) applies to no request role that holds ${r.command === "ALL" ? "any privilege" : r.command} on ${r.table}, so only the owner can use it; if the owner's functions need it, recreate it as owner_<what> to ${ROLES.owner}, otherwise drop it.`,
    }),
  },
  {
    // A policy to the owner alone is named owner_*, and a policy named
    // owner_* is to the owner alone: a reader of the policy list (or of
    // generated/ACCESS.md) tells the owner's deliberate paths by name.
    rule: "owner-policy-name",
    sql: `select ${POLICY_NAME} as object, p.polname like 'owner\\_%' as owner_named,
                 array(select case when pr.oid = 0 then 'PUBLIC' else pg_get_userbyid(pr.oid)::text end
                         from unnest(p.polroles) as pr(oid) order by 1) as roles
            from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = any($1)
             and (p.polroles = array[to_regrole($2)::oid]) is distinct from (p.polname like 'owner\\_%')`,
    params: [APP_SCHEMAS, ROLES.owner],
    finding: (r) => ({
      object: r.object,
      message: r.owner_named
        ? `Policy ${r.object} is named owner_* but applies to ${list(r.roles)}; scope it to ${ROLES.owner} alone, or rename it.`
        : `Policy ${r.object} applies to ${ROLES.owner} alone; name it owner_<what>, so that it reads as the owner's deliberate path.`,
    }),
  },
  {
    // Primary keys, unique constraints and unique indexes: indisunique covers all three.
    rule: "tenant-key",
    sql: `with ${TENANT_TABLES}
          select t.name as object, ic.relname as key,
                 case when i.indisprimary then 'primary key'
                      when exists (select 1 from pg_constraint k where k.conindid = i.indexrelid and k.conrelid = t.oid and k.contype = 'u')
                      then 'unique constraint' else 'unique index' end as kind
            from tenant_tables t
            join pg_index i on i.indrelid = t.oid
            join pg_class ic on ic.oid = i.indexrelid
           where i.indisunique and not (t.tenant_col = any(i.indkey))`,
    params: [APP_SCHEMAS, GLOBAL_TABLES],
    finding: (r) => ({
      object: r.object,
      message: `The ${r.kind} ${r.key} of tenant-scoped table ${r.object} does not include tenant_id; make it (tenant_id, …) so that it stays unique per tenant when distributed.`,
    }),
  },
  {
    // The referencing and referenced columns must pair tenant_id with tenant_id.
    rule: "tenant-key",
    sql: `with ${TENANT_TABLES}
          select src.name as object, k.conname, dst.name as referenced
            from pg_constraint k
            join tenant_tables src on src.oid = k.conrelid
            join tenant_tables dst on dst.oid = k.confrelid
           where k.contype = 'f'
             and not exists (select 1 from unnest(k.conkey, k.confkey) as pair(from_col, to_col)
                              where pair.from_col = src.tenant_col and pair.to_col = dst.tenant_col)`,
    params: [APP_SCHEMAS, GLOBAL_TABLES],
    finding: (r) => ({
      object: r.object,
      message: `The foreign key ${r.conname} from tenant-scoped table ${r.object} to ${r.referenced} does not pair tenant_id with tenant_id; declare it as foreign key (tenant_id, …) references ${r.referenced} (tenant_id, …).`,
    }),
  },
  {
    rule: "tenant-index",
    sql: `with ${TENANT_TABLES}
          select t.name as object from tenant_tables t
           where not exists (select 1 from pg_index i where i.indrelid = t.oid and i.indkey[0] = t.tenant_col)`,
    params: [APP_SCHEMAS, GLOBAL_TABLES],
    finding: (r) => ({
      object: r.object,
      message: `Tenant-scoped table ${r.object} has no index whose first column is tenant_id; make tenant_id the first column of its primary key, or add an index on (tenant_id, …).`,
    }),
  },
  {
    // Relation filters (`some`/`every`/`none`, a parent's fields) and cascades
    // follow foreign keys: each must be served by an index that leads with
    // its columns, or a filter on an empty tenant scans the whole table.
    rule: "foreign-key-index",
    sql: `select n.nspname || '.' || c.relname as object, k.conname,
                 array(select a.attname::text from unnest(k.conkey) with ordinality u(attnum, i)
                         join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.attnum order by u.i) as columns
            from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
           where k.contype = 'f' and n.nspname = any($1)
             and not exists (
               select 1 from pg_index i
                where i.indrelid = k.conrelid and i.indnatts >= cardinality(k.conkey)
                  and (select array_agg(x order by x) from unnest((i.indkey::int2[])[0:cardinality(k.conkey) - 1]) x)
                    = (select array_agg(x order by x) from unnest(k.conkey) x))`,
    params: [APP_SCHEMAS],
    finding: (r) => ({
      object: r.object,
      message: `The foreign key ${r.conname} of ${r.object} has no index leading with its columns (${r.columns.join(", ")}); relation filters and cascades along it would scan the table. Add an index on (${r.columns.join(", ")}).`,
    }),
  },
  {
    rule: "policy-subquery",
    sql: `select ${POLICY_NAME} as object,
                 coalesce(p.polqual::text like '%{SUBLINK %', false) as in_using,
                 coalesce(p.polwithcheck::text like '%{SUBLINK %', false) as in_check
            from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = any($1)
             and (p.polqual::text like '%{SUBLINK %' or p.polwithcheck::text like '%{SUBLINK %')`,
    params: [APP_SCHEMAS],
    finding: (r) => ({
      object: r.object,
      message: `Policy ${r.object} has a subquery in its ${list([r.in_using && "USING", r.in_check && "WITH CHECK"].filter(Boolean))} expression, which Citus rejects; compare the row's columns with STABLE helper functions such as app_public.current_tenant_id() instead.`,
    }),
  },
  {
    // Function calls (FUNCEXPR :funcid) and operators (OPEXPR :opfuncid) in the stored expression trees.
    rule: "policy-volatile",
    sql: `select ${POLICY_NAME} as object,
                 array_agg(distinct f.oid::regprocedure::text order by f.oid::regprocedure::text) as functions
            from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
           cross join lateral regexp_matches(coalesce(p.polqual::text, '') || ' ' || coalesce(p.polwithcheck::text, ''),
                                             ':(?:funcid|opfuncid) (\\d+)', 'g') as m(id)
            join pg_proc f on f.oid = m.id[1]::oid
           where n.nspname = any($1) and f.provolatile = 'v'
           group by 1`,
    params: [APP_SCHEMAS],
    finding: (r) => ({
      object: r.object,
      message: `Policy ${r.object} calls the VOLATILE function${r.functions.length > 1 ? "s" : ""} ${list(r.functions)}, whose result may change from row to row and which Citus cannot evaluate safely on its workers; use STABLE or IMMUTABLE functions only.`,
    }),
  },
  {
    rule: "definer-search-path",
    sql: `select p.oid::regprocedure::text as object
            from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where n.nspname = any($1) and p.prosecdef
             and not exists (select 1 from unnest(p.proconfig) as s(setting) where s.setting like 'search_path=%')`,
    params: [APP_SCHEMAS],
    finding: (r) => ({
      object: r.object,
      message: `SECURITY DEFINER function ${r.object} does not pin its search_path; add "set search_path to pg_catalog, public, pg_temp" to its definition.`,
    }),
  },
  {
    // A null ACL means the default privileges, which include EXECUTE for PUBLIC.
    rule: "public-execute",
    sql: `select p.oid::regprocedure::text as object
            from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where n.nspname = any($1)
             and (p.proacl is null
                  or exists (select 1 from aclexplode(p.proacl) as a where a.grantee = 0 and a.privilege_type = 'EXECUTE'))`,
    params: [APP_SCHEMAS],
    finding: (r) => ({
      object: r.object,
      message: `Function ${r.object} is executable by PUBLIC; run "revoke execute on function ${r.object} from public" and grant it to the roles that need it.`,
    }),
  },
  {
    // Anywhere in the database. Indexes and TOAST tables follow their table;
    // row, array and multirange types follow their relation, element or range type.
    rule: "request-role",
    sql: `with roles as (select oid, rolname from pg_roles where rolname = any($1))
          select o.type as kind, o.identity as object, r.rolname as role
            from pg_class c join roles r on r.oid = c.relowner
           cross join lateral pg_identify_object('pg_class'::regclass, c.oid, 0) as o
           where c.relkind not in ('i', 'I', 't')
          union all
          select 'function', p.oid::regprocedure::text, r.rolname from pg_proc p join roles r on r.oid = p.proowner
          union all
          select 'schema', s.nspname, r.rolname from pg_namespace s join roles r on r.oid = s.nspowner
          union all
          select 'type', s.nspname || '.' || t.typname, r.rolname
            from pg_type t join roles r on r.oid = t.typowner join pg_namespace s on s.oid = t.typnamespace
           where t.typrelid = 0 and t.typtype <> 'm' and not exists (select 1 from pg_type e where e.typarray = t.oid)`,
    params: [[ROLES.authenticator, ...REQUEST_ROLES]],
    finding: (r) => ({
      object: r.object,
      message: `The ${r.kind} ${r.object} is owned by ${r.role}, but the authenticator and the request roles must own nothing (an owner holds every privilege on its objects and may alter or drop them); change its owner to ${ROLES.owner}.`,
    }),
  },
  {
    rule: "request-role",
    sql: `select rolname as object, rolsuper, rolbypassrls from pg_roles
           where rolname = any($1) and (rolsuper or rolbypassrls)`,
    params: [[ROLES.authenticator, ...REQUEST_ROLES]],
    finding: (r) => {
      const attrs = [r.rolsuper && "SUPERUSER", r.rolbypassrls && "BYPASSRLS"].filter(Boolean) as string[];
      return {
        object: r.object,
        message: `Role ${r.object} has ${list(attrs)}, which skips row-level security for every request; run "alter role ${r.object} ${attrs.map((a) => `no${a.toLowerCase()}`).join(" ")}".`,
      };
    },
  },
  {
    rule: "identity-column",
    sql: `select n.nspname || '.' || c.relname || '.' || a.attname as object
            from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = any($1) and a.attnum > 0 and not a.attisdropped and a.attidentity <> ''`,
    params: [APP_SCHEMAS],
    finding: (r) => ({
      object: r.object,
      message: `Column ${r.object} is an identity column, which a distributed (Citus) table cannot generate consistently; use "uuid not null default gen_random_uuid()" instead.`,
    }),
  },
  {
    rule: "column-grant",
    sql: `select n.nspname || '.' || c.relname || '.' || a.attname as object,
                 array_agg(distinct x.privilege_type || ' to ' || case when x.grantee = 0 then 'PUBLIC' else pg_get_userbyid(x.grantee) end) as grants
            from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
           cross join lateral aclexplode(a.attacl) as x
           where n.nspname = any($1) and a.attacl is not null
           group by 1`,
    params: [APP_SCHEMAS],
    finding: (r) => ({
      object: r.object,
      message: `Column ${r.object} has column-level privileges (${[...r.grants].sort().join(", ")}), which Citus rejects; revoke them, grant on the table, and protect the column with a trigger and @behavior tags instead.`,
    }),
  },
  // The citus-* rules: what a real Citus cluster refused in this schema
  // (docs/scaling.md), caught on plain PostgreSQL.
  {
    // Citus: "SET NULL or SET DEFAULT is not supported in ON DELETE operation
    // when distribution key is included in the foreign key constraint" (and
    // the same, with CASCADE, for ON UPDATE).
    rule: "citus-fk-set-null",
    sql: `select n.nspname || '.' || c.relname as object, k.conname,
                 array_remove(array[
                   case k.confdeltype when 'n' then 'ON DELETE SET NULL' when 'd' then 'ON DELETE SET DEFAULT' end,
                   case k.confupdtype when 'n' then 'ON UPDATE SET NULL' when 'd' then 'ON UPDATE SET DEFAULT' when 'c' then 'ON UPDATE CASCADE' end
                 ], null) as actions
            from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
            join pg_attribute a on a.attrelid = k.conrelid and a.attname = 'tenant_id' and not a.attisdropped
           where k.contype = 'f' and n.nspname = any($1) and a.attnum = any(k.conkey)
             and (k.confdeltype in ('n', 'd') or k.confupdtype in ('n', 'd', 'c'))`,
    params: [APP_SCHEMAS],
    finding: (r) => ({
      object: r.object,
      message: `The foreign key ${r.conname} of ${r.object} includes tenant_id and has ${list(r.actions)}, which Citus refuses when the distribution column is in the key; declare it without the action and do the action in a BEFORE trigger on the referenced table (as app_private.tg_users_unlink does).`,
    }),
  },
  {
    // A heuristic over the function's source text (prosrc), not its parse
    // tree: the text after "do update set" up to the next ";" is searched for
    // calls (a name followed by "(") resolved by name in pg_proc, and for the
    // SQL value functions (current_timestamp, …). It misses an operator
    // implemented by a STABLE function (timestamptz - interval): compute such
    // values into variables first, as app_private.login_throttle_fail does.
    rule: "citus-upsert-volatile",
    sql: `select p.oid::regprocedure::text as object, array_agg(distinct f.name order by f.name) as functions
            from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            join pg_language l on l.oid = p.prolang and l.lanname in ('sql', 'plpgsql')
           cross join lateral regexp_matches(lower(p.prosrc), 'on\\s+conflict[^;]*?\\mdo\\s+update\\s+set\\M([^;]*)', 'g') as u(m)
           cross join lateral (
                 select c[1] as name from regexp_matches(u.m[1], '([a-z_][a-z0-9_$]*)\\s*\\(', 'g') as c
                 union all
                 select v[1] from regexp_matches(u.m[1], '\\m(current_timestamp|current_date|current_time|localtimestamp|localtime)\\M', 'g') as v
               ) as f
           where n.nspname = any($1)
             and (f.name in ('current_timestamp', 'current_date', 'current_time', 'localtimestamp', 'localtime')
                  or exists (select 1 from pg_proc q where q.proname = f.name and q.provolatile <> 'i'))
           group by 1`,
    params: [APP_SCHEMAS],
    finding: (r) => ({
      object: r.object,
      message: `Function ${r.object} calls ${list(r.functions)} (not IMMUTABLE) in the DO UPDATE of an INSERT … ON CONFLICT, which Citus refuses at run time on distributed and reference tables; compute the value into a variable first (it reaches the statement as a parameter) or use excluded.<column>. (A text search of the function's source: a heuristic.)`,
    }),
  },
  {
    // set_config() is not forwarded to Citus workers, SET LOCAL is. A
    // heuristic over the source text: the first argument of each
    // set_config( call, flagged when it names a jwt.claims.* setting or role,
    // or is not a literal (so could be either).
    rule: "citus-set-config",
    sql: `select p.oid::regprocedure::text as object, array_agg(distinct btrim(m[1]) order by btrim(m[1])) as settings
            from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            join pg_language l on l.oid = p.prolang and l.lanname in ('sql', 'plpgsql')
           cross join lateral regexp_matches(lower(p.prosrc), 'set_config\\s*\\(\\s*([^,)]*)', 'g') as m
           where n.nspname = any($1)
             and (btrim(m[1]) ~ '^''(jwt\\.claims\\.[^'']*|role)''$' or btrim(m[1]) !~ '^''[^'']*''$')
           group by 1`,
    params: [APP_SCHEMAS],
    finding: (r) => ({
      object: r.object,
      message: `Function ${r.object} calls set_config(${list(r.settings)}, …), which Citus does not forward to its workers (their policies then see no tenant); switch the tenant with app_private.switch_tenant_context and put it back with app_private.restore_tenant_context (SET LOCAL), or run "set local" through EXECUTE. (A text search of the function's source: a heuristic.)`,
    }),
  },
  {
    // On Citus a trigger fires on the shard: TG_TABLE_NAME is tasks_102142.
    // A heuristic over trigger functions' source: TG_TABLE_NAME, TG_RELNAME,
    // or TG_RELID turned into a name (::regclass, ::text, ::name).
    // TG_TABLE_SCHEMA alone and TG_RELID used as an oid (tg_protect_columns
    // reads the owner with it; a shard has its table's owner) pass.
    rule: "citus-trigger-table-name",
    sql: `select p.oid::regprocedure::text as object,
                 array(select distinct x[1] from regexp_matches(lower(p.prosrc), '\\m(tg_table_name|tg_relname|tg_relid\\s*::\\s*(?:regclass|text|name))', 'g') as x order by 1) as uses
            from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where n.nspname = any($1) and p.prorettype = 'trigger'::regtype
             and lower(p.prosrc) ~ '\\m(tg_table_name|tg_relname|tg_relid\\s*::\\s*(regclass|text|name))'`,
    params: [APP_SCHEMAS],
    finding: (r) => ({
      object: r.object,
      message: `Trigger function ${r.object} uses ${list(r.uses)}, which on Citus names the shard the trigger fires on (app_public.tasks_102142), not the table; pass the table's name as a trigger argument instead, as app_private.tg_audit takes it.`,
    }),
  },
  {
    // And the name app_private.tg_audit records is its own table's.
    rule: "citus-trigger-table-name",
    sql: `select t.tgname || ' on ' || n.nspname || '.' || c.relname as object, n.nspname || '.' || c.relname as "table",
                 (string_to_array(encode(t.tgargs, 'escape'), '\\000'))[2] as named
            from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = any($1) and not t.tgisinternal and t.tgfoid = to_regprocedure('app_private.tg_audit()')
             and (t.tgnargs < 2 or (string_to_array(encode(t.tgargs, 'escape'), '\\000'))[2] is distinct from n.nspname || '.' || c.relname)`,
    params: [APP_SCHEMAS],
    finding: (r) => ({
      object: r.object,
      message: `Trigger ${r.object} calls app_private.tg_audit ${r.named ? `with the table name '${r.named}'` : "without a table name"}; its second argument must be '${r.table}', the name its events record.`,
    }),
  },
];

/** Every rule's name, in the order findings are reported. */
export const RULES: readonly string[] = [...new Set(CHECKS.map((c) => c.rule))];

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Runs every rule against the live catalog; returns the findings sorted by rule, object and message. */
export async function lintDatabase(client: pg.ClientBase): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const check of CHECKS) {
    const { rows } = await client.query(check.sql, check.params);
    for (const row of rows) findings.push({ rule: check.rule, ...check.finding(row) });
  }
  return findings.sort(
    (a, b) =>
      RULES.indexOf(a.rule) - RULES.indexOf(b.rule) ||
      byCodePoint(a.object, b.object) ||
      byCodePoint(a.message, b.message),
  );
}
