// The refresh load: N clients, each holding its own refresh token, each
// sending `refresh` mutations one after another for a fixed time. Every
// answer carries the next refresh token (rotation: a token works once), so
// a fixed request cannot be replayed as autocannon would: this is a small
// loop over keep-alive connections (node:http, one socket per client).
//
// Every response is checked: status 200, no errors, an access token (a JWT)
// and a refresh token of the right form that differs from the one sent and
// from every one seen before. Anything else is a failure: counted, its
// first messages kept for the report, and the client's chain (possibly used
// up) replaced by a new session's token (`replace`) before it goes on.
import { Agent, request } from "node:http";
import { mean, percentile } from "./stats.ts";
import { REFRESH_TOKEN } from "./tokens.ts";

export const REFRESH_MUTATION =
  "mutation Refresh($refreshToken: String!) { refresh(input: {refreshToken: $refreshToken}) { result { accessToken refreshToken } } }";

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const TIMEOUT_MS = 10_000;
/** Failure messages kept for the report. */
const KEEP_MESSAGES = 5;

export interface RefreshLoadResult {
  requestsPerSecond: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  /** Refreshes answered with a new pair. */
  requests: number;
  /** Connection errors, timeouts, non-200, GraphQL errors, a missing, malformed, repeated or reused token. */
  failures: number;
  /** The first few failures, for the report. */
  failureMessages: string[];
}

function post(agent: Agent, url: URL, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        agent,
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on("error", reject);
      },
    );
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** The new pair, or why the answer is not one (also the soak's check, bench/soak-requests.ts). */
export function parseRefreshAnswer(sent: string, status: number, body: string, seen: Set<string>): { access: string; refresh: string } | string {
  if (status !== 200) return `HTTP ${status}: ${body.slice(0, 200)}`;
  let json: { data?: { refresh?: { result?: { accessToken?: unknown; refreshToken?: unknown } } }; errors?: unknown };
  try {
    json = JSON.parse(body);
  } catch {
    return `not JSON: ${body.slice(0, 200)}`;
  }
  if (json.errors) return `errors: ${JSON.stringify(json.errors).slice(0, 200)}`;
  const result = json.data?.refresh?.result;
  const access = result?.accessToken;
  const refresh = result?.refreshToken;
  if (typeof access !== "string" || !JWT.test(access)) return `no access token: ${body.slice(0, 200)}`;
  if (typeof refresh !== "string" || !REFRESH_TOKEN.test(refresh)) return `no valid refresh token: ${body.slice(0, 200)}`;
  if (refresh === sent) return "the same refresh token came back";
  if (seen.has(refresh)) return "a refresh token seen before came back";
  return { access, refresh };
}

/**
 * Runs the load. `tokens[i]` is client i's refresh token; it is updated in
 * place (so the next load goes on with the chains), and `accessTokens[i]`
 * gets each client's latest access token.
 */
export async function runRefreshLoad(options: {
  url: string;
  seconds: number;
  tokens: string[];
  accessTokens?: string[];
  /** A fresh refresh token for client i, after a failure broke its chain. */
  replace: (client: number) => Promise<string>;
}): Promise<RefreshLoadResult> {
  const url = new URL(options.url);
  const { tokens } = options;
  const agent = new Agent({ keepAlive: true, maxSockets: tokens.length });
  const latencies: number[] = [];
  const messages: string[] = [];
  const seen = new Set<string>(tokens);
  let failures = 0;
  const fail = async (client: number, message: string) => {
    failures++;
    if (messages.length < KEEP_MESSAGES) messages.push(message);
    tokens[client] = await options.replace(client);
    seen.add(tokens[client]);
  };

  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  const loop = async (client: number) => {
    while (performance.now() < deadline) {
      const sent = tokens[client];
      const body = JSON.stringify({ query: REFRESH_MUTATION, variables: { refreshToken: sent } });
      const t0 = performance.now();
      let answer;
      try {
        answer = await post(agent, url, body);
      } catch (error) {
        await fail(client, `request failed: ${(error as Error).message}`);
        continue;
      }
      const elapsed = performance.now() - t0;
      const parsed = parseRefreshAnswer(sent, answer.status, answer.body, seen);
      if (typeof parsed === "string") {
        await fail(client, parsed);
        continue;
      }
      latencies.push(elapsed);
      seen.add(parsed.refresh);
      tokens[client] = parsed.refresh;
      if (options.accessTokens) options.accessTokens[client] = parsed.access;
    }
  };
  try {
    await Promise.all(tokens.map((_, i) => loop(i)));
  } finally {
    agent.destroy();
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    requestsPerSecond: latencies.length / seconds,
    meanMs: mean(latencies),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    requests: latencies.length,
    failures,
    failureMessages: messages,
  };
}
