// The access matrix (generated/ACCESS.md): who may do what in app_public and
// app_private, read from the live catalog, for an auditor to check at a
// glance. For each table, each request role and each command: not granted
// ("—"), or the policies that decide which rows; the table's policies and
// triggers. For each function: who may execute it, whether it runs as its
// owner, and its volatility. Then the owner's deliberate paths: the policies
// only the owner uses (named for it, `to` it, or usable by no request role)
// and the SECURITY DEFINER functions that run as the owner, with who may call
// them.
// `npm run generate` writes it (bin/generate.ts); a test fails when it is stale.
import pg from "pg";
import { ROLES } from "../common/roles.ts";
import { withDeparseSettings } from "./schema-dump.ts";

/** Rows of the matrix: the application role names, their database roles, what they stand for. */
const REQUEST_ROLES = [
  { name: "anonymous", role: ROLES.anonymous, who: "requests without a token" },
  { name: "member", role: ROLES.member, who: "a token with role `member`" },
  { name: "admin", role: ROLES.admin, who: "a token with role `admin`" },
  { name: "operator", role: ROLES.operator, who: "a platform operator's token (tenant rows only with the X-Operator-Tenant header)" },
];
const COMMANDS = ["SELECT", "INSERT", "UPDATE", "DELETE"] as const;
const POLCMD: Record<(typeof COMMANDS)[number], string> = { SELECT: "r", INSERT: "a", UPDATE: "w", DELETE: "d" };
const POLCMD_NAME: Record<string, string> = { "*": "ALL", r: "SELECT", a: "INSERT", w: "UPDATE", d: "DELETE" };
const VOLATILITY: Record<string, string> = { i: "immutable", s: "stable", v: "volatile" };
const SCHEMAS = ["app_public", "app_private"];
/** The commands a policy for `polcmd` covers. */
const POLICY_COMMANDS: Record<string, string[]> = { "*": [...COMMANDS], r: ["SELECT"], a: ["INSERT"], w: ["UPDATE"], d: ["DELETE"] };

const code = (s: string) => (s.includes("`") ? `\`\` ${s} \`\`` : `\`${s}\``);
const row = (cells: string[]) => `| ${cells.join(" | ")} |`;
const table = (header: string[], rows: string[][]) =>
  [row(header), row(header.map(() => "---")), ...rows.map(row)].join("\n");

const OWNER_POLICY_PREFIX = "owner_";

/** The access matrix as Markdown. Deterministic: same catalog, same bytes. */
export async function renderAccessMatrix(client: pg.ClientBase): Promise<string> {
  // Expressions deparse with every name outside pg_catalog schema-qualified, whoever runs this.
  return withDeparseSettings(client, () => render(client));
}

async function render(client: pg.ClientBase): Promise<string> {
  const roles = REQUEST_ROLES.map((r) => r.role);
  const nameOf = new Map<string, string>(REQUEST_ROLES.map((r) => [r.role, r.name]));
  const q = async (sql: string, params: unknown[]) => (await client.query(sql, params)).rows;
  // A request role may run `command` on a table: USAGE on its schema and the
  // privilege on the table or (SELECT, INSERT, UPDATE) on one of its columns.
  const tableGranted = (role: string, table: string, command: string) =>
    `(case when ${command} = 'DELETE' then has_table_privilege(${role}, ${table}, 'DELETE')
           else has_any_column_privilege(${role}, ${table}, ${command}) end)`;

  // Which request roles each one inherits privileges from (pg_has_role ... 'USAGE').
  const inherits = await q(
    `select array(select g.role::text from unnest($1::name[]) with ordinality as g(role, ord)
                   where g.role <> r.role and pg_has_role(r.role, g.role, 'USAGE') order by g.ord) as roles
       from unnest($1::name[]) with ordinality as r(role, ord) order by r.ord`,
    [roles],
  );

  const schemas = await q(
    `select s.name, array(select has_schema_privilege(r.role, s.name, 'USAGE') from unnest($2::name[]) with ordinality as r(role, ord) order by r.ord) as usage
       from unnest($1::name[]) with ordinality as s(name, ord) order by s.ord`,
    [SCHEMAS, roles],
  );

  const tables = await q(
    `select c.oid, n.nspname as schema, format('%I.%I', n.nspname, c.relname) as name, c.relrowsecurity as rls, c.relforcerowsecurity as forced
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any($1) and c.relkind in ('r', 'p')
      order by c.relname collate "C"`,
    [SCHEMAS],
  );

  // Per table, role and command: granted (inherited grants resolved), and the
  // policies that apply (for that command or ALL, to PUBLIC or a role it is a member of).
  const cells = await q(
    `select c.oid, r.role, cmd.name as command,
            ${tableGranted("r.role", "c.oid", "cmd.name")} as granted,
            has_schema_privilege(r.role, c.relnamespace, 'USAGE') as usage,
            array(select p.polname || case when p.polpermissive then '' else ' (restrictive)' end
                    from pg_policy p
                   where p.polrelid = c.oid and p.polcmd in ('*', cmd.polcmd)
                     and exists (select 1 from unnest(p.polroles) as pr(oid)
                                  where pr.oid = 0 or pg_has_role(r.role, pr.oid, 'member'))
                   order by p.polname collate "C") as policies
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      cross join unnest($1::name[]) as r(role)
      cross join unnest($2::text[], $3::"char"[]) as cmd(name, polcmd)
      where n.nspname = any($4) and c.relkind in ('r', 'p')`,
    [roles, COMMANDS, COMMANDS.map((c) => POLCMD[c]), SCHEMAS],
  );
  const cell = new Map(cells.map((c) => [`${c.oid} ${c.role} ${c.command}`, c]));

  const policies = await q(
    `select p.polrelid as oid, p.polname as name, p.polcmd as command, p.polpermissive as permissive,
            array(select r.name from unnest(p.polroles) as pr(oid)
                   cross join lateral (select case when pr.oid = 0 then 'PUBLIC' else pg_get_userbyid(pr.oid)::text end) as r(name)
                   order by r.name collate "C") as roles,
            array(select r.role::text from unnest($2::name[]) with ordinality as r(role, ord)
                   where exists (select 1 from unnest(p.polroles) as pr(oid) where pr.oid = 0 or pg_has_role(r.role, pr.oid, 'member'))
                   order by r.ord) as applies_to,
            pg_get_expr(p.polqual, p.polrelid) as using, pg_get_expr(p.polwithcheck, p.polrelid) as check
       from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any($1)
      order by p.polname collate "C"`,
    [SCHEMAS, roles],
  );

  const triggers = await q(
    `select t.tgrelid as oid, t.tgname as name, pg_get_triggerdef(t.oid) as def, quote_ident(t.tgname) as ident,
            format('%I.%I', n.nspname, c.relname) as table_name, t.tgenabled as enabled,
            f.prosecdef as definer, pg_get_userbyid(f.proowner)::text as function_owner, t.tgfoid as function
       from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
       join pg_proc f on f.oid = t.tgfoid
      where n.nspname = any($1) and not t.tgisinternal
      order by t.tgname collate "C"`,
    [SCHEMAS],
  );

  const functions = await q(
    `select p.oid, n.nspname as schema, p.oid::regprocedure::text as name, p.prosecdef as definer, p.provolatile as volatility,
            pg_get_userbyid(p.proowner)::text as owner, p.prorettype = 'trigger'::regtype as trigger,
            array(select has_function_privilege(r.role, p.oid, 'EXECUTE') and has_schema_privilege(r.role, p.pronamespace, 'USAGE')
                    from unnest($2::name[]) with ordinality as r(role, ord) order by r.ord) as execute,
            array(select g.name from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) as a
                   cross join lateral (select case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee)::text end) as g(name)
                   where a.privilege_type = 'EXECUTE' and a.grantee <> p.proowner
                   order by g.name collate "C") as grantees,
            (select substr(c, length('search_path=') + 1) from unnest(p.proconfig) as c where c like 'search\\_path=%') as search_path
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = any($1)
      order by p.oid::regprocedure::text collate "C"`,
    [SCHEMAS, roles],
  );

  const out: string[] = [
    "<!-- Generated by `npm run generate` from the migrated database. Do not edit. -->",
    "",
    "# Access matrix",
    "",
    `Who may do what in ${SCHEMAS.join(" and ")}, read from the database catalog (grants, row-level security`,
    "policies, triggers, function privileges). Generated by `npm run generate`; a test fails when it is out of date.",
    "The definitions themselves (policy expressions, function bodies) are in `generated/schema.sql`.",
    "",
    "Request roles (the API switches to one of them for every request):",
    "",
    ...REQUEST_ROLES.map(
      (r, i) =>
        `- **${r.name}** (${code(r.role)}): ${r.who}` +
        (inherits[i].roles.length ? `; inherits the grants of ${inherits[i].roles.map(code).join(", ")}.` : "."),
    ),
    "",
    `The owner (${code(ROLES.owner)}) owns every table and function and runs the migrations. Where row-level`,
    "security is forced, policies bind the owner too: it reaches rows only through the policies that apply to it,",
    "inside the SECURITY DEFINER functions that run as it (see “The owner's deliberate paths”).",
    "",
    "## Schemas",
    "",
    table(
      ["schema", ...REQUEST_ROLES.map((r) => r.name)],
      schemas.map((s) => [code(s.name), ...s.usage.map((u: boolean) => (u ? "USAGE" : "—"))]),
    ),
  ];

  for (const schema of SCHEMAS) {
    out.push(
      "",
      `## Tables in ${schema}`,
      "",
      "A cell is “—” when the role lacks the privilege (permission denied). Otherwise it lists the policies",
      "that apply to the role for that command; they decide which rows it sees or may write.",
    );
    for (const t of tables.filter((t) => t.schema === schema)) {
      const note = t.forced
        ? "RLS forced."
        : t.rls
          ? "RLS enabled but **not forced**: the owner bypasses the policies."
          : "**RLS disabled**: every granted role reaches every row.";
      out.push("", `### ${code(t.name)}`, "", note, "");
      out.push(
        table(
          ["role", ...COMMANDS],
          REQUEST_ROLES.map((r) => [
            r.name,
            ...COMMANDS.map((command) => {
              const c = cell.get(`${t.oid} ${r.role} ${command}`)!;
              if (!c.granted) return "—";
              if (!c.usage) return "— (granted, but no USAGE on the schema)";
              if (!t.rls) return "**all rows (no RLS)**";
              return c.policies.length ? c.policies.map(code).join(", ") : "**granted, but no policy: no rows**";
            }),
          ]),
        ),
      );
      const own = policies.filter((p) => p.oid === t.oid);
      if (own.length) {
        out.push("", "Policies:", "");
        for (const p of own) {
          const parts = [
            `${code(p.name)}: ${POLCMD_NAME[p.command]} to ${p.roles.join(", ")}${p.permissive ? "" : " (restrictive)"}`,
            p.using !== null && `using ${code(p.using)}`,
            p.check !== null && `with check ${code(p.check)}`,
          ];
          out.push(`- ${parts.filter(Boolean).join("; ")}`);
        }
      }
      const fired = triggers.filter((g) => g.oid === t.oid);
      if (fired.length) {
        out.push("", "Triggers (of the same timing and event, they fire in this order):", "");
        for (const g of fired) out.push(`- ${code(g.name)}: ${triggerSummary(g)}`);
      }
    }
  }

  for (const schema of SCHEMAS) {
    out.push(
      "",
      `## Functions in ${schema}`,
      "",
      "EXECUTE per role (✓ or —; with USAGE on the schema), whether the function runs with its owner's rights",
      "(SECURITY DEFINER), and its volatility.",
      "",
      table(
        ["function", ...REQUEST_ROLES.map((r) => r.name), "SECURITY DEFINER", "volatility"],
        functions
          .filter((f) => f.schema === schema)
          .map((f) => [
            code(f.name),
            ...f.execute.map((x: boolean) => (x ? "✓" : "—")),
            f.definer ? "**yes**" : "no",
            VOLATILITY[f.volatility],
          ]),
      ),
    );
  }

  // The owner's paths: policies for the owner, by role or name, and policies
  // that no request role can use (no request role it applies to has the
  // privilege): these look unused, and are what the owner's functions rely on.
  const tableOf = new Map(tables.map((t) => [t.oid, t]));
  const ownerPolicies = policies
    .map((p) => {
      const commands = POLICY_COMMANDS[p.command];
      const usableBy = (p.applies_to as string[]).filter((role) =>
        commands.some((command) => {
          const c = cell.get(`${p.oid} ${role} ${command}`)!;
          return c.granted && c.usage;
        }),
      );
      const toOwner = p.roles.includes(ROLES.owner);
      const why: string[] = [];
      if (toOwner) why.push(`to ${code(ROLES.owner)}`);
      if (p.name.startsWith(OWNER_POLICY_PREFIX)) why.push(`named ${code(`${OWNER_POLICY_PREFIX}*`)}`);
      if (!usableBy.length && !toOwner) {
        const table = tableOf.get(p.oid)!;
        const noUsage = (p.applies_to as string[]).every((role) => !cell.get(`${p.oid} ${role} SELECT`)!.usage);
        why.push(
          !p.applies_to.length
            ? "applies to no request role"
            : noUsage
              ? `no request role may use schema ${code(table.schema)}`
              : `no request role it applies to has ${commands.join(", ")} on the table`,
        );
      }
      if (usableBy.length && why.length) {
        why.push(`**but usable by ${usableBy.map((role) => nameOf.get(role)).join(", ")}**`);
      }
      return { ...p, table: tableOf.get(p.oid)!.name, why };
    })
    .filter((p) => p.why.length)
    .sort((a, b) => codePoint(a.table, b.table) || codePoint(a.name, b.name));

  const definers = functions.filter((f) => f.definer);
  const firedBy = (f: (typeof functions)[number]) =>
    [...new Set(triggers.filter((g) => g.function === f.oid).map((g) => g.table_name))].sort(codePoint);

  out.push(
    "",
    "## The owner's deliberate paths",
    "",
    "Row-level security binds the owner too, so everything a SECURITY DEFINER function does on behalf of a",
    "request goes through a policy that applies to the owner. Those policies are listed here: the ones named",
    `for the owner (${code(`${OWNER_POLICY_PREFIX}*`)}), the ones ${code(`to ${ROLES.owner}`)}, and the ones no request role can use (no request`,
    "role they apply to holds the privilege). They look unused from the API; dropping one breaks the functions",
    "below that rely on it.",
    "",
    "### Policies for the owner",
    "",
    table(
      ["table", "policy", "command", "to", "why it is here"],
      ownerPolicies.map((p) => [
        code(p.table),
        code(p.name) + (p.permissive ? "" : " (restrictive)"),
        POLCMD_NAME[p.command],
        p.roles.join(", "),
        p.why.join("; "),
      ]),
    ),
    "",
    "### SECURITY DEFINER functions",
    "",
    "They run with their owner's rights (and its policies). “EXECUTE granted to” lists the ACL (the owner",
    "always may); “callable by” the request roles that may call them (EXECUTE and USAGE on the schema);",
    "trigger functions run on the tables' writes, whoever writes.",
    "",
    table(
      ["function", "runs as", "EXECUTE granted to", "callable by", "fired by triggers on", "search_path"],
      definers.map((f) => {
        const callable = REQUEST_ROLES.filter((_r, i) => f.execute[i]).map((r) => r.name);
        const tablesFiring = firedBy(f);
        return [
          code(f.name),
          code(f.owner),
          f.grantees.length ? f.grantees.map(code).join(", ") : "—",
          callable.length ? callable.join(", ") : "—",
          tablesFiring.length ? tablesFiring.map(code).join(", ") : "—",
          f.search_path === null ? "**not pinned**" : code(f.search_path),
        ];
      }),
    ),
    "",
  );
  return out.join("\n");
}

/** A trigger's definition without its name and table: when it fires and what it runs. */
function triggerSummary(g: { def: string; ident: string; table_name: string; enabled: string; definer: boolean; function_owner: string }) {
  const prefix = new RegExp(`^CREATE (CONSTRAINT )?TRIGGER ${escapeRegExp(g.ident)} `);
  let rest = g.def.replace(prefix, "").replace(` ON ${g.table_name} `, " ");
  const at = rest.lastIndexOf(" EXECUTE FUNCTION ");
  const when = rest.slice(0, at);
  const run = rest.slice(at + " EXECUTE FUNCTION ".length);
  rest = `${when} → ${code(run)}`;
  if (g.definer) rest += ` (SECURITY DEFINER: runs as ${code(g.function_owner)})`;
  const state: Record<string, string> = { D: "**disabled**", R: "replica sessions only", A: "always, also in replica sessions" };
  if (state[g.enabled]) rest += `; ${state[g.enabled]}`;
  return rest;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const codePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
