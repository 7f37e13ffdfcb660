// The GraphQL API over real HTTP: onboarding, login, tenant isolation,
// token verification, errors and health.
import jwt from "jsonwebtoken";
import { beforeAll, describe, expect, it } from "vitest";
import { withClient, withDatabase } from "../db/setup.ts";
import { ROLES } from "../common/roles.ts";
import { nodeId, startApi, type TestApi } from "./helpers/api.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { createWorld, type World } from "./helpers/world.ts";

let db: TestDatabase;
let world: World;
let api: TestApi;
let tokenAdminA: string;
let tokenMemberA: string;
let tokenAdminB: string;

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createWorld(db.ownerUrl);
  api = await startApi(db);
  [tokenAdminA, tokenMemberA, tokenAdminB] = await Promise.all([
    api.login(world.tenants.A.slug, world.adminA.email, world.password),
    api.login(world.tenants.A.slug, world.memberA.email, world.password),
    api.login(world.tenants.B.slug, world.adminB.email, world.password),
  ]);
});

const CREATE_TENANT = `mutation($name: String!, $slug: String!, $email: String!, $password: String!) {
  createTenant(input: {name: $name, slug: $slug, adminEmail: $email, adminPassword: $password}) { result { accessToken refreshToken } }
}`;
const WHO_AM_I = "{ currentUser { email role tenantId } currentTenant { slug } }";
const USERS = "{ users(orderBy: EMAIL_ASC) { totalCount nodes { email tenantId } } }";

/** Signs claims the way the API does, unless `options` says otherwise; `expiresIn: null` means no expiry. */
function sign(
  claims: Record<string, unknown>,
  { expiresIn = 600, ...options }: Omit<jwt.SignOptions, "expiresIn"> & { expiresIn?: number | null } = {},
  secret = api.config.jwt.secret,
) {
  return jwt.sign(claims, secret, {
    algorithm: "HS256",
    audience: api.config.jwt.audience,
    issuer: api.config.jwt.issuer,
    ...(expiresIn === null ? {} : { expiresIn }),
    ...options,
  });
}
/** The claims of admin A's real token (its session is live), to be varied below. */
const validClaims = () => ({
  sub: world.adminA.id,
  user_id: world.adminA.id,
  tenant_id: world.tenants.A.id,
  role: "admin",
  session_id: (jwt.decode(tokenAdminA) as jwt.JwtPayload).session_id,
});

describe("onboarding", () => {
  it("an anonymous visitor creates a tenant and is logged in as its admin", async () => {
    const { status, body } = await api.graphql(CREATE_TENANT, {
      name: "Initech",
      slug: "initech",
      email: "peter@initech.test",
      password: "password123",
    });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const token = body.data!.createTenant.result.accessToken as string;
    expect(body.data!.createTenant.result.refreshToken).toMatch(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/);
    const claims = jwt.verify(token, api.config.jwt.secret, {
      algorithms: ["HS256"],
      audience: api.config.jwt.audience,
      issuer: api.config.jwt.issuer,
    }) as jwt.JwtPayload;
    expect(claims).toMatchObject({ role: "admin", sub: claims.user_id, session_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(claims.exp! - claims.iat!).toBe(api.config.jwt.expiresInSeconds);

    const me = await api.graphql(WHO_AM_I, {}, token);
    expect(me.body.data).toEqual({
      currentUser: { email: "peter@initech.test", role: "ADMIN", tenantId: claims.tenant_id },
      currentTenant: { slug: "initech" },
    });
    const users = await api.graphql(USERS, {}, token);
    expect(users.body.data!.users.totalCount).toBe(1);
  });

  it.each([
    ["a taken slug", { slug: "acme" }, "SLUG_TAKEN"],
    ["an invalid slug", { slug: "Not A Slug" }, "INVALID_SLUG"],
    ["an invalid email", { email: "not-an-email" }, "INVALID_EMAIL"],
    ["a short password", { password: "short" }, "PASSWORD_TOO_SHORT"],
    ["a blank name", { name: " " }, "INVALID_NAME"],
  ])("onboarding with %s fails with %s and creates nothing", async (_what, override, code) => {
    const tenantCount = () =>
      withClient(db.ownerUrl, (c) => c.query("select count(*)::int as n from app_public.tenants")).then((r) => r.rows[0].n);
    const before = await tenantCount();
    const vars = { name: "Hooli", slug: "hooli", email: "gavin@hooli.test", password: "password123", ...override };
    const { body } = await api.graphql(CREATE_TENANT, vars);
    expect(body.data?.createTenant).toBeNull();
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0].extensions?.code).toBe(code);
    expect(await tenantCount()).toBe(before);
  });
});

describe("login", () => {
  it("returns a token carrying the user's id, tenant, role, session, audience, issuer and expiry", async () => {
    const claims = jwt.decode(tokenMemberA) as jwt.JwtPayload;
    expect(claims).toMatchObject({
      sub: world.memberA.id,
      user_id: world.memberA.id,
      tenant_id: world.tenants.A.id,
      role: "member",
      session_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      operator_id: null,
      aud: api.config.jwt.audience,
      iss: api.config.jwt.issuer,
    });
    expect(typeof claims.exp).toBe("number");
  });

  it("a wrong password and an unknown email get the same error and no token", async () => {
    const LOGIN = `mutation($email: String!, $password: String!) { login(input: {tenantSlug: "acme", email: $email, password: $password}) { result { accessToken refreshToken } } }`;
    const wrongPassword = await api.graphql(LOGIN, { email: world.adminA.email, password: "not-the-password" });
    const unknownEmail = await api.graphql(LOGIN, { email: "nobody@acme.test", password: world.password });
    for (const { body } of [wrongPassword, unknownEmail]) {
      expect(body.data?.login).toBeNull();
      expect(body.errors?.[0]).toMatchObject({ message: "Incorrect tenant, email or password.", extensions: { code: "INVALID_CREDENTIALS" } });
      expect(JSON.stringify(body)).not.toMatch(/eyJ/); // no token anywhere
    }
  });
});

describe("tenant isolation", () => {
  it("each tenant's admin lists only its own tenant's users", async () => {
    const a = await api.graphql(USERS, {}, tokenAdminA);
    const b = await api.graphql(USERS, {}, tokenAdminB);
    expect(a.body.data!.users.nodes.map((u: { email: string }) => u.email)).toEqual([world.adminA.email, world.memberA.email].sort());
    expect(b.body.data!.users.nodes.map((u: { email: string }) => u.email)).toEqual([world.adminB.email, world.memberB.email].sort());
    for (const u of a.body.data!.users.nodes) expect(u.tenantId).toBe(world.tenants.A.id);
    for (const u of b.body.data!.users.nodes) expect(u.tenantId).toBe(world.tenants.B.id);
  });

  it("a member of A sees only tenant A in the tenant list", async () => {
    const { body } = await api.graphql("{ tenants { nodes { slug } } }", {}, tokenMemberA);
    expect(body.data!.tenants.nodes).toEqual([{ slug: "acme" }]);
  });

  it("a member of A gets null for B's user by node id (user(id:) and node(id:)), and their own by the same means", async () => {
    const fromB = await api.graphql("{ currentUser { id } }", {}, tokenAdminB);
    const foreignId = fromB.body.data!.currentUser.id;
    // The tests' nodeId() builds what the API gives.
    expect(foreignId).toBe(nodeId("User", world.tenants.B.id, world.adminB.id));
    for (const query of ["query($id: ID!) { user(id: $id) { email } }", "query($id: ID!) { node(id: $id) { id } }"]) {
      const foreign = await api.graphql(query, { id: foreignId }, tokenMemberA);
      expect(foreign.body.errors, query).toBeUndefined();
      expect(Object.values(foreign.body.data!), query).toEqual([null]);
    }
    const own = await api.graphql("query($id: ID!) { user(id: $id) { email } }", { id: nodeId("User", world.tenants.A.id, world.memberA.id) }, tokenMemberA);
    expect(own.body.data!.user).toEqual({ email: world.memberA.email });
  });

  it("single rows are named by node id only: the composite-key lookups and mutations are not in the API", async () => {
    const fields = async (type: string) =>
      (await api.graphql(`{ __type(name: "${type}") { fields { name args { name } } } }`)).body.data!.__type.fields as { name: string; args: { name: string }[] }[];
    const query = await fields("Query");
    const mutation = await fields("Mutation");
    const names = [...query, ...mutation].map((f) => f.name);
    expect(names.filter((n) => /By(TenantId|RowId|Id\b)|ById$/.test(n))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(["task", "user", "tenantBySlug", "updateTask", "deleteTask", "updateUser", "updateTenant"]));
    for (const name of ["task", "user", "project", "comment", "invitation", "tenant", "auditEvent"]) {
      expect(query.find((f) => f.name === name)?.args.map((a) => a.name), name).toEqual(["id"]);
    }
  });

  it("a node id that is not one (garbage, another type's, a key that is no uuid) finds and changes nothing: null, or INVALID_INPUT, never INTERNAL", async () => {
    const ids = ["garbage", nodeId("User", world.tenants.A.id, world.memberA.id), nodeId("Task", "x", "y"), Buffer.from("[1,2").toString("base64")];
    for (const id of ids) {
      for (const query of ["query($id: ID!) { task(id: $id) { rowId } }", "mutation($id: ID!) { updateTask(input: {id: $id, patch: {title: \"x\"}}) { task { rowId } } }"]) {
        const { body } = await api.graphql(query, { id }, tokenMemberA);
        const codes = (body.errors ?? []).map((e) => e.extensions?.code);
        expect(codes.filter((c) => c !== "INVALID_INPUT" && c !== "NOT_FOUND"), `${id} ${query}`).toEqual([]);
        expect(Object.values(body.data ?? {}).every((v) => v === null || (v as { task?: unknown }).task === null), `${id} ${query}`).toBe(true);
      }
    }
  });

  it("enum values are SCREAMING_CASE in the API (the database keeps its lowercase labels)", async () => {
    const values = async (type: string) =>
      (await api.graphql(`{ __type(name: "${type}") { enumValues { name } } }`)).body.data!.__type.enumValues.map((v: { name: string }) => v.name);
    expect(await values("TaskStatus")).toEqual(["TODO", "IN_PROGRESS", "DONE"]);
    expect(await values("UserRole")).toEqual(["ADMIN", "MEMBER"]);
    expect(await values("InvitationStatus")).toEqual(["PENDING", "ACCEPTED", "REVOKED", "EXPIRED"]);
    const { rows } = await withClient(withDatabase(db.rootUrl, db.name), (c) => c.query("select distinct role::text from app_public.users order by 1"));
    expect(rows.map((r) => r.role)).toEqual(["admin", "member"]);
    const me = await api.graphql("{ currentUser { role } }", {}, tokenMemberA);
    expect(me.body.data!.currentUser.role).toBe("MEMBER");
  });

  it("users join only by invitation: the API has no createUser or deleteUser", async () => {
    const { body } = await api.graphql(`{ __type(name: "Mutation") { fields { name } } }`);
    const names = body.data!.__type.fields.map((f: { name: string }) => f.name);
    expect(names).toEqual(expect.arrayContaining(["inviteUser", "acceptInvitation", "removeUser", "setUserRole", "updateUser"]));
    expect(names).not.toContain("createUser");
    expect(names).not.toContain("deleteUser");
  });

  it("the API does not accept tenant_id, id, email or role in a user's patch", async () => {
    for (const field of ["tenantId: $v", "rowId: $v", "email: \"x@acme.test\"", "role: ADMIN"]) {
      const { body } = await api.graphql(
        `mutation($id: ID!, $v: UUID!) { updateUser(input: {id: $id, patch: {${field}}}) { user { tenantId } } }`,
        { id: nodeId("User", world.tenants.A.id, world.memberA.id), v: world.tenants.B.id },
        tokenAdminA,
      );
      expect(body.data ?? null, field).toBeNull();
      expect(body.errors?.[0].message, field).toMatch(/is not defined by type "UserPatch"/);
    }
  });

  it("a member of A cannot invite users", async () => {
    const { body } = await api.graphql(
      `mutation { inviteUser(input: {email: "sneaky@acme.test", role: MEMBER}) { result { token } } }`,
      {},
      tokenMemberA,
    );
    expect(body.data!.inviteUser).toBeNull();
    expect(body.errors![0].extensions).toMatchObject({ code: "FORBIDDEN" });
  });

  it("an admin of A can neither rename nor delete B's users, and B's users are unchanged", async () => {
    const rename = await api.graphql(
      `mutation($id: ID!) { updateUser(input: {id: $id, patch: {name: "Pwned"}}) { user { name } } }`,
      { id: nodeId("User", world.tenants.B.id, world.memberB.id) },
      tokenAdminA,
    );
    // PostGraphile answers an update that matched no visible row with a null record.
    expect(rename.body.data!.updateUser).toEqual({ user: null });
    const remove = await api.graphql(
      `mutation($id: UUID!) { removeUser(input: {userId: $id}) { result } }`,
      { id: world.memberB.id },
      tokenAdminA,
    );
    expect(remove.body.data!.removeUser).toBeNull();
    expect(remove.body.errors![0].extensions).toMatchObject({ code: "USER_NOT_FOUND" });

    const b = await api.graphql("{ users { totalCount nodes { name } } }", {}, tokenAdminB);
    expect(b.body.data!.users.totalCount).toBe(2);
    expect(b.body.data!.users.nodes.map((u: { name: string }) => u.name)).not.toContain("Pwned");
  });

  it("a pooled connection never carries one request's tenant into the next", async () => {
    const single = await startApi(db, { DB_POOL_SIZE: "1", JWT_SECRET: api.config.jwt.secret });
    for (let i = 0; i < 5; i++) {
      const a = await single.graphql(USERS, {}, tokenAdminA);
      expect(a.body.data!.users.nodes.every((u: { tenantId: string }) => u.tenantId === world.tenants.A.id)).toBe(true);
      const anon = await single.graphql(WHO_AM_I);
      expect(anon.body.data).toEqual({ currentUser: null, currentTenant: null });
      const b = await single.graphql(USERS, {}, tokenAdminB);
      expect(b.body.data!.users.nodes.every((u: { tenantId: string }) => u.tenantId === world.tenants.B.id)).toBe(true);
    }
  });
});

describe("tokens", () => {
  it("no token means the anonymous role: no user, and no access to tables", async () => {
    const me = await api.graphql(WHO_AM_I);
    expect(me.status).toBe(200);
    expect(me.body.data).toEqual({ currentUser: null, currentTenant: null });
    const users = await api.graphql(USERS);
    expect(users.body.data!.users).toBeNull();
    expect(users.body.errors![0].extensions).toMatchObject({ code: "FORBIDDEN" });
  });

  it("a token we signed ourselves works (control for the cases below)", async () => {
    const { status, body } = await api.graphql(WHO_AM_I, {}, sign(validClaims()));
    expect(status).toBe(200);
    expect(body.data!.currentUser.email).toBe(world.adminA.email);
  });

  const refused: [string, () => string | { header: string }, string][] = [
    ["signed with another secret", () => sign(validClaims(), {}, "another-secret-another-secret-another"), "INVALID_TOKEN"],
    ["expired", () => sign({ ...validClaims(), exp: Math.floor(Date.now() / 1000) - 60 }, { expiresIn: null }), "TOKEN_EXPIRED"],
    ["not yet valid", () => sign(validClaims(), { notBefore: 3600 }), "INVALID_TOKEN"],
    ["for another audience", () => sign(validClaims(), { audience: "someone-else" }), "INVALID_TOKEN"],
    ["from another issuer", () => sign(validClaims(), { issuer: "someone-else" }), "INVALID_TOKEN"],
    ["signed with HS512 instead of HS256", () => sign(validClaims(), { algorithm: "HS512" }), "INVALID_TOKEN"],
    ["unsigned (alg none)", () => jwt.sign(validClaims(), "", { algorithm: "none", audience: api.config.jwt.audience, issuer: api.config.jwt.issuer, expiresIn: 600 }), "INVALID_TOKEN"],
    ["without an expiry", () => sign(validClaims(), { expiresIn: null }), "INVALID_TOKEN"],
    ["without a tenant", () => sign({ ...validClaims(), tenant_id: undefined }), "INVALID_TOKEN"],
    ["with a tenant that is not a uuid", () => sign({ ...validClaims(), tenant_id: "' or 1=1 --" }), "INVALID_TOKEN"],
    ["whose subject differs from its user", () => sign({ ...validClaims(), sub: world.adminB.id }), "INVALID_TOKEN"],
    ["with the owner's role", () => sign({ ...validClaims(), role: ROLES.owner }), "INVALID_TOKEN"],
    ["with the authenticator's role", () => sign({ ...validClaims(), role: ROLES.authenticator }), "INVALID_TOKEN"],
    ["with the superuser's role", () => sign({ ...validClaims(), role: "postgres" }), "INVALID_TOKEN"],
    ["with a role named like an object property", () => sign({ ...validClaims(), role: "constructor" }), "INVALID_TOKEN"],
    ["in a Basic header", () => ({ header: "Basic dXNlcjpwYXNz" }), "INVALID_TOKEN"],
    ["in an empty header", () => ({ header: "" }), "INVALID_TOKEN"],
    ["in an oversized header", () => ({ header: `Bearer ${"a".repeat(5000)}.b.c` }), "INVALID_TOKEN"],
  ];
  it.each(refused)("a token %s gets 401 and no data", async (_what, make, code) => {
    const { status, body } = await api.graphql(USERS, {}, make());
    expect(status).toBe(401);
    expect(body.data).toBeUndefined();
    expect(body.errors).toEqual([{ message: expect.any(String), extensions: { code } }]);
  });
});

describe("tokens checked against the database on every request", () => {
  const expectRefused = async (token: string) => {
    const { status, body } = await api.graphql(USERS, {}, token);
    expect(status).toBe(401);
    expect(body).toEqual({ errors: [{ message: "The token no longer matches its account or session.", extensions: { code: "INVALID_TOKEN" } }] });
  };

  it("a correctly signed token naming a tenant its user does not belong to gets 401 and no data", async () => {
    await expectRefused(sign({ ...validClaims(), tenant_id: world.tenants.B.id }));
  });

  it("a correctly signed token claiming admin for a member gets 401", async () => {
    const { session_id } = jwt.decode(tokenMemberA) as jwt.JwtPayload;
    await expectRefused(sign({ sub: world.memberA.id, user_id: world.memberA.id, tenant_id: world.tenants.A.id, role: "admin", session_id }));
  });

  it("a removed user, and a demoted admin, lose access on their very next request", async () => {
    const signup = await api.graphql(CREATE_TENANT, { name: "Vandelay", slug: "vandelay", email: "art@vandelay.test", password: "password123" });
    const ownerToken = signup.body.data!.createTenant.result.accessToken as string;
    const tenantId = (jwt.decode(ownerToken) as jwt.JwtPayload).tenant_id;
    const ids = await withClient(db.ownerUrl, async (c) => {
      const make = (email: string, role: string) =>
        c.query("select app_private.create_user($1, $2, 'X', $3, 'password123') as id", [tenantId, email, role]).then((r) => r.rows[0].id);
      return { leaving: await make("leaving@vandelay.test", "member"), demoted: await make("demoted@vandelay.test", "admin") };
    });
    const leaving = await api.login("vandelay", "leaving@vandelay.test", "password123");
    const demoted = await api.login("vandelay", "demoted@vandelay.test", "password123");
    expect((await api.graphql(USERS, {}, leaving)).status).toBe(200);
    expect((await api.graphql(USERS, {}, demoted)).status).toBe(200);

    const removed = await api.graphql(`mutation($id: UUID!) { removeUser(input: {userId: $id}) { result } }`, { id: ids.leaving }, ownerToken);
    expect(removed.body).toEqual({ data: { removeUser: { result: true } } });
    const changed = await api.graphql(
      `mutation($id: UUID!) { setUserRole(input: {userId: $id, role: MEMBER}) { result { role } } }`,
      { id: ids.demoted },
      ownerToken,
    );
    expect(changed.body.errors).toBeUndefined();
    expect(changed.body.data!.setUserRole.result).toEqual({ role: "MEMBER" });

    await expectRefused(leaving);
    await expectRefused(demoted);
    // Logging in again gives the demoted user a member's token, which works.
    const again = await api.login("vandelay", "demoted@vandelay.test", "password123");
    expect((jwt.decode(again) as jwt.JwtPayload).role).toBe("member");
    expect((await api.graphql(USERS, {}, again)).status).toBe(200);
  });
});

describe("errors", () => {
  it("in development, a masked database error keeps its code and adds the detail", async () => {
    const dev = await startApi(db, { NODE_ENV: "development", DATA_DIR: "/nonexistent" });
    const { body } = await dev.graphql(USERS);
    expect(body.errors![0].extensions).toMatchObject({ code: "FORBIDDEN", detail: expect.stringMatching(/permission denied/) });
  });

  it("in production, errors carry a stable code and a message, and no SQL or internal names", async () => {
    const prod = await startApi(db, { NODE_ENV: "production" });
    const denied = await prod.graphql(USERS);
    expect(denied.body.errors![0]).toMatchObject({ message: "Permission denied.", extensions: { code: "FORBIDDEN" } });
    expect(denied.body.errors![0].extensions).toEqual({ code: "FORBIDDEN" });
    expect(JSON.stringify(denied.body)).not.toMatch(/app_public|mts_|select |permission denied for|relation|stack/i);
    const creds = await prod.graphql(`mutation { login(input: {tenantSlug: "acme", email: "x@y.z", password: "nope-nope"}) { result { accessToken } } }`);
    expect(creds.body.errors![0]).toMatchObject({ message: "Incorrect tenant, email or password.", extensions: { code: "INVALID_CREDENTIALS" } });
  });

  it("GraphiQL is served in development and not in production", async () => {
    const dev = await startApi(db, { NODE_ENV: "development", DATA_DIR: "/nonexistent" });
    const prod = await startApi(db, { NODE_ENV: "production" });
    expect((await fetch(`${dev.url}/graphiql`)).status).toBe(200);
    expect((await fetch(`${prod.url}/graphiql`)).status).toBe(404);
  });
});

describe("request limits", () => {
  const deep = (levels: number) => {
    // projects → nodes → tasks → nodes → project → tasks → nodes → project …
    // (pages of 2, so that the row budget stays out of the way)
    let inner = "name";
    for (let i = 0; i < levels; i++) inner = `project { tasks(first: 2) { nodes { ${inner.startsWith("name") ? "title" : inner} } } }`;
    return `{ projects(first: 2) { nodes { tasks(first: 2) { nodes { ${inner} } } } } }`;
  };

  it("a query nested deeper than MAX_QUERY_DEPTH is refused before it runs", async () => {
    const { status, body } = await api.graphql(deep(4), {}, tokenMemberA);
    expect(status).toBe(400);
    expect(body.errors![0].extensions).toMatchObject({ code: "QUERY_TOO_DEEP" });
    const shallow = await api.graphql(deep(1), {}, tokenMemberA);
    expect(shallow.body.errors).toBeUndefined();
  });

  it("more root fields than MAX_ROOT_FIELDS (alias batching) are refused: 21 logins in one document run no bcrypt", async () => {
    const logins = Array.from({ length: 21 }, (_, i) => `l${i}: login(input: {tenantSlug: "acme", email: "alice@acme.test", password: "guess${i}"}) { result { accessToken } }`);
    const { status, body } = await api.graphql(`mutation { ${logins.join(" ")} }`);
    // A validation error: the operation is never executed (no data, not even nulls).
    expect(status).toBe(400);
    expect(body.errors![0].extensions).toMatchObject({ code: "TOO_MANY_ROOT_FIELDS" });
    expect(body.data).toBeUndefined();
  });

  it("an operation selecting more than MAX_QUERY_FIELDS fields is refused", async () => {
    const small = await startApi(db, { MAX_QUERY_FIELDS: "5", JWT_SECRET: api.config.jwt.secret });
    const { body } = await small.graphql("{ users { nodes { email name role createdAt rowId tenantId } } }", {}, tokenMemberA);
    expect(body.errors![0].extensions).toMatchObject({ code: "QUERY_TOO_LARGE" });
  });

  it("introspection is refused in production and allowed in development", async () => {
    const prod = await startApi(db, { NODE_ENV: "production" });
    const dev = await startApi(db, { NODE_ENV: "development", DATA_DIR: "/nonexistent" });
    const introspect = "{ __schema { queryType { name } } }";
    expect((await prod.graphql(introspect)).body.errors![0].message).toMatch(/introspection/i);
    expect((await dev.graphql(introspect)).body.data).toEqual({ __schema: { queryType: { name: "Query" } } });
  });

  it("a body over 100 kB gets 413, and a batch of operations 400", async () => {
    const big = await fetch(`${api.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ currentUser { email } }", variables: { pad: "x".repeat(200_000) } }),
    });
    expect(big.status).toBe(413);
    const batch = await fetch(`${api.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([{ query: "{ currentUser { email } }" }, { query: "{ currentUser { email } }" }]),
    });
    expect(batch.status).toBe(400);
  });
});

describe("rate limits", () => {
  it("login is limited per client address: the 4th attempt in a minute gets 429 with Retry-After, before any password check", async () => {
    const limitedApi = await startApi(db, { RATE_LIMIT_LOGIN: "3", JWT_SECRET: api.config.jwt.secret });
    const attempt = () =>
      fetch(`${limitedApi.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: `mutation { x: login(input: {tenantSlug: "acme", email: "alice@acme.test", password: "guess-guess"}) { result { accessToken } } }` }),
      });
    for (let i = 0; i < 3; i++) expect((await attempt()).status).toBe(200);
    const refused = await attempt();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await refused.json()).errors[0].extensions.code).toBe("RATE_LIMITED");
    // Other requests are not affected.
    expect((await limitedApi.graphql("{ currentUser { email } }")).status).toBe(200);
  });

  it("onboarding is limited too, also when sent as application/graphql", async () => {
    const limitedApi = await startApi(db, { RATE_LIMIT_SIGNUP: "1" });
    const signup = (slug: string) =>
      fetch(`${limitedApi.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/graphql" },
        body: `mutation { createTenant(input: {name: "N", slug: "${slug}", adminEmail: "a@${slug}.test", adminPassword: "password123"}) { result { accessToken } } }`,
      });
    expect((await signup("rate-one")).status).toBe(200);
    expect((await signup("rate-two")).status).toBe(429);
  });
});

describe("statement timeout", () => {
  it("a query that runs longer than STATEMENT_TIMEOUT ends with TIMEOUT, and the server keeps serving", async () => {
    const slowDb = await createTestDatabase();
    await withClient(withDatabase(slowDb.rootUrl, slowDb.name), async (c) => {
      await c.query(`create function app_public.slow() returns int language sql stable as 'select pg_sleep(5); select 1'`);
      await c.query(`alter function app_public.slow() owner to ${ROLES.owner}`);
      await c.query(`comment on function app_public.slow() is 'Sleeps 5 s.'`);
      await c.query(`grant execute on function app_public.slow() to ${ROLES.anonymous}`);
    });
    const slowApi = await startApi(slowDb, { STATEMENT_TIMEOUT: "200" });
    const { body } = await slowApi.graphql("{ slow }");
    expect(body.errors![0]).toMatchObject({ message: "The request took too long and was cancelled.", extensions: { code: "TIMEOUT" } });
    expect((await slowApi.graphql("{ currentUser { email } }")).body.data).toEqual({ currentUser: null });
  });
});

describe("health", () => {
  it("GET /healthz says the process is up and GET /readyz that the database answers", async () => {
    const health = await fetch(`${api.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await fetch(`${api.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
  });
});
