// generated/ACCESS.md (db/access.ts): every table of app_public and
// app_private has its section with its policies and triggers, and "The
// owner's deliberate paths" lists every policy the owner alone uses and every
// SECURITY DEFINER function, read from the catalog. (tests/generated.test.ts
// checks that the committed file is current.)
import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { renderAccessMatrix } from "../db/access.ts";
import { withClient } from "../db/setup.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";

const SCHEMAS = ["app_public", "app_private"];
const asOwner = <T>(db: TestDatabase, fn: (c: pg.Client) => Promise<T>) => withClient(db.ownerUrl, fn);

/** The Markdown between a heading and the next heading of the same or a higher level. */
function section(markdown: string, heading: string): string {
  const level = heading.match(/^#+/)![0].length;
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`no section ${heading}`);
  const rest = markdown.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`^#{1,${level}} `, "m"));
  return end < 0 ? rest : rest.slice(0, end);
}

/** The rows of the first Markdown table in `text`, as cells. */
const tableRows = (text: string) =>
  text
    .split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("| ---"))
    .slice(1)
    .map((l) => l.slice(2, -2).split(" | "));

describe("the access matrix of the migrated database", () => {
  let db: TestDatabase;
  let markdown: string;
  const catalog = async (sql: string) => (await asOwner(db, (c) => c.query(sql, sql.includes("$1") ? [SCHEMAS] : []))).rows;

  beforeAll(async () => {
    db = await createTestDatabase();
    markdown = await asOwner(db, renderAccessMatrix);
  });

  it("has a section per table of both schemas, with each of its policies and triggers", async () => {
    const tables = await catalog(`
      select format('%I.%I', n.nspname, c.relname) as name, n.nspname as schema,
             array(select p.polname::text from pg_policy p where p.polrelid = c.oid order by 1) as policies,
             array(select t.tgname::text from pg_trigger t where t.tgrelid = c.oid and not t.tgisinternal order by 1) as triggers
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = any($1) and c.relkind = 'r'`);
    expect(tables.filter((t) => t.schema === "app_private").length).toBeGreaterThan(5);
    expect(tables.some((t) => t.triggers.length)).toBe(true);
    for (const t of tables) {
      const text = section(section(markdown, `## Tables in ${t.schema}`), `### \`${t.name}\``);
      for (const p of t.policies) expect(text, `${t.name} ${p}`).toMatch(new RegExp(`^- \`${p}\`: `, "m"));
      for (const g of t.triggers) expect(text, `${t.name} ${g}`).toMatch(new RegExp(`^- \`${g}\`: (BEFORE|AFTER|INSTEAD OF) `, "m"));
      expect(text.match(/^- `/gm)?.length ?? 0, t.name).toBe(t.policies.length + t.triggers.length);
    }
  });

  it("lists users.insert_own_tenant and users.delete_own_tenant (used by no request role) among the owner's policies, whatever they are named", async () => {
    // Before the owner-only policies are renamed they are TO PUBLIC on commands no request role has;
    // after, they are owner_* TO mts_owner. Either way they are the owner's.
    const owners = tableRows(section(markdown, "### Policies for the owner"));
    const onUsers = await catalog(`
      select p.polname as name from pg_policy p
       where p.polrelid = 'app_public.users'::regclass and p.polcmd in ('a', 'd')`);
    expect(onUsers.length).toBeGreaterThanOrEqual(2);
    for (const p of onUsers) {
      expect(owners.some(([table, policy]) => table === "`app_public.users`" && policy === `\`${p.name}\``), p.name).toBe(true);
    }
    // Every policy TO mts_owner is listed; a request role's policy is not.
    const toOwner = await catalog(`
      select format('%I.%I', n.nspname, c.relname) as table, p.polname as name
        from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = any($1) and 'mts_owner'::regrole = any(p.polroles)`);
    expect(toOwner.length).toBeGreaterThan(5);
    for (const p of toOwner) expect(owners).toContainEqual(expect.arrayContaining([`\`${p.table}\``, `\`${p.name}\``]));
    expect(owners.some(([table, policy]) => table === "`app_public.tasks`" && policy === "`select_own_tenant`")).toBe(false);
  });

  it("lists every SECURITY DEFINER function with who may execute it", async () => {
    const definers = await catalog(`
      select p.oid::regprocedure::text as name,
             array(select pg_get_userbyid(a.grantee)::text from aclexplode(p.proacl) as a
                    where a.grantee not in (0, p.proowner) order by 1) as grantees
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = any($1) and p.prosecdef`);
    const rows = tableRows(section(markdown, "### SECURITY DEFINER functions"));
    expect(definers.length).toBeGreaterThan(10);
    expect(rows.map((r) => r[0]).sort()).toEqual(definers.map((f) => `\`${f.name}\``).sort());
    for (const f of definers) {
      const row = rows.find((r) => r[0] === `\`${f.name}\``)!;
      expect(row[1], f.name).toBe("`mts_owner`");
      for (const role of f.grantees) expect(row[2], f.name).toContain(`\`${role}\``);
    }
    const login = rows.find((r) => r[0] === "`app_public.login(text,text,text)`")!;
    expect(login[3]).toBe("anonymous, member, admin");
    const audit = rows.find((r) => r[0] === "`app_private.tg_audit()`")!;
    expect(audit[4]).toContain("`app_public.users`");
  });
});

describe("the access matrix of a changed database", () => {
  it("names a policy that no request role can use, and warns of an owner_* policy a request role can use", async () => {
    const db = await createTestDatabase();
    await asOwner(db, (c) =>
      c.query(`
        create policy delete_unused on app_public.operators for delete to public using (true);
        create policy owner_leaky on app_public.tasks for select to mts_member using (true);
      `),
    );
    const rows = tableRows(section(await asOwner(db, renderAccessMatrix), "### Policies for the owner"));
    expect(rows).toContainEqual([
      "`app_public.operators`",
      "`delete_unused`",
      "DELETE",
      "PUBLIC",
      "no request role it applies to has DELETE on the table",
    ]);
    expect(rows).toContainEqual([
      "`app_public.tasks`",
      "`owner_leaky`",
      "SELECT",
      "mts_member",
      "named `owner_*`; **but usable by member, admin**",
    ]);
  });
});
