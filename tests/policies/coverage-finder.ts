// What the policy specs cover, read from their cases' SQL and actors, and
// what the catalog has that they do not. Pure functions (no database, no
// tests declared), so tests/policies/coverage.test.ts can run them on the
// real catalog and on made-up ones.
//
// A case covers (table, command, role) when its statement is that command
// on that table (select: every table it reads from or joins) and its actor
// runs as that role; it covers (function, role) when its statement calls
// that function. Every case asserts an outcome (rows, affected rows or the
// error), so a covering case is one that runs and checks.
import { ACTOR_ROLE, type PolicyCase } from "../helpers/policy.ts";

export const COMMANDS = ["select", "insert", "update", "delete"] as const;
export type Command = (typeof COMMANDS)[number];

/** What the catalog says must be covered. Names are schema-qualified, unquoted: app_public.current_user. */
export interface CoverageCatalog {
  tables: string[];
  /** Functions some request role may execute. */
  functions: string[];
  /** The request roles. */
  roles: string[];
}

/** The tables (with the command) and functions a statement uses. */
export function statementTargets(sql: string): { tables: [table: string, command: Command][]; functions: string[] } {
  const s = sql.replace(/--[^\n]*/g, " ").replace(/\s+/g, " ").trim().toLowerCase();
  const name = String.raw`((?:app_public|app_private)\.(?:"[a-z_]+"|[a-z_]+\b))`;
  const unquote = (n: string) => n.replace(/"/g, "");
  const functions = [...s.matchAll(new RegExp(name + String.raw`\s*\(`, "g"))].map((m) => unquote(m[1]));
  let tables: [string, Command][] = [];
  const write = s.match(new RegExp(String.raw`^(insert into|update(?: only)?|delete from) ` + name));
  if (write) {
    const command: Command = write[1].startsWith("insert") ? "insert" : write[1].startsWith("update") ? "update" : "delete";
    tables = [[unquote(write[2]), command]];
  } else if (/^(select|with)\b/.test(s)) {
    tables = [...s.matchAll(new RegExp(String.raw`\b(?:from|join) ` + name + String.raw`(?!\s*\()`, "g"))].map(
      (m): [string, Command] => [unquote(m[1]), "select"],
    );
  }
  return { tables, functions: [...new Set(functions)] };
}

const tableKey = (table: string, command: Command, role: string) => `table ${table} ${command} as ${role}`;
const functionKey = (fn: string, role: string) => `function ${fn} as ${role}`;

/** Every (table, command, role) and (function, role) some case covers, as keys. */
export function covered(cases: Pick<PolicyCase, "actor" | "sql">[]): Set<string> {
  const keys = new Set<string>();
  for (const c of cases) {
    const role = ACTOR_ROLE[c.actor];
    if (role === undefined) continue; // the authenticator itself: not a request role
    const { tables, functions } = statementTargets(c.sql);
    for (const [table, command] of tables) keys.add(tableKey(table, command, role));
    for (const fn of functions) keys.add(functionKey(fn, role));
  }
  return keys;
}

/** What the catalog has and no case covers, one line each ("table app_public.x insert as mts_member"). */
export function missingCoverage(catalog: CoverageCatalog, cases: Pick<PolicyCase, "actor" | "sql">[]): string[] {
  const have = covered(cases);
  const want = [
    ...catalog.tables.flatMap((t) => COMMANDS.flatMap((c) => catalog.roles.map((r) => tableKey(t, c, r)))),
    ...catalog.functions.flatMap((f) => catalog.roles.map((r) => functionKey(f, r))),
  ];
  return want.filter((k) => !have.has(k));
}

/** The catalog query: tables of the app schemas, and app_public functions some request role may execute ($1: the roles). */
export const CATALOG_SQL = `
  select 'table' as kind, n.nspname || '.' || c.relname as name
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where n.nspname in ('app_public', 'app_private') and c.relkind in ('r', 'p')
  union all
  select 'function', n.nspname || '.' || p.proname
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
   where n.nspname = 'app_public' and p.prokind = 'f'
     and exists (select 1 from unnest($1::text[]) r(role) where has_function_privilege(r.role, p.oid, 'execute'))
  order by 1, 2`;
