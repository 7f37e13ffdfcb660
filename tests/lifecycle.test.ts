// The tenant lifecycle over real HTTP: invitations, roles and removal,
// password changes, sessions with rotating refresh tokens, login lockout,
// platform operators and the audit log. Flows that change state run in a
// tenant of their own (createTenant through the API), so that tests do not
// depend on each other's order; the demo tenants (acme, globex) are only
// read, or get invitations and one audited task update.
import jwt from "jsonwebtoken";
import { randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT_DIR } from "../db/migrate.ts";
import { DEMO_OPERATOR } from "../db/seed.ts";
import { withClient } from "../db/setup.ts";
import { nodeId, startApi, type GraphQLResponse, type TestApi } from "./helpers/api.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { createWorld, type World } from "./helpers/world.ts";

// ---------------------------------------------------------------------------
// GraphQL documents
// ---------------------------------------------------------------------------

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
const REVOKE_INVITATION = `mutation RevokeInvitation($id: UUID!) { revokeInvitation(input: {invitationId: $id}) { result { rowId status } } }`;
const INVITATIONS = "{ invitations(orderBy: CREATED_AT_ASC) { totalCount nodes { rowId tenantId email role status inviterId acceptedUserId } } }";
const INVITATION = "query Invitation($id: ID!) { invitation(id: $id) { rowId } }";
const SET_ROLE = `mutation SetRole($userId: UUID!, $role: UserRole!) { setUserRole(input: {userId: $userId, role: $role}) { result { rowId role } } }`;
const REMOVE_USER = `mutation RemoveUser($userId: UUID!) { removeUser(input: {userId: $userId}) { result } }`;
const CHANGE_PASSWORD = `mutation ChangePassword($old: String!, $new: String!) {
  changePassword(input: {oldPassword: $old, newPassword: $new}) { result } }`;
const OPERATOR_LOGIN = `mutation OperatorLogin($email: String!, $password: String!) {
  operatorLogin(input: {email: $email, password: $password}) { ${TOKENS} } }`;
const ME = "{ currentUser { rowId email name role tenantId } }";
const USERS = "{ users(orderBy: EMAIL_ASC) { totalCount nodes { rowId email role tenantId } } }";
const TASKS = "{ tasks(orderBy: PRIMARY_KEY_ASC) { totalCount nodes { rowId tenantId title } } }";
const TASK = "query Task($id: ID!) { task(id: $id) { rowId } }";
const TENANTS = "{ tenants { totalCount nodes { rowId slug } } }";
const AUDIT = `query Audit($action: String!) {
  auditEvents(condition: {action: $action}, orderBy: OCCURRED_AT_ASC) {
    totalCount nodes { tenantId action tableName rowKey changedColumns actorUserId actorOperatorId details } } }`;
const UPDATE_TASK_TITLE = `mutation UpdateTaskTitle($id: ID!, $title: String!) {
  updateTask(input: {id: $id, patch: {title: $title}}) { task { rowId title } } }`;

// ---------------------------------------------------------------------------
// Local helpers
// ---------------------------------------------------------------------------

const PASSWORD = "password123";
const NEW_PASSWORD = "another-password-456";
const CREDS_MESSAGE = "Incorrect tenant, email or password.";

interface Tokens {
  accessToken: string;
  refreshToken: string;
}
interface Tenant {
  id: string;
  slug: string;
  adminId: string;
  adminEmail: string;
  admin: Tokens;
}
interface Member {
  id: string;
  email: string;
  tokens: Tokens;
}
interface AuditEvent {
  tenantId: string;
  action: string;
  tableName: string | null;
  rowKey: string | null;
  changedColumns: string[] | null;
  actorUserId: string | null;
  actorOperatorId: string | null;
  details: Record<string, unknown>;
}
interface Call {
  token?: string;
  /** The X-Operator-Tenant header. */
  operatorTenant?: string;
  operationName?: string;
  /** Another API than the file's (e.g. one with short-lived tokens). */
  via?: TestApi;
}

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

/** POSTs a GraphQL request with an optional token, X-Operator-Tenant header and operationName. */
async function gql(query: string, variables: Record<string, unknown> = {}, call: Call = {}): Promise<GraphQLResponse> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (call.token !== undefined) headers.authorization = `Bearer ${call.token}`;
  if (call.operatorTenant !== undefined) headers["x-operator-tenant"] = call.operatorTenant;
  const body = JSON.stringify({ query, variables, ...(call.operationName ? { operationName: call.operationName } : {}) });
  const res = await fetch(`${(call.via ?? api).url}/graphql`, { method: "POST", headers, body });
  return { status: res.status, body: await res.json() };
}

/** The data of a successful response (no errors). */
function ok(response: GraphQLResponse): Record<string, any> {
  expect(response.body.errors, JSON.stringify(response.body.errors)).toBeUndefined();
  expect(response.status).toBe(200);
  return response.body.data!;
}

/** A GraphQL error: status 200, exactly one error with this code, and a null root field. */
function expectGraphQLError(response: GraphQLResponse, field: string, code: string) {
  expect(response.status).toBe(200);
  expect(response.body.errors, JSON.stringify(response.body)).toHaveLength(1);
  expect(response.body.errors![0].extensions?.code).toBe(code);
  expect(response.body.data?.[field] ?? null).toBeNull();
}

/** Refused before GraphQL runs: this status and code, and no data at all. */
function expectRefused(response: GraphQLResponse, status: 401 | 403, code: string) {
  expect(response.status).toBe(status);
  expect(response.body).toEqual({ errors: [{ message: expect.any(String), extensions: { code } }] });
}

/** The access token no longer works: its next request gets 401 INVALID_TOKEN. */
async function expectTokenRevoked(accessToken: string, via?: TestApi) {
  expectRefused(await gql(ME, {}, { token: accessToken, via }), 401, "INVALID_TOKEN");
}

/** The access token works: currentUser answers. */
async function me(accessToken: string, via?: TestApi) {
  return ok(await gql(ME, {}, { token: accessToken, via })).currentUser as {
    rowId: string;
    email: string;
    name: string;
    role: string;
    tenantId: string;
  };
}

const claimsOf = (token: string) => jwt.decode(token) as jwt.JwtPayload;

const login = (slug: string, email: string, password: string, via?: TestApi) => gql(LOGIN, { slug, email, password }, { via });
const refresh = (refreshToken: string, via?: TestApi) => gql(REFRESH, { refreshToken }, { via });

async function refreshed(refreshToken: string, via?: TestApi): Promise<Tokens> {
  return ok(await refresh(refreshToken, via)).refresh.result;
}

async function loggedIn(slug: string, email: string, password = PASSWORD): Promise<Tokens> {
  return ok(await login(slug, email, password)).login.result;
}

/** The tenant's audit events with this action, oldest first, as its admin sees them. */
async function auditEvents(adminToken: string, action: string): Promise<AuditEvent[]> {
  const data = ok(await gql(AUDIT, { action }, { token: adminToken }));
  expect(data.auditEvents.totalCount).toBe(data.auditEvents.nodes.length);
  return data.auditEvents.nodes;
}

let tenantCounter = 0;
/** A tenant of its own, created through the API (self-serve sign-up), with its admin's tokens. */
async function freshTenant(label: string): Promise<Tenant> {
  const slug = `${label}-${++tenantCounter}-${randomBytes(3).toString("hex")}`;
  const adminEmail = `admin@${slug}.test`;
  const data = ok(await gql(CREATE_TENANT, { name: `Tenant ${label}`, slug, email: adminEmail, password: PASSWORD }));
  const admin: Tokens = data.createTenant.result;
  const claims = claimsOf(admin.accessToken);
  return { id: claims.tenant_id, slug, adminId: claims.user_id, adminEmail, admin };
}

/** A user added to the tenant the documented way: its admin invites, the invitee accepts. */
async function addUser(tenant: Tenant, localPart: string, role: "admin" | "member" = "member"): Promise<Member> {
  const email = `${localPart}@${tenant.slug}.test`;
  const invitation = ok(await gql(INVITE, { email, role: role.toUpperCase() }, { token: tenant.admin.accessToken })).inviteUser.result;
  const tokens: Tokens = ok(await gql(ACCEPT, { token: invitation.token, name: localPart, password: PASSWORD })).acceptInvitation.result;
  return { id: claimsOf(tokens.accessToken).user_id, email, tokens };
}

/** Fixture only: moves an invitation's expiry into the past, as the owner in the tenant's context. */
async function expireInvitation(tenantId: string, invitationId: string) {
  await withClient(db.ownerUrl, async (client) => {
    await client.query("begin");
    await client.query("select set_config('jwt.claims.tenant_id', $1, true)", [tenantId]);
    const { rowCount } = await client.query(
      "update app_public.invitations set expires_at = now() - interval '1 minute' where tenant_id = $1 and id = $2",
      [tenantId, invitationId],
    );
    await client.query("commit");
    expect(rowCount).toBe(1);
  });
}

/** Waits until just after a wall-clock second starts (token expiry is counted in whole seconds). */
async function startOfSecond() {
  await sleep(1000 - (Date.now() % 1000) + 20);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** A syntactically valid token (tenant id, dot, 43 base64url characters) that was never issued. */
const madeUpToken = (tenantId: string) => `${tenantId}.${randomBytes(32).toString("base64url")}`;

// ---------------------------------------------------------------------------
// 1. Invitations
// ---------------------------------------------------------------------------

describe("invitations", () => {
  it("an admin invites a member: the token is shown once, the invitation lists as pending without it, and accepting creates a working user of that tenant only", async () => {
    const email = "carol@acme.test";
    const invited = ok(await gql(INVITE, { email, role: "MEMBER" }, { token: tokenAdminA })).inviteUser.result;
    expect(invited.invitationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(invited.token).toMatch(new RegExp(`^${world.tenants.A.id}\\.[A-Za-z0-9_-]{43}$`));
    const days = (Date.parse(invited.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);

    // Listed as pending; the token is nowhere in the listing, and the type has no field for it.
    const listed = ok(await gql(INVITATIONS, {}, { token: tokenAdminA }));
    expect(listed.invitations.nodes.filter((i: { rowId: string }) => i.rowId === invited.invitationId)).toEqual([
      {
        rowId: invited.invitationId,
        tenantId: world.tenants.A.id,
        email,
        role: "MEMBER",
        status: "PENDING",
        inviterId: world.adminA.id,
        acceptedUserId: null,
      },
    ]);
    expect(JSON.stringify(listed)).not.toContain(invited.token);
    expect(JSON.stringify(listed)).not.toContain(invited.token.split(".")[1]);
    const type = ok(await gql(`{ __type(name: "Invitation") { fields { name } } }`, {}, { token: tokenAdminA }));
    expect(type.__type.fields.map((f: { name: string }) => f.name).filter((n: string) => /token|secret|hash/i.test(n))).toEqual([]);
    const asked = await gql("{ invitations { nodes { token } } }", {}, { token: tokenAdminA });
    expect(asked.body.errors?.[0].message).toMatch(/token/);

    const sent = (await auditEvents(tokenAdminA, "invitation_sent")).filter((e) => e.rowKey === invited.invitationId);
    expect(sent).toEqual([
      expect.objectContaining({
        tableName: "app_public.invitations",
        actorUserId: world.adminA.id,
        details: { email, role: "member" },
      }),
    ]);
    expect(JSON.stringify(sent)).not.toContain(invited.token);

    // Accepting creates the user and logs them in.
    const tokens: Tokens = ok(await gql(ACCEPT, { token: invited.token, name: "Carol", password: PASSWORD })).acceptInvitation.result;
    expect(typeof tokens.accessToken).toBe("string");
    expect(tokens.refreshToken).toMatch(new RegExp(`^${world.tenants.A.id}\\.[A-Za-z0-9_-]{43}$`));
    const carol = await me(tokens.accessToken);
    expect(carol).toMatchObject({ email, name: "Carol", role: "MEMBER", tenantId: world.tenants.A.id });
    expect(claimsOf(tokens.accessToken)).toMatchObject({ role: "member", user_id: carol.rowId, tenant_id: world.tenants.A.id });

    // Carol sees acme's tasks, and nothing of globex.
    const acmeTasks = ok(await gql(TASKS, {}, { token: tokenAdminA })).tasks;
    const seen = ok(await gql(TASKS, {}, { token: tokens.accessToken })).tasks;
    expect(seen.totalCount).toBe(acmeTasks.totalCount);
    expect(seen.totalCount).toBe(world.work.A.taskIds.length);
    expect(seen.nodes.every((t: { tenantId: string }) => t.tenantId === world.tenants.A.id)).toBe(true);
    expect(ok(await gql(TASK, { id: nodeId("Task", world.tenants.B.id, world.work.B.taskIds[0]) }, { token: tokens.accessToken })).task).toBeNull();
    expect(ok(await gql(TENANTS, {}, { token: tokens.accessToken })).tenants.nodes).toEqual([
      { rowId: world.tenants.A.id, slug: world.tenants.A.slug },
    ]);
    // Carol can log in with the password she chose.
    expect(claimsOf((await loggedIn(world.tenants.A.slug, email)).accessToken).user_id).toBe(carol.rowId);

    const after = ok(await gql(INVITATIONS, {}, { token: tokenAdminA })).invitations.nodes;
    expect(after.find((i: { rowId: string }) => i.rowId === invited.invitationId)).toMatchObject({
      status: "ACCEPTED",
      acceptedUserId: carol.rowId,
    });
    const accepted = (await auditEvents(tokenAdminA, "invitation_accepted")).filter((e) => e.rowKey === invited.invitationId);
    expect(accepted).toEqual([
      expect.objectContaining({ actorUserId: carol.rowId, details: { email, role: "member", user_id: carol.rowId } }),
    ]);

    // The token is used up: no second user.
    const usersBefore = ok(await gql(USERS, {}, { token: tokenAdminA })).users.totalCount;
    expectGraphQLError(await gql(ACCEPT, { token: invited.token, name: "Carol Again", password: PASSWORD }), "acceptInvitation", "INVALID_INVITATION");
    expect(ok(await gql(USERS, {}, { token: tokenAdminA })).users.totalCount).toBe(usersBefore);
  });

  it("a revoked, an expired or a made-up invitation token gets BADIN and creates no user", async () => {
    const usersBefore = ok(await gql(USERS, {}, { token: tokenAdminA })).users.totalCount;

    const revoked = ok(await gql(INVITE, { email: "dave@acme.test", role: "MEMBER" }, { token: tokenAdminA })).inviteUser.result;
    const revocation = ok(await gql(REVOKE_INVITATION, { id: revoked.invitationId }, { token: tokenAdminA }));
    expect(revocation.revokeInvitation.result).toEqual({ rowId: revoked.invitationId, status: "REVOKED" });
    expectGraphQLError(await gql(ACCEPT, { token: revoked.token, name: "Dave", password: PASSWORD }), "acceptInvitation", "INVALID_INVITATION");
    const revokedEvents = (await auditEvents(tokenAdminA, "invitation_revoked")).filter((e) => e.rowKey === revoked.invitationId);
    expect(revokedEvents).toHaveLength(1);

    const expired = ok(await gql(INVITE, { email: "erin@acme.test", role: "ADMIN" }, { token: tokenAdminA })).inviteUser.result;
    await expireInvitation(world.tenants.A.id, expired.invitationId);
    expectGraphQLError(await gql(ACCEPT, { token: expired.token, name: "Erin", password: PASSWORD }), "acceptInvitation", "INVALID_INVITATION");
    // An expired invitation is no longer pending: it cannot be revoked either.
    expectGraphQLError(await gql(REVOKE_INVITATION, { id: expired.invitationId }, { token: tokenAdminA }), "revokeInvitation", "INVITATION_NOT_FOUND");

    const statuses = ok(await gql(INVITATIONS, {}, { token: tokenAdminA })).invitations.nodes;
    const statusOf = (id: string) => statuses.find((i: { rowId: string }) => i.rowId === id).status;
    expect(statusOf(revoked.invitationId)).toBe("REVOKED");
    expect(statusOf(expired.invitationId)).toBe("EXPIRED");

    for (const garbage of ["garbage", "", madeUpToken(world.tenants.A.id), madeUpToken(world.tenants.B.id), `${revoked.token}x`]) {
      expectGraphQLError(await gql(ACCEPT, { token: garbage, name: "Mallory", password: PASSWORD }), "acceptInvitation", "INVALID_INVITATION");
    }
    expect(ok(await gql(USERS, {}, { token: tokenAdminA })).users.totalCount).toBe(usersBefore);
  });

  it("members can neither invite (FORBIDDEN) nor list invitations (FORBIDDEN)", async () => {
    expectGraphQLError(await gql(INVITE, { email: "sneaky@acme.test", role: "ADMIN" }, { token: tokenMemberA }), "inviteUser", "FORBIDDEN");
    expectGraphQLError(await gql(INVITATIONS, {}, { token: tokenMemberA }), "invitations", "FORBIDDEN");
    const listed = ok(await gql(INVITATIONS, {}, { token: tokenAdminA })).invitations.nodes;
    expect(listed.filter((i: { email: string }) => i.email === "sneaky@acme.test")).toEqual([]);
  });

  it("another tenant's admin neither sees an invitation nor can revoke it (NOINV), and it stays pending", async () => {
    const invited = ok(await gql(INVITE, { email: "frank@acme.test", role: "MEMBER" }, { token: tokenAdminA })).inviteUser.result;

    const seenByB = ok(await gql(INVITATIONS, {}, { token: tokenAdminB })).invitations;
    expect(seenByB.nodes.every((i: { tenantId: string }) => i.tenantId === world.tenants.B.id)).toBe(true);
    expect(seenByB.nodes.map((i: { rowId: string }) => i.rowId)).not.toContain(invited.invitationId);
    expect(ok(await gql(INVITATION, { id: nodeId("Invitation", world.tenants.A.id, invited.invitationId) }, { token: tokenAdminB })).invitation).toBeNull();
    expectGraphQLError(await gql(REVOKE_INVITATION, { id: invited.invitationId }, { token: tokenAdminB }), "revokeInvitation", "INVITATION_NOT_FOUND");

    const seenByA = ok(await gql(INVITATIONS, {}, { token: tokenAdminA })).invitations.nodes;
    expect(seenByA.find((i: { rowId: string }) => i.rowId === invited.invitationId).status).toBe("PENDING");
    expect(ok(await gql(INVITATION, { id: nodeId("Invitation", world.tenants.A.id, invited.invitationId) }, { token: tokenAdminA })).invitation).toEqual({
      rowId: invited.invitationId,
    });
  });
});

// ---------------------------------------------------------------------------
// 2. Roles and removal
// ---------------------------------------------------------------------------

describe("roles and removal", () => {
  it("an admin promotes a member to admin and back: each change cuts the user's access token on the very next request, and a refresh hands out the new role", async () => {
    const tenant = await freshTenant("roles");
    const max = await addUser(tenant, "max");
    expect((await me(max.tokens.accessToken)).role).toBe("MEMBER");

    const promoted = ok(await gql(SET_ROLE, { userId: max.id, role: "ADMIN" }, { token: tenant.admin.accessToken }));
    expect(promoted.setUserRole.result).toEqual({ rowId: max.id, role: "ADMIN" });
    await expectTokenRevoked(max.tokens.accessToken);
    const asAdmin = await refreshed(max.tokens.refreshToken);
    expect(claimsOf(asAdmin.accessToken)).toMatchObject({ role: "admin", user_id: max.id });
    expect((await me(asAdmin.accessToken)).role).toBe("ADMIN");
    expect(ok(await gql(INVITATIONS, {}, { token: asAdmin.accessToken })).invitations.totalCount).toBe(1);

    const demoted = ok(await gql(SET_ROLE, { userId: max.id, role: "MEMBER" }, { token: tenant.admin.accessToken }));
    expect(demoted.setUserRole.result).toEqual({ rowId: max.id, role: "MEMBER" });
    await expectTokenRevoked(asAdmin.accessToken);
    const asMember = await refreshed(asAdmin.refreshToken);
    expect(claimsOf(asMember.accessToken)).toMatchObject({ role: "member", user_id: max.id });
    expect((await me(asMember.accessToken)).role).toBe("MEMBER");
    expectGraphQLError(await gql(INVITATIONS, {}, { token: asMember.accessToken }), "invitations", "FORBIDDEN");

    const events = await auditEvents(tenant.admin.accessToken, "role_changed");
    expect(events.map((e) => ({ rowKey: e.rowKey, actor: e.actorUserId, from: e.details.from, to: e.details.to }))).toEqual([
      { rowKey: max.id, actor: tenant.adminId, from: "member", to: "admin" },
      { rowKey: max.id, actor: tenant.adminId, from: "admin", to: "member" },
    ]);
    expect(events.every((e) => e.tableName === "app_public.users" && e.details.email === max.email)).toBe(true);
  });

  it("removing a user cuts their access token at once and their refresh token gets BADRT", async () => {
    const tenant = await freshTenant("removal");
    const leaver = await addUser(tenant, "leaver");
    const stayer = await addUser(tenant, "stayer");
    expect((await me(leaver.tokens.accessToken)).email).toBe(leaver.email);

    expect(ok(await gql(REMOVE_USER, { userId: leaver.id }, { token: tenant.admin.accessToken })).removeUser.result).toBe(true);
    await expectTokenRevoked(leaver.tokens.accessToken);
    expectGraphQLError(await refresh(leaver.tokens.refreshToken), "refresh", "INVALID_REFRESH_TOKEN");
    expectGraphQLError(await login(tenant.slug, leaver.email, PASSWORD), "login", "INVALID_CREDENTIALS");
    // The others are unaffected.
    expect((await me(stayer.tokens.accessToken)).email).toBe(stayer.email);
    const users = ok(await gql(USERS, {}, { token: tenant.admin.accessToken })).users;
    expect(users.nodes.map((u: { email: string }) => u.email)).toEqual([tenant.adminEmail, stayer.email].sort());
    // Removing again: no such user.
    expectGraphQLError(await gql(REMOVE_USER, { userId: leaver.id }, { token: tenant.admin.accessToken }), "removeUser", "USER_NOT_FOUND");

    const events = await auditEvents(tenant.admin.accessToken, "user_removed");
    expect(events).toEqual([
      expect.objectContaining({
        tableName: "app_public.users",
        rowKey: leaver.id,
        actorUserId: tenant.adminId,
        details: { email: leaver.email, role: "member" },
      }),
    ]);
  });

  it("the last admin can be neither demoted nor removed (LASTA)", async () => {
    const tenant = await freshTenant("lasta");
    const token = tenant.admin.accessToken;
    expectGraphQLError(await gql(SET_ROLE, { userId: tenant.adminId, role: "MEMBER" }, { token }), "setUserRole", "LAST_ADMIN");
    expectGraphQLError(await gql(REMOVE_USER, { userId: tenant.adminId }, { token }), "removeUser", "LAST_ADMIN");
    expect((await me(token)).role).toBe("ADMIN");
    expect(await auditEvents(token, "role_changed")).toEqual([]);

    // With a second admin the first may go; then the second is the last one.
    const second = await addUser(tenant, "second", "admin");
    expect(ok(await gql(REMOVE_USER, { userId: tenant.adminId }, { token: second.tokens.accessToken })).removeUser.result).toBe(true);
    await expectTokenRevoked(token);
    expectGraphQLError(
      await gql(SET_ROLE, { userId: second.id, role: "MEMBER" }, { token: second.tokens.accessToken }),
      "setUserRole",
      "LAST_ADMIN",
    );
    expectGraphQLError(await gql(REMOVE_USER, { userId: second.id }, { token: second.tokens.accessToken }), "removeUser", "LAST_ADMIN");
    expect((await me(second.tokens.accessToken)).role).toBe("ADMIN");
  });

  it("a member renames themselves, but cannot change their own role or email through updateUser (nor setUserRole); both stay as they were", async () => {
    const tenant = await freshTenant("selfedit");
    const mia = await addUser(tenant, "mia");
    const token = mia.tokens.accessToken;
    const update = (patch: string) =>
      gql(
        `mutation UpdateSelf($id: ID!) { updateUser(input: {id: $id, patch: ${patch}}) { user { name email role } } }`,
        { id: nodeId("User", tenant.id, mia.id) },
        { token },
      );

    for (const [patch, field] of [
      ["{role: ADMIN}", "role"],
      [`{email: "boss@${tenant.slug}.test"}`, "email"],
    ] as const) {
      const refused = await update(patch);
      // UserPatch has no such field: a validation error, nothing runs.
      expect(refused.status).toBe(400);
      expect(refused.body.data ?? null).toBeNull();
      expect(refused.body.errors).toHaveLength(1);
      expect(refused.body.errors![0].message).toContain(`"${field}"`);
    }
    expectGraphQLError(await gql(SET_ROLE, { userId: mia.id, role: "ADMIN" }, { token }), "setUserRole", "FORBIDDEN");
    expect(await me(token)).toMatchObject({ email: mia.email, role: "MEMBER", name: "mia" });

    const renamed = ok(await update(`{name: "Mia Renamed"}`));
    expect(renamed.updateUser.user).toEqual({ name: "Mia Renamed", email: mia.email, role: "MEMBER" });
    expect(await me(token)).toMatchObject({ email: mia.email, role: "MEMBER", name: "Mia Renamed" });
    const seenByAdmin = ok(await gql(USERS, {}, { token: tenant.admin.accessToken })).users.nodes;
    expect(seenByAdmin.find((u: { rowId: string }) => u.rowId === mia.id)).toMatchObject({ email: mia.email, role: "MEMBER" });

    // Another user's name is not hers to change: no row matches.
    const other = await gql(
      `mutation RenameOther($id: ID!) { updateUser(input: {id: $id, patch: {name: "Pwned"}}) { user { name } } }`,
      { id: nodeId("User", tenant.id, tenant.adminId) },
      { token },
    );
    expect(other.body.data?.updateUser?.user ?? null).toBeNull();
    expect((await me(tenant.admin.accessToken)).name).toBe("admin");
  });
});

// ---------------------------------------------------------------------------
// 3. Password changes
// ---------------------------------------------------------------------------

describe("change password", () => {
  it("a wrong current password gets CREDS; a change ends the user's other sessions at once but not the one that made it, and only the new password logs in", async () => {
    const tenant = await freshTenant("password");
    const pat = await addUser(tenant, "pat");
    const current = pat.tokens; // the session that changes the password
    const other = await loggedIn(tenant.slug, pat.email); // a second session (another device)
    expect(claimsOf(other.accessToken).session_id).not.toBe(claimsOf(current.accessToken).session_id);

    expectGraphQLError(
      await gql(CHANGE_PASSWORD, { old: "not-my-password", new: NEW_PASSWORD }, { token: current.accessToken }),
      "changePassword",
      "INVALID_CREDENTIALS",
    );
    expect((await me(other.accessToken)).email).toBe(pat.email);
    expect(await auditEvents(tenant.admin.accessToken, "password_changed")).toEqual([]);

    const changed = ok(await gql(CHANGE_PASSWORD, { old: PASSWORD, new: NEW_PASSWORD }, { token: current.accessToken }));
    expect(changed.changePassword.result).toBe(true);

    await expectTokenRevoked(other.accessToken);
    expectGraphQLError(await refresh(other.refreshToken), "refresh", "INVALID_REFRESH_TOKEN");
    expect((await me(current.accessToken)).email).toBe(pat.email);
    const next = await refreshed(current.refreshToken);
    expect((await me(next.accessToken)).email).toBe(pat.email);

    const oldLogin = await login(tenant.slug, pat.email, PASSWORD);
    expectGraphQLError(oldLogin, "login", "INVALID_CREDENTIALS");
    expect(oldLogin.body.errors![0].message).toBe(CREDS_MESSAGE);
    const fresh = ok(await login(tenant.slug, pat.email, NEW_PASSWORD)).login.result;
    expect((await me(fresh.accessToken)).email).toBe(pat.email);

    const events = await auditEvents(tenant.admin.accessToken, "password_changed");
    expect(events).toEqual([expect.objectContaining({ tableName: "app_public.users", rowKey: pat.id, actorUserId: pat.id })]);
    expect(JSON.stringify(events)).not.toContain(NEW_PASSWORD);
  });
});

// ---------------------------------------------------------------------------
// 4. Sessions
// ---------------------------------------------------------------------------

describe("sessions", () => {
  it("refresh rotates the pair; replaying a used refresh token gets BADRT and revokes that whole session (theft detection), not the user's other sessions", async () => {
    const tenant = await freshTenant("sessions");
    const sam = await addUser(tenant, "sam");
    const first = await loggedIn(tenant.slug, sam.email);
    const sessionId = claimsOf(first.accessToken).session_id;

    const logins = (await auditEvents(tenant.admin.accessToken, "login")).filter((e) => e.rowKey === sam.id);
    expect(logins).toEqual([
      expect.objectContaining({ tableName: "app_public.users", actorUserId: sam.id, details: { session_id: sessionId } }),
    ]);

    const second = await refreshed(first.refreshToken);
    // (The access token may be byte-identical when issued within the same second: same claims, same iat.)
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(claimsOf(second.accessToken)).toMatchObject({ session_id: sessionId, user_id: sam.id, role: "member" });
    expect((await me(second.accessToken)).email).toBe(sam.email);
    const third = await refreshed(second.refreshToken);
    expect((await me(third.accessToken)).email).toBe(sam.email);

    // The same user's other session, which must survive the theft response.
    const elsewhere = await loggedIn(tenant.slug, sam.email);
    expect(await auditEvents(tenant.admin.accessToken, "refresh_token_reused")).toEqual([]);

    // Someone replays the first refresh token.
    expectGraphQLError(await refresh(first.refreshToken), "refresh", "INVALID_REFRESH_TOKEN");
    await expectTokenRevoked(third.accessToken);
    expectGraphQLError(await refresh(third.refreshToken), "refresh", "INVALID_REFRESH_TOKEN");
    expect((await me(elsewhere.accessToken)).email).toBe(sam.email);

    expectGraphQLError(await refresh(first.refreshToken), "refresh", "INVALID_REFRESH_TOKEN");
    const reused = await auditEvents(tenant.admin.accessToken, "refresh_token_reused");
    expect(reused).toEqual([expect.objectContaining({ rowKey: sam.id, actorUserId: sam.id, details: { session_id: sessionId } })]);
  });

  it("logout ends the session at once: its access token gets 401 and its refresh token BADRT; logging out a made-up token still returns true", async () => {
    const tenant = await freshTenant("logout");
    const lou = await addUser(tenant, "lou");
    const session = await loggedIn(tenant.slug, lou.email);
    expect((await me(session.accessToken)).email).toBe(lou.email);

    expect(ok(await gql(LOGOUT, { refreshToken: session.refreshToken })).logout.result).toBe(true);
    await expectTokenRevoked(session.accessToken);
    expectGraphQLError(await refresh(session.refreshToken), "refresh", "INVALID_REFRESH_TOKEN");
    // The session that accepted the invitation is another one.
    expect((await me(lou.tokens.accessToken)).email).toBe(lou.email);

    for (const garbage of ["garbage", "", madeUpToken(tenant.id), session.refreshToken]) {
      expect(ok(await gql(LOGOUT, { refreshToken: garbage })).logout.result).toBe(true);
    }
  });

  it("npm run db:prune deletes sessions that ended over a day ago (their refresh tokens still get BADRT), and keeps live and recently ended ones", async () => {
    const tenant = await freshTenant("prune");
    const pat = await addUser(tenant, "pat");
    const old = await loggedIn(tenant.slug, pat.email);
    const recent = await loggedIn(tenant.slug, pat.email);
    const live = await loggedIn(tenant.slug, pat.email);
    for (const ended of [old, recent]) expect(ok(await gql(LOGOUT, { refreshToken: ended.refreshToken })).logout.result).toBe(true);
    // As the owner (a fixture): the old session ended two days ago.
    const sessions = (sql: string, values: unknown[]) =>
      withClient(db.ownerUrl, async (c) => {
        await c.query("begin");
        await c.query("select set_config('jwt.claims.tenant_id', $1, true)", [tenant.id]);
        const { rows } = await c.query(sql, values);
        await c.query("commit");
        return rows;
      });
    await sessions("update app_private.sessions set revoked_at = now() - interval '2 days' where id = $1", [claimsOf(old.accessToken).session_id]);
    const before = await sessions("select id from app_private.sessions where user_id = $1 order by id", [pat.id]);

    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT_DIR, "bin/prune.ts")], {
      cwd: ROOT_DIR,
      env: { PATH: process.env.PATH, DATABASE_URL: db.ownerUrl, AUTH_DATABASE_URL: db.authUrl },
    });
    expect(stdout).toMatch(/^pruned [1-9]\d* ended sessions?$/m);

    const after = await sessions("select id from app_private.sessions where user_id = $1 order by id", [pat.id]);
    expect(after.map((r) => r.id).sort()).toEqual(
      before.map((r) => r.id).filter((id) => id !== claimsOf(old.accessToken).session_id).sort(),
    );
    expect(await sessions("select count(*)::int as n from app_private.refresh_tokens where session_id = $1", [claimsOf(old.accessToken).session_id])).toEqual([{ n: 0 }]);
    expectGraphQLError(await refresh(old.refreshToken), "refresh", "INVALID_REFRESH_TOKEN");
    expectGraphQLError(await refresh(recent.refreshToken), "refresh", "INVALID_REFRESH_TOKEN");
    expect((await me((await refreshed(live.refreshToken)).accessToken)).email).toBe(pat.email);
  });

  it("an access token expires after JWT_EXPIRES_IN (401 TOKEN_EXPIRED) while its refresh token still gives a working pair", async () => {
    const tenant = await freshTenant("expiry");
    const eve = await addUser(tenant, "eve");
    const short = await startApi(db, { JWT_EXPIRES_IN: "1" });

    await startOfSecond();
    const tokens: Tokens = ok(await login(tenant.slug, eve.email, PASSWORD, short)).login.result;
    const claims = claimsOf(tokens.accessToken);
    expect(claims.exp! - claims.iat!).toBe(1);
    expect((await me(tokens.accessToken, short)).email).toBe(eve.email);

    await sleep(2100);
    expectRefused(await gql(ME, {}, { token: tokens.accessToken, via: short }), 401, "TOKEN_EXPIRED");

    await startOfSecond();
    const renewed = await refreshed(tokens.refreshToken, short);
    expect(claimsOf(renewed.accessToken).session_id).toBe(claims.session_id);
    expect((await me(renewed.accessToken, short)).email).toBe(eve.email);
  });
});

// ---------------------------------------------------------------------------
// 5. Login lockout
// ---------------------------------------------------------------------------

describe("login lockout", () => {
  it("five wrong passwords lock that tenant and email: each gets CREDS, the sixth attempt gets LOCKD even with the right password, other emails of the tenant are not locked, and each failure is in the audit log", async () => {
    const tenant = await freshTenant("lockout");
    const victim = await addUser(tenant, "victim");
    const bystander = await addUser(tenant, "bystander");

    for (let i = 1; i <= 5; i++) {
      const failed = await login(tenant.slug, victim.email, `wrong-password-${i}`);
      expectGraphQLError(failed, "login", "INVALID_CREDENTIALS");
      expect(failed.body.errors![0].message).toBe(CREDS_MESSAGE);
    }
    expectGraphQLError(await login(tenant.slug, victim.email, PASSWORD), "login", "LOGIN_LOCKED");
    // The victim's existing session is not affected by the lock.
    expect((await me(victim.tokens.accessToken)).email).toBe(victim.email);

    expect((await me((await loggedIn(tenant.slug, bystander.email)).accessToken)).email).toBe(bystander.email);
    expect((await me((await loggedIn(tenant.slug, tenant.adminEmail)).accessToken)).email).toBe(tenant.adminEmail);

    // Recorded although every attempt failed (the failures commit; LOCKD is refused before any check and not counted).
    const failures = await auditEvents(tenant.admin.accessToken, "login_failed");
    expect(failures).toHaveLength(5);
    for (const event of failures) {
      expect(event).toMatchObject({
        tenantId: tenant.id,
        tableName: "app_public.users",
        rowKey: victim.id,
        actorUserId: null,
        details: { email: victim.email, reason: "wrong_password" },
      });
    }
  });

  it("an unknown email gets exactly the same CREDS answer as a wrong password, and is locked after five failures too (no account enumeration)", async () => {
    const tenant = await freshTenant("enumeration");
    const known = await addUser(tenant, "known");
    const ghost = `ghost@${tenant.slug}.test`;

    const wrongPassword = await login(tenant.slug, known.email, "wrong-password");
    const unknownEmail = await login(tenant.slug, ghost, PASSWORD);
    expectGraphQLError(wrongPassword, "login", "INVALID_CREDENTIALS");
    expect(unknownEmail).toEqual(wrongPassword);

    for (let i = 2; i <= 5; i++) expectGraphQLError(await login(tenant.slug, ghost, `guess-${i}-guess`), "login", "INVALID_CREDENTIALS");
    const locked = await login(tenant.slug, ghost, PASSWORD);
    expectGraphQLError(locked, "login", "LOGIN_LOCKED");
    // A locked real account answers the same.
    for (let i = 2; i <= 5; i++) await login(tenant.slug, known.email, `wrong-password-${i}`);
    expect(await login(tenant.slug, known.email, PASSWORD)).toEqual(locked);

    const failures = await auditEvents(tenant.admin.accessToken, "login_failed");
    expect(failures.filter((e) => e.details.reason === "unknown_email")).toEqual(
      Array(5).fill(expect.objectContaining({ rowKey: null, actorUserId: null, details: { email: ghost, reason: "unknown_email" } })),
    );
    expect(failures.filter((e) => e.details.reason === "wrong_password")).toHaveLength(5);
    expect(failures).toHaveLength(10);
  });

  it("an unknown email takes as long as a wrong password (one bcrypt each): the ratio of median latencies is between 0.5 and 2", async () => {
    const tenant = await freshTenant("timing");
    const users: Member[] = [];
    for (let i = 0; i < 5; i++) users.push(await addUser(tenant, `user${i}`));
    const timed = async (email: string, password: string) => {
      const start = performance.now();
      expectGraphQLError(await login(tenant.slug, email, password), "login", "INVALID_CREDENTIALS");
      return performance.now() - start;
    };
    // Warm up both paths (connections, prepared plans).
    await timed(`warmup@${tenant.slug}.test`, PASSWORD);
    await timed(tenant.adminEmail, "wrong-password");

    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < 5; i++) {
      unknown.push(await timed(`nobody${i}@${tenant.slug}.test`, PASSWORD));
      wrong.push(await timed(users[i].email, "wrong-password"));
    }
    const ratio = median(unknown) / median(wrong);
    console.log(
      `[lifecycle] login latency, median of 5: unknown email ${median(unknown).toFixed(1)} ms ` +
        `(${unknown.map((t) => t.toFixed(0)).join(", ")}), wrong password ${median(wrong).toFixed(1)} ms ` +
        `(${wrong.map((t) => t.toFixed(0)).join(", ")}); ratio ${ratio.toFixed(2)}`,
    );
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});

// ---------------------------------------------------------------------------
// 6. Platform operators
// ---------------------------------------------------------------------------

describe("operators", () => {
  let operatorToken: string;
  let operatorId: string;

  beforeAll(async () => {
    const data = ok(await gql(OPERATOR_LOGIN, { email: DEMO_OPERATOR.email, password: world.password }));
    operatorToken = data.operatorLogin.result.accessToken;
    operatorId = claimsOf(operatorToken).operator_id;
  });

  /** acme's and globex's operator_access events, as their admins see them. */
  const operatorAccess = async () => ({
    A: await auditEvents(tokenAdminA, "operator_access"),
    B: await auditEvents(tokenAdminB, "operator_access"),
  });

  it("operatorLogin with a wrong password gets CREDS; the right one gives an operator access token and no refresh token", async () => {
    const wrong = await gql(OPERATOR_LOGIN, { email: DEMO_OPERATOR.email, password: "not-the-password" });
    expectGraphQLError(wrong, "operatorLogin", "INVALID_CREDENTIALS");
    expect(wrong.body.errors![0].message).toBe("Incorrect email or password.");
    const unknown = await gql(OPERATOR_LOGIN, { email: "nobody@platform.test", password: world.password });
    expect(unknown).toEqual(wrong);

    const result = ok(await gql(OPERATOR_LOGIN, { email: DEMO_OPERATOR.email, password: world.password })).operatorLogin.result;
    expect(typeof result.accessToken).toBe("string");
    expect(result.refreshToken).toBeNull();
    const claims = claimsOf(result.accessToken);
    expect(claims).toMatchObject({ role: "operator", sub: claims.operator_id, aud: api.config.jwt.audience, iss: api.config.jwt.issuer });
    expect(claims.user_id ?? null).toBeNull();
    expect(claims.tenant_id ?? null).toBeNull();
    expect(claims.session_id ?? null).toBeNull();

    const whoami = ok(await gql("{ currentOperator { rowId email } }", {}, { token: result.accessToken }));
    expect(whoami).toEqual({ currentOperator: { rowId: claims.operator_id, email: DEMO_OPERATOR.email } });
  });

  it("currentUser and currentOperator answer everyone in one query: null for what the caller is not, never an error", async () => {
    const WHO = "{ currentUser { email } currentOperator { email } }";
    expect(ok(await gql(WHO, {}, { token: operatorToken }))).toEqual({ currentUser: null, currentOperator: { email: DEMO_OPERATOR.email } });
    expect(ok(await gql(WHO, {}, { token: tokenAdminA }))).toEqual({ currentUser: { email: world.adminA.email }, currentOperator: null });
    expect(ok(await gql(WHO))).toEqual({ currentUser: null, currentOperator: null });
  });

  it("without X-Operator-Tenant an operator lists every tenant but sees no tenant's tasks, users, invitations or audit events, and nothing is audited", async () => {
    const before = await operatorAccess();
    const data = ok(
      await gql(
        "{ tenants { totalCount nodes { rowId slug } } tasks { totalCount } users { totalCount } invitations { totalCount } auditEvents { totalCount } }",
        {},
        { token: operatorToken },
      ),
    );
    expect(data.tenants.totalCount).toBeGreaterThanOrEqual(2);
    expect(data.tenants.nodes.map((t: { slug: string }) => t.slug)).toEqual(expect.arrayContaining(["acme", "globex"]));
    expect(data.tasks.totalCount).toBe(0);
    expect(data.users.totalCount).toBe(0);
    expect(data.invitations.totalCount).toBe(0);
    expect(data.auditEvents.totalCount).toBe(0);
    expect(await operatorAccess()).toEqual(before);
  });

  it("with X-Operator-Tenant an operator reads inside that tenant only, and each request is audited there once", async () => {
    const before = await operatorAccess();
    const acmeTasks = ok(await gql(TASKS, {}, { token: tokenAdminA })).tasks;
    const seen = ok(await gql(TASKS, {}, { token: operatorToken, operatorTenant: world.tenants.A.id })).tasks;
    expect(seen).toEqual(acmeTasks);
    expect(seen.nodes.map((t: { rowId: string }) => t.rowId).sort()).toEqual([...world.work.A.taskIds].sort());
    const globexTask = await gql(TASK, { id: nodeId("Task", world.tenants.B.id, world.work.B.taskIds[0]) }, { token: operatorToken, operatorTenant: world.tenants.A.id });
    expect(ok(globexTask).task).toBeNull();
    const users = ok(await gql(USERS, {}, { token: operatorToken, operatorTenant: world.tenants.A.id })).users;
    expect(users.nodes.every((u: { tenantId: string }) => u.tenantId === world.tenants.A.id)).toBe(true);
    expect(users.nodes.map((u: { email: string }) => u.email)).toEqual(expect.arrayContaining([world.adminA.email, world.memberA.email]));

    const after = await operatorAccess();
    expect(after.A).toHaveLength(before.A.length + 3);
    expect(after.B).toEqual(before.B);
    for (const event of after.A.slice(before.A.length)) {
      expect(event).toMatchObject({ tenantId: world.tenants.A.id, actorOperatorId: operatorId, actorUserId: null, tableName: null });
      expect(event.details).toMatchObject({ method: "POST", path: "/graphql" });
    }
  });

  it("an operator inside a tenant can create, update or delete nothing (FORBIDDEN); each attempt adds exactly one operator_access event, naming the operation, to that tenant's log and none to another's", async () => {
    const A = world.tenants.A.id;
    const taskId = world.work.A.taskIds[0];
    const attempts: [operationName: string, field: string, query: string][] = [
      ["OperatorCreatesProject", "createProject", `mutation OperatorCreatesProject { createProject(input: {project: {name: "Ops"}}) { project { rowId } } }`],
      ["OperatorCreatesTask", "createTask", `mutation OperatorCreatesTask { createTask(input: {task: {projectId: "${world.work.A.projectId}", title: "Ops"}}) { task { rowId } } }`],
      ["OperatorUpdatesTask", "updateTask", `mutation OperatorUpdatesTask { updateTask(input: {id: "${nodeId("Task", A, taskId)}", patch: {title: "Ops"}}) { task { rowId } } }`],
      ["OperatorDeletesTask", "deleteTask", `mutation OperatorDeletesTask { deleteTask(input: {id: "${nodeId("Task", A, taskId)}"}) { task { rowId } } }`],
      ["OperatorCreatesComment", "createComment", `mutation OperatorCreatesComment { createComment(input: {comment: {taskId: "${taskId}", body: "Ops"}}) { comment { rowId } } }`],
      ["OperatorDeletesComment", "deleteComment", `mutation OperatorDeletesComment { deleteComment(input: {id: "${nodeId("Comment", A, world.work.A.commentId)}"}) { comment { rowId } } }`],
      ["OperatorRenamesTenant", "updateTenant", `mutation OperatorRenamesTenant { updateTenant(input: {id: "${nodeId("Tenant", A)}", patch: {name: "Ops"}}) { tenant { rowId } } }`],
      ["OperatorRenamesUser", "updateUser", `mutation OperatorRenamesUser { updateUser(input: {id: "${nodeId("User", A, world.memberA.id)}", patch: {name: "Ops"}}) { user { rowId } } }`],
      ["OperatorInvites", "inviteUser", `mutation OperatorInvites { inviteUser(input: {email: "ops-friend@acme.test", role: ADMIN}) { result { token } } }`],
      ["OperatorChangesRole", "setUserRole", `mutation OperatorChangesRole { setUserRole(input: {userId: "${world.memberA.id}", role: ADMIN}) { result { role } } }`],
      ["OperatorRemovesUser", "removeUser", `mutation OperatorRemovesUser { removeUser(input: {userId: "${world.memberA.id}"}) { result } }`],
      ["OperatorChangesPassword", "changePassword", `mutation OperatorChangesPassword { changePassword(input: {oldPassword: "x", newPassword: "new-password-1"}) { result } }`],
      ["OperatorDeletesTenant", "deleteTenant", `mutation OperatorDeletesTenant { deleteTenant(input: {confirmSlug: "acme"}) { result } }`],
    ];
    const snapshot = async () => ({
      tasks: ok(await gql(TASKS, {}, { token: tokenAdminA })).tasks,
      users: ok(await gql(USERS, {}, { token: tokenAdminA })).users,
      projects: ok(await gql("{ projects { totalCount } comments { totalCount } tenants { nodes { name } } }", {}, { token: tokenAdminA })),
      invitations: ok(await gql(INVITATIONS, {}, { token: tokenAdminA })).invitations,
      rowChanges: await Promise.all(["insert", "update", "delete"].map((action) => auditEvents(tokenAdminA, action))),
    });
    const dataBefore = await snapshot();
    const globexBefore = await auditEvents(tokenAdminB, "operator_access");

    for (const [operationName, field, query] of attempts) {
      const before = await auditEvents(tokenAdminA, "operator_access");
      const response = await gql(query, {}, { token: operatorToken, operatorTenant: A, operationName });
      expectGraphQLError(response, field, "FORBIDDEN");
      const after = await auditEvents(tokenAdminA, "operator_access");
      expect(after, operationName).toHaveLength(before.length + 1);
      const event = after[after.length - 1];
      expect(event).toMatchObject({ tenantId: A, actorOperatorId: operatorId, actorUserId: null });
      expect(event.details).toMatchObject({ method: "POST", path: "/graphql", operationName });
      expect(event.details.query).toContain(operationName);
    }

    expect(await snapshot()).toEqual(dataBefore);
    expect(await auditEvents(tokenAdminB, "operator_access")).toEqual(globexBefore);
  });

  it("X-Operator-Tenant must be a tenant id (403 FORBIDDEN) of an existing tenant (401 INVALID_TOKEN); neither is audited", async () => {
    const before = await operatorAccess();
    expectRefused(await gql(TASKS, {}, { token: operatorToken, operatorTenant: "acme" }), 403, "FORBIDDEN");
    expectRefused(await gql(TASKS, {}, { token: operatorToken, operatorTenant: `${world.tenants.A.id}' or true --` }), 403, "FORBIDDEN");
    expectRefused(await gql(TASKS, {}, { token: operatorToken, operatorTenant: "00000000-0000-4000-8000-000000000000" }), 401, "INVALID_TOKEN");
    expect(await operatorAccess()).toEqual(before);
  });

  it("only an operator's token may name a tenant: a tenant admin or an anonymous caller sending X-Operator-Tenant gets 403 FORBIDDEN and no data", async () => {
    for (const tenantId of [world.tenants.A.id, world.tenants.B.id]) {
      expectRefused(await gql(TASKS, {}, { token: tokenAdminA, operatorTenant: tenantId }), 403, "FORBIDDEN");
      expectRefused(await gql(TASKS, {}, { operatorTenant: tenantId }), 403, "FORBIDDEN");
    }
    // Without the header the same admin token still works.
    expect(ok(await gql(TASKS, {}, { token: tokenAdminA })).tasks.totalCount).toBe(world.work.A.taskIds.length);
  });

  it("operator rights cannot be forged: an operator role claim signed with another secret gets 401, and one signed with the right secret for a tenant user (not an operator in the database) gets 401", async () => {
    const sign = (claims: Record<string, unknown>, secret = api.config.jwt.secret) =>
      jwt.sign(claims, secret, {
        algorithm: "HS256",
        audience: api.config.jwt.audience,
        issuer: api.config.jwt.issuer,
        expiresIn: 600,
      });
    const { iat: _iat, exp: _exp, aud: _aud, iss: _iss, ...aliceClaims } = claimsOf(tokenAdminA);
    const before = await operatorAccess();

    // Alice's own claims with the role changed, without the key.
    expectRefused(await gql(TASKS, {}, { token: sign({ ...aliceClaims, role: "operator" }, "not-the-secret-not-the-secret-0123") }), 401, "INVALID_TOKEN");
    const asOperatorWrongKey = sign({ role: "operator", sub: world.adminA.id, operator_id: world.adminA.id }, randomBytes(32).toString("hex"));
    expectRefused(await gql(TASKS, {}, { token: asOperatorWrongKey, operatorTenant: world.tenants.A.id }), 401, "INVALID_TOKEN");

    // With the key: an operator id that is a tenant user's id, not an operator's.
    const userAsOperator = sign({ role: "operator", sub: world.adminA.id, operator_id: world.adminA.id });
    expectRefused(await gql(TENANTS, {}, { token: userAsOperator }), 401, "INVALID_TOKEN");
    expectRefused(await gql(TASKS, {}, { token: userAsOperator, operatorTenant: world.tenants.A.id }), 401, "INVALID_TOKEN");
    // Alice's claims with role operator: user and tenant claims do not belong in an operator's token.
    expectRefused(await gql(TASKS, {}, { token: sign({ ...aliceClaims, role: "operator" }) }), 401, "INVALID_TOKEN");
    expect(await operatorAccess()).toEqual(before);

    // Control: the same construction for the real operator id works.
    const real = sign({ role: "operator", sub: operatorId, operator_id: operatorId });
    expect(ok(await gql(TENANTS, {}, { token: real })).tenants.totalCount).toBeGreaterThanOrEqual(2);
  });

  it("GET /export with X-Operator-Tenant gives that tenant's NDJSON only (200), and is audited; without the header it gets 403", async () => {
    const before = await operatorAccess();
    const res = await fetch(`${api.url}/export`, {
      headers: { authorization: `Bearer ${operatorToken}`, "x-operator-tenant": world.tenants.A.id },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    const text = await res.text();
    const lines = text.trimEnd().split("\n").map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({ type: "header", tenant: { id: world.tenants.A.id, slug: "acme" } });
    const end = lines[lines.length - 1];
    expect(end.type).toBe("end");
    const rows = lines.slice(1, -1);
    expect(end.total).toBe(rows.length);
    // The tenant's own row, and no other tenant's. (Fails at the time of writing: the export selects
    // app_public.tenants without a WHERE and relies on RLS, but the policy select_as_operator on
    // tenants (000006) is `using (true)`, so an operator's export lists every tenant's row.)
    expect(rows.filter((r) => r.table === "app_public.tenants").map((r) => r.data.slug)).toEqual(["acme"]);
    expect(end.rows["app_public.tenants"]).toBe(1);
    for (const row of rows) {
      expect(row.type).toBe("row");
      expect(row.table === "app_public.tenants" ? row.data.id : row.data.tenant_id).toBe(world.tenants.A.id);
    }
    const tasks = rows.filter((r) => r.table === "app_public.tasks").map((r) => r.data.id).sort();
    expect(tasks).toEqual([...world.work.A.taskIds].sort());
    expect(text).not.toContain(world.tenants.B.id);
    expect(text).not.toContain("globex");

    const forbidden = await fetch(`${api.url}/export`, { headers: { authorization: `Bearer ${operatorToken}` } });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toEqual({ errors: [{ message: expect.any(String), extensions: { code: "FORBIDDEN" } }] });

    const after = await operatorAccess();
    expect(after.A).toHaveLength(before.A.length + 1);
    expect(after.A[after.A.length - 1]).toMatchObject({ actorOperatorId: operatorId, details: { method: "GET", path: "/export" } });
    expect(after.B).toEqual(before.B);
  });
});

// ---------------------------------------------------------------------------
// 7. Audit log
// ---------------------------------------------------------------------------

describe("audit log", () => {
  it("an admin's task update through the API is recorded as an update of app_public.tasks with its changed columns and the admin as actor", async () => {
    const taskId = world.work.A.taskIds[2];
    const before = (await auditEvents(tokenAdminA, "update")).filter((e) => e.rowKey === taskId);
    const updated = ok(await gql(UPDATE_TASK_TITLE, { id: nodeId("Task", world.tenants.A.id, taskId), title: "Audited title" }, { token: tokenAdminA }));
    expect(updated.updateTask.task).toEqual({ rowId: taskId, title: "Audited title" });

    const after = (await auditEvents(tokenAdminA, "update")).filter((e) => e.rowKey === taskId);
    expect(after).toHaveLength(before.length + 1);
    const event = after[after.length - 1];
    expect(event).toMatchObject({
      tenantId: world.tenants.A.id,
      tableName: "app_public.tasks",
      rowKey: taskId,
      actorUserId: world.adminA.id,
      actorOperatorId: null,
    });
    expect(event.changedColumns).toContain("title");
    expect(event.changedColumns).not.toContain("status");
  });

  it("members cannot read the audit log (FORBIDDEN)", async () => {
    expectGraphQLError(await gql(AUDIT, { action: "login" }, { token: tokenMemberA }), "auditEvents", "FORBIDDEN");
    expectGraphQLError(await gql("{ auditEvents { totalCount } }", {}, { token: tokenMemberA }), "auditEvents", "FORBIDDEN");
  });

  it("the API has no mutation that creates, updates or deletes audit events", async () => {
    const data = ok(await gql(`{ __type(name: "Mutation") { fields { name } } }`));
    const names: string[] = data.__type.fields.map((f: { name: string }) => f.name);
    expect(names).toContain("updateTask"); // the introspection did list mutations
    expect(names.filter((n) => /audit/i.test(n))).toEqual([]);
  });
});
