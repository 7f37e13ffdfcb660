// A load driver for the API: many concurrent clients, each sending a random
// mix of reads, writes, requests that fail half-way, anonymous requests and
// requests aborted mid-flight, checking every answer against what the
// caller's token allows it to see. Violations are collected, not thrown, so
// that one run reports all of them.
//
// Every task the driver writes is titled `w:<tenant index>:<sequence>`, and
// the seeded ones `seed:<tenant index>:<n>`: a row found anywhere can be
// traced to the request that wrote it and the tenant that sent it.
import { withClient } from "../../db/setup.ts";
import { nodeId } from "./api.ts";

export const LOAD_PASSWORD = "load-password";

export interface LoadUser {
  id: string;
  email: string;
  role: "admin" | "member";
  tenantIndex: number;
  /** Set after login. */
  token?: string;
}

export interface LoadTenant {
  index: number;
  id: string;
  slug: string;
  projectId: string;
  seedTaskIds: string[];
  users: LoadUser[];
}

/** A small deterministic PRNG (mulberry32), so that a failing run can be replayed with its seed. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick<T>(items: readonly T[]): T {
      return items[Math.floor(next() * items.length)];
    },
  };
}
export type Rng = ReturnType<typeof prng>;

/** Runs `fn` over `items` with at most `limit` calls in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Creates `count` tenants as the owner, each with an admin, a member, a
 * project and `tasksPerTenant` tasks, the way the owner's own functions do
 * (the tenant whose id is in the context, then its users and their password
 * hashes under that context). Every user gets the same bcrypt hash of
 * LOAD_PASSWORD, made once at cost 4: login compares at the cost stored in
 * the hash, so the logins the tests make through the API stay cheap
 * (onboarding itself, at cost 10, is tested elsewhere).
 */
export async function seedTenants(
  ownerUrl: string,
  count: number,
  { prefix, tasksPerTenant = 3 }: { prefix: string; tasksPerTenant?: number },
): Promise<LoadTenant[]> {
  return withClient(ownerUrl, async (client) => {
    const { rows: [{ hash }] } = await client.query<{ hash: string }>("select crypt($1, gen_salt('bf', 4)) as hash", [LOAD_PASSWORD]);
    const tenants: LoadTenant[] = [];
    for (let index = 0; index < count; index++) {
      const slug = `${prefix}-${index}`;
      await client.query("begin");
      const { rows: [tenant] } = await client.query<{ id: string }>(
        `select set_config('jwt.claims.tenant_id', gen_random_uuid()::text, true) as id`,
      );
      await client.query("insert into app_public.tenants (id, slug, name) values ($1, $2, $3)", [tenant.id, slug, `Load tenant ${index}`]);
      const { rows: users } = await client.query<{ id: string; email: string; role: "admin" | "member" }>(
        `insert into app_public.users (email, name, role)
           values ($1, 'Admin', 'admin'), ($2, 'Member', 'member') returning id, email::text, role::text`,
        [`admin@${slug}.test`, `member@${slug}.test`],
      );
      await client.query(
        "insert into app_private.user_secrets (tenant_id, user_id, password_hash) select $1, u, $3 from unnest($2::uuid[]) u",
        [tenant.id, users.map((u) => u.id), hash],
      );
      const { rows: [project] } = await client.query<{ id: string }>(
        "insert into app_public.projects (name) values ($1) returning id",
        [`Project of ${slug}`],
      );
      const { rows: tasks } = await client.query<{ id: string }>(
        "insert into app_public.tasks (project_id, title) select $1, 'seed:' || $2::int || ':' || n from generate_series(1, $3::int) n returning id",
        [project.id, index, tasksPerTenant],
      );
      await client.query("commit");
      tenants.push({
        index,
        id: tenant.id,
        slug,
        projectId: project.id,
        seedTaskIds: tasks.map((t) => t.id),
        users: users.map((u) => ({ id: u.id, email: u.email, role: u.role, tenantIndex: index })),
      });
    }
    return tenants;
  });
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

export type OpKind =
  | "tasks"
  | "tasksNested"
  | "projects"
  | "users"
  | "currentUser"
  | "anonymous"
  | "createTask"
  | "halfFailForeignProject"
  | "halfFailInvalidValue"
  | "firstFailsSecondCommits"
  | "foreignProbe";

/** How often each kind is picked (relative weights). */
export const DEFAULT_MIX: Record<OpKind, number> = {
  tasks: 14,
  tasksNested: 6,
  projects: 8,
  users: 8,
  currentUser: 8,
  anonymous: 12,
  createTask: 20,
  halfFailForeignProject: 7,
  halfFailInvalidValue: 5,
  firstFailsSecondCommits: 5,
  foreignProbe: 7,
};

export type WriteOutcome = "committed" | "rejected" | "unknown";

export interface WriteRecord {
  title: string;
  tenantIndex: number;
  /** The write cannot succeed (another tenant's project, an invalid value): it must never exist. */
  mustFail: boolean;
  outcome: WriteOutcome;
  rowId?: string;
}

export interface RequestRecord {
  kind: OpKind;
  startedAt: number;
  endedAt: number;
  /** Aborted by the client before the answer was read. */
  aborted: boolean;
  /** HTTP status; 0 when no answer (aborted or a network error). */
  status: number;
  retryAfter: string | null;
  codes: string[];
  /** Every answer was what the op expects. */
  ok: boolean;
  /** For answers that were not ok: the problems found and the body (or what went wrong on the wire). */
  body?: unknown;
}

export interface LoadOptions {
  url: string;
  tenants: LoadTenant[];
  clients: number;
  /** Stop after this many requests… */
  requests: number;
  /** …or at this time (epoch ms)… */
  deadline?: number;
  /** …or when this says so. */
  stop?: () => boolean;
  seed: number;
  mix?: Partial<Record<OpKind, number>>;
  /** Share of requests aborted by the client after a random 0 to `abortMaxMs` ms. */
  abortRatio?: number;
  abortMaxMs?: number;
  /** Pause of each client between its requests. */
  pauseMs?: number;
  /** Collect a RequestRecord for every request (the faults test reads them by time). */
  keepRecords?: boolean;
}

export interface LoadResult {
  requests: number;
  elapsedMs: number;
  byKind: Record<string, number>;
  aborted: number;
  /** Answered requests whose answers were not what the op expects (codes or shapes). */
  unexpected: RequestRecord[];
  /** A row of another tenant in an answer: must stay empty. */
  foreignRows: string[];
  /** An anonymous request that saw a user, a tenant or a table: must stay empty. */
  anonymousLeaks: string[];
  /** A committed write that a later read of the same tenant did not see. */
  missedWrites: string[];
  writes: Map<string, WriteRecord>;
  records: RequestRecord[];
  /** Half-way failures: how often the first mutation committed while the second failed, and the reverse. */
  halfway: { firstCommittedSecondFailed: number; firstFailedSecondCommitted: number };
}

interface GraphQLBody {
  data?: Record<string, any> | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string } }[];
}

interface Planned {
  query: string;
  variables: Record<string, unknown>;
  token?: string;
  /** Writes by GraphQL alias. */
  writes: { alias: string; record: WriteRecord; expectCode?: string }[];
  /** Checks an answered body (HTTP 200); returns problems. Foreign rows and leaks go to the result's lists. */
  check(body: GraphQLBody): string[];
}

const TASK_FIELDS = "rowId tenantId title project { rowId tenantId }";

/** Runs the load and returns what it saw. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { url, tenants, clients } = options;
  const rng = prng(options.seed);
  const mix = { ...DEFAULT_MIX, ...options.mix };
  const kinds = Object.keys(mix) as OpKind[];
  const totalWeight = kinds.reduce((s, k) => s + mix[k], 0);
  const abortRatio = options.abortRatio ?? 0;
  const abortMaxMs = options.abortMaxMs ?? 15;
  const deadline = options.deadline ?? Infinity;

  const result: LoadResult = {
    requests: 0,
    elapsedMs: 0,
    byKind: {},
    aborted: 0,
    unexpected: [],
    foreignRows: [],
    anonymousLeaks: [],
    missedWrites: [],
    writes: new Map(),
    records: [],
    halfway: { firstCommittedSecondFailed: 0, firstFailedSecondCommitted: 0 },
  };
  /** Writes per tenant known to have committed (a read that starts later must see at least these). */
  const committed = new Map<number, number>(tenants.map((t) => [t.index, 0]));
  const tenantByIndex = new Map(tenants.map((t) => [t.index, t]));
  const tenantById = new Map(tenants.map((t) => [t.id, t]));
  let sequence = 0;

  function pickKind(): OpKind {
    let r = rng.next() * totalWeight;
    for (const k of kinds) {
      r -= mix[k];
      if (r < 0) return k;
    }
    return kinds[kinds.length - 1];
  }

  function newWrite(tenantIndex: number, mustFail: boolean, title?: string): WriteRecord {
    const record: WriteRecord = {
      title: title ?? `w:${tenantIndex}:${sequence++}`,
      tenantIndex,
      mustFail,
      outcome: "unknown",
    };
    result.writes.set(record.title, record);
    return record;
  }

  /** Checks that rows (objects with tenantId, and task titles) belong to `tenant`. */
  function own(tenant: LoadTenant, where: string, rows: { tenantId?: string; title?: string }[]) {
    for (const row of rows) {
      if (row.tenantId !== undefined && row.tenantId !== tenant.id) {
        const other = tenantById.get(row.tenantId);
        result.foreignRows.push(`${where}: tenant ${tenant.index} got a row of tenant ${other?.index ?? row.tenantId}`);
      }
      const m = typeof row.title === "string" ? /^(?:w|seed):(\d+):/.exec(row.title) : null;
      if (m && Number(m[1]) !== tenant.index) {
        result.foreignRows.push(`${where}: tenant ${tenant.index} got task "${row.title}"`);
      }
    }
  }

  function errorsAt(body: GraphQLBody, alias: string) {
    return (body.errors ?? []).filter((e) => e.path?.[0] === alias);
  }

  function otherTenant(tenant: LoadTenant) {
    let other = rng.pick(tenants);
    while (other.index === tenant.index && tenants.length > 1) other = rng.pick(tenants);
    return other;
  }

  function plan(kind: OpKind): Planned {
    const tenant = rng.pick(tenants);
    const user = rng.pick(tenant.users);
    const token = user.token;
    const noErrors = (body: GraphQLBody) => (body.errors?.length ? [`errors: ${JSON.stringify(body.errors)}`] : []);

    /** A createTask aliased `alias` into `projectId` with `title`, expecting the result in `record`. */
    const createTask = (alias: string, projectVar: string, titleVar: string, extra = "") =>
      `${alias}: createTask(input: {task: {projectId: $${projectVar}, title: $${titleVar}${extra}}}) { task { ${TASK_FIELDS} } }`;

    switch (kind) {
      case "tasks": {
        const floor = committed.get(tenant.index)! + tenant.seedTaskIds.length;
        return {
          query: `{ tasks(first: 200) { totalCount nodes { ${TASK_FIELDS} } } }`,
          variables: {},
          token,
          writes: [],
          check(body) {
            const problems = noErrors(body);
            const tasks = body.data?.tasks;
            if (!tasks) return [...problems, "no tasks"];
            own(tenant, "tasks", tasks.nodes);
            own(tenant, "tasks.project", tasks.nodes.map((n: any) => n.project));
            if (tasks.totalCount < floor) {
              result.missedWrites.push(`tenant ${tenant.index} saw ${tasks.totalCount} tasks, at least ${floor} had committed`);
            }
            return problems;
          },
        };
      }
      case "tasksNested":
        return {
          // Pages sized to stay within the default row budget (20 + 20 × 50 + 20 × 50 × 5 + 100 + 100 × 100 rows).
          query: `{ projects(first: 20) { nodes { rowId tenantId tasks(first: 50, filter: {status: {equalTo: TODO}}) { nodes { ${TASK_FIELDS} assignee { tenantId } comments(first: 5) { nodes { tenantId } } } } } }
                    users { nodes { tenantId assignedTasks { nodes { rowId tenantId title } } } } }`,
          variables: {},
          token,
          writes: [],
          check(body) {
            const problems = noErrors(body);
            const projects = body.data?.projects?.nodes;
            const users = body.data?.users?.nodes;
            if (!projects || !users) return [...problems, "no data"];
            own(tenant, "projects", projects);
            for (const p of projects) {
              own(tenant, "project.tasks", p.tasks.nodes);
              for (const t of p.tasks.nodes) {
                if (t.assignee) own(tenant, "task.assignee", [t.assignee]);
                own(tenant, "task.comments", t.comments.nodes);
              }
            }
            own(tenant, "users", users);
            for (const u of users) own(tenant, "user.assignedTasks", u.assignedTasks.nodes);
            return problems;
          },
        };
      case "projects":
        return {
          query: "{ projects { totalCount nodes { rowId tenantId name } } }",
          variables: {},
          token,
          writes: [],
          check(body) {
            const problems = noErrors(body);
            const projects = body.data?.projects;
            if (!projects) return [...problems, "no projects"];
            own(tenant, "projects", projects.nodes);
            if (projects.totalCount !== 1 || projects.nodes[0]?.rowId !== tenant.projectId) {
              problems.push(`projects: expected only ${tenant.projectId}, got ${JSON.stringify(projects.nodes)}`);
            }
            return problems;
          },
        };
      case "users":
        return {
          query: "{ users(orderBy: EMAIL_ASC) { totalCount nodes { rowId tenantId email } } }",
          variables: {},
          token,
          writes: [],
          check(body) {
            const problems = noErrors(body);
            const users = body.data?.users;
            if (!users) return [...problems, "no users"];
            own(tenant, "users", users.nodes);
            const ids = users.nodes.map((u: { rowId: string }) => u.rowId).sort();
            const expected = tenant.users.map((u) => u.id).sort();
            if (JSON.stringify(ids) !== JSON.stringify(expected)) problems.push(`users: got ${JSON.stringify(users.nodes)}`);
            return problems;
          },
        };
      case "currentUser":
        return {
          query: "{ currentUser { rowId tenantId email role } currentTenant { rowId slug } }",
          variables: {},
          token,
          writes: [],
          check(body) {
            const problems = noErrors(body);
            const me = body.data?.currentUser;
            const mine = body.data?.currentTenant;
            if (me) own(tenant, "currentUser", [me]);
            if (mine && mine.rowId !== tenant.id) result.foreignRows.push(`currentTenant: tenant ${tenant.index} got ${mine.slug}`);
            if (me?.rowId !== user.id || me?.role !== user.role.toUpperCase() || mine?.rowId !== tenant.id) {
              problems.push(`currentUser: expected ${user.email}, got ${JSON.stringify(body.data)}`);
            }
            return problems;
          },
        };
      case "anonymous": {
        // No token: no user, no tenant, and no access to tables (FORBIDDEN, not an empty list).
        const variant = rng.int(3);
        const query = [
          "{ currentUser { rowId tenantId } currentTenant { rowId slug } }",
          "{ tasks { nodes { rowId tenantId title } } }",
          "{ currentTenant { rowId } projects { nodes { rowId tenantId } } }",
        ][variant];
        return {
          query,
          variables: {},
          writes: [],
          check(body) {
            const problems: string[] = [];
            const d = body.data ?? {};
            if (d.currentUser != null) result.anonymousLeaks.push(`anonymous currentUser: ${JSON.stringify(d.currentUser)}`);
            if (d.currentTenant != null) result.anonymousLeaks.push(`anonymous currentTenant: ${JSON.stringify(d.currentTenant)}`);
            for (const table of ["tasks", "projects"]) {
              if (!query.includes(`${table} {`)) continue;
              if (d[table] != null) result.anonymousLeaks.push(`anonymous ${table}: ${JSON.stringify(d[table])}`);
              const codes = errorsAt(body, table).map((e) => e.extensions?.code);
              if (codes.length !== 1 || codes[0] !== "FORBIDDEN") problems.push(`anonymous ${table}: expected FORBIDDEN, got ${JSON.stringify(body.errors)}`);
            }
            if (variant === 0 && body.errors?.length) problems.push(`anonymous currentUser: errors ${JSON.stringify(body.errors)}`);
            return problems;
          },
        };
      }
      case "createTask": {
        const record = newWrite(tenant.index, false);
        return {
          query: `mutation($p: UUID!, $t: String!) { ${createTask("a", "p", "t")} }`,
          variables: { p: tenant.projectId, t: record.title },
          token,
          writes: [{ alias: "a", record }],
          check: noErrors,
        };
      }
      case "halfFailForeignProject": {
        // a: own project (commits); b: another tenant's project (the composite
        // foreign key refuses it: INVALID_REFERENCE); c: own project again.
        const a = newWrite(tenant.index, false);
        const b = newWrite(tenant.index, true);
        const c = newWrite(tenant.index, false);
        return {
          query: `mutation($p: UUID!, $q: UUID!, $a: String!, $b: String!, $c: String!) {
            ${createTask("a", "p", "a")} ${createTask("b", "q", "b")} ${createTask("c", "p", "c")} }`,
          variables: { p: tenant.projectId, q: otherTenant(tenant).projectId, a: a.title, b: b.title, c: c.title },
          token,
          writes: [
            { alias: "a", record: a },
            { alias: "b", record: b, expectCode: "INVALID_REFERENCE" },
            { alias: "c", record: c },
          ],
          check: () => [],
        };
      }
      case "halfFailInvalidValue": {
        // a commits; b's title is longer than 500 characters (check constraint: INVALID_INPUT).
        const a = newWrite(tenant.index, false);
        const b = newWrite(tenant.index, true);
        return {
          query: `mutation($p: UUID!, $a: String!, $b: String!) {
            ${createTask("a", "p", "a")} ${createTask("b", "p", "b")} }`,
          variables: { p: tenant.projectId, a: a.title, b: `${b.title} ${"x".repeat(600)}` },
          token,
          writes: [
            { alias: "a", record: a },
            { alias: "b", record: b, expectCode: "INVALID_INPUT" },
          ],
          check: () => [],
        };
      }
      case "firstFailsSecondCommits": {
        // a has a date PostgreSQL refuses (INVALID_INPUT); b still runs and commits.
        const a = newWrite(tenant.index, true);
        const b = newWrite(tenant.index, false);
        return {
          query: `mutation($p: UUID!, $a: String!, $b: String!) {
            ${createTask("a", "p", "a", ', dueDate: "2024-02-30"')} ${createTask("b", "p", "b")} }`,
          variables: { p: tenant.projectId, a: a.title, b: b.title },
          token,
          writes: [
            { alias: "a", record: a, expectCode: "INVALID_INPUT" },
            { alias: "b", record: b },
          ],
          check: () => [],
        };
      }
      case "foreignProbe": {
        // Another tenant's task by key must be null, and renaming it must change nothing.
        const other = otherTenant(tenant);
        const taskId = rng.pick(other.seedTaskIds);
        const variables = { id: nodeId("Task", other.id, taskId), title: `pwned by ${tenant.index}` };
        if (rng.int(2) === 0) {
          return {
            query: `query($id: ID!) { task(id: $id) { ${TASK_FIELDS} } }`,
            variables,
            token,
            writes: [],
            check(body) {
              if (body.data?.task) own(tenant, "task by key", [body.data.task]);
              return [...noErrors(body), ...(body.data && body.data.task === null ? [] : [`task by key: ${JSON.stringify(body)}`])];
            },
          };
        }
        return {
          query: `mutation($id: ID!, $title: String!) {
            updateTask(input: {id: $id, patch: {title: $title}}) { task { ${TASK_FIELDS} } } }`,
          variables,
          token,
          writes: [],
          check(body) {
            const task = body.data?.updateTask?.task;
            if (task) {
              own(tenant, "updateTask", [task]);
              result.foreignRows.push(`updateTask: tenant ${tenant.index} renamed task ${taskId} of tenant ${other.index}`);
            }
            // PostGraphile answers an update that matched no visible row with a null record, or NOT_FOUND.
            const codes = (body.errors ?? []).map((e) => e.extensions?.code);
            return codes.every((c) => c === "NOT_FOUND") ? [] : [`updateTask: ${JSON.stringify(body.errors)}`];
          },
        };
      }
    }
  }

  async function send(p: Planned, kind: OpKind): Promise<void> {
    const startedAt = Date.now();
    const record: RequestRecord = { kind, startedAt, endedAt: 0, aborted: false, status: 0, retryAfter: null, codes: [], ok: false };
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    if (abortRatio > 0 && rng.next() < abortRatio) {
      timer = setTimeout(() => {
        if (!settled) {
          record.aborted = true;
          controller.abort();
        }
      }, rng.next() * abortMaxMs);
    }
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (p.token) headers.authorization = `Bearer ${p.token}`;
    let body: GraphQLBody | undefined;
    let networkError: string | undefined;
    try {
      const res = await fetch(`${url}/graphql`, {
        method: "POST",
        headers,
        body: JSON.stringify({ query: p.query, variables: p.variables }),
        signal: controller.signal,
      });
      record.status = res.status;
      record.retryAfter = res.headers.get("retry-after");
      const text = await res.text();
      settled = true;
      try {
        body = JSON.parse(text);
      } catch {
        networkError = `not JSON (${res.status}): ${text.slice(0, 200)}`;
      }
    } catch (error) {
      if (!record.aborted) networkError = `network error: ${(error as Error).message}`;
    } finally {
      settled = true;
      clearTimeout(timer);
      record.endedAt = Date.now();
    }
    result.byKind[kind] = (result.byKind[kind] ?? 0) + 1;

    if (record.aborted && !body) {
      // The client gave up: a write may or may not have committed, unless it cannot succeed at all.
      result.aborted++;
      for (const w of p.writes) w.record.outcome = w.record.mustFail ? "rejected" : "unknown";
      record.ok = true;
    } else if (!body) {
      record.ok = false;
      record.body = networkError;
      for (const w of p.writes) w.record.outcome = w.record.mustFail ? "rejected" : "unknown";
    } else {
      record.codes = (body.errors ?? []).map((e) => e.extensions?.code ?? "?");
      const problems = record.status === 200 ? p.check(body) : [`HTTP ${record.status}`];
      for (const w of p.writes) {
        const task = body.data?.[w.alias]?.task;
        const errors = errorsAt(body, w.alias);
        if (task) {
          own(tenantByIndex.get(w.record.tenantIndex)!, `${kind}.${w.alias}`, [task]);
          if (w.record.mustFail) problems.push(`${kind}.${w.alias} should have failed but returned ${JSON.stringify(task)}`);
          w.record.outcome = "committed";
          w.record.rowId = task.rowId;
          committed.set(w.record.tenantIndex, committed.get(w.record.tenantIndex)! + 1);
        } else if (w.expectCode && errors.length === 1 && errors[0].extensions?.code === w.expectCode) {
          w.record.outcome = "rejected";
        } else if (record.status === 503) {
          // Refused before it ran (the database is unavailable): a retry must not make a duplicate.
          w.record.outcome = "rejected";
          problems.push(`${kind}.${w.alias}: HTTP 503`);
        } else {
          // An error we did not plan for: the write's fate is unknown (the final counts decide).
          w.record.outcome = w.record.mustFail ? "rejected" : "unknown";
          problems.push(`${kind}.${w.alias}: ${JSON.stringify(errors.length ? errors : body)}`);
        }
      }
      if (p.writes.length >= 2) {
        const [first, second] = p.writes.map((w) => w.record.outcome);
        if (first === "committed" && second === "rejected") result.halfway.firstCommittedSecondFailed++;
        if (first === "rejected" && second === "committed") result.halfway.firstFailedSecondCommitted++;
      }
      record.ok = problems.length === 0;
      if (!record.ok) record.body = { problems, body };
    }
    if (!record.ok) result.unexpected.push(record);
    if (options.keepRecords) result.records.push(record);
  }

  const started = Date.now();
  const stopped = () => result.requests >= options.requests || Date.now() >= deadline || (options.stop?.() ?? false);
  async function client() {
    while (!stopped()) {
      result.requests++;
      const kind = pickKind();
      await send(plan(kind), kind);
      if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  }
  await Promise.all(Array.from({ length: clients }, client));
  result.elapsedMs = Date.now() - started;
  return result;
}

/** Thousands separators for report lines. */
export const fmt = (n: number) => n.toLocaleString("en-US");

export interface WriteAudit {
  /** Task rows whose tenant differs from the tenant whose token wrote them. */
  crossTenantWrites: string[];
  /** Rows no request of the load can explain, and seeded rows that were changed or are gone. */
  strayRows: string[];
  /** Writes the client saw commit that are not there. */
  missingCommitted: string[];
  /** Writes that failed (or could never succeed) but are there. */
  presentButRejected: string[];
  /** Per tenant: the owner's count outside [known, known + unknown], or differing from the superuser's. */
  countMismatches: string[];
  known: number;
  unknown: number;
  /** How many of the unknown writes turned out to have committed. */
  unknownCommitted: number;
  tenantsChecked: number;
}

/**
 * Compares the tasks in the database with what the load saw: every row is
 * read as the superuser (to find rows in the wrong tenant) and counted per
 * tenant as the owner, with that tenant's context (as the application sees it).
 */
export async function auditWrites(superuserUrl: string, ownerUrl: string, tenants: LoadTenant[], writes: Map<string, WriteRecord>): Promise<WriteAudit> {
  const audit: WriteAudit = {
    crossTenantWrites: [],
    strayRows: [],
    missingCommitted: [],
    presentButRejected: [],
    countMismatches: [],
    known: 0,
    unknown: 0,
    unknownCommitted: 0,
    tenantsChecked: 0,
  };
  const byId = new Map(tenants.map((t) => [t.id, t]));
  const rows = await withClient(superuserUrl, async (c) => (await c.query<{ tenant_id: string; id: string; title: string }>("select tenant_id, id, title from app_public.tasks")).rows);
  const seen = new Set<string>();
  const actual = new Map<string, number>();
  for (const row of rows) {
    const tenant = byId.get(row.tenant_id);
    if (!tenant) continue; // a tenant the load does not know (other fixtures)
    actual.set(row.tenant_id, (actual.get(row.tenant_id) ?? 0) + 1);
    const seed = /^seed:(\d+):\d+$/.exec(row.title);
    const write = /^(w:(\d+):\d+)/.exec(row.title);
    if (seed) {
      if (Number(seed[1]) !== tenant.index) audit.crossTenantWrites.push(`seed row "${row.title}" is in tenant ${tenant.index}`);
      if (!tenant.seedTaskIds.includes(row.id)) audit.strayRows.push(`seed-like row "${row.title}" (${row.id}) was not seeded`);
      seen.add(row.id);
    } else if (write) {
      const record = writes.get(write[1]);
      if (Number(write[2]) !== tenant.index) audit.crossTenantWrites.push(`"${row.title.slice(0, 40)}" written by tenant ${write[2]} is in tenant ${tenant.index}`);
      if (!record) audit.strayRows.push(`row "${row.title.slice(0, 40)}" was never written by the load`);
      else if (record.outcome === "rejected") audit.presentButRejected.push(`"${row.title.slice(0, 40)}" (${record.mustFail ? "could never succeed" : "its request failed"}) exists`);
      else if (record.outcome === "committed" && record.rowId !== row.id) audit.strayRows.push(`"${record.title}" has id ${row.id}, the API said ${record.rowId}`);
      else if (record.outcome === "unknown") audit.unknownCommitted++;
      if (record) seen.add(record.title);
    } else {
      audit.strayRows.push(`row "${row.title.slice(0, 40)}" (${row.id}) in tenant ${tenant.index}: neither seeded nor written by the load`);
    }
  }
  for (const t of tenants) for (const id of t.seedTaskIds) if (!seen.has(id)) audit.strayRows.push(`seeded task ${id} of tenant ${t.index} is gone or renamed`);
  const known = new Map<number, number>(tenants.map((t) => [t.index, t.seedTaskIds.length]));
  const unknown = new Map<number, number>(tenants.map((t) => [t.index, 0]));
  for (const w of writes.values()) {
    if (w.outcome === "committed") {
      audit.known++;
      known.set(w.tenantIndex, known.get(w.tenantIndex)! + 1);
      if (!seen.has(w.title)) audit.missingCommitted.push(`"${w.title}" (tenant ${w.tenantIndex}) committed but is missing`);
    } else if (w.outcome === "unknown") {
      audit.unknown++;
      unknown.set(w.tenantIndex, unknown.get(w.tenantIndex)! + 1);
    }
  }
  await withClient(ownerUrl, async (c) => {
    for (const t of tenants) {
      await c.query("begin");
      await c.query("select set_config('jwt.claims.tenant_id', $1, true)", [t.id]);
      const { rows: [{ n }] } = await c.query<{ n: number }>("select count(*)::int as n from app_public.tasks");
      await c.query("commit");
      const lo = known.get(t.index)!;
      const hi = lo + unknown.get(t.index)!;
      if (n < lo || n > hi) audit.countMismatches.push(`tenant ${t.index}: ${n} tasks, expected ${lo === hi ? lo : `${lo} to ${hi}`}`);
      if (n !== (actual.get(t.id) ?? 0)) audit.countMismatches.push(`tenant ${t.index}: the owner counts ${n}, the superuser ${actual.get(t.id) ?? 0}`);
      audit.tenantsChecked++;
    }
  });
  return audit;
}
