// app_public.audit_events: admins (and operators acting in a tenant) read
// their tenant's log; no request role writes, rewrites or deletes it.
import type { PolicyCase } from "../helpers/policy.ts";
import { REQUEST_ACTORS } from "./shared.ts";

export const cases: PolicyCase[] = [
  { actor: "admin of A", does: "reads the audit log", sql: "select * from app_public.audit_events", expect: { atLeast: 1, tenant: "A" } },
  {
    actor: "admin of A",
    does: "reads the invitation events (3 sent, 1 revoked)",
    sql: "select * from app_public.audit_events where action like 'invitation_%'",
    expect: { rows: 4, tenant: "A" },
  },
  {
    actor: "admin of A",
    does: "reads B's events by tenant id",
    sql: "select * from app_public.audit_events where tenant_id = $1",
    params: (w) => [w.tenants.B.id],
    expect: { rows: 0 },
  },
  { actor: "admin of B", does: "reads the audit log", sql: "select * from app_public.audit_events", expect: { atLeast: 1, tenant: "B" } },
  {
    actor: "admin of B",
    does: "reads A's events by tenant id",
    sql: "select * from app_public.audit_events where tenant_id = $1",
    params: (w) => [w.tenants.A.id],
    expect: { rows: 0 },
  },
  { actor: "member of A", does: "reads the audit log", sql: "select * from app_public.audit_events", expect: { error: "permission denied" } },
  { actor: "member of B", does: "reads the audit log", sql: "select * from app_public.audit_events", expect: { error: "permission denied" } },
  { actor: "anonymous", does: "reads the audit log", sql: "select * from app_public.audit_events", expect: { error: "permission denied" } },
  { actor: "operator", does: "reads the audit log without naming a tenant", sql: "select * from app_public.audit_events", expect: { rows: 0 } },
  { actor: "operator acting in A", does: "reads the audit log", sql: "select * from app_public.audit_events", expect: { atLeast: 1, tenant: "A" } },
  {
    actor: "operator acting in A",
    does: "reads B's events by tenant id",
    sql: "select * from app_public.audit_events where tenant_id = $1",
    params: (w) => [w.tenants.B.id],
    expect: { rows: 0 },
  },
  ...REQUEST_ACTORS.flatMap((actor): PolicyCase[] => [
    {
      actor,
      does: "inserts an audit event",
      sql: "insert into app_public.audit_events (action) values ('forged')",
      expect: { error: "permission denied" },
    },
    {
      actor,
      does: "rewrites audit events",
      sql: "update app_public.audit_events set action = 'nothing'",
      expect: { error: "permission denied" },
    },
    { actor, does: "deletes audit events", sql: "delete from app_public.audit_events", expect: { error: "permission denied" } },
  ]),
  { actor: "admin of A", does: "truncates the audit log", sql: "truncate app_public.audit_events", expect: { error: "permission denied" } },
];
