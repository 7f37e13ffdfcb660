// app_public.operators (platform operators, not users of any tenant): only
// operators read the list, no request role changes it; operator_login (a
// token without tenant, user or refresh token), current_operator,
// current_operator_id; and the authenticator's operator_access check.
import type { Actor, PolicyCase } from "../helpers/policy.ts";
import { nullResult, withoutPrivilege } from "./shared.ts";

export const cases: PolicyCase[] = [
  { actor: "operator", does: "lists operators", sql: "select * from app_public.operators", expect: { rows: 2 } },
  { actor: "operator acting in A", does: "lists operators", sql: "select * from app_public.operators", expect: { rows: 2 } },
  {
    actor: "operator",
    does: "asks who it is",
    sql: "select o.* from app_public.current_operator() o where o.id = $1",
    params: (w) => [w.operator.id],
    expect: { rows: 1 },
  },
  { actor: "member of A", does: "lists operators", sql: "select * from app_public.operators", expect: { error: "permission denied" } },
  { actor: "admin of A", does: "lists operators", sql: "select * from app_public.operators", expect: { error: "permission denied" } },
  { actor: "admin of B", does: "lists operators", sql: "select * from app_public.operators", expect: { error: "permission denied" } },
  { actor: "anonymous", does: "lists operators", sql: "select * from app_public.operators", expect: { error: "permission denied" } },
  // Not an operator: no row (null), and still no way to read operators.
  { actor: "admin of A", does: "asks which operator it is", sql: "select o.* from app_public.current_operator() o where o.id is not null", expect: { rows: 0 } },
  { actor: "anonymous", does: "asks which operator it is", sql: "select o.* from app_public.current_operator() o where o.id is not null", expect: { rows: 0 } },
  {
    actor: "member with no claims",
    does: "claims to be an operator by setting jwt.claims.operator_id (a request role without the operator role)",
    sql: "select set_config('jwt.claims.operator_id', $1, true), (select count(*) from app_public.current_operator() o where o.id is not null) as n",
    params: (w) => [w.operator.id],
    expect: { error: "permission denied" },
  },
  {
    actor: "operator",
    does: "adds an operator",
    sql: "insert into app_public.operators (email, name) values ('mallory@platform.test', 'Mallory')",
    expect: { error: "permission denied" },
  },
  {
    actor: "operator",
    does: "re-enables a disabled operator",
    sql: "update app_public.operators set disabled_at = null",
    expect: { error: "permission denied" },
  },
  { actor: "operator", does: "deletes operators", sql: "delete from app_public.operators", expect: { error: "permission denied" } },
  ...withoutPrivilege("app_public.operators", "name", ["anonymous", "member of A", "admin of A"], ["insert", "update", "delete"]),
  { actor: "member of A", does: "asks which operator it is", sql: "select o.* from app_public.current_operator() o where o.id is not null", expect: { rows: 0 } },
  {
    actor: "operator",
    does: "reads its operator id",
    sql: "select 1 as one where app_public.current_operator_id() = $1",
    params: (w) => [w.operator.id],
    expect: { rows: 1 },
  },
  ...(["anonymous", "member of A", "admin of A"] as Actor[]).map(
    (actor): PolicyCase => ({
      actor,
      does: "reads its operator id",
      sql: "select 1 as one where app_public.current_operator_id() is not null",
      expect: { rows: 0 },
    }),
  ),
  {
    actor: "anonymous",
    does: "logs in as the operator",
    sql: `select (r.access_token).operator_id as id from app_public.operator_login($1, $2) r
          where (r.access_token).role = 'operator' and (r.access_token).operator_id = $3
            and (r.access_token).tenant_id is null and (r.access_token).user_id is null and r.refresh_token is null`,
    params: (w) => [w.operator.email, w.password, w.operator.id],
    expect: { rows: 1 },
  },
  {
    actor: "anonymous",
    does: "logs in as the operator with a wrong password (a null result)",
    sql: nullResult("app_public.operator_login($1, 'wrong-password')"),
    params: (w) => [w.operator.email],
    expect: { rows: 1 },
  },
  {
    actor: "anonymous",
    does: "logs in as an operator with A's admin's credentials (a null result)",
    sql: nullResult("app_public.operator_login($1, $2)"),
    params: (w) => [w.adminA.email, w.password],
    expect: { rows: 1 },
  },
  {
    actor: "anonymous",
    does: "logs in as a disabled operator with its right password (a null result)",
    sql: nullResult("app_public.operator_login($1, $2)"),
    params: (_w, fx) => [fx.disabledOperator.email, fx.disabledOperator.password],
    expect: { rows: 1 },
  },
  {
    actor: "operator",
    does: "logs in as the operator again",
    sql: "select * from app_public.operator_login($1, $2)",
    params: (w) => [w.operator.email, w.password],
    expect: { error: "permission denied" },
  },
  ...(["member of A", "admin of A"] as Actor[]).map(
    (actor): PolicyCase => ({
      actor,
      does: "logs in as the operator with a wrong password (a null result)",
      sql: nullResult("app_public.operator_login($1, 'wrong-password')"),
      params: (w) => [w.operator.email],
      expect: { rows: 1 },
    }),
  ),
  {
    actor: "authenticator itself",
    does: "checks the operator without a tenant",
    sql: "select 1 as good where app_private.operator_access($1::uuid, null, '{}'::jsonb)",
    params: (w) => [w.operator.id],
    expect: { rows: 1 },
  },
  {
    actor: "authenticator itself",
    does: "checks the operator acting in A",
    sql: "select 1 as good where app_private.operator_access($1::uuid, $2::uuid, '{}'::jsonb)",
    params: (w) => [w.operator.id, w.tenants.A.id],
    expect: { rows: 1 },
  },
  {
    actor: "authenticator itself",
    does: "checks the operator acting in a tenant that does not exist",
    sql: "select 1 as good where app_private.operator_access($1::uuid, gen_random_uuid(), '{}'::jsonb)",
    params: (w) => [w.operator.id],
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "checks a disabled operator acting in A",
    sql: "select 1 as good where app_private.operator_access($1::uuid, $2::uuid, '{}'::jsonb)",
    params: (w, fx) => [fx.disabledOperator.id, w.tenants.A.id],
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "checks a disabled operator without a tenant",
    sql: "select 1 as good where app_private.operator_access($1::uuid, null, '{}'::jsonb)",
    params: (_w, fx) => [fx.disabledOperator.id],
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "checks an unknown operator",
    sql: "select 1 as good where app_private.operator_access(gen_random_uuid(), null, '{}'::jsonb)",
    expect: { rows: 0 },
  },
  {
    actor: "authenticator itself",
    does: "checks a token without an operator id",
    sql: "select 1 as good where app_private.operator_access(null, $1::uuid, '{}'::jsonb)",
    params: (w) => [w.tenants.A.id],
    expect: { rows: 0 },
  },
];
