// The people and tenants every policy and API test talks about: the demo
// data (tenant A = acme, tenant B = globex, each with an admin and a
// member), loaded through the same functions onboarding uses.
import { DEMO_PASSWORD, DEMO_TENANTS, seedDemoData } from "../../db/seed.ts";
import { withClient } from "../../db/setup.ts";

export interface Person {
  id: string;
  email: string;
  tenantId: string;
  tenantSlug: string;
  role: "admin" | "member";
}

export interface World {
  password: string;
  tenants: { A: { id: string; slug: string }; B: { id: string; slug: string } };
  adminA: Person;
  memberA: Person;
  adminB: Person;
  memberB: Person;
}

export async function createWorld(ownerUrl: string): Promise<World> {
  await seedDemoData(ownerUrl);
  return withClient(ownerUrl, async (client) => {
    const people: Person[] = [];
    const tenants: Record<string, { id: string; slug: string }> = {};
    for (const [key, demo] of [["A", DEMO_TENANTS[0]], ["B", DEMO_TENANTS[1]]] as const) {
      await client.query("begin");
      const { rows: [tenant] } = await client.query("select id, slug from app_public.tenants where slug = $1", [demo.slug]);
      tenants[key] = tenant;
      await client.query("select set_config('jwt.claims.tenant_id', $1, true)", [tenant.id]);
      const { rows } = await client.query("select id, email, tenant_id, role from app_public.users order by email");
      await client.query("commit");
      for (const r of rows) people.push({ id: r.id, email: r.email, tenantId: r.tenant_id, tenantSlug: tenant.slug, role: r.role });
    }
    const find = (slug: string, role: string) => people.find((p) => p.tenantSlug === slug && p.role === role)!;
    return {
      password: DEMO_PASSWORD,
      tenants: tenants as World["tenants"],
      adminA: find("acme", "admin"),
      memberA: find("acme", "member"),
      adminB: find("globex", "admin"),
      memberB: find("globex", "member"),
    };
  });
}
