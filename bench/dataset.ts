// Loads a data set of the benchmark's own, fast: as the superuser (who
// bypasses RLS), with insert … select … from generate_series. Per tenant:
// USERS_PER_TENANT users (the first an admin) and PROJECTS_PER_TENANT
// projects; `rows` tasks spread evenly over the tenants, with random
// created_at over a year. Every user has one live session
// (app_private.sessions: the session_id claim the API checks on every
// request). A few users get passwords (through app_private.create_user,
// bcrypt cost 10) for the login benchmark.
// public.bench_members (n → a member, their tenant and session) is the
// lookup table pgbench picks a random tenant from.
import { withClient } from "../db/setup.ts";
import { ROLES } from "../common/roles.ts";
import type { Scale } from "./options.ts";

export const USERS_PER_TENANT = 5;
export const PROJECTS_PER_TENANT = 5;
export const LOGIN_PASSWORD = "bench-password";
const LOGIN_USERS = 4;

export interface Member {
  tenantId: string;
  userId: string;
  /** A live session of the member (app_private.sessions), for the session_id claim. */
  sessionId: string;
}

export interface LoginUser {
  tenantSlug: string;
  email: string;
  password: string;
}

export interface Dataset {
  scale: Scale;
  seconds: number;
  /** Up to `sample` members, of as many different tenants as possible, for tokens. */
  members: Member[];
  loginUsers: LoginUser[];
}

/** Statements run in order; :T, :R, :U, :P are replaced by integers. */
const LOAD_SQL = `
  -- Rows are consistent by construction: skip foreign-key checks and the
  -- protect-columns triggers while loading.
  set session_replication_role = replica;
  set synchronous_commit = off;
  set maintenance_work_mem = '256MB';
  create temp table bt as select n, gen_random_uuid() as id from generate_series(1, :T) n;
  alter table bt add primary key (n);
  insert into app_public.tenants (id, slug, name, created_at)
    select id, 'bench-' || n, 'Bench tenant ' || n, now() - interval '2 years' from bt;
  create temp table bu as
    select bt.n, k, gen_random_uuid() as id from bt, generate_series(1, :U) k;
  alter table bu add primary key (n, k);
  insert into app_public.users (tenant_id, id, email, name, role)
    select bt.id, bu.id, 'user' || bu.k || '@bench-' || bt.n || '.test', 'User ' || bu.k,
      (case when bu.k = 1 then 'admin' else 'member' end)::app_public.user_role
    from bu join bt using (n);
  create temp table bp as
    select bt.n, k, gen_random_uuid() as id from bt, generate_series(0, :P - 1) k;
  alter table bp add primary key (n, k);
  insert into app_public.projects (tenant_id, id, name, description, created_at)
    select bt.id, bp.id, 'Project ' || bp.k, 'Benchmark project', now() - interval '1 year'
    from bp join bt using (n);
  insert into app_public.tasks (tenant_id, project_id, title, status, assignee_id, due_date, created_at, updated_at)
    select bt.id, bp.id, 'Task ' || g,
      (array['todo', 'in_progress', 'done'])[1 + g % 3]::app_public.task_status,
      case when g % 2 = 0 then bu.id end,
      case when g % 4 = 0 then current_date + (g % 60) end,
      c.at, c.at
    from generate_series(0, :R - 1) g
    join bt on bt.n = 1 + g % :T
    join bp on bp.n = bt.n and bp.k = (g / :T) % :P
    join bu on bu.n = bt.n and bu.k = 1 + (g / :T) % :U
    cross join lateral (select now() - random() * interval '365 days' as at) c;
  -- One live session per user (as the superuser, who bypasses the sessions'
  -- RLS policy): what a login would have made.
  insert into app_private.sessions (tenant_id, user_id, created_at, refreshed_at)
    select bt.id, bu.id, now() - interval '1 hour', now() - interval '1 hour' from bu join bt using (n);
  create table public.bench_members as
    select bt.n, bt.id as tenant_id, bu.id as user_id, s.id as session_id
    from bt join bu on bu.n = bt.n and bu.k = 2
    join app_private.sessions s on s.tenant_id = bt.id and s.user_id = bu.id;
  alter table public.bench_members add primary key (n);
  grant select on public.bench_members to ${ROLES.authenticator};
  set session_replication_role = origin;
`;

function statements(sql: string, values: Record<string, number>): string[] {
  const filled = sql.replace(/:([TRUP])\b/g, (_, k: string) => String(values[k]));
  return filled
    .split(/;\s*\n/)
    .map((s) => s.replace(/^\s*--.*$/gm, "").trim())
    .filter(Boolean);
}

export async function loadDataset(superuserUrl: string, scale: Scale, sample: number): Promise<Dataset> {
  const started = performance.now();
  return withClient(superuserUrl, async (client) => {
    const values = { T: scale.tenants, R: scale.rows, U: USERS_PER_TENANT, P: PROJECTS_PER_TENANT };
    for (const statement of statements(LOAD_SQL, values)) await client.query(statement);

    const loginUsers: LoginUser[] = [];
    for (let n = 1; n <= Math.min(LOGIN_USERS, scale.tenants); n++) {
      const email = `login@bench-${n}.test`;
      await client.query(
        "select app_private.create_user(id, $1, 'Login user', 'member', $2) from app_public.tenants where slug = $3",
        [email, LOGIN_PASSWORD, `bench-${n}`],
      );
      loginUsers.push({ tenantSlug: `bench-${n}`, email, password: LOGIN_PASSWORD });
    }
    await client.query("vacuum analyze");

    // Members of as many different tenants as possible: one per tenant first, then a second, …
    // Each with its live session (one per user, made above).
    const { rows } = await client.query<{ tenant_id: string; user_id: string; session_id: string }>(
      `select tenant_id, user_id, session_id from (
         select u.tenant_id, u.id as user_id, s.id as session_id, t.r,
           row_number() over (partition by u.tenant_id order by random()) as nth
         from (select tenant_id, random() as r from bench_members order by r limit $1) t
         join app_public.users u on u.tenant_id = t.tenant_id and u.role = 'member'
         join app_private.sessions s on s.tenant_id = u.tenant_id and s.user_id = u.id and s.revoked_at is null
       ) m order by nth, r limit $1`,
      [sample],
    );
    const members = rows.map((r) => ({ tenantId: r.tenant_id, userId: r.user_id, sessionId: r.session_id }));
    return { scale, seconds: (performance.now() - started) / 1000, members, loginUsers };
  });
}
