// CORS (server/cors.ts) over real HTTP: preflights from a listed origin are
// answered, the answers a page reads carry the headers (errors too), any
// other origin gets nothing a browser would let through; CORS_ORIGINS is
// checked in common/config.ts.
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../common/config.ts";
import { CORS_MAX_AGE } from "../server/cors.ts";
import { startApi, type TestApi } from "./helpers/api.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { createWorld, type World } from "./helpers/world.ts";

const APP = "http://127.0.0.1:5173";
const OTHER_APP = "https://admin.example.com";
const EVIL = "https://evil.example";

let db: TestDatabase;
let world: World;
let api: TestApi;

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createWorld(db.ownerUrl);
  api = await startApi(db, { CORS_ORIGINS: `${APP}, ${OTHER_APP}` });
});

const preflight = (url: string, origin: string, requestHeaders = "authorization, content-type") =>
  fetch(`${url}/graphql`, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": requestHeaders },
  });
const post = (url: string, headers: Record<string, string>, query = "{ currentUser { email } }") =>
  fetch(`${url}/graphql`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ query }) });

describe("CORS with CORS_ORIGINS listing two origins", () => {
  it("a preflight from a listed origin gets 204 with the methods, the headers the API reads, and Max-Age", async () => {
    for (const origin of [APP, OTHER_APP]) {
      const res = await preflight(api.url, origin, "authorization, content-type, x-operator-tenant");
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe(origin);
      expect(res.headers.get("access-control-allow-methods")).toBe("GET, POST, OPTIONS");
      expect(res.headers.get("access-control-allow-headers")!.split(", ")).toEqual(expect.arrayContaining(["authorization", "content-type", "x-operator-tenant"]));
      expect(res.headers.get("access-control-max-age")).toBe(String(CORS_MAX_AGE));
      expect(res.headers.get("vary")).toMatch(/\bOrigin\b/);
      // No refresh cookie configured: no credentials.
      expect(res.headers.get("access-control-allow-credentials")).toBeNull();
      expect(await res.text()).toBe("");
    }
  });

  it("a preflight from an origin not listed gets 403 with a JSON error and no CORS headers", async () => {
    for (const origin of [EVIL, "http://127.0.0.1:5174", `${APP}/`, "null"]) {
      const res = await preflight(api.url, origin);
      expect(res.status, origin).toBe(403);
      expect(res.headers.get("access-control-allow-origin"), origin).toBeNull();
      expect(await res.json()).toEqual({ errors: [{ message: "This origin may not call the API (CORS_ORIGINS).", extensions: { code: "CORS_ORIGIN_NOT_ALLOWED" } }] });
    }
  });

  it("a request from a listed origin gets its origin echoed, Vary: Origin and the exposed headers; the data is the caller's", async () => {
    const token = await api.login(world.tenants.A.slug, world.memberA.email, world.password);
    const res = await post(api.url, { origin: APP, authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(res.headers.get("vary")).toMatch(/\bOrigin\b/);
    expect(res.headers.get("access-control-expose-headers")).toBe("Retry-After, WWW-Authenticate");
    expect(await res.json()).toEqual({ data: { currentUser: { email: world.memberA.email } } });
  });

  it("errors carry the headers too: 401 (with WWW-Authenticate exposed), 404, 400", async () => {
    const refused = await post(api.url, { origin: APP, authorization: "Bearer not.a.token" });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-allow-origin")).toBe(APP);
    expect(refused.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const missing = await fetch(`${api.url}/nothing-here`, { headers: { origin: APP } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("access-control-allow-origin")).toBe(APP);
    const bad = await fetch(`${api.url}/graphql`, { method: "POST", headers: { origin: APP, "content-type": "application/json" }, body: "{not json" });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("access-control-allow-origin")).toBe(APP);
  });

  it("a 429 carries the headers and exposes Retry-After, so that a page can read when to retry", async () => {
    const limited = await startApi(db, { CORS_ORIGINS: APP, RATE_LIMIT_LOGIN: "1" });
    const login = `mutation { login(input: {tenantSlug: "acme", email: "alice@acme.test", password: "guess-guess"}) { result { accessToken } } }`;
    expect((await post(limited.url, { origin: APP }, login)).status).toBe(200);
    const refused = await post(limited.url, { origin: APP }, login);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("access-control-allow-origin")).toBe(APP);
    expect(refused.headers.get("access-control-expose-headers")).toContain("Retry-After");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("a request from an origin not listed is served without CORS headers (the browser keeps it from the page); without Origin, none either", async () => {
    for (const headers of [{ origin: EVIL }, {}] as Record<string, string>[]) {
      const res = await post(api.url, headers);
      expect(res.status).toBe(200);
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
      expect(res.headers.get("access-control-expose-headers")).toBeNull();
    }
  });
});

describe("CORS defaults and CORS_ORIGINS=*", () => {
  it("with CORS_ORIGINS unset, every preflight is refused and no answer has CORS headers", async () => {
    const closed = await startApi(db);
    expect((await preflight(closed.url, APP)).status).toBe(403);
    const res = await post(closed.url, { origin: APP });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("CORS_ORIGINS=* (development and test only) allows any origin as `*`, never with credentials", async () => {
    const open = await startApi(db, { CORS_ORIGINS: "*" });
    const res = await preflight(open.url, EVIL);
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    expect((await post(open.url, { origin: EVIL })).headers.get("access-control-allow-origin")).toBe("*");
  });
});

describe("CORS_ORIGINS in the configuration", () => {
  const problemsOf = (env: Record<string, string>) => {
    try {
      loadConfig({ DATABASE_URL: "postgres://x@h/db", AUTH_DATABASE_URL: "postgres://x@h/db", JWT_SECRET: "s".repeat(40), ...env });
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.problems;
    }
  };

  it("is none by default, and a list of exact origins when set", () => {
    const base = { DATABASE_URL: "postgres://x@h/db", AUTH_DATABASE_URL: "postgres://x@h/db", JWT_SECRET: "s".repeat(40) };
    expect(loadConfig(base).cors).toEqual({ origins: [], anyOrigin: false });
    expect(loadConfig({ ...base, CORS_ORIGINS: `${APP},${OTHER_APP}` }).cors).toEqual({ origins: [APP, OTHER_APP], anyOrigin: false });
  });

  it("refuses `*` in production, `*` with REFRESH_COOKIE, and anything that is not an exact origin", () => {
    expect(problemsOf({ NODE_ENV: "production", CORS_ORIGINS: "*" })).toEqual([expect.stringContaining("refused in production")]);
    expect(problemsOf({ CORS_ORIGINS: "*", REFRESH_COOKIE: "1" })).toEqual([expect.stringContaining("cannot be combined with REFRESH_COOKIE")]);
    for (const bad of ["app.example.com", "https://app.example.com/", "https://app.example.com/path", "ftp://files.example.com", "*.example.com"]) {
      expect(problemsOf({ CORS_ORIGINS: bad }), bad).toEqual([expect.stringContaining("CORS_ORIGINS must list exact origins")]);
    }
    expect(problemsOf({ NODE_ENV: "production", CORS_ORIGINS: "https://app.example.com", REFRESH_COOKIE: "1" })).toEqual([]);
  });
});
