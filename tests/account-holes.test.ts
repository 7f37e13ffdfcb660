// The five account holes of issue 13, each attacked over real HTTP the way
// an outsider with a stolen token or a former insider would:
// 1. changePassword guesses are recorded, locked after five, and audited;
// 2. an invitation dies with its inviter's admin rights (removed, demoted),
//    and acceptance checks the inviter again;
// 3. the actor of an audit event is a user of that event's tenant, or none;
// 4. the 401 for a stale token comes from the error itself, never from
//    the bytes of the response (data may contain them);
// 5. an operator's request is audited whole: text, sha256, length.
import { createHash, randomBytes } from "node:crypto";
import jwt from "jsonwebtoken";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO_OPERATOR } from "../db/seed.ts";
import { withClient } from "../db/setup.ts";
import { nodeId, startApi, type GraphQLResponse, type TestApi } from "./helpers/api.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { createWorld, type World } from "./helpers/world.ts";

const TOKENS = "result { accessToken refreshToken }";
const LOGIN = `mutation Login($slug: String!, $email: String!, $password: String!) {
  login(input: {tenantSlug: $slug, email: $email, password: $password}) { ${TOKENS} } }`;
const REFRESH = `mutation Refresh($refreshToken: String!) { refresh(input: {refreshToken: $refreshToken}) { ${TOKENS} } }`;
const LOGOUT = `mutation Logout($refreshToken: String!) { logout(input: {refreshToken: $refreshToken}) { result } }`;
const CREATE_TENANT = `mutation CreateTenant($name: String!, $slug: String!, $email: String!, $password: String!) {
  createTenant(input: {name: $name, slug: $slug, adminEmail: $email, adminPassword: $password}) { ${TOKENS} } }`;
const INVITE = `mutation Invite($email: String!, $role: UserRole!) {
  inviteUser(input: {email: $email, role: $role}) { result { invitationId token expiresAt } } }`;
const ACCEPT = `mutation Accept($token: String!, $name: String!, $password: String!) {
  acceptInvitation(input: {token: $token, name: $name, password: $password}) { ${TOKENS} } }`;
const INVITATIONS = "{ invitations(orderBy: CREATED_AT_ASC) { nodes { rowId email status } } }";
const SET_ROLE = `mutation SetRole($userId: UUID!, $role: UserRole!) { setUserRole(input: {userId: $userId, role: $role}) { result { rowId role } } }`;
const REMOVE_USER = `mutation RemoveUser($userId: UUID!) { removeUser(input: {userId: $userId}) { result } }`;
const CHANGE_PASSWORD = `mutation ChangePassword($old: String!, $new: String!) {
  changePassword(input: {oldPassword: $old, newPassword: $new}) { result } }`;
const OPERATOR_LOGIN = `mutation OperatorLogin($email: String!, $password: String!) {
  operatorLogin(input: {email: $email, password: $password}) { ${TOKENS} } }`;
const ME = "{ currentUser { rowId email } }";
const AUDIT = `query Audit($action: String!) {
  auditEvents(condition: {action: $action}, orderBy: OCCURRED_AT_ASC) {
    totalCount nodes { tenantId action tableName rowKey actorUserId actorOperatorId details } } }`;
const AUDIT_BY_ACTOR = `query AuditByActor($actor: UUID!) { auditEvents(condition: {actorUserId: $actor}) { totalCount nodes { action } } }`;
const UPDATE_TASK_TITLE = `mutation UpdateTaskTitle($id: ID!, $title: String!) {
  updateTask(input: {id: $id, patch: {title: $title}}) { task { rowId title } } }`;

const PASSWORD = "password123";
const NEW_PASSWORD = "another-password-456";
/** What the byte search of the serialized response looked for (server/errors.ts before this change). */
const STALE_BYTES = `"extensions":{"code":"INVALID_TOKEN"`;

interface Tokens {
  accessToken: string;
  refreshToken: string;
}
interface Tenant {
  id: string;
  slug: string;
  adminId: string;
  admin: Tokens;
}
interface AuditEvent {
  tenantId: string;
  action: string;
  tableName: string | null;
  rowKey: string | null;
  actorUserId: string | null;
  actorOperatorId: string | null;
  details: Record<string, any>;
}

let db: TestDatabase;
let world: World;
let api: TestApi;
let tokenAdminA: string;

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createWorld(db.ownerUrl);
  api = await startApi(db);
  tokenAdminA = await api.login(world.tenants.A.slug, world.adminA.email, world.password);
});

async function gql(query: string, variables: Record<string, unknown> = {}, token?: string, headers: Record<string, string> = {}, operationName?: string): Promise<GraphQLResponse> {
  const all: Record<string, string> = { "content-type": "application/json", ...headers };
  if (token !== undefined) all.authorization = `Bearer ${token}`;
  const res = await fetch(`${api.url}/graphql`, { method: "POST", headers: all, body: JSON.stringify({ query, variables, ...(operationName ? { operationName } : {}) }) });
  return { status: res.status, body: await res.json() };
}

function ok(response: GraphQLResponse): Record<string, any> {
  expect(response.body.errors, JSON.stringify(response.body.errors)).toBeUndefined();
  expect(response.status).toBe(200);
  return response.body.data!;
}

function expectGraphQLError(response: GraphQLResponse, field: string, code: string) {
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  expect(response.body.errors, JSON.stringify(response.body)).toHaveLength(1);
  expect(response.body.errors![0].extensions?.code).toBe(code);
  expect(response.body.data?.[field] ?? null).toBeNull();
}

const claimsOf = (token: string) => jwt.decode(token) as jwt.JwtPayload;

async function auditEvents(adminToken: string, action: string): Promise<AuditEvent[]> {
  return ok(await gql(AUDIT, { action }, adminToken)).auditEvents.nodes;
}

let counter = 0;
async function freshTenant(label: string): Promise<Tenant> {
  const slug = `${label}-${++counter}-${randomBytes(3).toString("hex")}`;
  const admin: Tokens = ok(await gql(CREATE_TENANT, { name: `Tenant ${label}`, slug, email: `admin@${slug}.test`, password: PASSWORD })).createTenant.result;
  const claims = claimsOf(admin.accessToken);
  return { id: claims.tenant_id, slug, adminId: claims.user_id, admin };
}

async function invite(adminToken: string, email: string, role: "admin" | "member") {
  return ok(await gql(INVITE, { email, role: role.toUpperCase() }, adminToken)).inviteUser.result as { invitationId: string; token: string };
}

/** Invites and accepts: a new user of the tenant with its tokens. */
async function addUser(tenant: Tenant, localPart: string, role: "admin" | "member" = "member") {
  const email = `${localPart}@${tenant.slug}.test`;
  const invitation = await invite(tenant.admin.accessToken, email, role);
  const tokens: Tokens = ok(await gql(ACCEPT, { token: invitation.token, name: localPart, password: PASSWORD })).acceptInvitation.result;
  return { id: claimsOf(tokens.accessToken).user_id as string, email, tokens };
}

describe("1. changePassword with a stolen access token", () => {
  it("five wrong current passwords each get INVALID_CREDENTIALS and an audit event; the sixth attempt, with the right password, gets LOGIN_LOCKED and changes nothing", async () => {
    const tenant = await freshTenant("chpw");
    const victim = await addUser(tenant, "victim");
    for (let i = 1; i <= 5; i++) {
      expectGraphQLError(await gql(CHANGE_PASSWORD, { old: `guess-${i}-wrong`, new: NEW_PASSWORD }, victim.tokens.accessToken), "changePassword", "INVALID_CREDENTIALS");
    }
    expectGraphQLError(await gql(CHANGE_PASSWORD, { old: PASSWORD, new: NEW_PASSWORD }, victim.tokens.accessToken), "changePassword", "LOGIN_LOCKED");
    // The same lock as login's (tenant and email): guessing through login does not restart the count.
    expectGraphQLError(await gql(LOGIN, { slug: tenant.slug, email: victim.email, password: PASSWORD }), "login", "LOGIN_LOCKED");

    const failures = await auditEvents(tenant.admin.accessToken, "password_change_failed");
    expect(failures).toHaveLength(5);
    for (const event of failures) {
      expect(event).toMatchObject({ tenantId: tenant.id, tableName: "app_public.users", rowKey: victim.id, actorUserId: victim.id });
    }
    expect(JSON.stringify(failures)).not.toContain("guess-");
    expect(await auditEvents(tenant.admin.accessToken, "password_changed")).toEqual([]);
    // Nothing changed: the victim's sessions still work.
    expect(ok(await gql(ME, {}, victim.tokens.accessToken)).currentUser.email).toBe(victim.email);
  });

  it("a right current password clears the count: four failures, a change, then four more failures are not locked", async () => {
    const tenant = await freshTenant("chpw-ok");
    const user = await addUser(tenant, "user");
    for (let i = 1; i <= 4; i++) {
      expectGraphQLError(await gql(CHANGE_PASSWORD, { old: `wrong-${i}-password`, new: NEW_PASSWORD }, user.tokens.accessToken), "changePassword", "INVALID_CREDENTIALS");
    }
    expect(ok(await gql(CHANGE_PASSWORD, { old: PASSWORD, new: NEW_PASSWORD }, user.tokens.accessToken)).changePassword.result).toBe(true);
    for (let i = 1; i <= 4; i++) {
      expectGraphQLError(await gql(CHANGE_PASSWORD, { old: `wrong-${i}-password`, new: PASSWORD }, user.tokens.accessToken), "changePassword", "INVALID_CREDENTIALS");
    }
    expect(ok(await gql(CHANGE_PASSWORD, { old: NEW_PASSWORD, new: PASSWORD }, user.tokens.accessToken)).changePassword.result).toBe(true);
  });
});

describe("2. an invitation dies with its inviter's admin rights", () => {
  for (const how of ["removed", "demoted"] as const) {
    it(`an admin invites a second address of their own as admin and is ${how}: the invitation is revoked and accepting it gets INVALID_INVITATION`, async () => {
      const tenant = await freshTenant(`inv-${how}`);
      const insider = await addUser(tenant, "insider", "admin");
      const spare = await invite(insider.tokens.accessToken, `spare-of-insider@${tenant.slug}.test`, "admin");
      const memberInvite = await invite(insider.tokens.accessToken, `friend-of-insider@${tenant.slug}.test`, "member");
      const othersInvite = await invite(tenant.admin.accessToken, `someone@${tenant.slug}.test`, "member");

      if (how === "removed") ok(await gql(REMOVE_USER, { userId: insider.id }, tenant.admin.accessToken));
      else expect(ok(await gql(SET_ROLE, { userId: insider.id, role: "MEMBER" }, tenant.admin.accessToken)).setUserRole.result.role).toBe("MEMBER");

      const statuses = Object.fromEntries(
        ok(await gql(INVITATIONS, {}, tenant.admin.accessToken)).invitations.nodes.map((i: { rowId: string; status: string }) => [i.rowId, i.status]),
      );
      expect(statuses[spare.invitationId]).toBe("REVOKED");
      expect(statuses[memberInvite.invitationId]).toBe("REVOKED");
      expect(statuses[othersInvite.invitationId]).toBe("PENDING");

      expectGraphQLError(await gql(ACCEPT, { token: spare.token, name: "Back door", password: PASSWORD }), "acceptInvitation", "INVALID_INVITATION");
      expectGraphQLError(await gql(ACCEPT, { token: memberInvite.token, name: "Friend", password: PASSWORD }), "acceptInvitation", "INVALID_INVITATION");
      const revoked = (await auditEvents(tenant.admin.accessToken, "invitation_revoked")).filter((e) => e.rowKey === spare.invitationId);
      expect(revoked).toEqual([
        expect.objectContaining({ actorUserId: tenant.adminId, details: expect.objectContaining({ reason: how === "removed" ? "inviter_removed" : "inviter_demoted" }) }),
      ]);
      // The other admin's invitation still works.
      ok(await gql(ACCEPT, { token: othersInvite.token, name: "Someone", password: PASSWORD }));
    });
  }

  it("acceptance checks the inviter again: an invitation whose inviter is gone (inviter_id null) gets INVALID_INVITATION", async () => {
    const tenant = await freshTenant("inv-null");
    const pending = await invite(tenant.admin.accessToken, `orphan@${tenant.slug}.test`, "admin");
    // Fixture, as the owner: the inviter cleared without the revocation (what an import or a missed path could leave).
    await withClient(db.ownerUrl, async (client) => {
      await client.query("begin");
      await client.query("select set_config('jwt.claims.tenant_id', $1, true)", [tenant.id]);
      const { rowCount } = await client.query("update app_public.invitations set inviter_id = null where tenant_id = $1 and id = $2", [tenant.id, pending.invitationId]);
      await client.query("commit");
      expect(rowCount).toBe(1);
    });
    expectGraphQLError(await gql(ACCEPT, { token: pending.token, name: "Orphan", password: PASSWORD }), "acceptInvitation", "INVALID_INVITATION");
  });
});

describe("3. the audit actor belongs to the event's tenant", () => {
  it("a user of B who accepts an invitation of A (and fails a login to A) while logged in to B is no actor in A's log", async () => {
    const tenantA = await freshTenant("actor-a");
    const tenantB = await freshTenant("actor-b");
    const bUser = claimsOf(tenantB.admin.accessToken).user_id as string;
    const invitation = await invite(tenantA.admin.accessToken, `newcomer@${tenantA.slug}.test`, "member");
    const accepted = ok(await gql(ACCEPT, { token: invitation.token, name: "Newcomer", password: PASSWORD }, tenantB.admin.accessToken)).acceptInvitation.result;
    const newcomer = claimsOf(accepted.accessToken).user_id as string;
    expectGraphQLError(
      await gql(LOGIN, { slug: tenantA.slug, email: `admin@${tenantA.slug}.test`, password: "not-the-password" }, tenantB.admin.accessToken),
      "login",
      "INVALID_CREDENTIALS",
    );

    const byB = ok(await gql(AUDIT_BY_ACTOR, { actor: bUser }, tenantA.admin.accessToken)).auditEvents;
    expect(byB).toEqual({ totalCount: 0, nodes: [] });
    // The acceptance is recorded, by the user it created; the row insert and the failed login without an actor.
    const acceptedEvents = await auditEvents(tenantA.admin.accessToken, "invitation_accepted");
    expect(acceptedEvents).toEqual([expect.objectContaining({ rowKey: invitation.invitationId, actorUserId: newcomer })]);
    const inserted = (await auditEvents(tenantA.admin.accessToken, "insert")).filter((e) => e.rowKey === newcomer);
    expect(inserted).toEqual([expect.objectContaining({ tableName: "app_public.users", actorUserId: null })]);
    const failed = await auditEvents(tenantA.admin.accessToken, "login_failed");
    expect(failed).toEqual([expect.objectContaining({ actorUserId: null })]);
    // In B's own log, B's admin is still the actor of what it does there.
    ok(await gql(INVITE, { email: `x@${tenantB.slug}.test`, role: "MEMBER" }, tenantB.admin.accessToken));
    expect(ok(await gql(AUDIT_BY_ACTOR, { actor: bUser }, tenantB.admin.accessToken)).auditEvents.totalCount).toBeGreaterThan(0);
  });
});

describe("4. the 401 of a stale token is carried, not searched for", () => {
  it("an admin's request whose data holds the bytes of the stale-token error gets 200 and its data", async () => {
    // A task title (a string: escaped in JSON) ...
    const taskId = world.work.A.taskIds[1];
    const title = `${STALE_BYTES}} and more`;
    expect(ok(await gql(UPDATE_TASK_TITLE, { id: nodeId("Task", world.tenants.A.id, taskId), title }, tokenAdminA)).updateTask.task.title).toBe(title);
    // ... and a JSON value (written unescaped): an audit event whose details are that object, as the owner writes details.
    await withClient(db.ownerUrl, async (client) => {
      await client.query("begin");
      await client.query("select set_config('jwt.claims.tenant_id', $1, true)", [world.tenants.A.id]);
      await client.query("insert into app_public.audit_events (tenant_id, action, details) values ($1, 'bytes_test', $2)", [
        world.tenants.A.id,
        JSON.stringify({ extensions: { code: "INVALID_TOKEN" } }),
      ]);
      await client.query("commit");
    });
    const res = await fetch(`${api.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${tokenAdminA}` },
      body: JSON.stringify({ query: AUDIT, variables: { action: "bytes_test" } }),
    });
    const text = await res.text();
    expect(text).toContain(STALE_BYTES);
    expect(res.status).toBe(200);
    expect(JSON.parse(text).data.auditEvents.nodes).toEqual([expect.objectContaining({ details: { extensions: { code: "INVALID_TOKEN" } } })]);
  });

  it("a token whose session ended still gets 401 INVALID_TOKEN with no data, for a query and for a mutation", async () => {
    const tokens = await api.loginTokens(world.tenants.A.slug, world.memberA.email, world.password);
    ok(await gql(LOGOUT, { refreshToken: tokens.refreshToken }));
    for (const query of [ME, `mutation { logout(input: {refreshToken: "x"}) { result } }`]) {
      const res = await gql(query, {}, tokens.accessToken);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ errors: [{ message: "The token no longer matches its account or session.", extensions: { code: "INVALID_TOKEN" } }] });
    }
    expectGraphQLError(await gql(REFRESH, { refreshToken: tokens.refreshToken }), "refresh", "INVALID_REFRESH_TOKEN");
  });
});

describe("5. an operator's request is audited whole", () => {
  it("a 5,000-character comment before the selection does not hide it: the audit row holds the whole text, its sha256 and length, the operation's name, and its variables' sha256 and length", async () => {
    const operatorToken = ok(await gql(OPERATOR_LOGIN, { email: DEMO_OPERATOR.email, password: world.password })).operatorLogin.result.accessToken;
    const query = `query HiddenRead($id: UUID!) {\n# ${"x".repeat(5000)}\n  users(condition: {rowId: $id}) { nodes { email name } }\n}`;
    const variables = { id: world.memberA.id };
    const read = ok(await gql(query, variables, operatorToken, { "x-operator-tenant": world.tenants.A.id }, "HiddenRead"));
    expect(read.users.nodes).toEqual([expect.objectContaining({ email: world.memberA.email })]);

    const events = await auditEvents(tokenAdminA, "operator_access");
    const event = events[events.length - 1];
    expect(event).toMatchObject({ tenantId: world.tenants.A.id, actorOperatorId: claimsOf(operatorToken).operator_id, actorUserId: null });
    expect(event.details).toMatchObject({ method: "POST", path: "/graphql", operationName: "HiddenRead" });
    expect(event.details.query).toBe(query);
    expect(event.details.query).toContain("users(condition: {rowId: $id}) { nodes { email name } }");
    expect(event.details.querySha256).toBe(createHash("sha256").update(query, "utf8").digest("hex"));
    expect(event.details.queryBytes).toBe(Buffer.byteLength(query, "utf8"));
    // The variables are identified, not written (this log is the tenant's admins' to read).
    const sentVariables = JSON.stringify(variables);
    expect(event.details.variablesSha256).toBe(createHash("sha256").update(sentVariables, "utf8").digest("hex"));
    expect(event.details.variablesBytes).toBe(Buffer.byteLength(sentVariables, "utf8"));
    expect(JSON.stringify(event.details)).not.toContain(world.memberA.id);
  });
});
