// app_public.assert_may_export (who may export; GET /export calls it first in
// the export's transaction): admins of the tenant, checked in users, and
// operators naming a tenant; everyone else 42501, anonymous may not ask.
import type { PolicyCase } from "../helpers/policy.ts";

export const cases: PolicyCase[] = [
  { actor: "admin of A", does: "may export", sql: "select app_public.assert_may_export()", expect: { rows: 1 } },
  { actor: "admin of B", does: "may export", sql: "select app_public.assert_may_export()", expect: { rows: 1 } },
  { actor: "operator acting in A", does: "may export (names the tenant)", sql: "select app_public.assert_may_export()", expect: { rows: 1 } },
  { actor: "member of A", does: "may not export", sql: "select app_public.assert_may_export()", expect: { error: "42501" } },
  { actor: "member of B", does: "may not export", sql: "select app_public.assert_may_export()", expect: { error: "42501" } },
  {
    actor: "demoted admin of A (token still says admin)",
    does: "may not export (the users table decides, not the token)",
    sql: "select app_public.assert_may_export()",
    expect: { error: "42501" },
  },
  { actor: "operator", does: "may not export (names no tenant)", sql: "select app_public.assert_may_export()", expect: { error: "42501" } },
  { actor: "member with no claims", does: "may not export", sql: "select app_public.assert_may_export()", expect: { error: "42501" } },
  { actor: "anonymous", does: "may not even ask", sql: "select app_public.assert_may_export()", expect: { error: "permission denied" } },
];
