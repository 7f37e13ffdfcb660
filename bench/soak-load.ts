// The soak's mixed load (bench/soak.ts): for each kind of request a few
// keep-alive connections (node:http), each sending its next request when its
// kind's pace allows (a fixed rate per kind; a kind that fell behind catches
// up at most 1 s of backlog, so the rate stays bounded), until the deadline.
// Every answer is checked (bench/soak-requests.ts); successes, failures and
// latencies are counted per kind, in total and per sampling interval.
import { Agent, request } from "node:http";
import type { SoakKind } from "./options.ts";
import { checkCreateTask, checkExport, checkList, checkLogin, checkRefresh, checkUpdateTask, SOAK_DOCUMENTS, TASK_STATUSES, taskNodeId } from "./soak-requests.ts";
import type { LoginUser } from "./dataset.ts";

const TIMEOUT_MS = 10_000;
/** An export may take longer than a GraphQL answer. */
const EXPORT_TIMEOUT_MS = 60_000;
/** Failure messages kept per kind for the report. */
const KEEP_MESSAGES = 5;
/** Tasks remembered per tenant for updates (the created ones join the list). */
const TASKS_PER_TARGET = 50;
/** Share of writes that update an existing task (the rest create one). */
const UPDATE_SHARE = 0.8;

export interface KindStats {
  ok: number;
  failed: number;
  /** Of answered, correct requests (ms). */
  latencies: number[];
  messages: string[];
  /** Since the last sample. */
  interval: { ok: number; failed: number };
}

export type LoadStats = Record<SoakKind, KindStats>;

export function emptyStats(): LoadStats {
  const empty = (): KindStats => ({ ok: 0, failed: 0, latencies: [], messages: [], interval: { ok: 0, failed: 0 } });
  return { list: empty(), write: empty(), login: empty(), refresh: empty(), export: empty() };
}

/** A tenant the writes and exports go to: a member's and the admin's token, a project, some tasks. */
export interface Target {
  tenantId: string;
  memberToken: string;
  adminToken: string;
  projectId: string;
  taskIds: string[];
}

export interface LoadPlan {
  url: string;
  /** performance.now() past which no request is started; may be moved earlier (the server died). */
  deadline: { at: number };
  rates: Record<SoakKind, number>;
  connections: Record<SoakKind, number>;
  /** Member tokens for the list (many tenants). */
  listTokens: string[];
  targets: Target[];
  loginUsers: LoginUser[];
  /** One chain per refresh connection; updated in place. */
  refreshTokens: string[];
  /** A fresh refresh token for chain i, after a failure broke it. */
  replaceRefreshToken: (chain: number) => Promise<string>;
  /** Which kinds run (the baseline serves only the list). */
  kinds: readonly SoakKind[];
}

interface Answer {
  status: number;
  body: string;
}

function send(agent: Agent, url: URL, body: string, token?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
    if (token) headers.authorization = `Bearer ${token}`;
    const req = request(url, { agent, method: "POST", headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on("error", reject);
    });
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** GET /export, read to its end without keeping it: lines, the first and the last. */
function download(agent: Agent, url: URL, token: string) {
  return new Promise<{ status: number; contentType: string; firstLine: string; lastLine: string; lines: number }>((resolve, reject) => {
    const req = request(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let lines = 0;
      let head = "";
      let tail = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        if (!head.includes("\n")) head += chunk;
        for (let i = chunk.indexOf("\n"); i !== -1; i = chunk.indexOf("\n", i + 1)) lines++;
        // The last complete line lies in what came after the newline before the last one.
        tail = (tail + chunk).slice(-1 << 16);
      });
      res.on("end", () => {
        const complete = tail.endsWith("\n") ? tail.slice(0, -1) : tail;
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers["content-type"] ?? ""),
          firstLine: head.split("\n")[0],
          lastLine: complete.slice(complete.lastIndexOf("\n") + 1),
          lines,
        });
      });
      res.on("error", reject);
    });
    req.setTimeout(EXPORT_TIMEOUT_MS, () => req.destroy(new Error(`no export within ${EXPORT_TIMEOUT_MS} ms`)));
    req.on("error", reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pick = <T>(list: T[]): T => list[Math.floor(Math.random() * list.length)];

/** A kind's pace: one slot every 1000/rate ms, shared by its connections; at most 1 s of backlog is caught up. */
class Pace {
  private next = performance.now();
  private readonly intervalMs: number;
  constructor(rate: number) {
    this.intervalMs = 1000 / rate;
  }
  /** Waits for the next slot; false once the slot lies past the deadline. */
  async slot(deadline: { at: number }): Promise<boolean> {
    const now = performance.now();
    const at = Math.max(this.next, now - 1000);
    this.next = at + this.intervalMs;
    if (at >= deadline.at) return false;
    if (at > now) await sleep(at - now);
    return performance.now() < deadline.at;
  }
}

/** One request of a kind: undefined when the answer was right, else why not. */
type Once = (connection: number) => Promise<string | undefined>;

function requests(plan: LoadPlan, agent: Agent): Record<SoakKind, Once> {
  const graphql = new URL(`${plan.url}/graphql`);
  const exportUrl = new URL(`${plan.url}/export`);
  const seen = new Set<string>(plan.refreshTokens);
  let n = 0;
  return {
    async list() {
      const a = await send(agent, graphql, JSON.stringify({ query: SOAK_DOCUMENTS.list }), pick(plan.listTokens));
      return checkList(a.status, a.body);
    },
    // A member or the admin of a target tenant: mostly updates of one of its tasks, else a new task.
    async write() {
      const t = pick(plan.targets);
      const token = Math.random() < 0.5 ? t.memberToken : t.adminToken;
      const title = `Soak ${++n}`;
      if (t.taskIds.length && Math.random() < UPDATE_SHARE) {
        const sent = { rowId: pick(t.taskIds), title, status: TASK_STATUSES[n % TASK_STATUSES.length] };
        const a = await send(agent, graphql, JSON.stringify({ query: SOAK_DOCUMENTS.updateTask, variables: { id: taskNodeId(t.tenantId, sent.rowId), title: sent.title, status: sent.status } }), token);
        return checkUpdateTask(a.status, a.body, sent);
      }
      const a = await send(agent, graphql, JSON.stringify({ query: SOAK_DOCUMENTS.createTask, variables: { projectId: t.projectId, title } }), token);
      const created = checkCreateTask(a.status, a.body, title);
      if (typeof created === "string") return created;
      if (t.taskIds.length < TASKS_PER_TARGET) t.taskIds.push(created.rowId);
      else t.taskIds[Math.floor(Math.random() * TASKS_PER_TARGET)] = created.rowId;
      return undefined;
    },
    async login() {
      const u = plan.loginUsers[n++ % plan.loginUsers.length];
      const variables = { slug: u.tenantSlug, email: u.email, password: u.password };
      const a = await send(agent, graphql, JSON.stringify({ query: SOAK_DOCUMENTS.login, variables }));
      return checkLogin(a.status, a.body);
    },
    // Chain `connection`: each refresh sends the token the previous one returned.
    async refresh(chain) {
      const sent = plan.refreshTokens[chain];
      let why: string | undefined;
      try {
        const a = await send(agent, graphql, JSON.stringify({ query: SOAK_DOCUMENTS.refresh, variables: { refreshToken: sent } }));
        const parsed = checkRefresh(sent, a.status, a.body, seen);
        if (typeof parsed !== "string") {
          seen.add(parsed.refresh);
          plan.refreshTokens[chain] = parsed.refresh;
          return undefined;
        }
        why = parsed;
      } catch (error) {
        why = `request failed: ${(error as Error).message}`;
      }
      plan.refreshTokens[chain] = await plan.replaceRefreshToken(chain);
      seen.add(plan.refreshTokens[chain]);
      return why;
    },
    async export() {
      const t = plan.targets[n++ % plan.targets.length];
      return checkExport(await download(agent, exportUrl, t.adminToken));
    },
  };
}

/** Runs every kind of the plan until its deadline; counts into `stats`. */
export async function runMixedLoad(plan: LoadPlan, stats: LoadStats): Promise<void> {
  const agents = plan.kinds.map((kind) => new Agent({ keepAlive: true, maxSockets: plan.connections[kind] }));
  try {
    await Promise.all(
      plan.kinds.map(async (kind, k) => {
        const once = requests(plan, agents[k])[kind];
        const pace = new Pace(plan.rates[kind]);
        const s = stats[kind];
        const connection = async (c: number) => {
          while (await pace.slot(plan.deadline)) {
            const t0 = performance.now();
            let why: string | undefined;
            try {
              why = await once(c);
            } catch (error) {
              why = `request failed: ${(error as Error).message}`;
            }
            if (why === undefined) {
              s.ok++;
              s.interval.ok++;
              s.latencies.push(performance.now() - t0);
            } else {
              s.failed++;
              s.interval.failed++;
              if (s.messages.length < KEEP_MESSAGES) s.messages.push(why);
            }
          }
        };
        await Promise.all(Array.from({ length: plan.connections[kind] }, (_, c) => connection(c)));
      }),
    );
  } finally {
    for (const a of agents) a.destroy();
  }
}
