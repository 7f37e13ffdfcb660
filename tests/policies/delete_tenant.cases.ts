// app_public.delete_tenant (offboarding): only an admin of the tenant,
// repeating its slug, deletes it; anyone else, or a wrong slug, is refused.
import type { Actor, PolicyCase } from "../helpers/policy.ts";

export const cases: PolicyCase[] = [

  {
    actor: "admin of A",
    does: "deletes tenant A, repeating its slug",
    sql: "select r.deleted from app_public.delete_tenant($1) as r(deleted) where r.deleted",
    params: (w) => [w.tenants.A.slug],
    expect: { rows: 1 },
  },
  {
    actor: "admin of A",
    does: "deletes tenant A, giving B's slug",
    sql: "select * from app_public.delete_tenant($1)",
    params: (w) => [w.tenants.B.slug],
    expect: { error: "CONFM" },
  },
  {
    actor: "member of A",
    does: "deletes tenant A, repeating its slug",
    sql: "select * from app_public.delete_tenant($1)",
    params: (w) => [w.tenants.A.slug],
    expect: { error: "42501" },
  },
  {
    actor: "demoted admin of A (token still says admin)",
    does: "deletes tenant A, repeating its slug",
    sql: "select * from app_public.delete_tenant($1)",
    params: (w) => [w.tenants.A.slug],
    expect: { error: "42501" },
  },
  ...(["anonymous", "operator acting in A"] as Actor[]).map(
    (actor): PolicyCase => ({
      actor,
      does: "deletes tenant A, repeating its slug",
      sql: "select * from app_public.delete_tenant($1)",
      params: (w) => [w.tenants.A.slug],
      expect: { error: "permission denied" },
    }),
  ),
];
