// Demo data, loaded on the first start in development: two tenants, each
// with an admin and a member, all with the same demo password.
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
  },
  {
    slug: "globex",
    name: "Globex",
    users: [
      { email: "grace@globex.test", name: "Grace", role: "admin" },
      { email: "hank@globex.test", name: "Hank", role: "member" },
    ],
  },
] as const;

/** Loads the demo tenants as the owner, through the same functions onboarding uses. */
export async function seedDemoData(ownerUrl: string) {
  await withClient(ownerUrl, async (client) => {
    await client.query("begin");
    for (const tenant of DEMO_TENANTS) {
      const [admin, ...others] = tenant.users;
      const { rows } = await client.query<{ tenant_id: string }>(
        "select tenant_id from app_public.create_tenant($1, $2, $3, $4)",
        [tenant.name, tenant.slug, admin.email, DEMO_PASSWORD],
      );
      const tenantId = rows[0].tenant_id;
      await client.query("select set_config('jwt.claims.tenant_id', $1, true)", [tenantId]);
      await client.query("update app_public.users set name = $1 where email = $2", [admin.name, admin.email]);
      for (const user of others) {
        await client.query("select app_private.create_user($1, $2, $3, $4, $5)", [
          tenantId,
          user.email,
          user.name,
          user.role,
          DEMO_PASSWORD,
        ]);
      }
    }
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
