// app_public.invitations: admins (and operators acting in a tenant) read
// their tenant's invitations; no request role writes them directly. Rows
// come and go through invite_user, revoke_invitation and accept_invitation
// (specified here), and invitations_status says which are pending.
import type { Actor, PolicyCase } from "../helpers/policy.ts";
import { withTenant } from "./shared.ts";

export const cases: PolicyCase[] = [
  { actor: "admin of A", does: "lists invitations", sql: "select * from app_public.invitations", expect: { rows: 3, tenant: "A" } },
  {
    actor: "admin of A",
    does: "reads B's pending invitation by id",
    sql: "select * from app_public.invitations where id = $1",
    params: (_w, fx) => [fx.invitations.pendingB.id],
    expect: { rows: 0 },
  },
  {
    actor: "admin of A",
    does: "lists expired invitations by their status",
    sql: "select i.* from app_public.invitations i where app_public.invitations_status(i) = 'expired'",
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "admin of A",
    does: "lists pending invitations by their status",
    sql: "select i.* from app_public.invitations i where app_public.invitations_status(i) = 'pending'",
    expect: { rows: 1, tenant: "A" },
  },
  { actor: "admin of B", does: "lists invitations", sql: "select * from app_public.invitations", expect: { rows: 1, tenant: "B" } },
  {
    actor: "admin of B",
    does: "lists A's invitations by tenant id",
    sql: "select * from app_public.invitations where tenant_id = $1",
    params: (w) => [w.tenants.A.id],
    expect: { rows: 0 },
  },
  { actor: "member of A", does: "lists invitations", sql: "select * from app_public.invitations", expect: { error: "permission denied" } },
  { actor: "member of B", does: "lists invitations", sql: "select * from app_public.invitations", expect: { error: "permission denied" } },
  { actor: "anonymous", does: "lists invitations", sql: "select * from app_public.invitations", expect: { error: "permission denied" } },
  { actor: "operator", does: "lists invitations without naming a tenant", sql: "select * from app_public.invitations", expect: { rows: 0 } },
  { actor: "operator acting in A", does: "lists invitations", sql: "select * from app_public.invitations", expect: { rows: 3, tenant: "A" } },
  {
    actor: "operator acting in A",
    does: "lists B's invitations by tenant id",
    sql: "select * from app_public.invitations where tenant_id = $1",
    params: (w) => [w.tenants.B.id],
    expect: { rows: 0 },
  },
  ...(["admin of A", "member of A", "anonymous", "operator acting in A"] as Actor[]).flatMap((actor): PolicyCase[] => [
    {
      actor,
      does: "inserts an invitation directly",
      sql: "insert into app_public.invitations (email, role) values ('eve@acme.test', 'admin')",
      expect: { error: "permission denied" },
    },
    {
      actor,
      does: "revokes invitations by a direct update",
      sql: "update app_public.invitations set revoked_at = now()",
      expect: { error: "permission denied" },
    },
    { actor, does: "deletes invitations directly", sql: "delete from app_public.invitations", expect: { error: "permission denied" } },
  ]),
  {
    actor: "admin of A",
    does: "extends an invitation by a direct update",
    sql: "update app_public.invitations set expires_at = now() + interval '1 year' where id = $1",
    params: (_w, fx) => [fx.invitations.pendingA.id],
    expect: { error: "permission denied" },
  },
  {
    actor: "operator acting in A",
    does: "lists pending invitations by their status",
    sql: "select i.* from app_public.invitations i where app_public.invitations_status(i) = 'pending'",
    expect: { rows: 1, tenant: "A" },
  },
  ...(["anonymous", "member of A"] as Actor[]).map(
    (actor): PolicyCase => ({
      actor,
      does: "asks for the status of an invitation",
      sql: "select app_public.invitations_status(null::app_public.invitations)",
      expect: { error: "permission denied" },
    }),
  ),
  {
    actor: "admin of A",
    does: "invites someone (the token starts with A's id)",
    sql: "select split_part(token, '.', 1)::uuid as tenant_id from app_public.invite_user('erin@acme.test', 'member')",
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "admin of A",
    does: "invites an existing user of A",
    sql: "select * from app_public.invite_user($1, 'member')",
    params: (w) => [w.memberA.email],
    expect: { error: "EMTKN" },
  },
  {
    actor: "admin of A",
    does: "invites an invalid email",
    sql: "select * from app_public.invite_user('not-an-email', 'member')",
    expect: { error: "BADEM" },
  },
  {
    actor: "demoted admin of A (token still says admin)",
    does: "invites someone",
    sql: "select * from app_public.invite_user('erin@acme.test', 'admin')",
    expect: { error: "42501" },
  },
  ...(["member of A", "anonymous", "operator", "operator acting in A"] as Actor[]).map(
    (actor): PolicyCase => ({
      actor,
      does: "invites someone",
      sql: "select * from app_public.invite_user('erin@acme.test', 'admin')",
      expect: { error: "permission denied" },
    }),
  ),
  {
    actor: "admin of A",
    does: "revokes A's pending invitation",
    sql: "select * from app_public.revoke_invitation($1) where revoked_at is not null",
    params: (_w, fx) => [fx.invitations.pendingA.id],
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "admin of A",
    does: "revokes A's already revoked invitation",
    sql: "select * from app_public.revoke_invitation($1)",
    params: (_w, fx) => [fx.invitations.revokedA.id],
    expect: { error: "NOINV" },
  },
  {
    actor: "admin of A",
    does: "revokes A's expired invitation",
    sql: "select * from app_public.revoke_invitation($1)",
    params: (_w, fx) => [fx.invitations.expiredA.id],
    expect: { error: "NOINV" },
  },
  {
    actor: "admin of A",
    does: "revokes B's pending invitation",
    sql: "select * from app_public.revoke_invitation($1)",
    params: (_w, fx) => [fx.invitations.pendingB.id],
    expect: { error: "NOINV" },
  },
  {
    actor: "admin of B",
    does: "revokes A's pending invitation",
    sql: "select * from app_public.revoke_invitation($1)",
    params: (_w, fx) => [fx.invitations.pendingA.id],
    expect: { error: "NOINV" },
  },
  {
    actor: "demoted admin of A (token still says admin)",
    does: "revokes A's pending invitation",
    sql: "select * from app_public.revoke_invitation($1)",
    params: (_w, fx) => [fx.invitations.pendingA.id],
    expect: { error: "42501" },
  },
  ...(["member of A", "anonymous", "operator acting in A"] as Actor[]).map(
    (actor): PolicyCase => ({
      actor,
      does: "revokes A's pending invitation",
      sql: "select * from app_public.revoke_invitation($1)",
      params: (_w, fx) => [fx.invitations.pendingA.id],
      expect: { error: "permission denied" },
    }),
  ),
  {
    actor: "anonymous",
    does: "accepts A's pending invitation",
    sql: `select (r.access_token).tenant_id as tenant_id from app_public.accept_invitation($1, 'Carol', 'password123') r
          where (r.access_token).role = 'member' and (r.access_token).session_id is not null and r.refresh_token is not null`,
    params: (_w, fx) => [fx.invitations.pendingA.token],
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "anonymous",
    does: "accepts a garbage token",
    sql: "select * from app_public.accept_invitation('garbage', 'Mallory', 'password123')",
    expect: { error: "BADIN" },
  },
  {
    actor: "anonymous",
    does: "accepts a well-formed token A never issued",
    sql: "select * from app_public.accept_invitation($1 || '.' || repeat('A', 43), 'Mallory', 'password123')",
    params: (w) => [w.tenants.A.id],
    expect: { error: "BADIN" },
  },
  {
    actor: "anonymous",
    does: "accepts A's revoked invitation",
    sql: "select * from app_public.accept_invitation($1, 'Dave', 'password123')",
    params: (_w, fx) => [fx.invitations.revokedA.token],
    expect: { error: "BADIN" },
  },
  {
    actor: "anonymous",
    does: "accepts A's expired invitation",
    sql: "select * from app_public.accept_invitation($1, 'Frank', 'password123')",
    params: (_w, fx) => [fx.invitations.expiredA.token],
    expect: { error: "BADIN" },
  },
  {
    actor: "anonymous",
    does: "accepts A's pending invitation with B's id in front of the token",
    sql: "select * from app_public.accept_invitation($1, 'Carol', 'password123')",
    params: (w, fx) => [withTenant(fx.invitations.pendingA.token, w.tenants.B.id)],
    expect: { error: "BADIN" },
  },
  {
    actor: "anonymous",
    does: "accepts A's pending invitation with a short password",
    sql: "select * from app_public.accept_invitation($1, 'Carol', 'short')",
    params: (_w, fx) => [fx.invitations.pendingA.token],
    expect: { error: "WEAKP" },
  },
  {
    actor: "operator",
    does: "accepts A's pending invitation",
    sql: "select * from app_public.accept_invitation($1, 'Carol', 'password123')",
    params: (_w, fx) => [fx.invitations.pendingA.token],
    expect: { error: "permission denied" },
  },
  ...(["member of A", "admin of A"] as Actor[]).map(
    (actor): PolicyCase => ({
      actor,
      does: "accepts a garbage token",
      sql: "select * from app_public.accept_invitation('garbage', 'Mallory', 'password123')",
      expect: { error: "BADIN" },
    }),
  ),
];
