// Refresh for a browser over real HTTP: two tabs refreshing with the same
// token at once both succeed (the grace of app_public.refresh), a reuse
// after the grace still revokes the session (theft), and the optional
// HttpOnly cookie of server/refresh-cookie.ts (REFRESH_COOKIE=1).
import jwt from "jsonwebtoken";
import { beforeAll, describe, expect, it } from "vitest";
import { withClient, withDatabase } from "../db/setup.ts";
import { REFRESH_COOKIE_NAME } from "../server/refresh-cookie.ts";
import { startApi, type TestApi } from "./helpers/api.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { createWorld, type World } from "./helpers/world.ts";

const APP = "http://127.0.0.1:5173";
const REFRESH = "mutation($t: String!) { refresh(input: {refreshToken: $t}) { result { accessToken refreshToken } } }";
const BAD_REFRESH = "INVALID_REFRESH_TOKEN";

let db: TestDatabase;
let world: World;
let api: TestApi;
let cookieApi: TestApi;

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createWorld(db.ownerUrl);
  api = await startApi(db);
  cookieApi = await startApi(db, { REFRESH_COOKIE: "1", CORS_ORIGINS: APP });
});

const sessionOf = (accessToken: string) => (jwt.decode(accessToken) as jwt.JwtPayload).session_id as string;
/** Moves the session's token uses back by `seconds`, as the superuser (the clock cannot be moved). */
const age = (sessionId: string, seconds: number) =>
  withClient(withDatabase(db.rootUrl, db.name), (c) =>
    c.query(`update app_private.refresh_tokens set used_at = used_at - make_interval(secs => $2) where session_id = $1 and used_at is not null`, [sessionId, seconds]),
  );
const me = async (target: TestApi, token: string) => {
  const { status, body } = await target.graphql("{ currentUser { email } }", {}, token);
  return { status, email: body.data?.currentUser?.email as string | undefined, code: body.errors?.[0]?.extensions?.code };
};

describe("the refresh mutation, two tabs at once", () => {
  it("two concurrent refreshes with the same token both succeed, in the same session, and both tabs go on", async () => {
    const login = await api.loginTokens(world.tenants.A.slug, world.memberA.email, world.password);
    const [one, two] = await Promise.all([api.graphql(REFRESH, { t: login.refreshToken }), api.graphql(REFRESH, { t: login.refreshToken })]);
    for (const answer of [one, two]) {
      expect(answer.body.errors).toBeUndefined();
      expect(sessionOf(answer.body.data!.refresh.result.accessToken)).toBe(sessionOf(login.accessToken));
    }
    const [tabOne, tabTwo] = [one.body.data!.refresh.result, two.body.data!.refresh.result];
    expect(tabOne.refreshToken).not.toBe(tabTwo.refreshToken);
    for (const tab of [tabOne, tabTwo]) {
      expect(await me(api, tab.accessToken)).toMatchObject({ status: 200, email: world.memberA.email });
      const next = await api.graphql(REFRESH, { t: tab.refreshToken });
      expect(next.body.errors).toBeUndefined();
    }
  });

  it("after the grace (30 s), presenting the used token again is theft: refused and the whole session revoked", async () => {
    const login = await api.loginTokens(world.tenants.A.slug, world.memberA.email, world.password);
    const next = (await api.graphql(REFRESH, { t: login.refreshToken })).body.data!.refresh.result;
    await age(sessionOf(login.accessToken), 31);
    const replay = await api.graphql(REFRESH, { t: login.refreshToken });
    expect(replay.body.data?.refresh ?? null).toBeNull();
    expect(replay.body.errors?.[0].extensions?.code).toBe(BAD_REFRESH);
    expect(await me(api, next.accessToken)).toMatchObject({ status: 401, code: "INVALID_TOKEN" });
    expect((await api.graphql(REFRESH, { t: next.refreshToken })).body.errors?.[0].extensions?.code).toBe(BAD_REFRESH);
  });

  it("within the grace too, once the successor has been used, a replay is theft", async () => {
    const login = await api.loginTokens(world.tenants.A.slug, world.memberA.email, world.password);
    const second = (await api.graphql(REFRESH, { t: login.refreshToken })).body.data!.refresh.result;
    const third = (await api.graphql(REFRESH, { t: second.refreshToken })).body.data!.refresh.result;
    expect((await api.graphql(REFRESH, { t: login.refreshToken })).body.errors?.[0].extensions?.code).toBe(BAD_REFRESH);
    expect(await me(api, third.accessToken)).toMatchObject({ status: 401 });
  });
});

describe("the refresh token in a cookie (REFRESH_COOKIE=1)", () => {
  const post = (path: string, { body, cookie, headers = {} }: { body?: unknown; cookie?: string; headers?: Record<string, string> } = {}) =>
    fetch(`${cookieApi.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(cookie ? { cookie: `${REFRESH_COOKIE_NAME}=${cookie}` } : {}), ...headers },
      body: body === undefined ? "{}" : JSON.stringify(body),
    });
  /** The refresh token set by a response, with the cookie's attributes. */
  const setCookieOf = (res: Response) => {
    const [header] = res.headers.getSetCookie();
    const [pair, ...attributes] = header.split("; ");
    return { value: pair.slice(REFRESH_COOKIE_NAME.length + 1), attributes };
  };

  it("the login's refresh token, posted once, comes back as an HttpOnly, Secure, SameSite=Strict cookie on /auth; the body has the access token only", async () => {
    const login = await cookieApi.loginTokens(world.tenants.A.slug, world.adminA.email, world.password);
    const res = await post("/auth/refresh", { body: { refreshToken: login.refreshToken } });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(Object.keys(body)).toEqual(["accessToken"]);
    expect(sessionOf(body.accessToken)).toBe(sessionOf(login.accessToken));
    const cookie = setCookieOf(res);
    expect(cookie.value).toMatch(new RegExp(`^${world.tenants.A.id}\\.`));
    expect(cookie.attributes).toEqual(["Path=/auth", "Max-Age=2592000", "HttpOnly", "Secure", "SameSite=Strict"]);
    expect(await me(cookieApi, body.accessToken)).toMatchObject({ status: 200, email: world.adminA.email });

    // From then on the cookie alone refreshes, rotating itself.
    const again = await post("/auth/refresh", { cookie: cookie.value });
    expect(again.status).toBe(200);
    const rotated = setCookieOf(again);
    expect(rotated.value).not.toBe(cookie.value);
    expect(await me(cookieApi, (await again.json()).accessToken)).toMatchObject({ status: 200 });
  });

  it("two tabs refreshing with the same cookie at once both succeed", async () => {
    const login = await cookieApi.loginTokens(world.tenants.A.slug, world.adminA.email, world.password);
    const cookie = setCookieOf(await post("/auth/refresh", { body: { refreshToken: login.refreshToken } })).value;
    const answers = await Promise.all([post("/auth/refresh", { cookie }), post("/auth/refresh", { cookie })]);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    for (const res of answers) expect(await me(cookieApi, (await res.json()).accessToken)).toMatchObject({ status: 200 });
  });

  it("logout ends the session and clears the cookie; the old cookie is then refused (401, cleared again), and so is the access token", async () => {
    const login = await cookieApi.loginTokens(world.tenants.A.slug, world.adminA.email, world.password);
    const first = await post("/auth/refresh", { body: { refreshToken: login.refreshToken } });
    const cookie = setCookieOf(first).value;
    const { accessToken } = await first.json();
    const out = await post("/auth/logout", { cookie });
    expect(out.status).toBe(200);
    expect(await out.json()).toEqual({ result: true });
    expect(setCookieOf(out)).toEqual({ value: "", attributes: ["Path=/auth", "Max-Age=0", "HttpOnly", "Secure", "SameSite=Strict"] });
    const refused = await post("/auth/refresh", { cookie });
    expect(refused.status).toBe(401);
    expect((await refused.json()).errors[0].extensions.code).toBe(BAD_REFRESH);
    expect(setCookieOf(refused).attributes).toContain("Max-Age=0");
    expect(await me(cookieApi, accessToken)).toMatchObject({ status: 401 });
  });

  it("refuses a request without a token (401), without a JSON content type (415), with a malformed body (400) and with a body over 4 KiB (413)", async () => {
    const none = await post("/auth/refresh");
    expect(none.status).toBe(401);
    expect((await none.json()).errors[0].extensions.code).toBe(BAD_REFRESH);
    const form = await fetch(`${cookieApi.url}/auth/refresh`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "refreshToken=x" });
    expect(form.status).toBe(415);
    expect((await form.json()).errors[0].extensions.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    for (const body of ['["x"]', '{"refreshToken": 5}', "{not json"]) {
      const bad = await fetch(`${cookieApi.url}/auth/refresh`, { method: "POST", headers: { "content-type": "application/json" }, body });
      expect(bad.status, body).toBe(400);
    }
    const tooLarge = await fetch(`${cookieApi.url}/auth/refresh`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refreshToken: "x".repeat(5000) }) });
    expect(tooLarge.status).toBe(413);
    expect((await tooLarge.json()).errors[0].extensions.code).toBe("TOO_LARGE");
    const garbage = await post("/auth/refresh", { cookie: "garbage" });
    expect(garbage.status).toBe(401);
  });

  it("CORS: a listed origin's preflight and answers allow credentials (the cookie); the endpoints do not exist without REFRESH_COOKIE", async () => {
    const preflight = await fetch(`${cookieApi.url}/auth/refresh`, {
      method: "OPTIONS",
      headers: { origin: APP, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(APP);
    expect(preflight.headers.get("access-control-allow-credentials")).toBe("true");
    const answer = await post("/auth/refresh", { headers: { origin: APP } });
    expect(answer.headers.get("access-control-allow-credentials")).toBe("true");
    expect((await fetch(`${api.url}/auth/refresh`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(404);
  });
});
