// app_public.create_tenant (onboarding): anyone but an operator creates a
// tenant with its first admin and gets that admin's tokens; a taken or
// invalid slug, an invalid email, a blank name, a short password are refused.
import type { Actor, PolicyCase } from "../helpers/policy.ts";

export const cases: PolicyCase[] = [
  {
    actor: "anonymous",
    does: "creates a tenant",
    sql: "select * from app_public.create_tenant('Initech', 'initech', 'peter@initech.test', 'password123')",
    expect: { rows: 1 },
  },
  {
    actor: "anonymous",
    does: "creates a tenant with a taken slug",
    sql: "select * from app_public.create_tenant('Acme 2', $1, 'x@acme2.test', 'password123')",
    params: (w) => [w.tenants.A.slug],
    expect: { error: "TAKEN" },
  },
  {
    actor: "anonymous",
    does: "creates a tenant with an invalid slug",
    sql: "select * from app_public.create_tenant('Bad', 'Bad Slug!', 'x@bad.test', 'password123')",
    expect: { error: "BADSL" },
  },
  {
    actor: "anonymous",
    does: "creates a tenant with an invalid email",
    sql: "select * from app_public.create_tenant('Bad', 'bad-email', 'not-an-email', 'password123')",
    expect: { error: "BADEM" },
  },
  {
    actor: "anonymous",
    does: "creates a tenant with a blank name",
    sql: "select * from app_public.create_tenant('  ', 'blank-name', 'x@blank.test', 'password123')",
    expect: { error: "BADNM" },
  },
  {
    actor: "anonymous",
    does: "creates a tenant with a short password",
    sql: "select * from app_public.create_tenant('Weak', 'weak', 'x@weak.test', 'short')",
    expect: { error: "WEAKP" },
  },
  ...(["member of A", "admin of A"] as Actor[]).map(
    (actor): PolicyCase => ({
      actor,
      does: "creates another tenant",
      sql: "select (r.access_token).tenant_id from app_public.create_tenant('Initech', 'initech', 'peter@initech.test', 'password123') r where (r.access_token).tenant_id <> $1",
      params: (w) => [w.tenants.A.id],
      expect: { rows: 1 },
    }),
  ),
  {
    actor: "operator",
    does: "creates a tenant",
    sql: "select * from app_public.create_tenant('Initech', 'initech', 'peter@initech.test', 'password123')",
    expect: { error: "permission denied" },
  },
];
