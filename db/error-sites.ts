// Where the database raises its deliberate errors, read from the live
// catalog for generated/ERRORS.md (bin/generate.ts renders it with the
// server's vocabulary, server/errors.ts): every `raise exception '…' using
// errcode = 'XXXXX'` in a function of app_public or app_private, every
// `@nullError CODE message` tag in a function's comment, and for each the
// app_public functions a client calls that reach it (through helpers, by
// name in the function bodies) and the tables whose triggers run it.
import pg from "pg";

export interface ErrorSite {
  /** The SQLSTATE (five capitals for the deliberate ones; 42501, 28000 for standard ones raised on purpose). */
  sqlState: string;
  /** The message(s) raised with it. */
  messages: string[];
  /** The app_public functions a client calls that may raise it, sorted. */
  functions: string[];
  /** The tables whose triggers raise it, sorted. */
  triggerTables: string[];
}

const RAISE = /raise\s+exception\s+'((?:[^']|'')*)'[^;]*?errcode\s*=\s*'([0-9A-Z]{5})'/gi;
const NULL_ERROR = /^@nullError\s+([A-Z]{5})\s+(.+)$/m;
const CALL = /\bapp_(?:public|private)\.(\w+)\s*\(/g;

/** Every deliberate error site, by SQLSTATE (sorted). Deterministic: same catalog, same result. */
export async function readErrorSites(client: pg.ClientBase): Promise<ErrorSite[]> {
  const { rows: functions } = await client.query<{ schema: string; name: string; src: string; comment: string | null }>(`
    select n.nspname as schema, p.proname as name, p.prosrc as src, obj_description(p.oid, 'pg_proc') as comment
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname in ('app_public', 'app_private')
    order by 1, 2`);
  const { rows: triggers } = await client.query<{ table: string; fn: string }>(`
    select c.relname as table, p.proname as fn
    from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
      join pg_proc p on p.oid = t.tgfoid
    where not t.tgisinternal and n.nspname in ('app_public', 'app_private')
    order by 1, 2`);

  // What each function raises itself, and which functions it calls.
  const raises = new Map<string, Map<string, Set<string>>>();
  const calls = new Map<string, Set<string>>();
  for (const f of functions) {
    const own = new Map<string, Set<string>>();
    const add = (state: string, message: string) => own.set(state, (own.get(state) ?? new Set()).add(message));
    for (const [, message, state] of f.src.matchAll(RAISE)) add(state, message.replaceAll("''", "'"));
    const tag = f.comment?.match(NULL_ERROR);
    if (tag) add(tag[1], tag[2].trim());
    raises.set(f.name, own);
    calls.set(f.name, new Set([...f.src.matchAll(CALL)].map((m) => m[1]).filter((name) => name !== f.name)));
  }
  /** The SQLSTATEs a function may raise, itself or through what it calls. */
  const reachable = (name: string, seen = new Set<string>()): Set<string> => {
    const states = new Set(raises.get(name)?.keys() ?? []);
    seen.add(name);
    for (const callee of calls.get(name) ?? []) if (!seen.has(callee)) for (const s of reachable(callee, seen)) states.add(s);
    return states;
  };

  const sites = new Map<string, ErrorSite>();
  const site = (state: string) => {
    if (!sites.has(state)) sites.set(state, { sqlState: state, messages: [], functions: [], triggerTables: [] });
    return sites.get(state)!;
  };
  for (const own of raises.values()) for (const [state, messages] of own) site(state).messages.push(...messages);
  for (const f of functions) if (f.schema === "app_public") for (const state of reachable(f.name)) site(state).functions.push(f.name);
  for (const t of triggers) for (const state of reachable(t.fn)) site(state).triggerTables.push(t.table);
  return [...sites.values()]
    .map((s) => ({
      ...s,
      messages: [...new Set(s.messages)].sort(),
      functions: [...new Set(s.functions)].sort(),
      triggerTables: [...new Set(s.triggerTables)].sort(),
    }))
    .sort((a, b) => a.sqlState.localeCompare(b.sqlState));
}
