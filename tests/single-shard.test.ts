// Single-shard by default (server/single-shard.ts), over real HTTP: every
// SELECT the API sends on a table with a tenant_id column says
// `<alias>."tenant_id" = $n::"uuid"` (a parameter, which Citus can route by;
// not current_tenant_id()), with the caller's tenant as the value.
//
// How the tests see it, without mocks: in this file's database only, the
// tables read here get two extra SELECT policies, added as the superuser:
// - `single_shard_open` (permissive, `using (true)`): RLS lets every row
//   through, so another tenant's rows come back unless the statement's own
//   condition removes them (the row counts below would include tenant B's);
// - `single_shard_probe` (restrictive): a function that sends the text of
//   the statement PostgreSQL is running (current_query(): the SQL as sent,
//   placeholders and all) on NOTIFY channel single_shard_probe, which the
//   test LISTENs to. PostgreSQL evaluates it on the rows it reads (NOTIFY
//   is allowed in read-only transactions and delivered at commit).
// Run with SingleShardPlugin left out of server/preset.ts, the tests of the
// condition fail (B's rows come back, and the statements lack it).
import { sql } from "postgraphile/pg-sql2";
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { withClient, withDatabase } from "../db/setup.ts";
import { tenantCondition } from "../server/single-shard.ts";
import { onCleanup } from "./helpers/cleanup.ts";
import { nodeId, startApi, type GraphQLResponse, type TestApi } from "./helpers/api.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { createWorld, type World } from "./helpers/world.ts";

const PROBED_TABLES = ["projects", "tasks", "users", "comments"];
const CHANNEL = "single_shard_probe";

let db: TestDatabase;
let world: World;
let api: TestApi;
let memberA: string;
let adminB: string;
let operator: string;
/** Tasks per tenant id, and in all, counted as the superuser. */
let tasksOf: Record<string, number>;
let allTasks: number;
/** The task created by the mutation test (updated and deleted after it). */
let createdTaskId: string;
/** Statement texts notified by the probe since the last request. */
const notified = new Set<string>();
let lastNotifiedAt = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createWorld(db.ownerUrl);
  const rootUrl = withDatabase(db.rootUrl, db.name);
  await withClient(rootUrl, async (client) => {
    await client.query(`
      create schema single_shard_probe;
      grant usage on schema single_shard_probe to public;
      create function single_shard_probe.report() returns boolean language plpgsql stable as $$
      begin
        perform pg_notify('${CHANNEL}', left(current_query(), 7900));
        return true;
      end $$;
      grant execute on function single_shard_probe.report() to public;`);
    for (const table of PROBED_TABLES) {
      await client.query(`
        create policy single_shard_open on app_public.${table} for select using (true);
        create policy single_shard_probe on app_public.${table} as restrictive for select using (single_shard_probe.report());`);
    }
    const { rows } = await client.query("select tenant_id, count(*)::int as n from app_public.tasks group by tenant_id");
    tasksOf = Object.fromEntries(rows.map((r) => [r.tenant_id, r.n]));
    allTasks = rows.reduce((sum, r) => sum + r.n, 0);
  });
  const listener = new pg.Client({ connectionString: rootUrl });
  await listener.connect();
  listener.on("error", () => {});
  listener.on("notification", (n) => {
    lastNotifiedAt = Date.now();
    if (n.payload) notified.add(n.payload);
  });
  await listener.query(`listen ${CHANNEL}`);
  onCleanup(() => listener.end());

  api = await startApi(db);
  [memberA, adminB] = await Promise.all([
    api.login(world.tenants.A.slug, world.memberA.email, world.password),
    api.login(world.tenants.B.slug, world.adminB.email, world.password),
  ]);
  const { body } = await api.graphql(
    "mutation($email: String!, $password: String!) { operatorLogin(input: {email: $email, password: $password}) { result { accessToken } } }",
    { email: world.operator.email, password: world.password },
  );
  operator = body.data!.operatorLogin.result.accessToken;
});

/** POSTs a query with a token and, for an operator, the tenant it names. */
async function request(query: string, variables: Record<string, unknown>, token: string, operatorTenant?: string): Promise<GraphQLResponse> {
  if (operatorTenant === undefined) return api.graphql(query, variables, token);
  const res = await fetch(`${api.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "x-operator-tenant": operatorTenant },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: await res.json() };
}

/** The data of a request that must succeed. */
function ok(response: GraphQLResponse) {
  expect(response.body.errors).toBeUndefined();
  expect(response.status).toBe(200);
  return response.body.data!;
}

/** Reads of app_public tables in a statement: `from|join "app_public"."<table>" as <alias>`. */
function readsIn(statement: string): { table: string; alias: string }[] {
  return [...statement.matchAll(/(?:from|join) "app_public"\."(\w+)" as (\w+)/g)].map(([, table, alias]) => ({ table, alias }));
}

/** A SELECT that reads an app_public table, or an UPDATE or DELETE of one (not the claims check, which reads app_private). */
const ON_APP_TABLES = /^\s*(select\b[\s\S]*\b(from|join) "app_public"\.|(update|delete from) "app_public"\.)/i;

/**
 * Runs a request and returns its result and the statements (SELECT, UPDATE,
 * DELETE) that PostgreSQL ran for it on the probed tables, as it received
 * them. The request's commit may follow its response (pipelining), so the
 * notifications are awaited.
 */
async function observe(run: () => Promise<GraphQLResponse>, expectTables: string[]) {
  // Late notifications of an earlier request (its commit) are let in first, then forgotten.
  while (Date.now() - lastNotifiedAt < 100) await new Promise((resolve) => setTimeout(resolve, 20));
  notified.clear();
  const response = await run();
  expect(response.body.errors).toBeUndefined();
  const deadline = Date.now() + 5000;
  const statements = () => [...notified].filter((s) => ON_APP_TABLES.test(s));
  const covered = () => expectTables.every((t) => statements().some((s) => s.includes(`"app_public"."${t}"`)));
  while (!covered() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(covered(), `statements reading ${expectTables.join(", ")}; got:\n${statements().join("\n---\n")}`).toBe(true);
  return { response, statements: statements() };
}

/**
 * Every read of a tenant-scoped table in `statement` carries
 * `<alias>."tenant_id" = $n::"uuid"` (counted per alias: PostGraphile reuses
 * an alias in sibling subqueries), and nothing calls current_tenant_id().
 */
function expectEveryReadNarrowed(statement: string) {
  const reads = readsIn(statement).filter((r) => PROBED_TABLES.includes(r.table));
  expect(reads.length).toBeGreaterThan(0);
  for (const alias of new Set(reads.map((r) => r.alias))) {
    const readCount = reads.filter((r) => r.alias === alias).length;
    const conditions = statement.match(new RegExp(`\\b${alias}\\."tenant_id" = \\$\\d+::"uuid"`, "g")) ?? [];
    expect(conditions.length, `${alias}: ${readCount} read(s), ${conditions.length} tenant condition(s) in\n${statement}`).toBeGreaterThanOrEqual(readCount);
  }
  expect(statement).not.toContain("current_tenant_id");
}

describe("the set-up of this file", () => {
  it("tenant B has tasks, so a read that is not narrowed would return them to A", () => {
    expect(tasksOf[world.tenants.A.id]).toBeGreaterThan(0);
    expect(tasksOf[world.tenants.B.id]).toBeGreaterThan(0);
  });
});

describe("a tenant user's reads name their tenant", () => {
  it("a member's connection list returns only their tenant's tasks, and its statement says tasks.tenant_id = $n", async () => {
    const { response, statements } = await observe(
      () => api.graphql("{ tasks { totalCount nodes { tenantId } } }", {}, memberA),
      ["tasks"],
    );
    const { tasks } = ok(response);
    expect(tasks.totalCount).toBe(tasksOf[world.tenants.A.id]);
    expect(tasks.totalCount).toBeLessThan(allTasks);
    expect(new Set(tasks.nodes.map((t: { tenantId: string }) => t.tenantId))).toEqual(new Set([world.tenants.A.id]));
    for (const statement of statements) expectEveryReadNarrowed(statement);
  });

  it("a member fetching another tenant's task by Node ID (node or task) gets null; their own task's fetch names their tenant", async () => {
    const foreignId = world.work.B.taskIds[0];
    const { task: foreign } = ok(await api.graphql("query($id: ID!) { task(id: $id) { id rowId } }", { id: nodeId("Task", world.tenants.B.id, foreignId) }, adminB));
    expect(foreign.rowId).toBe(foreignId);
    expect(ok(await api.graphql("query($id: ID!) { node(id: $id) { id } }", { id: foreign.id }, memberA)).node).toBeNull();
    expect(ok(await api.graphql("query($id: ID!) { task(id: $id) { rowId } }", { id: foreign.id }, memberA)).task).toBeNull();

    const ownId = world.work.A.taskIds[0];
    const ownNodeId = nodeId("Task", world.tenants.A.id, ownId);
    for (const query of ["query($id: ID!) { node(id: $id) { ... on Task { rowId title } } }", "query($id: ID!) { task(id: $id) { rowId title } }"]) {
      const { response, statements } = await observe(() => api.graphql(query, { id: ownNodeId }, memberA), ["tasks"]);
      expect(Object.values(ok(response))[0].rowId).toBe(ownId);
      for (const statement of statements) expectEveryReadNarrowed(statement);
      // The Node ID's own tenant_id (the key) and the caller's: two conditions.
      const fetch = statements.find((s) => readsIn(s).some((r) => r.table === "tasks"))!;
      expect(fetch.match(/__tasks__\."tenant_id" = \$\d+::"uuid"/g)).toHaveLength(2);
    }
  });

  it("nested relations (a join and subqueries in one statement) each name the tenant", async () => {
    const { response, statements } = await observe(
      () =>
        api.graphql(
          "{ projects(first: 5) { nodes { tenantId tasks(first: 10) { totalCount nodes { assignee { email } comments(first: 5) { nodes { author { email } } } } } } } }",
          {},
          memberA,
        ),
      ["projects", "tasks", "users", "comments"],
    );
    const { projects } = ok(response);
    expect(projects.nodes.map((p: { tenantId: string }) => p.tenantId)).toEqual([world.tenants.A.id]);
    expect(projects.nodes[0].tasks.totalCount).toBe(tasksOf[world.tenants.A.id]);
    const reads = statements.flatMap((s) => readsIn(s).map((r) => r.table));
    expect(new Set(reads)).toEqual(new Set(["projects", "tasks", "users", "comments"]));
    for (const statement of statements) expectEveryReadNarrowed(statement);
  });

  it("a mutation's payload (the created row's relation and the payload's query) reads within the tenant", async () => {
    const { response, statements } = await observe(
      () =>
        api.graphql(
          `mutation($project: UUID!) {
            createTask(input: {task: {projectId: $project, title: "Routed to one shard"}}) {
              task { rowId tenantId project { tenantId } }
              query { tasks { totalCount } }
            }
          }`,
          { project: world.work.A.projectId },
          memberA,
        ),
      ["projects", "tasks"],
    );
    const { createTask } = ok(response);
    tasksOf[world.tenants.A.id] += 1;
    allTasks += 1;
    createdTaskId = createTask.task.rowId;
    expect(createTask.task).toEqual({ rowId: createdTaskId, tenantId: world.tenants.A.id, project: { tenantId: world.tenants.A.id } });
    expect(createTask.query.tasks.totalCount).toBe(tasksOf[world.tenants.A.id]);
    const selects = statements.filter((s) => /^\s*select/i.test(s));
    expect(selects.length).toBeGreaterThan(0);
    for (const statement of selects) expectEveryReadNarrowed(statement);
  });

  it("update and delete mutations by Node ID name the tenant through their key, (tenant_id, id), decoded from it", async () => {
    const key = { id: nodeId("Task", world.tenants.A.id, createdTaskId) };
    const keyCondition = / where \(\(__tasks__\."tenant_id" = \$\d+::"uuid"\) and \(__tasks__\."id" = \$\d+::"uuid"\)\)/;
    for (const [mutation, verb] of [
      ['mutation($id: ID!) { updateTask(input: {id: $id, patch: {title: "Renamed"}}) { task { rowId } } }', "update"],
      ["mutation($id: ID!) { deleteTask(input: {id: $id}) { task { rowId } } }", "delete"],
    ]) {
      const { response, statements } = await observe(() => api.graphql(mutation, key, memberA), ["tasks"]);
      expect(Object.values(ok(response))[0]).toEqual({ task: { rowId: createdTaskId } });
      const written = statements.filter((s) => new RegExp(`^\\s*${verb} (from )?"app_public"\\."tasks"`, "i").test(s));
      expect(written).toHaveLength(1);
      expect(written[0]).toMatch(keyCondition);
    }
    tasksOf[world.tenants.A.id] -= 1;
    allTasks -= 1;
  });
});

describe("operators", () => {
  it("an operator naming tenant A reads A's rows only, even under tenants listed across the platform", async () => {
    const { response, statements } = await observe(
      () => request("{ tenants(first: 10) { nodes { rowId projects(first: 1) { totalCount } tasks(first: 1) { totalCount } } } }", {}, operator, world.tenants.A.id),
      ["projects", "tasks"],
    );
    const byTenant = new Map(ok(response).tenants.nodes.map((t: { rowId: string; projects: { totalCount: number }; tasks: { totalCount: number } }) => [t.rowId, t]));
    // The operator sees every tenant row (select_as_operator), but tenant-scoped rows of A only.
    expect(byTenant.get(world.tenants.B.id)).toEqual({ rowId: world.tenants.B.id, projects: { totalCount: 0 }, tasks: { totalCount: 0 } });
    expect(byTenant.get(world.tenants.A.id)).toMatchObject({ projects: { totalCount: 1 }, tasks: { totalCount: tasksOf[world.tenants.A.id] } });
    for (const statement of statements) expectEveryReadNarrowed(statement);
  });

  it("an operator naming no tenant gets no condition added: RLS alone decides (here opened to every row)", async () => {
    const { response, statements } = await observe(() => request("{ tasks { totalCount } }", {}, operator), ["tasks"]);
    expect(ok(response).tasks.totalCount).toBe(allTasks);
    for (const statement of statements) expect(statement).not.toMatch(/"tenant_id" = \$\d+/);
  });
});

describe("the condition for a tenant setting", () => {
  const compiled = (tenantId: unknown) => {
    const conditions: ReturnType<typeof sql.compile>[] = [];
    const callback = tenantCondition(tenantId);
    callback?.({ alias: sql.identifier("t"), where: (c: Parameters<typeof sql.compile>[0]) => conditions.push(sql.compile(c)) } as never);
    return callback ? conditions.map(({ text, values }) => ({ text, values })) : null;
  };

  it("is the tenant as a uuid parameter for a tenant id", () => {
    const id = world.tenants.A.id;
    expect(compiled(id)).toEqual([{ text: `"t"."tenant_id" = $1::"uuid"`, values: [id] }]);
  });

  it("is nothing without a tenant (anonymous, an operator naming none)", () => {
    expect(compiled(undefined)).toBeNull();
    expect(compiled(null)).toBeNull();
    expect(compiled("")).toBeNull();
  });

  it("is `false` for a value that is not a uuid (server/auth.ts lets none through; tests/api.test.ts), never a cast that raises", () => {
    for (const bad of ["' or 1=1 --", "not-a-uuid", 42, {}]) {
      expect(compiled(bad)).toEqual([{ text: "FALSE", values: [] }]);
    }
  });
});
