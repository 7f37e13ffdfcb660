// Trusted documents (TRUSTED_DOCUMENTS, server/trusted-documents.ts): only
// the documents a frontend was built with run, named by id; raw query text
// and unknown ids are refused with extensions.code UNTRUSTED_DOCUMENT.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { withClient } from "../db/setup.ts";
import { startApi, type TestApi } from "./helpers/api.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { createWorld, type World } from "./helpers/world.ts";

const LOGIN = `mutation Login($slug: String!, $email: String!, $password: String!) {
  login(input: {tenantSlug: $slug, email: $email, password: $password}) { result { accessToken } }
}`;
const TASKS = "query Tasks { tasks(orderBy: TITLE_ASC) { totalCount nodes { title tenantId } } }";
/** The ids graphql-codegen's client preset writes with hashAlgorithm sha256: the hex digest of the document text. */
const idOf = (document: string) => createHash("sha256").update(document).digest("hex");
const LOGIN_ID = idOf(LOGIN);
const TASKS_ID = idOf(TASKS);

const dir = mkdtempSync(join(tmpdir(), "mts-trusted-"));
/** A persisted-documents.json as the client preset writes it. */
const documentsFile = join(dir, "persisted-documents.json");
writeFileSync(documentsFile, JSON.stringify({ [LOGIN_ID]: LOGIN, [TASKS_ID]: TASKS }, null, 2));

let db: TestDatabase;
let world: World;
let api: TestApi;

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createWorld(db.ownerUrl);
  api = await startApi(db, { TRUSTED_DOCUMENTS: documentsFile });
});

interface Answer {
  status: number;
  body: { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

/** POSTs a raw body to /graphql (`token` as a Bearer token). */
async function post(url: string, body: unknown, { token, contentType = "application/json" }: { token?: string; contentType?: string } = {}) {
  const headers: Record<string, string> = { "content-type": contentType };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${url}/graphql`, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: res.status, body: await res.json() } as Answer;
}

/** Logs in through the trusted login document. */
async function loginByDocument(url: string, slug: string, email: string) {
  const { status, body } = await post(url, { documentId: LOGIN_ID, variables: { slug, email, password: world.password } });
  expect(status).toBe(200);
  expect(body.errors).toBeUndefined();
  const token = body.data?.login?.result?.accessToken;
  expect(typeof token).toBe("string");
  return token as string;
}

/** What the owner sees of a tenant's tasks: titles, sorted. */
async function ownerTaskTitles(tenantId: string): Promise<string[]> {
  return withClient(db.ownerUrl, async (client) => {
    await client.query("begin");
    await client.query("select set_config('jwt.claims.tenant_id', $1, true)", [tenantId]);
    const { rows } = await client.query("select title from app_public.tasks order by title");
    await client.query("commit");
    return rows.map((r) => r.title as string);
  });
}

/** The refusal every untrusted request gets. */
function expectRefused(answer: Answer) {
  expect(answer.status).toBe(400);
  expect(answer.body.data).toBeUndefined();
  expect(answer.body.errors).toHaveLength(1);
  expect(answer.body.errors![0].extensions?.code).toBe("UNTRUSTED_DOCUMENT");
  // No internals: no file names, paths, stack traces or plugin names.
  expect(answer.body.errors![0].message).not.toMatch(/\/|\.json|\.ts|persisted|at \w+ \(/i);
}

describe("trusted documents on (TRUSTED_DOCUMENTS = a JSON file)", () => {
  it("member A logs in through the trusted login document and lists exactly tenant A's tasks through the trusted Tasks document", async () => {
    const token = await loginByDocument(api.url, world.tenants.A.slug, world.memberA.email);
    const { status, body } = await post(api.url, { documentId: TASKS_ID }, { token });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const expected = await ownerTaskTitles(world.tenants.A.id);
    expect(expected.length).toBeGreaterThan(0);
    expect(body.data!.tasks.totalCount).toBe(expected.length);
    expect(body.data!.tasks.nodes.map((n: { title: string }) => n.title)).toEqual(expected);
    expect(new Set(body.data!.tasks.nodes.map((n: { tenantId: string }) => n.tenantId))).toEqual(new Set([world.tenants.A.id]));
  });

  it("admin B running the same trusted Tasks document sees only tenant B's tasks", async () => {
    const token = await loginByDocument(api.url, world.tenants.B.slug, world.adminB.email);
    const { body } = await post(api.url, { documentId: TASKS_ID }, { token });
    expect(body.errors).toBeUndefined();
    expect(body.data!.tasks.nodes.map((n: { title: string }) => n.title)).toEqual(await ownerTaskTitles(world.tenants.B.id));
    expect(new Set(body.data!.tasks.nodes.map((n: { tenantId: string }) => n.tenantId))).toEqual(new Set([world.tenants.B.id]));
  });

  it("an Apollo-style client naming the document in extensions.persistedQuery.sha256Hash (or as `id`) gets it run", async () => {
    const token = await api.login(world.tenants.A.slug, world.adminA.email, world.password).catch(() => undefined);
    // api.login sends raw query text, which this server refuses.
    expect(token).toBeUndefined();
    const apollo = await post(api.url, {
      extensions: { persistedQuery: { version: 1, sha256Hash: LOGIN_ID } },
      variables: { slug: world.tenants.A.slug, email: world.adminA.email, password: world.password },
    });
    expect(apollo.body.errors).toBeUndefined();
    expect(typeof apollo.body.data!.login.result.accessToken).toBe("string");
    const byId = await post(api.url, { id: TASKS_ID }, { token: apollo.body.data!.login.result.accessToken });
    expect(byId.body.errors).toBeUndefined();
    expect(byId.body.data!.tasks.totalCount).toBe((await ownerTaskTitles(world.tenants.A.id)).length);
  });

  it("a client naming an unknown documentId is refused with UNTRUSTED_DOCUMENT", async () => {
    const token = await loginByDocument(api.url, world.tenants.A.slug, world.adminA.email);
    expectRefused(await post(api.url, { documentId: idOf("query Other { tasks { nodes { title } } }") }, { token }));
    expectRefused(await post(api.url, { documentId: "../persisted-documents" }));
    expectRefused(await post(api.url, { documentId: "constructor" }));
    expectRefused(await post(api.url, { documentId: 42 }));
  });

  it("a client sending no document at all (no id, no query) is refused with UNTRUSTED_DOCUMENT", async () => {
    expectRefused(await post(api.url, { variables: {} }));
  });

  it("admin A sending raw query text, even the exact text of a trusted document, is refused with UNTRUSTED_DOCUMENT", async () => {
    const token = await loginByDocument(api.url, world.tenants.A.slug, world.adminA.email);
    expectRefused(await post(api.url, { query: TASKS }, { token }));
    expectRefused(await post(api.url, { query: "{ currentUser { email } }" }, { token }));
    // Introspection (what GraphiQL sends first) is raw text too.
    expectRefused(await post(api.url, { query: "{ __schema { queryType { name } } }" }, { token }));
    // As application/graphql.
    expectRefused(await post(api.url, TASKS, { token, contentType: "application/graphql" }));
    // Text alongside a known id: refused, not silently swapped for the id's document.
    expectRefused(await post(api.url, { documentId: TASKS_ID, query: "{ currentUser { email } }" }, { token }));
  });

  it("an anonymous visitor cannot log in with a raw login mutation, only through the trusted document", async () => {
    const raw = await post(api.url, {
      query: LOGIN,
      variables: { slug: world.tenants.A.slug, email: world.memberA.email, password: world.password },
    });
    expectRefused(raw);
  });
});

describe("trusted documents and rate limits", () => {
  it("an anonymous visitor logging in through the trusted login document is rate-limited (429 RATE_LIMITED) like a raw login", async () => {
    const limitedApi = await startApi(db, { TRUSTED_DOCUMENTS: documentsFile, RATE_LIMIT_LOGIN: "2" });
    const attempt = () =>
      post(limitedApi.url, { documentId: LOGIN_ID, variables: { slug: world.tenants.A.slug, email: world.memberA.email, password: "wrong-password" } });
    for (let i = 0; i < 2; i++) {
      const { status, body } = await attempt();
      expect(status).toBe(200);
      expect(body.errors?.[0].extensions?.code).not.toBe("RATE_LIMITED");
    }
    const third = await attempt();
    expect(third.status).toBe(429);
    expect(third.body.errors?.[0].extensions?.code).toBe("RATE_LIMITED");
  });
});

describe("trusted documents from a folder", () => {
  it("member A logs in through a document from a JSON map in the folder and lists tenant A's tasks through an <id>.graphql file", async () => {
    const folder = join(dir, "folder");
    mkdirSync(folder);
    writeFileSync(join(folder, "login.json"), JSON.stringify({ [LOGIN_ID]: LOGIN }));
    writeFileSync(join(folder, `${TASKS_ID}.graphql`), TASKS);
    writeFileSync(join(folder, "README.md"), "Not a document.");
    const folderApi = await startApi(db, { TRUSTED_DOCUMENTS: folder });
    const token = await loginByDocument(folderApi.url, world.tenants.A.slug, world.memberA.email);
    const { status, body } = await post(folderApi.url, { documentId: TASKS_ID }, { token });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data!.tasks.nodes.map((n: { title: string }) => n.title)).toEqual(await ownerTaskTitles(world.tenants.A.id));
    expectRefused(await post(folderApi.url, { query: TASKS }, { token }));
    expectRefused(await post(folderApi.url, { documentId: "README" }, { token }));
  });
});

describe("malformed trusted documents stop start-up", () => {
  const cases: [string, string, string][] = [
    ["a file that is not JSON", "broken.json", '{"abc": "query A { tasks { totalCount } }"'],
    ["a JSON array instead of an id -> text map", "array.json", '["query A { tasks { totalCount } }"]'],
    ["a document that is not a string", "number.json", '{"abc": 42}'],
    ["a document that is not valid GraphQL", "syntax.json", '{"abc": "query A { tasks { "}'],
    ["an id that could be a path", "badid.json", '{"../x": "query A { tasks { totalCount } }"}'],
    ["no documents at all", "empty.json", "{}"],
  ];
  for (const [what, name, content] of cases) {
    it(`the API refuses to start on ${what}, naming the file`, async () => {
      const file = join(dir, name);
      writeFileSync(file, content);
      await expect(startApi(db, { TRUSTED_DOCUMENTS: file })).rejects.toThrow(file);
    });
  }

  it("the API refuses to start on a folder holding one malformed JSON file, naming that file", async () => {
    const folder = join(dir, "bad-folder");
    mkdirSync(folder);
    writeFileSync(join(folder, "good.json"), JSON.stringify({ [TASKS_ID]: TASKS }));
    writeFileSync(join(folder, "bad.json"), "not json");
    await expect(startApi(db, { TRUSTED_DOCUMENTS: folder })).rejects.toThrow(join(folder, "bad.json"));
  });

  it("the API refuses to start when two files give one id different texts", async () => {
    const folder = join(dir, "conflict-folder");
    mkdirSync(folder);
    writeFileSync(join(folder, "a.json"), JSON.stringify({ [TASKS_ID]: TASKS }));
    writeFileSync(join(folder, `${TASKS_ID}.graphql`), "query Other { currentUser { email } }");
    await expect(startApi(db, { TRUSTED_DOCUMENTS: folder })).rejects.toThrow(/also defined, with other text/);
  });
});

describe("trusted documents off (TRUSTED_DOCUMENTS unset)", () => {
  it("admin A's raw queries still run, and a documentId alone is not understood", async () => {
    const open = await startApi(db);
    const token = await open.login(world.tenants.A.slug, world.adminA.email, world.password);
    const { status, body } = await open.graphql(TASKS, {}, token);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data!.tasks.nodes.map((n: { title: string }) => n.title)).toEqual(await ownerTaskTitles(world.tenants.A.id));
    const byId = await post(open.url, { documentId: TASKS_ID }, { token });
    expect(byId.status).toBe(400);
    expect(byId.body.data).toBeUndefined();
    expect(byId.body.errors?.[0].extensions?.code).not.toBe("UNTRUSTED_DOCUMENT");
  });
});
