// The example domain (projects, tasks, comments): its keys as even the owner
// meets them, and its API. Its policies, as the request roles see them, are
// the specs tests/policies/{projects,tasks,comments}.test.ts.
import { beforeAll, describe, expect, it } from "vitest";
import { withClient } from "../db/setup.ts";
import { startApi, type TestApi } from "./helpers/api.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { createWorld, type World } from "./helpers/world.ts";

let db: TestDatabase;
let world: World;
beforeAll(async () => {
  db = await createTestDatabase();
  world = await createWorld(db.ownerUrl);
});
describe("keys that keep rows inside their tenant", () => {
  it("even the owner cannot point a task of tenant A at a project of tenant B", async () => {
    await withClient(db.ownerUrl, async (owner) => {
      await owner.query("begin");
      try {
        await owner.query("select set_config('jwt.claims.tenant_id', $1, true)", [world.tenants.A.id]);
        await expect(
          owner.query("insert into app_public.tasks (project_id, title) values ($1, 'Cross-tenant')", [world.work.B.projectId]),
        ).rejects.toMatchObject({ code: "23503", constraint: "tasks_project_fkey" });
      } finally {
        await owner.query("rollback");
      }
    });
  });

  it("removing a user unassigns their tasks and keeps their comments and invitations without them (a trigger, not on delete set null: Citus)", async () => {
    await withClient(db.ownerUrl, async (owner) => {
      await owner.query("begin");
      try {
        await owner.query("select set_config('jwt.claims.tenant_id', $1, true)", [world.tenants.A.id]);
        const { rows: [invitation] } = await owner.query(
          `insert into app_public.invitations (email, role, inviter_id, accepted_at, accepted_user_id)
           values ('joined@acme.test', 'member', $1, now(), $2) returning id`,
          [world.adminA.id, world.memberA.id],
        );
        const count = async () =>
          (await owner.query(
            `select (select count(*) from app_public.tasks)::int as tasks, (select count(*) from app_public.comments)::int as comments,
                    (select count(*) from app_public.invitations)::int as invitations`,
          )).rows[0];
        const before = await count();
        expect(before.tasks).toBeGreaterThan(0);
        await owner.query("delete from app_public.users where id = $1", [world.memberA.id]);
        const { rows: [t] } = await owner.query("select assignee_id from app_public.tasks where id = $1", [world.work.A.assignedTaskId]);
        const { rows: [c] } = await owner.query("select author_id from app_public.comments where id = $1", [world.work.A.commentId]);
        expect(t.assignee_id).toBeNull();
        expect(c.author_id).toBeNull();
        const inv = async () =>
          (await owner.query("select inviter_id, accepted_user_id from app_public.invitations where id = $1", [invitation.id])).rows[0];
        expect(await inv()).toEqual({ inviter_id: world.adminA.id, accepted_user_id: null });
        await owner.query("delete from app_public.users where id = $1", [world.adminA.id]);
        expect(await inv()).toEqual({ inviter_id: null, accepted_user_id: null });
        expect(await count()).toEqual(before);
      } finally {
        await owner.query("rollback");
      }
    });
  });
});

describe("the domain through the API", () => {
  let api: TestApi;
  let tokenMemberA: string;
  let tokenMemberB: string;
  beforeAll(async () => {
    api = await startApi(db);
    tokenMemberA = await api.login(world.tenants.A.slug, world.memberA.email, world.password);
    tokenMemberB = await api.login(world.tenants.B.slug, world.memberB.email, world.password);
  });

  it("follows relations: project → tasks → assignee and comments → author", async () => {
    const { body } = await api.graphql(
      `{ projects(first: 10) { nodes { name tasks(first: 50, orderBy: TITLE_ASC) { totalCount nodes { title assignee { email } comments(first: 20) { nodes { body author { email } } } } } } } }`,
      {},
      tokenMemberA,
    );
    expect(body.errors).toBeUndefined();
    const [project] = body.data!.projects.nodes;
    expect(project.name).toBe("Website relaunch");
    expect(project.tasks.totalCount).toBe(3);
    const assigned = project.tasks.nodes.find((t: { assignee: unknown }) => t.assignee);
    expect(assigned.assignee.email).toBe(world.memberA.email);
    expect(assigned.comments.nodes).toEqual([{ body: "On it.", author: { email: world.memberA.email } }]);
  });

  it("filters on common fields and orders the result", async () => {
    const { body } = await api.graphql(
      `{ tasks(filter: {status: {notEqualTo: DONE}}, orderBy: TITLE_DESC) { nodes { title status } } }`,
      {},
      tokenMemberA,
    );
    expect(body.errors).toBeUndefined();
    const titles = body.data!.tasks.nodes.map((t: { title: string }) => t.title);
    expect(titles).toEqual([...titles].sort().reverse());
    expect(titles).toHaveLength(2);
    for (const t of body.data!.tasks.nodes) expect(t.status).not.toBe("DONE");
  });

  it("a filter naming another tenant's user finds nothing", async () => {
    const { body } = await api.graphql(
      `query($id: UUID!) { tasks(filter: {assigneeId: {equalTo: $id}}) { totalCount } }`,
      { id: world.memberB.id },
      tokenMemberA,
    );
    expect(body.data!.tasks.totalCount).toBe(0);
  });

  it("a member creates a task and comments on it; tenant and author come from the token", async () => {
    const created = await api.graphql(
      `mutation($p: UUID!) { createTask(input: {task: {projectId: $p, title: "Ship it"}}) { task { rowId tenantId status } } }`,
      { p: world.work.B.projectId },
      tokenMemberB,
    );
    expect(created.body.errors).toBeUndefined();
    const task = created.body.data!.createTask.task;
    expect(task).toMatchObject({ tenantId: world.tenants.B.id, status: "TODO" });
    const commented = await api.graphql(
      `mutation($t: UUID!) { createComment(input: {comment: {taskId: $t, body: "Done soon"}}) { comment { author { email } tenantId } } }`,
      { t: task.rowId },
      tokenMemberB,
    );
    expect(commented.body.errors).toBeUndefined();
    expect(commented.body.data!.createComment.comment).toEqual({ author: { email: world.memberB.email }, tenantId: world.tenants.B.id });
  });

  it("a task pointing at another tenant's project is refused with a stable code", async () => {
    const { body } = await api.graphql(
      `mutation($p: UUID!) { createTask(input: {task: {projectId: $p, title: "Sneaky"}}) { task { rowId } } }`,
      { p: world.work.A.projectId },
      tokenMemberB,
    );
    expect(body.data!.createTask).toBeNull();
    expect(body.errors![0].extensions).toMatchObject({ code: "INVALID_REFERENCE" });
  });

  const PAYLOADS = [
    "'); drop table app_public.users; --",
    "\\'; select pg_sleep(10); --",
    "$$; reset role; $$",
    "x' or '1'='1",
    "%' or tenant_id is not null or '%' = '",
    "<script>alert(1)</script>",
  ];

  it("a NUL character, which PostgreSQL cannot store, is rejected with INVALID_INPUT and nothing is written", async () => {
    const { body } = await api.graphql(
      `mutation($p: UUID!, $t: String!) { createTask(input: {task: {projectId: $p, title: $t}}) { task { rowId } } }`,
      { p: world.work.A.projectId, t: "nul \u0000 byte" },
      tokenMemberA,
    );
    expect(body.errors![0].extensions).toMatchObject({ code: "INVALID_INPUT" });
    const count = await api.graphql(`{ tasks(filter: {title: {startsWith: "nul "}}) { totalCount } }`, {}, tokenMemberA);
    expect(count.body.data!.tasks.totalCount).toBe(0);
  });

  it.each(PAYLOADS)("a string argument %j is stored literally, or rejected, and never run", async (payload) => {
    const created = await api.graphql(
      `mutation($p: UUID!, $t: String!) { createTask(input: {task: {projectId: $p, title: $t}}) { task { rowId title } } }`,
      { p: world.work.A.projectId, t: payload },
      tokenMemberA,
    );
    expect(created.body.errors).toBeUndefined();
    expect(created.body.data!.createTask.task.title).toBe(payload);
    const found = await api.graphql(
      `query($t: String!) { tasks(filter: {title: {equalTo: $t}}) { nodes { title tenantId } } }`,
      { t: payload },
      tokenMemberA,
    );
    expect(found.body.data!.tasks.nodes).toEqual([{ title: payload, tenantId: world.tenants.A.id }]);
    const login = await api.graphql(
      `mutation($s: String!, $e: String!, $p: String!) { login(input: {tenantSlug: $s, email: $e, password: $p}) { result { accessToken } } }`,
      { s: payload, e: payload, p: payload },
    );
    expect(login.body.errors![0].extensions).toMatchObject({ code: "INVALID_CREDENTIALS" });
    const onboarding = await api.graphql(
      `mutation($p: String!) { createTenant(input: {name: $p, slug: $p, adminEmail: "x@y.test", adminPassword: "password123"}) { result { accessToken } } }`,
      { p: payload },
    );
    expect(onboarding.body.errors![0].extensions).toMatchObject({ code: "INVALID_SLUG" });
    // Everything is still where it was.
    const users = await api.graphql("{ users { totalCount } }", {}, tokenMemberB);
    expect(users.body.data!.users.totalCount).toBe(2);
  });
});
