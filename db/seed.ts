// Demo data, loaded on the first start in development: two tenants, each
// with an admin and a member (same demo password), and a project with three
// tasks (one assigned to the member, one done) and a comment by the member;
// and one platform operator.
import { withClient } from "./setup.ts";

export const DEMO_PASSWORD = "demo-password";

export const DEMO_TENANTS = [
  {
    slug: "acme",
    name: "Acme Corporation",
    users: [
      { email: "alice@acme.test", name: "Alice", role: "admin" },
      { email: "bob@acme.test", name: "Bob", role: "member" },
    ],
    project: "Website relaunch",
    tasks: ["Write the copy", "Pick a colour scheme", "Book the launch party"],
  },
  {
    slug: "globex",
    name: "Globex",
    users: [
      { email: "grace@globex.test", name: "Grace", role: "admin" },
      { email: "hank@globex.test", name: "Hank", role: "member" },
    ],
    project: "Doomsday device",
    tasks: ["Order volcano", "Hire henchmen", "Rehearse the monologue"],
  },
] as const;

/** A platform operator (not a user of any tenant), with the same demo password. */
export const DEMO_OPERATOR = { email: "ops@platform.test", name: "Olivia (operator)" } as const;

/** Loads the demo tenants as the owner, through the same functions onboarding uses. */
export async function seedDemoData(ownerUrl: string) {
  await withClient(ownerUrl, async (client) => {
    await client.query("begin");
    for (const tenant of DEMO_TENANTS) {
      const [admin, ...others] = tenant.users;
      const { rows } = await client.query<{ tenant_id: string }>(
        "select (access_token).tenant_id from app_public.create_tenant($1, $2, $3, $4)",
        [tenant.name, tenant.slug, admin.email, DEMO_PASSWORD],
      );
      const tenantId = rows[0].tenant_id;
      await client.query("select set_config('jwt.claims.tenant_id', $1, true)", [tenantId]);
      await client.query("update app_public.users set name = $1 where email = $2", [admin.name, admin.email]);
      const memberIds: string[] = [];
      for (const user of others) {
        // Read back by email: create_user returns the row in the committed
        // migrations (what npm start applies) and the id in migrations/current/.
        await client.query("select app_private.create_user($1, $2, $3, $4, $5)", [tenantId, user.email, user.name, user.role, DEMO_PASSWORD]);
        const { rows: [created] } = await client.query("select id from app_public.users where tenant_id = $1 and email = $2::citext", [
          tenantId,
          user.email,
        ]);
        memberIds.push(created.id);
      }
      const { rows: [project] } = await client.query(
        "insert into app_public.projects (name, description) values ($1, 'Demo project') returning id",
        [tenant.project],
      );
      const [assigned, done, open] = tenant.tasks;
      const { rows: [task] } = await client.query(
        "insert into app_public.tasks (project_id, title, assignee_id, due_date) values ($1, $2, $3, current_date + 7) returning id",
        [project.id, assigned, memberIds[0]],
      );
      await client.query("insert into app_public.tasks (project_id, title, status) values ($1, $2, 'done')", [project.id, done]);
      await client.query("insert into app_public.tasks (project_id, title) values ($1, $2)", [project.id, open]);
      // Comments are written as their author (the insert policy checks it).
      await client.query("select set_config('jwt.claims.user_id', $1, true)", [memberIds[0]]);
      await client.query("insert into app_public.comments (task_id, body) values ($1, 'On it.')", [task.id]);
      await client.query("select set_config('jwt.claims.user_id', '', true)");
    }
    await client.query("select app_private.create_operator($1, $2, $3)", [DEMO_OPERATOR.email, DEMO_OPERATOR.name, DEMO_PASSWORD]);
    await client.query("commit");
  });
}

/** True when the demo tenants exist (the owner may look tenants up by slug). */
export async function hasDemoData(ownerUrl: string): Promise<boolean> {
  const slugs = DEMO_TENANTS.map((t) => t.slug);
  const { rows } = await withClient(ownerUrl, (client) =>
    client.query("select count(*)::int as n from app_public.tenants where slug = any($1)", [slugs]),
  );
  return rows[0].n === slugs.length;
}
