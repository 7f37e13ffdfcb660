// The real API on a real port, against the test file's database.
import { randomBytes } from "node:crypto";
import { onCleanup } from "./cleanup.ts";
import { createApp } from "../../server/app.ts";
import { loadConfig, type Config } from "../../common/config.ts";
import type { TestDatabase } from "./database.ts";

export interface GraphQLResponse {
  status: number;
  body: { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

export interface TestApi {
  url: string;
  config: Config;
  /** POSTs a GraphQL request; `auth` is a token or a whole Authorization header value via { header }. */
  graphql(query: string, variables?: Record<string, unknown>, auth?: string | { header: string }): Promise<GraphQLResponse>;
  /** Logs in and returns the access token. */
  login(slug: string, email: string, password: string): Promise<string>;
  /** Logs in and returns both tokens. */
  loginTokens(slug: string, email: string, password: string): Promise<{ accessToken: string; refreshToken: string }>;
}

/** Starts the API (closed after the file's tests). `env` adds to a test environment. */
export async function startApi(db: TestDatabase, env: Record<string, string> = {}): Promise<TestApi> {
  const config = loadConfig({
    NODE_ENV: "test",
    JWT_SECRET: randomBytes(32).toString("hex"),
    DATABASE_URL: db.ownerUrl,
    AUTH_DATABASE_URL: db.authUrl,
    // Tests log in far more often than a person; tests/api.test.ts checks the limits themselves.
    RATE_LIMIT_LOGIN: "100000",
    RATE_LIMIT_SIGNUP: "100000",
    // Tests send refused documents on purpose, each costing its tenant REFUSED_REQUEST_UNITS;
    // tests/request-limits.test.ts checks the rate itself.
    TENANT_RATE: "100000",
    ...env,
  });
  const app = await createApp(config, db.authUrl);
  await new Promise<void>((resolve) => app.server.listen(0, "127.0.0.1", resolve));
  onCleanup(() => app.close(1000));
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

  async function graphql(query: string, variables?: Record<string, unknown>, auth?: string | { header: string }) {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (typeof auth === "string") headers.authorization = `Bearer ${auth}`;
    else if (auth) headers.authorization = auth.header;
    const res = await fetch(`${url}/graphql`, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
    return { status: res.status, body: await res.json() } as GraphQLResponse;
  }

  async function loginTokens(slug: string, email: string, password: string) {
    const { body } = await graphql(
      "mutation($slug: String!, $email: String!, $password: String!) { login(input: {tenantSlug: $slug, email: $email, password: $password}) { result { accessToken refreshToken } } }",
      { slug, email, password },
    );
    const tokens = body.data?.login?.result;
    if (typeof tokens?.accessToken !== "string") throw new Error(`login failed: ${JSON.stringify(body)}`);
    return tokens as { accessToken: string; refreshToken: string };
  }

  return { url, config, graphql, login: async (...args) => (await loginTokens(...args)).accessToken, loginTokens };
}

/**
 * The Node ID the API gives a row: base64 of `["<Type>", ...primary key]`
 * (PostGraphile's default codec; the primary key of a tenant table is
 * (tenant_id, id)). Clients treat it as opaque and read it from `id`; tests
 * build it from known keys (tests/api.test.ts checks it against `id`).
 */
export function nodeId(type: string, ...primaryKey: string[]): string {
  return Buffer.from(JSON.stringify([type, ...primaryKey])).toString("base64");
}
