// Citus: preparing a cluster for the project (`npm run citus:setup`), the
// distribution DDL generated from the catalog (generated/citus.sql, written
// by `npm run generate`) and applying it (`npm run citus:distribute`).
//
// A Citus cluster is several PostgreSQL servers. Roles and databases are per
// server and Citus does not create them on the workers (CREATE DATABASE is
// not propagated; roles only once a database with the extension exists), so
// the set-up prepares every node itself, each in a session with Citus's DDL
// propagation off (a statement run against the coordinator would otherwise be
// replayed on workers that lack the database; one run against a worker would
// be refused as "not allowed on this node").
import pg from "pg";
import { ROLES } from "../common/roles.ts";
import { ensureRoles, withClient, withDatabase } from "./setup.ts";

export interface CitusNode {
  /** "coordinator" or "worker". */
  kind: "coordinator" | "worker";
  /** The node's name and port as the cluster knows them (pg_dist_node). */
  host: string;
  port: number;
  /** The superuser's URL of the node's maintenance database (the coordinator's: ROOT_DATABASE_URL). */
  url: string;
}

/** `url` pointed at another server (same credentials, same database). */
export function onNode(url: string, host: string, port: number) {
  const u = new URL(url);
  u.hostname = host.includes(":") ? `[${host}]` : host;
  u.port = String(port);
  return u.toString();
}

/**
 * `url` with Citus's DDL propagation off for the whole session (a startup
 * parameter: `options=-c citus.enable_ddl_propagation=off`), so that what the
 * set-up does on one node stays on that node.
 */
export function nodeLocal(url: string) {
  const u = new URL(url);
  u.searchParams.set("options", "-c citus.enable_ddl_propagation=off");
  return u.toString();
}

/**
 * The cluster's nodes, from pg_dist_node of ROOT_DATABASE_URL's database (the
 * coordinator's maintenance database, where the workers were added with
 * `citus_add_node`): the coordinator first, then every active primary worker.
 */
export async function listNodes(rootUrl: string): Promise<CitusNode[]> {
  return withClient(rootUrl, async (client) => {
    const { rows: ext } = await client.query("select 1 from pg_extension where extname = 'citus'");
    if (!ext.length) {
      throw new Error(
        `The database of ROOT_DATABASE_URL has no citus extension: connect to the coordinator's maintenance database, where \`create extension citus\` and \`citus_add_node\` were run.`,
      );
    }
    const { rows } = await client.query<{ nodename: string; nodeport: number; groupid: number }>(
      `select nodename, nodeport, groupid from pg_dist_node
        where noderole = 'primary' and isactive order by groupid, nodeid`,
    );
    const root = new URL(rootUrl);
    const coordinator = rows.find((r) => r.groupid === 0);
    const workers = rows.filter((r) => r.groupid !== 0);
    if (!workers.length) throw new Error("pg_dist_node of ROOT_DATABASE_URL's database names no worker: add them with citus_add_node first.");
    return [
      {
        kind: "coordinator" as const,
        host: coordinator?.nodename ?? root.hostname.replace(/^\[|\]$/g, ""),
        port: coordinator?.nodeport ?? Number(root.port || 5432),
        url: rootUrl,
      },
      ...workers.map((w) => ({ kind: "worker" as const, host: w.nodename, port: w.nodeport, url: onNode(rootUrl, w.nodename, w.nodeport) })),
    ];
  });
}

/** The roles that open sessions in the app database on some node: the API's (through Citus, as the request role) and the owner's. */
const CONNECTING_ROLES = [ROLES.owner, ROLES.authenticator, ROLES.anonymous, ROLES.member, ROLES.admin, ROLES.operator];

/** Extensions the migrations use (migrations/committed/000001), created by the superuser before migrating so that the owner's `create extension if not exists` finds them. */
export const EXTENSIONS = ["citext", "pgcrypto"];

/**
 * Settings of the app database on the coordinator (`alter database … set`):
 * - citus.propagate_set_commands = 'local': a request's `SET LOCAL` claims
 *   reach the workers (they are how policies there see the tenant);
 * - citus.enable_unsafe_triggers = on: tables with triggers (audit,
 *   protected columns) may be distributed, and later migrations may add
 *   triggers to distributed tables. "Unsafe" because the triggers run on the
 *   shards, on the workers: every function they call is distributed too
 *   (generated/citus.sql) and they write only rows of the same tenant.
 */
export const DATABASE_SETTINGS: Record<string, string> = {
  "citus.propagate_set_commands": "local",
  "citus.enable_unsafe_triggers": "on",
};

export interface CitusSetupOptions {
  rootUrl: string;
  database: string;
  passwords: { owner: string; authenticator: string };
  log?: (message: string) => void;
}

/**
 * Prepares a Citus cluster for the project. Idempotent: every step checks
 * or uses `if not exists`, so it may run again (after adding a worker, too).
 * 1. On every node (propagation off): the roles (the request roles with
 *    LOGIN and no password: Citus opens its worker connections as the
 *    current role), the app database owned by the owner, CONNECT on it for
 *    every role that connects (PUBLIC's revoked), and the citus extension in it.
 * 2. In the app database on the coordinator: the extensions the migrations
 *    need, the coordinator and the workers (node membership is per database),
 *    and the settings (DATABASE_SETTINGS).
 * 3. The roles marked as distributed objects in the app database, by a
 *    superuser's grant that names them: otherwise the migration's first GRANT
 *    to a request role, run by the owner with citus present, makes Citus
 *    re-create that role on every worker ("must be superuser to alter
 *    superuser roles or change superuser attribute").
 */
export async function setupCitus({ rootUrl, database, passwords, log = console.log }: CitusSetupOptions) {
  const nodes = await listNodes(rootUrl);
  for (const node of nodes) {
    const local = nodeLocal(node.url);
    await ensureRoles(local, passwords, { requestRolesLogin: true });
    await withClient(local, async (client) => {
      const db = client.escapeIdentifier(database);
      const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [database]);
      if (!rowCount) await client.query(`create database ${db} owner ${client.escapeIdentifier(ROLES.owner)}`);
      await client.query(`revoke all on database ${db} from public`);
      await client.query(`grant all on database ${db} to ${client.escapeIdentifier(ROLES.owner)}`);
      await client.query(`grant connect on database ${db} to ${CONNECTING_ROLES.map((r) => client.escapeIdentifier(r)).join(", ")}`);
      log(`${node.kind} ${node.host}:${node.port}: roles, database ${database}${rowCount ? "" : " (created)"}, CONNECT`);
    });
    await withClient(withDatabase(local, database), async (client) => {
      await client.query("create extension if not exists citus");
    });
  }

  const [coordinator, ...workers] = nodes;
  await withClient(withDatabase(rootUrl, database), async (client) => {
    const lit = (s: string) => client.escapeLiteral(s);
    const { rows } = await client.query<{ nodename: string; nodeport: number; groupid: number }>(
      "select nodename, nodeport, groupid from pg_dist_node",
    );
    if (!rows.some((r) => r.groupid === 0)) {
      await client.query(`select citus_set_coordinator_host(${lit(coordinator.host)}, ${coordinator.port})`);
    }
    for (const w of workers) {
      if (rows.some((r) => r.nodename === w.host && r.nodeport === w.port)) continue;
      await client.query(`select citus_add_node(${lit(w.host)}, ${w.port})`);
      log(`app database: worker ${w.host}:${w.port} added`);
    }
    // As the owner, as the migration would: Citus marks an extension as
    // distributed on every `create extension if not exists`, also one that
    // exists, and only the extension's owner may ("must be owner of extension
    // citext" if the superuser created it).
    await client.query(`set role ${client.escapeIdentifier(ROLES.owner)}`);
    for (const extension of EXTENSIONS) {
      await client.query(`create extension if not exists ${client.escapeIdentifier(extension)} with schema public`);
    }
    await client.query("reset role");
    const { rows: foreign } = await client.query<{ extname: string; owner: string }>(
      "select extname, extowner::regrole::text as owner from pg_extension where extname = any($1::text[]) and extowner <> $2::regrole",
      [EXTENSIONS, ROLES.owner],
    );
    for (const e of foreign) {
      log(`warning: extension ${e.extname} is owned by ${e.owner}, not ${ROLES.owner}: the migration's \`create extension if not exists\` will fail on Citus ("must be owner of extension"); drop it (cascade) and run citus:setup again`);
    }
    // Citus tracks the roles it has made sure exist on every node per
    // database (pg_dist_object). A grant on a function created in the same
    // transaction makes it send the grantees' CREATE/ALTER ROLE through the
    // current user's own connection: the owner's, in a migration, which may
    // not ("must be superuser to alter superuser roles or change superuser
    // attribute", migration 000001's first `grant execute`). A grant by the
    // superuser on a function of its own, in a transaction of its own, makes
    // Citus send them as the superuser and record the roles; the function
    // then goes.
    const roles = Object.values(ROLES).filter((r) => r !== ROLES.owner).map((r) => client.escapeIdentifier(r));
    await client.query("create or replace function public.mts_citus_setup_roles() returns void language sql as 'select'");
    await client.query(`grant execute on function public.mts_citus_setup_roles() to ${roles.join(", ")}`);
    await client.query("drop function public.mts_citus_setup_roles()");
    const { rows: unknown } = await client.query<{ rolname: string }>(
      `select rolname from pg_roles r where rolname = any($1::text[])
          and not exists (select 1 from pg_dist_object o where o.classid = 'pg_authid'::regclass and o.objid = r.oid)`,
      [Object.values(ROLES)],
    );
    if (unknown.length) throw new Error(`Citus did not record the roles ${unknown.map((r) => r.rolname).join(", ")} as present on every node`);
    const db = client.escapeIdentifier(database);
    for (const [name, value] of Object.entries(DATABASE_SETTINGS)) {
      await client.query(`alter database ${db} set ${name} = ${lit(value)}`);
    }
    log(`app database on the coordinator: citus, ${EXTENSIONS.join(", ")}, ${workers.length} workers, ${Object.keys(DATABASE_SETTINGS).join(", ")}`);
  });
}

// ---------------------------------------------------------------------------
// Distribution: generated/citus.sql, from the catalog.

/** The tenant column every tenant-scoped table distributes by. */
export const DISTRIBUTION_COLUMN = "tenant_id";

/** The schemas whose tables are distributed. */
export const CITUS_SCHEMAS = ["app_public", "app_private"] as const;

/**
 * Tables without tenant_id that stay on the coordinator only, and why. Every
 * table without tenant_id must be here or in REFERENCE_TABLES, unless a
 * foreign key makes it a reference table (then it must not be here): the
 * generation fails otherwise, so that a new global table is a decision.
 */
export const LOCAL_TABLES: Readonly<Record<string, string>> = {
  "app_private.login_throttle":
    "global (keyed by tenant slug and email, before any tenant is known), written on every failed login. On the coordinator, its upsert is a local statement: Citus refuses now() in ON CONFLICT DO UPDATE on distributed and reference tables, and a reference table would make every failed login a two-phase commit on every node.",
  "app_private.tenant_deletions":
    "global record of deleted tenants, written once per deletion and read by operators with SQL only; no query joins it with a tenant's tables.",
};

/** Tables without tenant_id replicated to every node (reference tables) although no foreign key requires it, and why. */
export const REFERENCE_TABLES: Readonly<Record<string, string>> = {
  "app_public.operators":
    "global, small, rarely written; read in requests (current_operator, the operator check) that also touch tenant tables, and a function returns its row type: as a reference table that type and those functions exist on every node.",
};

export interface CitusCatalog {
  /** Every table of CITUS_SCHEMAS: qualified name, and whether it has the distribution column. */
  tables: { name: string; tenantScoped: boolean }[];
  /** Foreign keys between tables of CITUS_SCHEMAS. */
  foreignKeys: { table: string; name: string; ident: string; references: string; definition: string }[];
  /** Enabled user triggers on tables of CITUS_SCHEMAS (`ident`: the name quoted where needed). */
  triggers: { table: string; ident: string }[];
  /** Every function of CITUS_SCHEMAS (not an extension's): its signature (regprocedure) and the tables whose row types its signature uses. */
  functions: { signature: string; rowTypes: string[] }[];
}

/** Reads what the distribution DDL is generated from. Names are quoted as regclass/regprocedure print them (search_path pg_catalog: always qualified). */
export async function readCitusCatalog(client: pg.Client): Promise<CitusCatalog> {
  await client.query("begin");
  try {
    await client.query("set local search_path = pg_catalog");
    const schemas = [...CITUS_SCHEMAS];
    const { rows: tables } = await client.query<{ name: string; tenant_scoped: boolean }>(
      `select c.oid::regclass::text as name,
              exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = $2 and not a.attisdropped) as tenant_scoped
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any($1::text[]) and c.relkind in ('r', 'p')
        order by c.oid::regclass::text collate "C"`,
      [schemas, DISTRIBUTION_COLUMN],
    );
    const { rows: foreignKeys } = await client.query<CitusCatalog["foreignKeys"][number]>(
      `select k.conrelid::regclass::text as table, k.conname as name, quote_ident(k.conname) as ident, k.confrelid::regclass::text as references,
              pg_get_constraintdef(k.oid) as definition
         from pg_constraint k
         join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
         join pg_class f on f.oid = k.confrelid join pg_namespace fn on fn.oid = f.relnamespace
        where k.contype = 'f' and n.nspname = any($1::text[]) and fn.nspname = any($1::text[])
        order by k.conrelid::regclass::text collate "C", k.conname collate "C"`,
      [schemas],
    );
    const { rows: triggers } = await client.query<CitusCatalog["triggers"][number]>(
      `select t.tgrelid::regclass::text as table, quote_ident(t.tgname) as ident
         from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any($1::text[]) and not t.tgisinternal and t.tgenabled <> 'D'
        order by t.tgrelid::regclass::text collate "C", t.tgname collate "C"`,
      [schemas],
    );
    const { rows: functions } = await client.query<{ signature: string; row_types: string[] }>(
      `select p.oid::regprocedure::text as signature,
              array(select distinct r.oid::regclass::text collate "C"
                      from pg_type t join pg_class r on r.oid = t.typrelid
                     where t.oid = any(p.proargtypes::oid[] || p.prorettype || coalesce(p.proallargtypes, '{}'))
                       and r.relkind in ('r', 'p')
                     order by 1) as row_types
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any($1::text[]) and p.prokind in ('f', 'p')
          and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
        order by p.oid::regprocedure::text collate "C"`,
      [schemas],
    );
    return {
      tables: tables.map((t) => ({ name: t.name, tenantScoped: t.tenant_scoped })),
      foreignKeys,
      triggers,
      functions: functions.map((f) => ({ signature: f.signature, rowTypes: f.row_types })),
    };
  } finally {
    await client.query("rollback");
  }
}

export interface DistributionPlan {
  /** Reference tables, referenced ones first, each with why. */
  reference: { table: string; reason: string }[];
  /** Distributed tables by tenant_id, parents first; the first is the colocation group's anchor. */
  distributed: string[];
  /** Tables kept on the coordinator, with why. */
  local: { table: string; reason: string }[];
}

/** Tables ordered so that every table comes after the tables it references (ties by name). */
function parentsFirst(tables: string[], foreignKeys: CitusCatalog["foreignKeys"]) {
  const set = new Set(tables);
  const ordered: string[] = [];
  const done = new Set<string>();
  const visit = (table: string, path: string[]) => {
    if (done.has(table)) return;
    if (path.includes(table)) throw new Error(`Foreign keys form a cycle: ${[...path, table].join(" → ")}`);
    const parents = foreignKeys.filter((k) => k.table === table && k.references !== table && set.has(k.references)).map((k) => k.references);
    for (const parent of [...new Set(parents)].sort()) visit(parent, [...path, table]);
    done.add(table);
    ordered.push(table);
  };
  for (const table of [...tables].sort()) visit(table, []);
  return ordered;
}

/** The decisions for tables without tenant_id: table → reason. */
export interface GlobalTableDecisions {
  local: Readonly<Record<string, string>>;
  reference: Readonly<Record<string, string>>;
}
const DECISIONS: GlobalTableDecisions = { local: LOCAL_TABLES, reference: REFERENCE_TABLES };

/** Which table becomes what, from the catalog and the decisions above. Throws when a global table has no decision, or a decision contradicts the foreign keys. */
export function planDistribution(catalog: CitusCatalog, decisions: GlobalTableDecisions = DECISIONS): DistributionPlan {
  const { local: LOCAL, reference: REFERENCE } = decisions;
  const distributed = catalog.tables.filter((t) => t.tenantScoped).map((t) => t.name);
  const global = catalog.tables.filter((t) => !t.tenantScoped).map((t) => t.name);
  const problems: string[] = [];
  // A global table referenced by a distributed table, or linked by a foreign
  // key (either way) to a reference table, must be a reference table.
  const reasons = new Map<string, string>();
  for (const [table, reason] of Object.entries(REFERENCE)) if (global.includes(table)) reasons.set(table, reason);
  for (const t of global) {
    const from = catalog.foreignKeys.filter((k) => k.references === t && distributed.includes(k.table)).map((k) => k.table);
    if (from.length) reasons.set(t, `referenced by foreign keys of distributed tables (${[...new Set(from)].join(", ")}): the target of such a key must be on every node.`);
  }
  for (let changed = true; changed; ) {
    changed = false;
    for (const k of catalog.foreignKeys) {
      for (const [a, b] of [[k.table, k.references], [k.references, k.table]]) {
        if (reasons.has(a) && global.includes(b) && !reasons.has(b)) {
          reasons.set(b, `linked by the foreign key ${k.name} to the reference table ${a}: a table linked to a reference table must be a reference table too (as a local table, Citus would turn it into a "Citus local table").`);
          changed = true;
        }
      }
    }
  }
  for (const k of catalog.foreignKeys) {
    if (global.includes(k.table) && !reasons.has(k.table) && distributed.includes(k.references)) {
      problems.push(`${k.table} (no ${DISTRIBUTION_COLUMN}) has the foreign key ${k.name} to the distributed table ${k.references}, which Citus refuses; give it ${DISTRIBUTION_COLUMN}`);
    }
  }
  const local: DistributionPlan["local"] = [];
  for (const t of global) {
    if (reasons.has(t)) {
      if (LOCAL[t]) problems.push(`${t} is listed in LOCAL_TABLES (db/citus.ts) but must be a reference table: ${reasons.get(t)}`);
      continue;
    }
    if (LOCAL[t]) local.push({ table: t, reason: LOCAL[t] });
    else problems.push(`${t} has no ${DISTRIBUTION_COLUMN} and no decision: add it to LOCAL_TABLES or REFERENCE_TABLES in db/citus.ts, with the reason`);
  }
  for (const t of [...Object.keys(LOCAL), ...Object.keys(REFERENCE)]) {
    if (!global.includes(t)) problems.push(`${t} is named in db/citus.ts but is ${distributed.includes(t) ? `tenant-scoped (it has ${DISTRIBUTION_COLUMN})` : "not a table of the schema"}`);
  }
  if (problems.length) throw new Error(`Cannot plan the Citus distribution:\n  - ${problems.join("\n  - ")}`);
  const reference = parentsFirst([...reasons.keys()], catalog.foreignKeys).map((table) => ({ table, reason: reasons.get(table)! }));
  return { reference, distributed: parentsFirst(distributed, catalog.foreignKeys), local };
}

const literal = (s: string) => `'${s.replaceAll("'", "''")}'`;
/** A comment block: every line prefixed with "-- ", wrapped at about 100 characters. */
function comment(text: string, width = 100) {
  const lines: string[] = [];
  for (const paragraph of text.split("\n")) {
    let line = "";
    for (const word of paragraph.split(" ")) {
      if (line && line.length + word.length + 1 > width) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines.map((l) => (l ? `-- ${l}` : "--")).join("\n");
}
/** A DO block that runs `body` (statements, one per line) only while `table` is not yet a Citus table. */
const whileLocal = (table: string, body: string[]) =>
  [
    "do $$ begin",
    `  if not exists (select 1 from pg_dist_partition where logicalrelid = ${literal(table)}::regclass) then`,
    ...body.map((s) => `    ${s}`),
    "  end if;",
    "end $$;",
  ].join("\n");

export const CITUS_SQL_HEADER = "-- Generated by `npm run generate` from the migrated database's catalog (db/citus.ts). Do not edit.";

/**
 * The distribution DDL (generated/citus.sql): one transaction, so that the
 * tables end up either all distributed, with their foreign keys, triggers and
 * functions, or unchanged. Each step checks what is already done, so the file
 * may be applied again. Statements are separated by a blank line and contain
 * none (citusStatements splits on them); `psql -1 -f` runs it as well.
 */
export function renderCitusSql(catalog: CitusCatalog, decisions: GlobalTableDecisions = DECISIONS): string {
  const plan = planDistribution(catalog, decisions);
  const citusTables = new Set([...plan.reference.map((r) => r.table), ...plan.distributed]);
  const keys = catalog.foreignKeys.filter((k) => citusTables.has(k.table) && citusTables.has(k.references));
  const order = [...plan.reference.map((r) => r.table), ...plan.distributed];
  const triggersOf = (t: string) => catalog.triggers.filter((g) => g.table === t);
  const localTables = new Set(plan.local.map((l) => l.table));
  const [anchor] = plan.distributed;
  const out: string[] = [];
  const add = (...parts: string[]) => out.push(parts.filter(Boolean).join("\n"));

  add(
    CITUS_SQL_HEADER,
    comment(
      "Applied by `npm run citus:distribute` as the superuser, in the application database on the coordinator, after `npm run citus:setup` and the first migration, before serving (the tables are locked while it runs). One transaction: every table is distributed, with its foreign keys, triggers and functions, or nothing changes. Each step checks what is already done (pg_dist_partition, pg_constraint, pg_dist_object), so the file may be applied again.",
    ),
    "--",
    "-- Reference tables (a copy on every node):",
    ...plan.reference.map((r) => comment(`${r.table}: ${r.reason}`)),
    "--",
    `-- Distributed by ${DISTRIBUTION_COLUMN}, co-located with the first (${anchor}), parents first:`,
    comment(plan.distributed.join(", ")),
    "--",
    "-- Kept local (on the coordinator only):",
    ...(plan.local.length ? plan.local.map((l) => comment(`${l.table}: ${l.reason}`)) : ["-- (none)"]),
  );
  add("begin;");
  add(
    comment("One connection per node for the whole transaction: Citus refuses to change a reference table after a parallel operation on a distributed table in the same transaction (the foreign keys to tenants and operators)."),
    "set local citus.multi_shard_modify_mode to 'sequential';",
  );
  add(
    comment("Triggers on the tables are created on their shards, which Citus allows only with this on (citus:setup also sets it for the database, for later migrations)."),
    "set local citus.enable_unsafe_triggers to on;",
  );
  add(
    comment('PostGraphile\'s watch mode (development, with a superuser connection, never in set_local mode) installs an event trigger that makes Citus\'s DDL fail ("cannot PREPARE a transaction that has executed LISTEN, UNLISTEN, or NOTIFY").'),
    "drop schema if exists postgraphile_watch cascade;",
  );
  add(
    comment(
      '1. The foreign keys between these tables, dropped until every table is a Citus table: with one, a table linked to a reference table would become a "Citus local table" (Citus renames it to a shard and binds the functions returning its row type to that shard\'s type), and a distributed table referenced by a table still local is refused. Step 3 adds them again.',
    ),
  );
  for (const table of order) {
    const drops = keys.filter((k) => k.table === table).map((k) => `alter table ${table} drop constraint if exists ${k.ident};`);
    if (drops.length) add(whileLocal(table, drops));
  }
  add(
    comment(
      "2. Reference tables, then the distributed tables. Triggers are off while the rows are copied into the shards (the copy would fire them: the audit trigger would record every row again), and the copy left in the local table is truncated (Citus leaves it on disk, invisible).",
    ),
  );
  for (const table of order) {
    const create = plan.distributed.includes(table)
      ? `perform create_distributed_table(${literal(table)}, ${literal(DISTRIBUTION_COLUMN)}, colocate_with => ${literal(table === anchor ? "none" : anchor)});`
      : `perform create_reference_table(${literal(table)});`;
    add(
      whileLocal(table, [
        ...triggersOf(table).map((g) => `alter table ${table} disable trigger ${g.ident};`),
        create,
        `perform truncate_local_data_after_distributing_table(${literal(table)});`,
        ...triggersOf(table).map((g) => `alter table ${table} enable trigger ${g.ident};`),
      ]),
    );
  }
  add(comment("3. The foreign keys again, as they were."));
  for (const k of keys) {
    add(
      [
        "do $$ begin",
        `  if not exists (select 1 from pg_constraint where conrelid = ${literal(k.table)}::regclass and conname = ${literal(k.name)}) then`,
        `    alter table ${k.table} add constraint ${k.ident} ${k.definition};`,
        "  end if;",
        "end $$;",
      ].join("\n"),
    );
  }
  add(
    comment(
      "4. Every function on every node: triggers and policies on the workers call them, and queries pushed to the workers may too. Citus created most when the migrations ran, not those whose signature uses a table's row type, which exists on the workers only once the table is distributed.",
    ),
  );
  for (const f of catalog.functions) {
    const local = f.rowTypes.filter((t) => localTables.has(t));
    if (local.length) {
      add(comment(`${f.signature}: not on the workers, its signature uses the row type of the local table ${local.join(", ")}.`));
      continue;
    }
    add(
      [
        "do $$ begin",
        `  if not exists (select 1 from pg_dist_object where classid = 'pg_proc'::regclass and objid = ${literal(f.signature)}::regprocedure) then`,
        `    perform create_distributed_function(${literal(f.signature)});`,
        "  end if;",
        "end $$;",
      ].join("\n"),
    );
  }
  add("commit;");
  return out.join("\n\n") + "\n";
}

/** The distribution DDL for the database `client` is connected to. */
export async function generateCitusSql(client: pg.Client) {
  return renderCitusSql(await readCitusCatalog(client));
}

/** The statements of generated/citus.sql: blank-line-separated blocks, comment-only blocks left out. */
export function citusStatements(sql: string): string[] {
  return sql
    .split(/\n[ \t]*\n/)
    .map((block) => block.split("\n").filter((line) => !/^\s*--/.test(line)).join("\n").trim())
    .filter(Boolean);
}

/**
 * Applies the distribution DDL in the application database on the
 * coordinator (a superuser's URL), statement by statement. Returns how each
 * table ended up (pg_dist_partition: distributed, reference, or local).
 */
export async function applyCitusSql(superuserAppUrl: string, sql: string, log: (m: string) => void = console.log) {
  return withClient(superuserAppUrl, async (client) => {
    const statements = citusStatements(sql);
    const started = performance.now();
    for (const statement of statements) {
      try {
        await client.query(statement);
      } catch (error) {
        await client.query("rollback").catch(() => {});
        (error as Error).message += `\n  while running:\n${statement.replace(/^/gm, "    ")}`;
        throw error;
      }
    }
    const { rows } = await client.query<{ table: string; kind: string }>(
      `select c.oid::regclass::text as table,
              case p.partmethod when 'h' then 'distributed' when 'n' then case when p.repmodel = 't' then 'reference' else 'citus local' end else 'local' end as kind
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
         left join pg_dist_partition p on p.logicalrelid = c.oid
        where n.nspname = any($1::text[]) and c.relkind in ('r', 'p')
        order by 1`,
      [[...CITUS_SCHEMAS]],
    );
    log(`${statements.length} statements in ${Math.round(performance.now() - started)} ms`);
    return rows;
  });
}
