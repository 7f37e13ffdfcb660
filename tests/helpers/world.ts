// The people and tenants every policy and API test talks about: the demo
// data (tenant A = acme, tenant B = globex, each with an admin and a
// member; and the demo platform operator), loaded through the same
// functions onboarding uses.
import { DEMO_OPERATOR, DEMO_PASSWORD, DEMO_TENANTS, seedDemoData } from "../../db/seed.ts";
import { withClient } from "../../db/setup.ts";

export interface Person {
  id: string;
  email: string;
  tenantId: string;
  tenantSlug: string;
  role: "admin" | "member";
}

/** A tenant's demo project, its three tasks (the first assigned to the member) and the member's comment. */
export interface Work {
  projectId: string;
  taskIds: string[];
  assignedTaskId: string;
  commentId: string;
}

export interface World {
  password: string;
  tenants: { A: { id: string; slug: string }; B: { id: string; slug: string } };
  work: { A: Work; B: Work };
  adminA: Person;
  memberA: Person;
  adminB: Person;
  memberB: Person;
  /** The demo platform operator (not a user of any tenant; same demo password). */
  operator: { id: string; email: string };
}

export async function createWorld(ownerUrl: string): Promise<World> {
  await seedDemoData(ownerUrl);
  return withClient(ownerUrl, async (client) => {
    const people: Person[] = [];
    const tenants: Record<string, { id: string; slug: string }> = {};
    const work: Record<string, Work> = {};
    for (const [key, demo] of [["A", DEMO_TENANTS[0]], ["B", DEMO_TENANTS[1]]] as const) {
      await client.query("begin");
      const { rows: [tenant] } = await client.query("select id, slug from app_public.tenants where slug = $1", [demo.slug]);
      tenants[key] = tenant;
      await client.query("select set_config('jwt.claims.tenant_id', $1, true)", [tenant.id]);
      const { rows } = await client.query("select id, email, tenant_id, role from app_public.users order by email");
      const { rows: [project] } = await client.query("select id from app_public.projects");
      const { rows: tasks } = await client.query("select id, assignee_id from app_public.tasks order by title");
      const { rows: [comment] } = await client.query("select id from app_public.comments");
      work[key] = {
        projectId: project.id,
        taskIds: tasks.map((t) => t.id),
        assignedTaskId: tasks.find((t) => t.assignee_id)!.id,
        commentId: comment.id,
      };
      await client.query("commit");
      for (const r of rows) people.push({ id: r.id, email: r.email, tenantId: r.tenant_id, tenantSlug: tenant.slug, role: r.role });
    }
    const { rows: [operator] } = await client.query("select id, email from app_public.operators where email = $1", [
      DEMO_OPERATOR.email,
    ]);
    const find = (slug: string, role: string) => people.find((p) => p.tenantSlug === slug && p.role === role)!;
    return {
      password: DEMO_PASSWORD,
      tenants: tenants as World["tenants"],
      work: work as World["work"],
      adminA: find("acme", "admin"),
      memberA: find("acme", "member"),
      adminB: find("globex", "admin"),
      memberB: find("globex", "member"),
      operator: { id: operator.id, email: operator.email },
    };
  });
}
