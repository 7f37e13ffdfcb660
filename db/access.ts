// The access matrix (generated/ACCESS.md): who may do what in app_public,
// read from the live catalog, for an auditor to check at a glance. For each
// table, each request role and each command: not granted ("—"), or the
// policies that decide which rows. For each function: who may execute it,
// whether it runs as its owner, and its volatility.
// `npm run generate` writes it (bin/generate.ts); a test fails when it is stale.
import pg from "pg";
import { ROLES } from "../common/roles.ts";

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

const code = (s: string) => (s.includes("`") ? `\`\` ${s} \`\`` : `\`${s}\``);
const row = (cells: string[]) => `| ${cells.join(" | ")} |`;
const table = (header: string[], rows: string[][]) =>
  [row(header), row(header.map(() => "---")), ...rows.map(row)].join("\n");

/** The access matrix as Markdown. Deterministic: same catalog, same bytes. */
export async function renderAccessMatrix(client: pg.ClientBase): Promise<string> {
  const roles = REQUEST_ROLES.map((r) => r.role);
  const q = async (sql: string, params: unknown[]) => (await client.query(sql, params)).rows;

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
    `select c.oid, c.relname as name, c.relrowsecurity as rls, c.relforcerowsecurity as forced
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'app_public' and c.relkind in ('r', 'p')
      order by c.relname collate "C"`,
    [],
  );

  // Per table, role and command: granted (inherited grants resolved), and the
  // policies that apply (for that command or ALL, to PUBLIC or a role it is a member of).
  const cells = await q(
    `select c.oid, r.role, cmd.name as command,
            has_table_privilege(r.role, c.oid, cmd.name) as granted,
            array(select p.polname || case when p.polpermissive then '' else ' (restrictive)' end
                    from pg_policy p
                   where p.polrelid = c.oid and p.polcmd in ('*', cmd.polcmd)
                     and exists (select 1 from unnest(p.polroles) as pr(oid)
                                  where pr.oid = 0 or pg_has_role(r.role, pr.oid, 'member'))
                   order by p.polname collate "C") as policies
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      cross join unnest($1::name[]) as r(role)
      cross join unnest($2::text[], $3::"char"[]) as cmd(name, polcmd)
      where n.nspname = 'app_public' and c.relkind in ('r', 'p')`,
    [roles, COMMANDS, COMMANDS.map((c) => POLCMD[c])],
  );
  const cell = new Map(cells.map((c) => [`${c.oid} ${c.role} ${c.command}`, c]));

  const policies = await q(
    `select p.polrelid as oid, p.polname as name, p.polcmd as command, p.polpermissive as permissive,
            array(select r.name from unnest(p.polroles) as pr(oid)
                   cross join lateral (select case when pr.oid = 0 then 'PUBLIC' else pg_get_userbyid(pr.oid)::text end) as r(name)
                   order by r.name collate "C") as roles,
            pg_get_expr(p.polqual, p.polrelid) as using, pg_get_expr(p.polwithcheck, p.polrelid) as check
       from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'app_public'
      order by p.polname collate "C"`,
    [],
  );

  const functions = await q(
    `select p.oid::regprocedure::text as name, p.prosecdef as definer, p.provolatile as volatility,
            array(select has_function_privilege(r.role, p.oid, 'EXECUTE')
                    from unnest($1::name[]) with ordinality as r(role, ord) order by r.ord) as execute
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'app_public'
      order by p.oid::regprocedure::text collate "C"`,
    [roles],
  );

  const out: string[] = [
    "<!-- Generated by `npm run generate` from the migrated database. Do not edit. -->",
    "",
    "# Access matrix",
    "",
    "Who may do what through the API, read from the database catalog (grants, row-level security policies,",
    "function privileges). Generated by `npm run generate`; a test fails when it is out of date.",
    "",
    "Request roles (the API switches to one of them for every request):",
    "",
    ...REQUEST_ROLES.map(
      (r, i) =>
        `- **${r.name}** (${code(r.role)}): ${r.who}` +
        (inherits[i].roles.length ? `; inherits the grants of ${inherits[i].roles.map(code).join(", ")}.` : "."),
    ),
    "",
    "## Schemas",
    "",
    table(
      ["schema", ...REQUEST_ROLES.map((r) => r.name)],
      schemas.map((s) => [code(s.name), ...s.usage.map((u: boolean) => (u ? "USAGE" : "—"))]),
    ),
    "",
    "## Tables in app_public",
    "",
    "A cell is “—” when the role lacks the privilege (permission denied). Otherwise it lists the policies",
    "that apply to the role for that command; they decide which rows it sees or may write.",
  ];

  for (const t of tables) {
    const note = t.forced
      ? "RLS forced."
      : t.rls
        ? "RLS enabled but **not forced**: the owner bypasses the policies."
        : "**RLS disabled**: every granted role reaches every row.";
    out.push("", `### ${code(`app_public.${t.name}`)}`, "", note, "");
    out.push(
      table(
        ["role", ...COMMANDS],
        REQUEST_ROLES.map((r) => [
          r.name,
          ...COMMANDS.map((command) => {
            const c = cell.get(`${t.oid} ${r.role} ${command}`)!;
            if (!c.granted) return "—";
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
  }

  out.push(
    "",
    "## Functions in app_public",
    "",
    "EXECUTE per role (✓ or —), whether the function runs with its owner's rights (SECURITY DEFINER), and its volatility.",
    "",
    table(
      ["function", ...REQUEST_ROLES.map((r) => r.name), "SECURITY DEFINER", "volatility"],
      functions.map((f) => [
        code(f.name),
        ...f.execute.map((x: boolean) => (x ? "✓" : "—")),
        f.definer ? "**yes**" : "no",
        VOLATILITY[f.volatility],
      ]),
    ),
    "",
  );
  return out.join("\n");
}
