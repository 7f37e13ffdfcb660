// Account recovery, email verification and invitation emails over real HTTP,
// with a real SMTP server (tests/helpers/smtp.ts) and the worker running
// against the test database: what arrives, to whom, with a link that works;
// tokens used twice, expired, or carrying another tenant's id; the same
// answer (and, as far as measured, the same time) for unknown and known
// accounts; no email for a rolled-back transaction; the worker's
// maintenance task.
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { ROLES } from "../common/roles.ts";
import { withClient } from "../db/setup.ts";
import { startWorker } from "../worker/runner.ts";
import { startApi, type TestApi } from "./helpers/api.ts";
import { onCleanup } from "./helpers/cleanup.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { startSmtpSink, type SmtpSink } from "./helpers/smtp.ts";
import { createWorld, type World } from "./helpers/world.ts";

const PUBLIC_URL = "https://app.example.test";
const FORGOT = "mutation($slug: String!, $email: String!) { forgotPassword(input: {tenantSlug: $slug, email: $email}) { result } }";
const RESET = "mutation($token: String!, $password: String!) { resetPassword(input: {token: $token, newPassword: $password}) { result } }";
const REFRESH = "mutation($t: String!) { refresh(input: {refreshToken: $t}) { result { accessToken refreshToken } } }";
const SEND_VERIFICATION = "mutation { sendVerificationEmail(input: {}) { result } }";
const VERIFY = "mutation($token: String!) { verifyEmail(input: {token: $token}) { result } }";
const USERS = "{ users { nodes { email emailVerifiedAt } } }";

let db: TestDatabase;
let world: World;
let api: TestApi;
let smtp: SmtpSink;

const tokenOf = (link: string | undefined) => new URL(link!).searchParams.get("token")!;
const codeOf = (body: { errors?: { extensions?: Record<string, unknown> }[] }) => body.errors?.[0]?.extensions?.code;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function jobsLeft() {
  return withClient(db.ownerUrl, async (c) => Number((await c.query("select count(*) as n from graphile_worker.jobs")).rows[0].n));
}

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createWorld(db.ownerUrl);
  smtp = await startSmtpSink();
  api = await startApi(db, { SMTP_URL: smtp.url, PUBLIC_URL, RATE_LIMIT_EMAIL: "100000" });
  const worker = await startWorker(api.config, db.ownerUrl, { pollInterval: 200, log: () => {} });
  onCleanup(() => worker.stop());
});

describe("forgot password, then reset", () => {
  it("emails A's member a link whose token sets a new password, ends every session and verifies the email", async () => {
    const { email } = world.memberA;
    const before = await api.loginTokens(world.tenants.A.slug, email, world.password);

    const asked = await api.graphql(FORGOT, { slug: world.tenants.A.slug, email });
    expect(asked).toEqual({ status: 200, body: { data: { forgotPassword: { result: true } } } });
    const [mail] = (await smtp.waitFor(() => smtp.to(email).length === 1), smtp.to(email));
    expect(mail.to).toBe(email);
    expect(mail.subject).toMatch(/Reset your password/);
    expect(mail.link).toMatch(new RegExp(`^${PUBLIC_URL}/reset-password\\?token=${world.tenants.A.id}\\.`));

    const token = tokenOf(mail.link);
    const reset = await api.graphql(RESET, { token, password: "brand-new-password" });
    expect(reset.body).toEqual({ data: { resetPassword: { result: true } } });

    // Every session ended: the old refresh token is refused, the old access token too.
    const refreshed = await api.graphql(REFRESH, { t: before.refreshToken });
    expect(codeOf(refreshed.body)).toBe("INVALID_REFRESH_TOKEN");
    const stale = await api.graphql("{ currentUser { email } }", {}, before.accessToken);
    expect(stale.status).toBe(401);
    // The new password works, the old one no longer.
    const after = await api.loginTokens(world.tenants.A.slug, email, "brand-new-password");
    const old = await api.graphql(
      "mutation($s: String!, $e: String!, $p: String!) { login(input: {tenantSlug: $s, email: $e, password: $p}) { result { accessToken } } }",
      { s: world.tenants.A.slug, e: email, p: world.password },
    );
    expect(codeOf(old.body)).toBe("INVALID_CREDENTIALS");
    // The reset proved the address.
    const users = await api.graphql(USERS, {}, after.accessToken);
    expect(users.body.data!.users.nodes.find((u: { email: string }) => u.email === email).emailVerifiedAt).toEqual(expect.any(String));

    // Used twice: refused, with the one error for every bad token.
    const twice = await api.graphql(RESET, { token, password: "another-password" });
    expect(twice.body.errors?.[0]).toMatchObject({ message: "This link is not valid: it is unknown, used or expired. Ask for a new one.", extensions: { code: "INVALID_ACCOUNT_TOKEN" } });
    expect(twice.body.data?.resetPassword ?? null).toBeNull();
    // The audit log has the request (no actor) and the reset (the user).
    const events = await api.graphql("{ auditEvents(condition: {action: \"password_reset\"}) { nodes { actorUserId rowKey } } }", {}, await api.login(world.tenants.A.slug, world.adminA.email, world.password));
    expect(events.body.data?.auditEvents?.nodes ?? events.body).toEqual([{ actorUserId: world.memberA.id, rowKey: world.memberA.id }]);
  });

  it("refuses an expired token and a token with another tenant's id in front (INVALID_ACCOUNT_TOKEN)", async () => {
    const { email } = world.adminB;
    await api.graphql(FORGOT, { slug: world.tenants.B.slug, email });
    await smtp.waitFor(() => smtp.to(email).length === 1);
    const token = tokenOf(smtp.to(email)[0].link);

    const withA = world.tenants.A.id + token.slice(token.indexOf("."));
    expect(codeOf((await api.graphql(RESET, { token: withA, password: "brand-new-password" })).body)).toBe("INVALID_ACCOUNT_TOKEN");

    await withClient(db.ownerUrl, async (c) => {
      await c.query("begin");
      await c.query("select set_config('jwt.claims.tenant_id', $1, true)", [world.tenants.B.id]);
      const { rowCount } = await c.query("update app_private.account_tokens set expires_at = now() - interval '1 second' where token_hash = app_private.token_hash($1)", [token]);
      expect(rowCount).toBe(1);
      await c.query("commit");
    });
    expect(codeOf((await api.graphql(RESET, { token, password: "brand-new-password" })).body)).toBe("INVALID_ACCOUNT_TOKEN");
    // The password did not change.
    await api.login(world.tenants.B.slug, email, world.password);
  });

  it("answers unknown and known accounts alike, and sends at most 3 emails per account and hour", async () => {
    const known = { slug: world.tenants.B.slug, email: world.memberB.email };
    const unknownEmail = { slug: world.tenants.B.slug, email: "nobody@globex.test" };
    const unknownTenant = { slug: "no-such-tenant", email: world.memberB.email };
    const timings: Record<string, number[]> = { known: [], unknownEmail: [], unknownTenant: [] };
    const bodies = new Set<string>();
    for (let i = 0; i < 20; i++) {
      for (const [name, variables] of Object.entries({ known, unknownEmail, unknownTenant })) {
        const t = performance.now();
        const res = await api.graphql(FORGOT, variables);
        timings[name].push(performance.now() - t);
        bodies.add(JSON.stringify([res.status, res.body]));
      }
    }
    expect([...bodies]).toEqual([JSON.stringify([200, { data: { forgotPassword: { result: true } } }])]);
    await smtp.waitFor(() => smtp.to(known.email).length === 3);
    await expect.poll(jobsLeft, { timeout: 15_000 }).toBe(0);
    expect(smtp.to(known.email)).toHaveLength(3);
    expect(smtp.to(unknownEmail.email)).toHaveLength(0);
    const ms = Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Number(median(v).toFixed(2))]));
    console.log(`forgotPassword: the same body for all 60 calls (${[...bodies][0]}); median ms over 20 calls each: ${JSON.stringify(ms)}; emails sent to the known account: 3 of 20`);
  });
});

describe("a user without a password (as tenant:import leaves them)", () => {
  it("cannot log in, and sets a password through forgotPassword and the emailed link", async () => {
    const { email } = world.adminB;
    const slug = world.tenants.B.slug;
    await withClient(db.ownerUrl, async (c) => {
      await c.query("begin");
      await c.query("select set_config('jwt.claims.tenant_id', $1, true)", [world.tenants.B.id]);
      const { rowCount } = await c.query("delete from app_private.user_secrets where user_id = $1", [world.adminB.id]);
      expect(rowCount).toBe(1);
      await c.query("commit");
    });
    await expect(api.login(slug, email, world.password)).rejects.toThrow(/INVALID_CREDENTIALS/);
    const already = smtp.to(email).length;
    await api.graphql(FORGOT, { slug, email });
    await smtp.waitFor(() => smtp.to(email).length === already + 1);
    const token = tokenOf(smtp.to(email).at(-1)!.link);
    expect((await api.graphql(RESET, { token, password: "imported-password" })).body).toEqual({ data: { resetPassword: { result: true } } });
    await api.login(slug, email, "imported-password");
  });
});

describe("email verification", () => {
  it("sends the current user a link that verifies their email once; admins see who is verified", async () => {
    const { email } = world.adminA;
    const token0 = await api.login(world.tenants.A.slug, email, world.password);
    const sent = await api.graphql(SEND_VERIFICATION, {}, token0);
    expect(sent.body).toEqual({ data: { sendVerificationEmail: { result: true } } });
    await smtp.waitFor(() => smtp.to(email).some((m) => /Confirm your email/.test(m.subject)));
    const mail = smtp.to(email).find((m) => /Confirm your email/.test(m.subject))!;
    expect(mail.link).toMatch(new RegExp(`^${PUBLIC_URL}/verify-email\\?token=`));
    const token = tokenOf(mail.link);

    const before = await api.graphql(USERS, {}, token0);
    expect(before.body.data!.users.nodes.find((u: { email: string }) => u.email === email).emailVerifiedAt).toBeNull();
    // Anyone holding the link (here: not logged in) verifies with it, once.
    expect((await api.graphql(VERIFY, { token })).body).toEqual({ data: { verifyEmail: { result: true } } });
    expect(codeOf((await api.graphql(VERIFY, { token })).body)).toBe("INVALID_ACCOUNT_TOKEN");
    const after = await api.graphql(USERS, {}, token0);
    expect(after.body.data!.users.nodes.find((u: { email: string }) => u.email === email).emailVerifiedAt).toEqual(expect.any(String));
    // Verified: nothing more to send.
    expect((await api.graphql(SEND_VERIFICATION, {}, token0)).body).toEqual({ data: { sendVerificationEmail: { result: false } } });
    // Nobody sets it through the API.
    const direct = await api.graphql(`mutation($id: UUID!) { updateUserByTenantIdAndRowId(input: {tenantId: "${world.tenants.A.id}", rowId: $id, patch: {emailVerifiedAt: "2020-01-01T00:00:00Z"}}) { user { email } } }`, { id: world.memberB.id }, token0);
    expect(direct.status).toBe(400);
    // Anonymous callers cannot ask.
    expect(codeOf((await api.graphql(SEND_VERIFICATION)).body)).toBe("FORBIDDEN");
  });
});

describe("invitations", () => {
  it("emails the invitation, with the token the admin also got back", async () => {
    const adminToken = await api.login(world.tenants.A.slug, world.adminA.email, world.password);
    const res = await api.graphql('mutation { inviteUser(input: {email: "newbie@example.test", role: MEMBER}) { result { token } } }', {}, adminToken);
    expect(res.body.errors).toBeUndefined();
    const token = res.body.data!.inviteUser.result.token as string;
    await smtp.waitFor(() => smtp.to("newbie@example.test").length === 1);
    const [mail] = smtp.to("newbie@example.test");
    expect(mail.subject).toMatch(/invited to join/);
    expect(tokenOf(mail.link)).toBe(token);
    expect(mail.link).toMatch(new RegExp(`^${PUBLIC_URL}/accept-invitation\\?token=`));
  });

  it("sends nothing when the transaction that queued it rolls back, and sends what commits (as the real admin role)", async () => {
    const auth = new pg.Client({ connectionString: db.authUrl });
    await auth.connect();
    onCleanup(() => auth.end());
    const asAdminA = async () => {
      await auth.query(`set local role ${ROLES.admin}`);
      await auth.query("select set_config('jwt.claims.tenant_id', $1, true), set_config('jwt.claims.user_id', $2, true), set_config('jwt.claims.role', 'admin', true)", [world.tenants.A.id, world.adminA.id]);
    };
    await auth.query("begin");
    await asAdminA();
    await auth.query("select * from app_public.invite_user('rolled-back@example.test', 'member')");
    await auth.query("rollback");
    await auth.query("begin");
    await asAdminA();
    await auth.query("select * from app_public.invite_user('committed@example.test', 'member')");
    await auth.query("commit");
    await smtp.waitFor(() => smtp.to("committed@example.test").length === 1);
    await expect.poll(jobsLeft, { timeout: 15_000 }).toBe(0);
    expect(smtp.to("rolled-back@example.test")).toHaveLength(0);
    // A job queued in a rolled-back transaction never existed.
    const jobs = await withClient(db.ownerUrl, async (c) => {
      await c.query("begin");
      await c.query("select graphile_worker.add_job('send_email', '{\"template\": \"invitation\", \"to\": \"never@example.test\", \"token\": \"x\"}')");
      const inside = Number((await c.query("select count(*) as n from graphile_worker.jobs")).rows[0].n);
      await c.query("rollback");
      return { inside, after: Number((await c.query("select count(*) as n from graphile_worker.jobs")).rows[0].n) };
    });
    expect(jobs).toEqual({ inside: 1, after: 0 });
  });
});

describe("maintenance", () => {
  it("prunes used and expired account tokens, long-ended invitations, and (with a retention) old audit events", async () => {
    const counts = await withClient(db.ownerUrl, async (c) => {
      await c.query("begin");
      await c.query("select set_config('jwt.claims.tenant_id', $1, true)", [world.tenants.A.id]);
      await c.query("update app_private.account_tokens set created_at = now() - interval '3 days', expires_at = now() - interval '2 days', used_at = used_at - interval '2 days'");
      await c.query("update app_public.invitations set created_at = now() - interval '60 days', expires_at = now() - interval '40 days' where accepted_at is null");
      await c.query("update app_public.audit_events set occurred_at = now() - interval '400 days' where action = 'login'");
      const tokens = Number((await c.query("select count(*) as n from app_private.account_tokens")).rows[0].n);
      const logins = Number((await c.query("select count(*) as n from app_public.audit_events where action = 'login'")).rows[0].n);
      await c.query("commit");
      const { rows: [kept] } = await c.query("select app_private.prune_account_data('1 day', '30 days', null) as r");
      const { rows: [pruned] } = await c.query("select app_private.prune_account_data('1 day', '30 days', '1 year') as r");
      return { tokens, logins, kept: kept.r, pruned: pruned.r };
    });
    expect(counts.tokens).toBeGreaterThan(0);
    expect(counts.logins).toBeGreaterThan(0);
    // Without a retention, no audit event goes.
    expect(counts.kept).toMatchObject({ account_tokens: counts.tokens, audit_events: 0 });
    expect(counts.kept.invitations).toBeGreaterThan(0);
    expect(counts.pruned).toEqual({ account_tokens: 0, invitations: 0, audit_events: counts.logins });
  });

  it("runs as the worker's maintenance job (the crontab's task), which also deletes jobs that failed for good", async () => {
    const jobs = (sql: string) => withClient(db.ownerUrl, async (c) => Number((await c.query(`select count(*) as n from graphile_worker.jobs where ${sql}`)).rows[0].n));
    // An email the worker cannot render: one attempt, then failed for good (and kept, with its error).
    await withClient(db.ownerUrl, (c) => c.query(`select graphile_worker.add_job('send_email', '{"template": "no-such-template", "to": "x@example.test"}', max_attempts => 1)`));
    await expect.poll(() => jobs("attempts = max_attempts and last_error like '%unknown template%'"), { timeout: 15_000 }).toBe(1);
    await withClient(db.ownerUrl, (c) => c.query("select graphile_worker.add_job('maintenance', '{}')"));
    await expect.poll(jobsLeft, { timeout: 15_000 }).toBe(0);
  });
});
