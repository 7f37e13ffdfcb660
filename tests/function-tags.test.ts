// What a function means to the API is written in SQL, in its comment:
// `@nullError CODE message` (its null result is that error) and
// `@rateLimit bucket` (its calls count against that bucket of
// common/config.ts). Each test changes only SQL (a comment, a test-only
// function) in a database of its own, then starts the real API over HTTP:
// no TypeScript names a field.
import { afterEach, describe, expect, it, vi } from "vitest";
import { withClient } from "../db/setup.ts";
import { ROLES } from "../common/roles.ts";
import { startApi } from "./helpers/api.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";

/** Runs SQL as the owner (who owns app_public and runs the migrations). */
const asOwner = (db: TestDatabase, sql: string) => withClient(db.ownerUrl, (c) => c.query(sql));

/** A test-only mutation anyone may call: `knock` returns 1, or null when asked to. */
async function createKnock(db: TestDatabase, comment: string) {
  await asOwner(
    db,
    `create function app_public.knock(answer boolean default true) returns int language sql volatile as 'select case when answer then 1 end';
     revoke execute on function app_public.knock(boolean) from public;
     grant execute on function app_public.knock(boolean) to ${ROLES.anonymous};
     comment on function app_public.knock(boolean) is E'${comment}';`,
  );
}

/** The comment the migrations give app_public.login, with `extra` tags in front. */
async function tagLogin(db: TestDatabase, extra: string) {
  await asOwner(
    db,
    `do $$ begin
       execute format('comment on function app_public.login(text, text, text) is %L',
         ${`E'${extra}'`} || obj_description('app_public.login(text, text, text)'::regprocedure, 'pg_proc'));
     end $$`,
  );
}

const WRONG_LOGIN = `{ tenantSlug: "nowhere", email: "nobody@nowhere.test", password: "not-the-password" }`;

afterEach(() => {
  vi.restoreAllMocks();
});

describe("@rateLimit: a function's comment makes its mutation rate-limited", () => {
  it("a test-only function tagged @rateLimit login shares the login bucket: with RATE_LIMIT_LOGIN=2, two knocks pass, the third knock and then a login get 429 RATE_LIMITED with Retry-After", async () => {
    const db = await createTestDatabase();
    await createKnock(db, "@rateLimit login\\nTest only: answers 1.");
    const api = await startApi(db, { RATE_LIMIT_LOGIN: "2" });
    const knock = () => api.graphql("mutation { knock(input: {}) { result } }");
    expect(await knock()).toMatchObject({ status: 200, body: { data: { knock: { result: 1 } } } });
    expect((await knock()).status).toBe(200);
    const refused = await fetch(`${api.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "mutation { knock(input: {}) { result } }" }),
    });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await refused.json()).errors[0]).toMatchObject({ message: expect.stringMatching(/^Too many knock attempts/), extensions: { code: "RATE_LIMITED" } });
    const login = await api.graphql(`mutation { login(input: ${WRONG_LOGIN}) { result { accessToken } } }`);
    expect(login.status).toBe(429);
    expect(login.body.errors![0].extensions!.code).toBe("RATE_LIMITED");
  });

  it("the same function without the tag is not limited; with it, a request may call it only once (TOO_MANY_CALLS)", async () => {
    const db = await createTestDatabase();
    await createKnock(db, "Test only: answers 1.");
    const untagged = await startApi(db, { RATE_LIMIT_LOGIN: "1" });
    for (let i = 0; i < 3; i++) expect((await untagged.graphql("mutation { knock(input: {}) { result } }")).status).toBe(200);
    expect((await untagged.graphql("mutation { a: knock(input: {}) { result } b: knock(input: {}) { result } }")).body.data).toEqual({ a: { result: 1 }, b: { result: 1 } });

    await asOwner(db, `comment on function app_public.knock(boolean) is E'@rateLimit login\\nTest only: answers 1.'`);
    const tagged = await startApi(db, { RATE_LIMIT_LOGIN: "5" });
    const twice = await tagged.graphql("mutation { a: knock(input: {}) { result } b: knock(input: {}) { result } }");
    expect(twice.body.errors![0]).toMatchObject({ message: "A request may call knock once (this one calls it 2 times).", extensions: { code: "TOO_MANY_CALLS" } });
    expect(twice.body.data).toBeUndefined();
  });

  it("a tag naming a bucket common/config.ts lacks stops the API at start-up, naming the function and the bucket", async () => {
    const db = await createTestDatabase();
    await createKnock(db, "@rateLimit knocking\\nTest only: answers 1.");
    await expect(startApi(db)).rejects.toThrow(/app_public\.knock: @rateLimit names the bucket "knocking", which common\/config\.ts \(rateLimits\) does not configure/);
  });

  it("a configured bucket that no function names stops the API at start-up (a limit that counts nothing was lost)", async () => {
    const db = await createTestDatabase();
    await asOwner(
      db,
      `comment on function app_public.create_tenant(text, text, text, text) is 'Creates a tenant (this comment lost its tag).'`,
    );
    await expect(startApi(db, { RATE_LIMIT_SIGNUP: "1" })).rejects.toThrow(/no function's comment says @rateLimit createTenant: nothing would count against that bucket/);
  });
});

describe("@nullError: a function's comment says what its null result means", () => {
  it("a login renamed with @name signIn keeps its CREDS error and its login bucket; the tags are not in the GraphQL description", async () => {
    const db = await createTestDatabase();
    await tagLogin(db, "@name sign_in\\n");
    const api = await startApi(db, { RATE_LIMIT_LOGIN: "1" });
    const signIn = () => api.graphql(`mutation { signIn(input: ${WRONG_LOGIN}) { result { accessToken } } }`);
    const first = await signIn();
    expect(first.status).toBe(200);
    expect(first.body.errors![0]).toMatchObject({ message: "Incorrect tenant, email or password.", extensions: { code: "INVALID_CREDENTIALS" } });
    expect(first.body.data).toEqual({ signIn: null });
    expect((await signIn()).status).toBe(429);

    const { body } = await api.graphql(`{ __type(name: "Mutation") { fields { name description } } }`);
    const fields: { name: string; description: string | null }[] = body.data!.__type.fields;
    expect(fields.map((f) => f.name)).not.toContain("login");
    const description = fields.find((f) => f.name === "signIn")!.description;
    expect(description).toMatch(/^Logs in to a tenant/);
    expect(fields.map((f) => f.description ?? "").join("\n")).not.toMatch(/@(nullError|rateLimit|name)/);
  });

  it("a test-only function tagged @nullError TESTN answers its null result with that code and message, and a result with data", async () => {
    const db = await createTestDatabase();
    await createKnock(db, "@nullError TESTN Nobody answered.\\nTest only: answers 1, or null when asked to.");
    const api = await startApi(db);
    const silent = await api.graphql("mutation { knock(input: {answer: false}) { clientMutationId } }");
    expect(silent.body.errors![0]).toMatchObject({ message: "Nobody answered.", extensions: { code: "TESTN" } });
    expect(silent.body.data).toEqual({ knock: null });
    expect((await api.graphql("mutation { knock(input: {answer: true}) { result } }")).body).toEqual({ data: { knock: { result: 1 } } });
  });

  it("a @nullError whose code is not five capital letters, or which is on a function that is no mutation, stops the API at start-up", async () => {
    const db = await createTestDatabase();
    await createKnock(db, "@nullError nope Nobody answered.\\nTest only.");
    await asOwner(
      db,
      `create function app_public.peek() returns int language sql stable as 'select null::int';
       revoke execute on function app_public.peek() from public;
       grant execute on function app_public.peek() to ${ROLES.anonymous};
       comment on function app_public.peek() is E'@nullError EMPTY Nothing there.\\nTest only.';`,
    );
    const started = startApi(db);
    await expect(started).rejects.toThrow(/app_public\.knock: @nullError must be a code of five capital letters and a message, got "nope Nobody answered\."/);
    await expect(started).rejects.toThrow(/app_public\.peek: @nullError is only read on mutations, and this function is not VOLATILE/);
  });
});
