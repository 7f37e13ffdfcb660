// Noisy-neighbour attacks: what one hostile tenant (a real tenant admin) can
// send to degrade the others, a victim tenant's steady load, and the runner
// that measures the victim alone and then under each attack. Shared by
// tests/noisy-neighbour.test.ts (API in-process) and bench/noisy-neighbour.ts
// (API in a child process).
//
// Every attack runs for a bounded time with a bounded number of clients (4;
// the flood 32), counts every answer by HTTP status and error code, and
// never waits on the server past its deadline plus a short grace: whatever
// is still in flight then is cut off by the client.
//
// This module imports only Node's built-ins, so that it can also be the
// entry of the child process each attack runs in (startAttack): the
// attacker's own client-side work (reading, discarding megabytes) then does
// not sit on the victim's event loop, and its memory is not counted as the
// server's. It still shares the machine's cores with the server, the
// database and the victim; its CPU time is reported (clientCpuMs). The
// database probes (memory, idle-in-transaction backends) come from the caller.
import { randomBytes } from "node:crypto";
import { Agent, request, type IncomingMessage } from "node:http";
import { fileURLToPath } from "node:url";
import { fork } from "node:child_process";

// ---------------------------------------------------------------------------
// Contexts and results
// ---------------------------------------------------------------------------

export interface AttackContext {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The attacker tenant's admin access token. */
  token: string;
  tenantSlug: string;
  /** A project of the attacker's tenant (malformed writes name it). */
  projectId?: string;
  /** Concurrent attacker clients (default 4; the flood's own default is 32). */
  clients?: number;
  floodClients?: number;
  /** How long a stalled export is held unread before the client looks whether the server cut it off (ms). */
  exportHoldMs?: number;
  /** Page size of the wide aliased list (comments with 10,000-character bodies), see hugeNested. */
  widePage?: number;
  /** Depth of the nested relation filters. */
  filterDepth?: number;
}

export interface VictimContext {
  url: string;
  /** The victim tenant's admin access token. */
  token: string;
  /** A project of the victim's tenant, for its small writes. */
  projectId: string;
  /** Sequential clients (default 2). */
  clients?: number;
  /** Pause of each client between its requests (ms, default 10). */
  pauseMs?: number;
  /** Every n-th request of a client is a write (default 10). */
  writeEvery?: number;
}

export interface AttackStats {
  attack: string;
  clients: number;
  /** Requests (or connections, for the export attacks) started. */
  requests: number;
  /** Answers by `<status> <codes>` (codes sorted, joined by +; `ok` when none), and `net <error>` for no answer. */
  responses: Record<string, number>;
  /** The same, per variant of the attack. */
  byVariant: Record<string, Record<string, number>>;
  bytesReceived: number;
  /** Error answers (HTTP status ≥ 400, or GraphQL errors) without a stable code. */
  uncoded: number;
  /** HTTP 5xx answers and INTERNAL codes. */
  serverErrors: number;
  /** Requests still in flight at the deadline (plus grace), cut off by the client. */
  cutAtEnd: number;
  elapsedMs: number;
  /** CPU time the attacker's own process spent (user + system), ms: load that a real attacker would put on its own machine. */
  clientCpuMs?: number;
  /** The start of the first body of each answer key that lacked a code or was a server error. */
  examples: Record<string, string>;
}

export interface VictimError {
  at: number;
  kind: "read" | "write";
  status: number;
  detail: string;
}

export interface VictimStats {
  requests: number;
  reads: number;
  writes: number;
  latenciesMs: number[];
  errorCount: number;
  /** The first few errors, in full. */
  errors: VictimError[];
  elapsedMs: number;
}

export type AttackFn = (ctx: AttackContext, deadline: number, signal?: AbortSignal) => Promise<AttackStats>;

// ---------------------------------------------------------------------------
// HTTP, bounded
// ---------------------------------------------------------------------------

interface Answer {
  status: number;
  codes: string[];
  /** The answer's error list had an error without a code (or the error answer was not JSON). */
  uncoded: boolean;
  bytes: number;
  /** For small JSON answers. */
  json?: any;
  netError?: string;
  retryAfter?: string | null;
  /** The start of the body. */
  snippet: string;
}

const KEEP_HEAD = 64 * 1024;
const KEEP_TAIL = 16 * 1024;
const CODE_IN_JSON = /"code":"([A-Za-z0-9_]+)"/g;

/** Reads a response, keeping only its head and tail (big answers are counted, not kept). */
function readAnswer(res: IncomingMessage): Promise<Answer> {
  return new Promise((resolve) => {
    let head = "";
    let tail = "";
    let bytes = 0;
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      bytes += Buffer.byteLength(chunk);
      if (head.length < KEEP_HEAD) head += chunk.slice(0, KEEP_HEAD - head.length);
      else tail = (tail + chunk).slice(-KEEP_TAIL);
    });
    const done = (netError?: string) => {
      const status = res.statusCode ?? 0;
      const answer: Answer = { status, codes: [], uncoded: false, bytes, retryAfter: res.headers["retry-after"] as string | undefined, snippet: head.slice(0, 200) };
      if (netError) answer.netError = netError;
      if (bytes <= KEEP_HEAD) {
        try {
          answer.json = JSON.parse(head);
        } catch {
          /* not JSON */
        }
      }
      if (answer.json && typeof answer.json === "object") {
        const errors = Array.isArray(answer.json.errors) ? answer.json.errors : [];
        for (const e of errors) {
          const code = e?.extensions?.code;
          if (typeof code === "string") answer.codes.push(code);
          else answer.uncoded = true;
        }
        if (status >= 400 && errors.length === 0) answer.uncoded = true;
      } else {
        // Too big to parse, or not JSON: the codes that appear in what was kept.
        for (const m of (head + tail).matchAll(CODE_IN_JSON)) answer.codes.push(m[1]);
        if (status >= 400 && answer.codes.length === 0) answer.uncoded = true;
      }
      resolve(answer);
    };
    res.on("end", () => done());
    res.on("error", (e) => done(`response ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    res.on("aborted", () => done("response aborted"));
  });
}

interface SendOptions {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  agent?: Agent | false;
  /** Client-side bound on the whole exchange. */
  timeoutMs: number;
  signal?: AbortSignal;
}

function send(url: string, options: SendOptions): Promise<Answer> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (a: Answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      resolve(a);
    };
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.body !== undefined) headers["content-length"] = Buffer.byteLength(options.body);
    const req = request(`${url}${options.path}`, { method: options.method ?? "POST", headers, agent: options.agent });
    const fail = (why: string) => finish({ status: 0, codes: [], uncoded: false, bytes: 0, netError: why, snippet: "" });
    const timer = setTimeout(() => {
      fail("client timeout");
      req.destroy();
    }, options.timeoutMs);
    const onAbort = () => {
      fail("cut at end");
      req.destroy();
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    req.on("response", (res) => void readAnswer(res).then(finish));
    req.on("error", (e) => fail((e as NodeJS.ErrnoException).code ?? e.message));
    req.end(options.body);
  });
}

function graphqlBody(query: string, variables?: Record<string, unknown>) {
  return JSON.stringify(variables ? { query, variables } : { query });
}

function authHeaders(token: string | undefined, contentType = "application/json"): Record<string, string> {
  const h: Record<string, string> = {};
  if (contentType) h["content-type"] = contentType;
  if (token) h.authorization = `Bearer ${token}`;
  return h;
}

// ---------------------------------------------------------------------------
// Counting
// ---------------------------------------------------------------------------

function newStats(attack: string, clients: number): AttackStats {
  return { attack, clients, requests: 0, responses: {}, byVariant: {}, bytesReceived: 0, uncoded: 0, serverErrors: 0, cutAtEnd: 0, elapsedMs: 0, examples: {} };
}

function keyOf(a: Answer): string {
  if (a.status === 0) return `net ${a.netError ?? "error"}`;
  const codes = [...new Set(a.codes)].sort();
  return `${a.status} ${codes.length ? codes.join("+") : a.uncoded ? "NO_CODE" : "ok"}${a.netError ? ` (${a.netError})` : ""}`;
}

function count(stats: AttackStats, variant: string, key: string, answer?: Answer) {
  stats.responses[key] = (stats.responses[key] ?? 0) + 1;
  const v = (stats.byVariant[variant] ??= {});
  v[key] = (v[key] ?? 0) + 1;
  if (!answer) return;
  stats.bytesReceived += answer.bytes;
  if (answer.netError === "cut at end") stats.cutAtEnd++;
  const serverError = answer.status >= 500 || answer.codes.includes("INTERNAL");
  if (answer.uncoded) stats.uncoded++;
  if (serverError) stats.serverErrors++;
  if ((answer.uncoded || serverError) && !(`${variant}: ${key}` in stats.examples)) stats.examples[`${variant}: ${key}`] = answer.snippet;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

/** Grace after the deadline for answers already on their way; then the client cuts what is left. */
const GRACE_MS = 1500;

/**
 * Runs `clients` loops until the deadline; each iteration is one request.
 * An abort signal that fires GRACE_MS after the deadline (or from outside)
 * cuts whatever is still in flight.
 */
async function runClients(
  name: string,
  clients: number,
  deadline: number,
  outer: AbortSignal | undefined,
  iteration: (ctx: { client: number; n: number; stats: AttackStats; signal: AbortSignal; agent: Agent }) => Promise<void>,
): Promise<AttackStats> {
  const stats = newStats(name, clients);
  const started = Date.now();
  const controller = new AbortController();
  const cut = () => controller.abort();
  outer?.addEventListener("abort", cut, { once: true });
  const cutTimer = setTimeout(cut, Math.max(0, deadline - Date.now()) + GRACE_MS);
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const stop = () => Date.now() >= deadline || controller.signal.aborted;
  try {
    await Promise.all(
      Array.from({ length: clients }, async (_, client) => {
        for (let n = 0; !stop(); n++) {
          stats.requests++;
          try {
            await iteration({ client, n, stats, signal: controller.signal, agent });
          } catch (error) {
            count(stats, "harness", `harness error ${(error as Error).message.slice(0, 80)}`);
            await sleep(50, controller.signal);
          }
        }
      }),
    );
  } finally {
    clearTimeout(cutTimer);
    outer?.removeEventListener("abort", cut);
    agent.destroy();
  }
  stats.elapsedMs = Date.now() - started;
  return stats;
}

// ---------------------------------------------------------------------------
// 1, 2: exports
// ---------------------------------------------------------------------------

/** GET /export, then the socket is destroyed after the first chunk of data; again and again. */
export const abortedExports: AttackFn = (ctx, deadline, signal) =>
  runClients("aborted exports", ctx.clients ?? 4, deadline, signal, async ({ stats, signal }) => {
    const outcome = await new Promise<{ key: string; answer?: Answer }>((resolve) => {
      const req = request(`${ctx.url}/export`, { headers: authHeaders(ctx.token, ""), agent: false });
      const timer = setTimeout(() => {
        req.destroy();
        resolve({ key: "net no first chunk within 10 s" });
      }, 10_000);
      const onAbort = () => {
        req.destroy();
        resolve({ key: "net cut at end" });
      };
      signal.addEventListener("abort", onAbort, { once: true });
      const finish = (r: { key: string; answer?: Answer }) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        resolve(r);
      };
      req.on("error", (e) => finish({ key: `net ${(e as NodeJS.ErrnoException).code ?? e.message}` }));
      req.on("response", (res) => {
        if (res.statusCode !== 200) return void readAnswer(res).then((a) => finish({ key: keyOf(a), answer: a }));
        res.once("data", (chunk: Buffer) => {
          stats.bytesReceived += chunk.length;
          req.destroy();
          finish({ key: "200 aborted after the first chunk" });
        });
        res.on("end", () => finish({ key: "200 ended without data" }));
        res.on("error", () => {});
      });
      req.end();
    });
    count(stats, "export", outcome.key, outcome.answer);
    if (outcome.answer?.status === 429) await sleep(20, signal);
  });

/**
 * GET /export, read the headers, then read nothing (the socket fills and the
 * server must block or give up). After `exportHoldMs` (default 4 s) the
 * client reads again for a moment: a stream the server ended early (no
 * `end` line) was cut off by the server, as it should be; one that still
 * flows, or completes, was not.
 */
export const stalledExports: AttackFn = (ctx, deadline, signal) => {
  const holdMs = ctx.exportHoldMs ?? 4000;
  return runClients("stalled exports", ctx.clients ?? 4, deadline, signal, async ({ stats, signal }) => {
    const outcome = await new Promise<{ key: string; answer?: Answer }>((resolve) => {
      const req = request(`${ctx.url}/export`, { headers: authHeaders(ctx.token, ""), agent: false });
      let settled = false;
      const timers: NodeJS.Timeout[] = [];
      const finish = (r: { key: string; answer?: Answer }) => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        signal.removeEventListener("abort", onAbort);
        req.destroy();
        resolve(r);
      };
      const onAbort = () => finish({ key: "net cut at end" });
      signal.addEventListener("abort", onAbort, { once: true });
      timers.push(setTimeout(() => finish({ key: "net no answer within 10 s" }), 10_000));
      req.on("error", (e) => finish({ key: `net ${(e as NodeJS.ErrnoException).code ?? e.message}` }));
      req.on("response", (res) => {
        clearTimeout(timers[0]);
        if (res.statusCode !== 200) return void readAnswer(res).then((a) => finish({ key: keyOf(a), answer: a }));
        res.pause();
        let tail = "";
        let ended = false;
        const hold = Math.min(holdMs, deadline - Date.now());
        if (hold < holdMs) {
          // Not a full hold before the deadline: keep it stalled to the end.
          timers.push(setTimeout(() => finish({ key: "200 held unread until the end" }), Math.max(0, hold)));
          return;
        }
        timers.push(
          setTimeout(() => {
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => {
              stats.bytesReceived += Buffer.byteLength(chunk);
              tail = (tail + chunk).slice(-300);
            });
            res.on("end", () => {
              ended = true;
              finish({ key: /"type":"end"/.test(tail) ? "200 stalled, then completed (not cut off)" : "200 stalled, cut off by the server" });
            });
            const cutOff = () => finish({ key: "200 stalled, cut off by the server" });
            res.on("aborted", cutOff);
            res.on("error", cutOff);
            res.on("close", () => !ended && cutOff());
            res.resume();
            timers.push(setTimeout(() => finish({ key: "200 stalled, still streaming (not cut off)" }), 1500));
          }, hold),
        );
      });
      req.end();
    });
    count(stats, "export", outcome.key, outcome.answer);
    if (outcome.answer) await sleep(outcome.answer.status === 429 ? 250 : 50, signal);
  });
};

// ---------------------------------------------------------------------------
// GraphQL attacks: each client cycles through the variants
// ---------------------------------------------------------------------------

interface Variant {
  name: string;
  /** A new document (and variables) per request, so that no plan cache helps. */
  make(n: number): { body: string | Buffer; contentType?: string; token?: string | null; path?: string; method?: string };
}

function graphqlAttack(name: string, variants: Variant[], clients: number, ctx: AttackContext, deadline: number, signal?: AbortSignal, pauseMs = 0) {
  return runClients(name, clients, deadline, signal, async ({ client, n, stats, signal, agent }) => {
    const variant = variants[(client + n) % variants.length];
    const r = variant.make(n);
    const token = r.token === null ? undefined : (r.token ?? ctx.token);
    const answer = await send(ctx.url, {
      method: r.method ?? "POST",
      path: r.path ?? "/graphql",
      headers: authHeaders(token, r.contentType ?? "application/json"),
      body: r.method === "GET" ? undefined : r.body,
      agent,
      timeoutMs: 30_000,
      signal,
    });
    count(stats, variant.name, keyOf(answer), answer);
    // No answer (the server is gone): do not spin.
    if (pauseMs || answer.status === 0) await sleep(Math.max(pauseMs, answer.status === 0 ? 20 : 0), signal);
  });
}

const gql = (query: string, variables?: Record<string, unknown>) => ({ body: graphqlBody(query, variables) });
const tag = () => randomBytes(4).toString("hex");

/** 3: nested connections whose product is huge, and aliased large lists. */
export const hugeNested: AttackFn = (ctx, deadline, signal) => {
  const wide = ctx.widePage ?? 100;
  const aliases = (n: number, field: string) => Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(" ");
  const variants: Variant[] = [
    {
      name: "nested first: 1000 ×3",
      make: () => gql(`query N${tag()} { projects(first: 1000) { nodes { tasks(first: 1000) { nodes { project { tasks(first: 1000) { nodes { title } } } } } } } }`),
    },
    {
      name: "nested without first",
      make: () => gql(`query N${tag()} { projects { nodes { tasks { nodes { project { tasks { nodes { title } } } } } } } }`),
    },
    {
      name: "tasks × comments bodies",
      make: () => gql(`query N${tag()} { tasks(first: 1000) { nodes { comments(first: 1000) { nodes { body } } } } }`),
    },
    {
      name: "20 aliases of tasks(first: 1000)",
      make: () => gql(`query A${tag()} { ${aliases(20, "tasks(first: 1000) { nodes { rowId title status createdAt project { name } } }")} }`),
    },
    {
      name: `20 aliases of comments(first: ${wide}) bodies`,
      make: () => gql(`query W${tag()} { ${aliases(20, `comments(first: ${wide}) { nodes { body } }`)} }`),
    },
    {
      name: "30 aliases (over the root-field limit)",
      make: () => gql(`query R${tag()} { ${aliases(30, "tasks(first: 1000) { nodes { title } }")} }`),
    },
  ];
  return graphqlAttack("huge nested connections", variants, ctx.clients ?? 4, ctx, deadline, signal);
};

/** A TaskFilter body nested `depth` times through project → tasks {some|every|none}, wrapped in and/or/not. */
export function deepRelationFilter(depth: number, leaf: string): string {
  let inner = leaf;
  for (let i = 0; i < depth; i++) {
    const quantifier = ["some", "every", "none"][i % 3];
    let f = `project: {tasks: {${quantifier}: {${inner}}}}`;
    if (i % 4 === 1) f = `and: [{${f}}, {status: {notEqualTo: DONE}}]`;
    else if (i % 4 === 2) f = `or: [{${f}}, {title: {startsWith: "z"}}]`;
    else if (i % 4 === 3) f = `not: {${f}}`;
    inner = f;
  }
  return inner;
}

/** 4: deep and wide filters (relation filters, and/or/not), a few kB each. */
export const deepFilters: AttackFn = (ctx, deadline, signal) => {
  const depth = ctx.filterDepth ?? 40;
  const variants: Variant[] = [
    {
      name: `relation chain ×${depth}`,
      make: () => gql(`{ tasks(first: 20, filter: {${deepRelationFilter(depth, `title: {includesInsensitive: "${tag()}"}`)}}) { nodes { rowId } } }`),
    },
    {
      name: "comments ↔ task chain",
      make: () => {
        let f = `title: {includesInsensitive: "${tag()}"}`;
        for (let i = 0; i < depth; i++) f = `comments: {${["some", "every", "none"][i % 3]}: {task: {${f}}}}`;
        return gql(`{ tasks(first: 20, filter: {${f}}) { nodes { rowId } } }`);
      },
    },
    {
      name: "or of 400 conditions",
      make: () => {
        const t = tag();
        const ors = Array.from({ length: 400 }, (_, i) => `{title: {includesInsensitive: "${t}${i}"}}`).join(", ");
        return gql(`{ tasks(first: 20, filter: {or: [${ors}]}) { nodes { rowId } } }`);
      },
    },
    {
      name: "not ×300",
      make: () => gql(`{ tasks(first: 20, filter: {${"not: {".repeat(300)}title: {equalTo: "${tag()}"}${"}".repeat(300)}}) { nodes { rowId } } }`),
    },
    {
      name: "and ×200 of relation filters",
      make: () => {
        const t = tag();
        const ands = Array.from({ length: 200 }, (_, i) => `{project: {tasks: {some: {title: {includesInsensitive: "${t}${i}"}}}}}`).join(", ");
        return gql(`{ tasks(first: 20, filter: {and: [${ands}]}) { nodes { rowId } } }`);
      },
    },
  ];
  return graphqlAttack("deep relation filters", variants, ctx.clients ?? 4, ctx, deadline, signal);
};

/** 5: fragment-spread batches of login (wrong passwords) and createTenant, which alias limits and rate limits must see through. */
export const fragmentBatches: AttackFn = (ctx, deadline, signal) => {
  const login = (i: number) =>
    `l${i}: login(input: {tenantSlug: "${ctx.tenantSlug}", email: "guess${i}.${tag()}@${ctx.tenantSlug}.test", password: "wrong-password-${tag()}"}) { result { accessToken } }`;
  const signup = (i: number) => {
    const slug = `atk-${tag()}-${i}`;
    return `c${i}: createTenant(input: {name: "Spam ${i}", slug: "${slug}", adminEmail: "a@${slug}.test", adminPassword: "password-${tag()}"}) { result { accessToken } }`;
  };
  const list = (n: number, f: (i: number) => string, from = 0) => Array.from({ length: n }, (_, i) => f(from + i)).join("\n");
  // At most 20 root fields once fragments are expanded (the root-field limit), so that the rate limits must count through fragments;
  // and over it, which the root-field limit must see through fragments.
  const variants: Variant[] = [
    { name: "20 logins in one fragment", make: () => ({ ...gql(`mutation { ...F } fragment F on Mutation { ${list(20, login)} }`), token: null }) },
    {
      name: "20 logins in nested fragments",
      make: () => ({
        ...gql(`mutation { ...F ...G } fragment F on Mutation { ${list(7, login)} ...H } fragment G on Mutation { ${list(7, login, 7)} } fragment H on Mutation { ${list(6, login, 14)} }`),
        token: null,
      }),
    },
    { name: "10 createTenant in one fragment", make: () => ({ ...gql(`mutation { ...F } fragment F on Mutation { ${list(10, signup)} }`), token: null }) },
    { name: "30 logins in one fragment (over the root-field limit)", make: () => ({ ...gql(`mutation { ...F } fragment F on Mutation { ${list(30, login)} }`), token: null }) },
    { name: "21 createTenant in a fragment (over the root-field limit)", make: () => ({ ...gql(`mutation { ...F } fragment F on Mutation { ${list(21, signup)} }`), token: null }) },
    { name: "21 logins as aliases (control)", make: () => ({ ...gql(`mutation { ${list(21, login)} }`), token: null }) },
  ];
  return graphqlAttack("fragment batches", variants, ctx.clients ?? 4, ctx, deadline, signal);
};

/** 6: as many cheap requests as 32 clients can send, ignoring Retry-After. */
export const requestFlood: AttackFn = (ctx, deadline, signal) => {
  const variants: Variant[] = [
    { name: "tasks(first: 1)", make: () => gql("{ tasks(first: 1) { nodes { rowId } } }") },
    { name: "currentUser", make: () => gql("{ currentUser { rowId name } }") },
  ];
  return graphqlAttack("request flood", variants, ctx.floodClients ?? 32, ctx, deadline, signal);
};

/** 7: malformed input of every kind; every answer should be a 4xx (or a GraphQL error) with a code, never a 5xx or INTERNAL. */
export const malformedInput: AttackFn = (ctx, deadline, signal) => {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const list = (args: string) => gql(`{ tasks(${args}) { nodes { rowId } } }`);
  const variants: Variant[] = [
    { name: "after: garbage", make: () => list(`after: "garbage-${tag()}"`) },
    { name: "after: base64 of non-JSON", make: () => list(`after: "${b64("not json " + tag())}"`) },
    { name: "after: base64 of wrong JSON", make: () => list(`after: "${b64(JSON.stringify(["natural", "x", { a: tag() }]))}"`) },
    { name: "before: cursor of other shape", make: () => list(`before: "${b64(JSON.stringify(["primary_key_asc", ["nope", 1, null]]))}", last: 5`) },
    { name: "first: -1", make: () => list("first: -1") },
    { name: "last: -5", make: () => list("last: -5") },
    { name: "offset: -10", make: () => list("offset: -10") },
    { name: "first: 2147483647", make: () => list("first: 2147483647") },
    { name: "first: 99999999999 (not an Int)", make: () => list("first: 99999999999") },
    { name: "offset: 2147483647", make: () => list("offset: 2147483647, first: 1") },
    { name: "last: 1000000", make: () => list("last: 1000000") },
    { name: "first: 1.5", make: () => list("first: 1.5") },
    { name: "first and last", make: () => list("first: 5, last: 5") },
    { name: "variables: first = -3", make: () => gql("query($f: Int) { tasks(first: $f) { nodes { rowId } } }", { f: -3 }) },
    { name: "variables: first = 1e12", make: () => gql("query($f: Int) { tasks(first: $f) { nodes { rowId } } }", { f: 1e12 }) },
    { name: "bad UUID", make: () => list(`condition: {rowId: "x-${tag()}"}`) },
    { name: "bad date", make: () => list(`filter: {dueDate: {equalTo: "2020-13-45"}}`) },
    { name: "unknown enum", make: () => list("orderBy: [NOT_A_COLUMN]") },
    {
      name: "title over the check",
      make: () =>
        gql("mutation($p: UUID!, $t: String!) { createTask(input: {task: {projectId: $p, title: $t}}) { task { rowId } } }", {
          p: ctx.projectId ?? "00000000-0000-0000-0000-000000000000",
          t: "x".repeat(5000),
        }),
    },
    { name: "syntax error", make: () => ({ body: graphqlBody(`{ tasks(first: 1) { nodes { rowId } ${tag()}`) }) },
    { name: "invalid JSON", make: () => ({ body: `{"query": "{ currentUser { rowId } }", ${tag()}` }) },
    { name: "JSON null", make: () => ({ body: "null" }) },
    { name: "JSON batch", make: () => ({ body: JSON.stringify([{ query: "{ currentUser { rowId } }" }, { query: "{ currentUser { rowId } }" }]) }) },
    { name: "query not a string", make: () => ({ body: JSON.stringify({ query: 123, variables: [] }) }) },
    { name: "variables a string", make: () => ({ body: JSON.stringify({ query: "{ currentUser { rowId } }", variables: "nope" }) }) },
    { name: "deeply nested JSON", make: () => ({ body: `{"query": "{ currentUser { rowId } }", "variables": {"x": ${"[".repeat(20000)}${"]".repeat(20000)}}}` }) },
    { name: "body over 100 kB", make: () => ({ body: graphqlBody(`{ currentUser { rowId } } # ${"x".repeat(150_000)}`) }) },
    { name: "invalid UTF-8", make: () => ({ body: Buffer.concat([Buffer.from('{"query": "{ currentUser { rowId } } #'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]) }) },
    { name: "content-type text/plain", make: () => ({ body: graphqlBody("{ currentUser { rowId } }"), contentType: "text/plain" }) },
    { name: "content-type application/xml", make: () => ({ body: "<query>{ currentUser { rowId } }</query>", contentType: "application/xml" }) },
    { name: "content-type multipart", make: () => ({ body: "--x\r\n\r\n{}\r\n--x--", contentType: "multipart/form-data; boundary=x" }) },
    { name: "no content-type", make: () => ({ body: graphqlBody("{ currentUser { rowId } }"), contentType: "" }) },
    { name: "application/graphql", make: () => ({ body: "{ currentUser { rowId } }", contentType: "application/graphql" }) },
    { name: "empty body", make: () => ({ body: "" }) },
    { name: "GET /graphql", make: () => ({ body: "", method: "GET", path: `/graphql?query=${encodeURIComponent("{ currentUser { rowId } }")}` }) },
    { name: "garbage token", make: () => ({ ...gql("{ currentUser { rowId } }"), token: `garbage.${tag()}.x` }) },
    { name: "GET /export, garbage token", make: () => ({ body: "", method: "GET", path: "/export", token: `x.${tag()}.y` }) },
  ];
  return graphqlAttack("malformed input", variants, ctx.clients ?? 4, ctx, deadline, signal);
};

export const ATTACKS = {
  "aborted-exports": abortedExports,
  "stalled-exports": stalledExports,
  "huge-nested": hugeNested,
  "deep-filters": deepFilters,
  "fragment-batches": fragmentBatches,
  flood: requestFlood,
  malformed: malformedInput,
} satisfies Record<string, AttackFn>;
export type AttackName = keyof typeof ATTACKS;
export const ATTACK_NAMES = Object.keys(ATTACKS) as AttackName[];

// ---------------------------------------------------------------------------
// Running an attack in a process of its own
// ---------------------------------------------------------------------------

const CHILD_FLAG = "NOISY_NEIGHBOUR_ATTACK_CHILD";

type ToAttacker = { type: "start"; name: AttackName; ctx: AttackContext; deadline: number };
type FromAttacker = { type: "ready" } | { type: "stats"; stats: AttackStats };

/**
 * Starts an attack and returns once it is running; `done` resolves with its
 * stats. By default in a child process (this file is its entry, run by Node
 * with type stripping), so that the attacker's client-side work and memory
 * are not counted as the server's (the API may run in the caller's
 * process); `separateProcess: false` runs it on the caller's event loop.
 */
export async function startAttack(name: AttackName, ctx: AttackContext, durationMs: number, separateProcess = true): Promise<{ startedAt: number; done: Promise<AttackStats> }> {
  if (!separateProcess) {
    const startedAt = Date.now();
    const cpu0 = process.cpuUsage();
    const done = ATTACKS[name](ctx, startedAt + durationMs).then((stats) => {
      const cpu = process.cpuUsage(cpu0);
      return { ...stats, clientCpuMs: (cpu.user + cpu.system) / 1000 };
    });
    return { startedAt, done };
  }
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, [CHILD_FLAG]: "1" },
    execArgv: [],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const kill = setTimeout(() => child.kill("SIGKILL"), durationMs + 60_000);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the attack process did not start within 20 s")), 20_000);
      child.once("message", (m: FromAttacker) => (clearTimeout(timer), m.type === "ready" ? resolve() : reject(new Error(`attack process said ${JSON.stringify(m)}`))));
      void exited.then((code) => reject(new Error(`the attack process exited (code ${code}) before it started`)));
    });
  } catch (error) {
    clearTimeout(kill);
    child.kill("SIGKILL");
    throw error;
  }
  const startedAt = Date.now();
  const done = new Promise<AttackStats>((resolve, reject) => {
    child.once("message", (m: FromAttacker) => (m.type === "stats" ? resolve(m.stats) : reject(new Error(`attack process said ${JSON.stringify(m)}`))));
    void exited.then((code) => reject(new Error(`the attack process exited (code ${code}) before reporting`)));
  }).finally(() => {
    clearTimeout(kill);
    child.disconnect?.();
  });
  child.send({ type: "start", name, ctx, deadline: startedAt + durationMs } satisfies ToAttacker);
  return { startedAt, done };
}

if (process.env[CHILD_FLAG] === "1" && process.send) {
  process.once("message", async (m: ToAttacker) => {
    const cpu0 = process.cpuUsage();
    const stats = await ATTACKS[m.name](m.ctx, m.deadline);
    const cpu = process.cpuUsage(cpu0);
    process.send!({ type: "stats", stats: { ...stats, clientCpuMs: (cpu.user + cpu.system) / 1000 } } satisfies FromAttacker, () => process.exit(0));
  });
  process.on("disconnect", () => process.exit(0));
  process.send({ type: "ready" } satisfies FromAttacker);
}

// ---------------------------------------------------------------------------
// The victim
// ---------------------------------------------------------------------------

const VICTIM_READ = "query VictimTasks { tasks(first: 20, orderBy: CREATED_AT_DESC) { nodes { rowId title status createdAt } } }";
const VICTIM_WRITE = "mutation VictimWrite($p: UUID!, $t: String!) { createTask(input: {task: {projectId: $p, title: $t}}) { task { rowId } } }";

/** The victim: `clients` sequential clients, ordinary reads and now and then a small write; every latency and every error recorded. */
export async function runVictim(ctx: VictimContext, deadline: number): Promise<VictimStats> {
  const clients = ctx.clients ?? 2;
  const pauseMs = ctx.pauseMs ?? 10;
  const writeEvery = ctx.writeEvery ?? 10;
  const stats: VictimStats = { requests: 0, reads: 0, writes: 0, latenciesMs: [], errorCount: 0, errors: [], elapsedMs: 0 };
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const started = Date.now();
  const error = (e: VictimError) => {
    stats.errorCount++;
    if (stats.errors.length < 10) stats.errors.push(e);
  };
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let n = 1; Date.now() < deadline; n++) {
        const write = n % writeEvery === 0;
        const body = write ? graphqlBody(VICTIM_WRITE, { p: ctx.projectId, t: `victim:${client}:${started}:${n}` }) : graphqlBody(VICTIM_READ);
        const t0 = performance.now();
        const a = await send(ctx.url, { path: "/graphql", headers: authHeaders(ctx.token), body, agent, timeoutMs: 30_000 });
        const ms = performance.now() - t0;
        stats.requests++;
        if (write) stats.writes++;
        else stats.reads++;
        stats.latenciesMs.push(ms);
        const kind = write ? "write" : "read";
        if (a.status !== 200 || a.netError) error({ at: Date.now() - started, kind, status: a.status, detail: a.netError ?? JSON.stringify(a.json ?? a.codes).slice(0, 300) });
        else if (a.codes.length || a.json?.errors) error({ at: Date.now() - started, kind, status: a.status, detail: JSON.stringify(a.json?.errors ?? a.codes).slice(0, 300) });
        else if (write ? typeof a.json?.data?.createTask?.task?.rowId !== "string" : !Array.isArray(a.json?.data?.tasks?.nodes)) {
          error({ at: Date.now() - started, kind, status: a.status, detail: `unexpected answer ${JSON.stringify(a.json).slice(0, 300)}` });
        }
        await sleep(pauseMs);
      }
    }),
  );
  agent.destroy();
  stats.elapsedMs = Date.now() - started;
  return stats;
}

// ---------------------------------------------------------------------------
// The run: the victim alone, then under each attack
// ---------------------------------------------------------------------------

/** The p-th percentile (0..100), nearest rank. NaN when empty. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export interface MemorySample {
  rssMb: number;
  /** V8 heap used right after a full GC, when the probe can force one. */
  heapAfterGcMb?: number;
}

export interface Probe {
  /** The server's memory now. */
  memory(): Promise<MemorySample>;
  /** The API's backends (the authenticator's) idle in a transaction. */
  idleInTransaction(): Promise<number>;
}

export interface NoisyOptions {
  url: string;
  victim: VictimContext;
  attacker: AttackContext;
  attacks: AttackName[];
  /** Duration of each phase (the victim alone, each attack), ms. */
  phaseMs: number;
  /** How long after an attack the health and idle-in-transaction checks run, ms. */
  settleMs: number;
  /** Longest extra wait for the server to recover (up, no idle-in-transaction backend) before the next phase, ms. */
  recoveryMs: number;
  /** The victim's p99 alone is floored at this for the 2× limit (ms). */
  p99FloorMs: number;
  /** Unmeasured victim load before the first phase (JIT warm-up), ms (default 2000). */
  warmupMs?: number;
  /** Starts the server anew when it is down after a phase (and did not come back); returns its URL. Without it, the remaining phases are not run. */
  restart?: () => Promise<string>;
  /** Also measure the victim alone once more after the last attack. */
  aloneAfter: boolean;
  /** Run each attack in a child process (default) rather than on this event loop. */
  attackerProcess: boolean;
  probe: Probe;
  log?: (line: string) => void;
}

export interface PhaseResult {
  phase: string;
  victim: { requests: number; errors: number; p50: number; p99: number; max: number; firstErrors: VictimError[] };
  attack?: AttackStats;
  /** p99 under attack ÷ p99 alone. */
  ratio?: number;
  /** 2 × max(p99 alone, floor). */
  limitMs?: number;
  memory: MemorySample;
  healthz: number;
  readyz: number;
  idleInTransaction: number;
  /** ms after the checks until the server was clean again; -1 = not within recoveryMs; 0 = clean at once. */
  recoveredAfterMs: number;
  /** The server was down after this phase and was started anew for the next one. */
  restarted?: boolean;
  /** Why this phase fails the criteria (empty: passes). */
  failures: string[];
}

async function status(url: string, path: string): Promise<number> {
  const a = await send(url, { method: "GET", path, timeoutMs: 5000, agent: false });
  return a.status;
}

export interface NoisyRun {
  results: PhaseResult[];
  /** Phases not run because the server was down (and did not come back) after an earlier one. */
  notRun: string[];
}

export async function runNoisyNeighbour(options: NoisyOptions): Promise<NoisyRun> {
  const log = options.log ?? (() => {});
  const results: PhaseResult[] = [];
  const notRun: string[] = [];
  let alone: PhaseResult | undefined;
  const phases: (AttackName | "alone" | "alone, after")[] = ["alone", ...options.attacks, ...(options.aloneAfter ? ["alone, after" as const] : [])];
  // The first seconds after a start are slow while the JIT warms up: not the victim's "alone".
  let url = options.url;
  await runVictim({ ...options.victim, url }, Date.now() + (options.warmupMs ?? 2000));
  for (const phase of phases) {
    const last = results.at(-1);
    if (last && last.readyz !== 200 && last.recoveredAfterMs < 0) {
      if (!options.restart) {
        notRun.push(phase);
        continue;
      }
      url = await options.restart();
      last.restarted = true;
      log(`[noisy] the server was down after ${last.phase}: restarted for ${phase} (${url})`);
    }
    let attack: Promise<AttackStats> | undefined;
    let startedAt = Date.now();
    if (phase !== "alone" && phase !== "alone, after") {
      const started = await startAttack(phase, { ...options.attacker, url }, options.phaseMs, options.attackerProcess);
      attack = started.done;
      startedAt = started.startedAt;
    }
    const victim = await runVictim({ ...options.victim, url }, startedAt + options.phaseMs);
    const attackStats = attack ? await attack : undefined;
    const memory = await options.probe.memory();
    await sleep(options.settleMs);
    const [healthz, readyz] = await Promise.all([status(url, "/healthz"), status(url, "/readyz")]);
    const idleInTransaction = await options.probe.idleInTransaction();
    const r: PhaseResult = {
      phase,
      victim: {
        requests: victim.requests,
        errors: victim.errorCount,
        p50: percentile(victim.latenciesMs, 50),
        p99: percentile(victim.latenciesMs, 99),
        max: percentile(victim.latenciesMs, 100),
        firstErrors: victim.errors,
      },
      attack: attackStats,
      memory,
      healthz,
      readyz,
      idleInTransaction,
      recoveredAfterMs: 0,
      failures: [],
    };
    if (phase === "alone") alone = r;
    if (alone && r !== alone) {
      r.ratio = r.victim.p99 / alone.victim.p99;
      r.limitMs = 2 * Math.max(alone.victim.p99, options.p99FloorMs);
    }
    if (r.victim.errors) r.failures.push(`victim errors: ${r.victim.errors}`);
    if (r.limitMs !== undefined && attackStats && !(r.victim.p99 <= r.limitMs)) r.failures.push(`victim p99 ${r.victim.p99.toFixed(1)} ms > ${r.limitMs.toFixed(1)} ms`);
    if (healthz !== 200 || readyz !== 200) r.failures.push(`server not up (healthz ${healthz}, readyz ${readyz})`);
    if (idleInTransaction) r.failures.push(`${idleInTransaction} backend(s) idle in transaction ${options.settleMs / 1000} s after`);
    if (phase === "stalled-exports" && attackStats) {
      const served = Object.entries(attackStats.responses).filter(([k]) => k.includes("not cut off")).reduce((n, [, c]) => n + c, 0);
      if (served) r.failures.push(`${served} stalled export(s) not cut off by the server within ${(options.attacker.exportHoldMs ?? 4000) / 1000} s`);
    }
    if (phase === "malformed" && attackStats && (attackStats.serverErrors || attackStats.uncoded)) {
      r.failures.push(`malformed input: ${attackStats.serverErrors} 5xx/INTERNAL, ${attackStats.uncoded} errors without a code`);
    }
    // Let the server recover before the next phase, so that one attack's leftovers are not charged to the next.
    if (healthz !== 200 || readyz !== 200 || idleInTransaction) {
      const t0 = Date.now();
      r.recoveredAfterMs = -1;
      while (Date.now() - t0 < options.recoveryMs) {
        await sleep(500);
        const up = (await status(url, "/readyz")) === 200;
        if (up && (await options.probe.idleInTransaction()) === 0) {
          r.recoveredAfterMs = Date.now() - t0;
          break;
        }
      }
    }
    results.push(r);
    log(phaseLine(r));
  }
  if (notRun.length) log(`[noisy] not run, the server being down: ${notRun.join(", ")}`);
  return { results, notRun };
}

// ---------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------

const ms = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? "–" : n < 10 ? n.toFixed(2) : n.toFixed(1));

/** Attacker answers, most frequent first. */
export function answersSummary(responses: Record<string, number>, limit = 6): string {
  const entries = Object.entries(responses).sort((a, b) => b[1] - a[1]);
  const shown = entries.slice(0, limit).map(([k, n]) => `${k} ×${n.toLocaleString("en-US")}`);
  if (entries.length > limit) shown.push(`+${entries.length - limit} more`);
  return shown.join("; ");
}

function recovery(r: PhaseResult) {
  if (r.restarted) return " (server down: restarted for the next phase)";
  if (r.recoveredAfterMs === 0) return "";
  return r.recoveredAfterMs < 0 ? " (not recovered)" : ` (recovered +${(r.recoveredAfterMs / 1000).toFixed(1)} s)`;
}

export function phaseLine(r: PhaseResult): string {
  return (
    `[noisy] ${r.phase}: victim ${r.victim.requests} req, ${r.victim.errors} errors, p50 ${ms(r.victim.p50)} ms, p99 ${ms(r.victim.p99)} ms` +
    (r.ratio !== undefined ? ` (×${r.ratio.toFixed(2)}, limit ${ms(r.limitMs)} ms)` : "") +
    (r.attack ? `; attacker ${r.attack.requests} req (client CPU ${((r.attack.clientCpuMs ?? 0) / 1000).toFixed(1)} s): ${answersSummary(r.attack.responses, 4)}` : "") +
    `; RSS ${r.memory.rssMb.toFixed(0)} MB${r.memory.heapAfterGcMb !== undefined ? `, heap after GC ${r.memory.heapAfterGcMb.toFixed(0)} MB` : ""}` +
    `; healthz ${r.healthz} readyz ${r.readyz}; idle in tx ${r.idleInTransaction}${recovery(r)}` +
    (r.failures.length ? ` — FAIL: ${r.failures.join("; ")}` : " — ok")
  );
}

/** One line for the "proof" column of the threat table in docs/security.md. */
export function threatTableLine(run: NoisyRun, options: Pick<NoisyOptions, "p99FloorMs" | "phaseMs">): string {
  const alone = run.results.find((r) => r.phase === "alone");
  const attacks = run.results.filter((r) => r.attack);
  const parts = attacks.map((r) => `${r.phase} ${ms(r.victim.p99)} ms${r.failures.length ? " (FAIL)" : ""}`);
  const errors = attacks.reduce((n, r) => n + r.victim.errors, 0);
  const down = attacks.filter((r) => r.healthz !== 200 || r.readyz !== 200).map((r) => r.phase);
  const idle = attacks.reduce((n, r) => n + r.idleInTransaction, 0);
  return (
    `victim p99 alone ${ms(alone?.victim.p99)} ms; under attack (${options.phaseMs / 1000} s each; limit 2 × max(alone, ${options.p99FloorMs} ms)): ${parts.join(", ")}; ` +
    `**${errors} victim errors**, server ${down.length ? `down after ${down.join(", ")}` : "up after every attack"}, ${idle} backends idle in transaction` +
    (run.notRun.length ? `; not run (server down): ${run.notRun.join(", ")}` : "")
  );
}

/** The Markdown table: one row per phase, then the attacker's answers per variant. */
export function markdownReport(run: NoisyRun, options: Pick<NoisyOptions, "p99FloorMs" | "settleMs" | "phaseMs">): string {
  const { results } = run;
  const lines = [
    `| phase | victim requests | victim errors | p50 ms | p99 ms | p99 ÷ alone | limit ms | attacker requests | attacker answers (status code ×count) | attacker client CPU s | RSS MB | heap after GC MB | healthz / readyz | idle in tx after ${options.settleMs / 1000} s | verdict |`,
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of results) {
    lines.push(
      `| ${r.phase} | ${r.victim.requests.toLocaleString("en-US")} | ${r.victim.errors} | ${ms(r.victim.p50)} | ${ms(r.victim.p99)} | ${r.ratio === undefined ? "–" : r.ratio.toFixed(2)} | ${ms(r.limitMs)} | ` +
        `${r.attack ? r.attack.requests.toLocaleString("en-US") : "–"} | ${r.attack ? answersSummary(r.attack.responses).replaceAll("|", "\\|") : "–"} | ${r.attack?.clientCpuMs === undefined ? "–" : (r.attack.clientCpuMs / 1000).toFixed(1)} | ` +
        `${r.memory.rssMb.toFixed(0)} | ${r.memory.heapAfterGcMb === undefined ? "–" : r.memory.heapAfterGcMb.toFixed(0)} | ${r.healthz} / ${r.readyz} | ${r.idleInTransaction}${recovery(r)} | ` +
        `${r.failures.length ? `**FAIL**: ${r.failures.join("; ")}` : r.phase.startsWith("alone") ? "–" : "pass"} |`,
    );
  }
  if (run.notRun.length) lines.push(`| ${run.notRun.join(", ")} | not run: the server was down after ${results.at(-1)?.phase} and did not come back | | | | | | | | | | | | | **FAIL** |`);
  lines.push("", `Threat-table line: ${threatTableLine(run, options)}`);
  lines.push(
    "",
    `Limit: victim p99 under attack ≤ 2 × max(victim p99 alone, ${options.p99FloorMs} ms floor). Each phase ${options.phaseMs / 1000} s; health and idle-in-transaction checked ${options.settleMs / 1000} s after the attack ended. The attacker's client runs on the same cores as the server and the database (its CPU time is the "attacker client CPU" column).`,
    "",
    "Attacker answers per variant:",
    "",
  );
  for (const r of results) {
    if (!r.attack) continue;
    lines.push(`- **${r.phase}** (${r.attack.clients} clients, ${r.attack.requests.toLocaleString("en-US")} requests, ${(r.attack.bytesReceived / 1e6).toFixed(1)} MB received, ${r.attack.cutAtEnd} cut at the end by the client, ${r.attack.serverErrors} 5xx/INTERNAL, ${r.attack.uncoded} without code)`);
    for (const [variant, answers] of Object.entries(r.attack.byVariant)) lines.push(`  - ${variant}: ${answersSummary(answers, 8)}`);
    const examples = Object.entries(r.attack.examples);
    if (examples.length) {
      lines.push("  - bodies of answers without a code, or server errors (first of each):");
      for (const [key, body] of examples) lines.push(`    - ${key}: \`${body.replaceAll("`", "'").replaceAll("\n", " ")}\``);
    }
  }
  const errs = results.filter((r) => r.victim.firstErrors.length);
  if (errs.length) {
    lines.push("", "First victim errors:", "");
    for (const r of errs) for (const e of r.victim.firstErrors.slice(0, 3)) lines.push(`- ${r.phase}: ${e.kind} at +${e.at} ms, HTTP ${e.status}: \`${e.detail.replaceAll("`", "'")}\``);
  }
  return lines.join("\n");
}

/**
 * Statements that make the attacker's tenant wide (run them as the
 * superuser, who bypasses RLS): `projects` more projects, every project
 * description 10,000 characters, `tasks` more tasks spread over its
 * projects, `comments` comments of 10,000 characters (by `authorId`) spread
 * over its tasks.
 */
export function wideRowsStatements(p: { tenantId: string; authorId: string; projects: number; tasks: number; comments: number }): { text: string; values: unknown[] }[] {
  return [
    {
      text: `insert into app_public.projects (tenant_id, name, description)
               select $1::uuid, 'Wide project ' || g, 'x' from generate_series(1, $2::int) g`,
      values: [p.tenantId, p.projects],
    },
    { text: "update app_public.projects set description = left(repeat(md5(id::text), 313), 10000) where tenant_id = $1::uuid", values: [p.tenantId] },
    {
      text: `insert into app_public.tasks (tenant_id, project_id, title)
               select $1::uuid, p.id, 'attack:' || g
                 from generate_series(0, $2::int - 1) g
                 join (select id, row_number() over (order by id) - 1 as k, count(*) over () as n
                         from app_public.projects where tenant_id = $1::uuid) p on p.k = g % p.n`,
      values: [p.tenantId, p.tasks],
    },
    {
      text: `insert into app_public.comments (tenant_id, task_id, author_id, body)
               select $1::uuid, t.id, $2::uuid, left(repeat(md5(g::text), 313), 10000)
                 from generate_series(0, $3::int - 1) g
                 join (select id, row_number() over (order by id) - 1 as k, count(*) over () as n
                         from app_public.tasks where tenant_id = $1::uuid) t on t.k = g % t.n`,
      values: [p.tenantId, p.authorId, p.comments],
    },
    { text: "analyze", values: [] },
  ];
}
