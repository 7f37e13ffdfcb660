// The request every comparison measures: a member lists the 20 newest tasks
// of their tenant. Its GraphQL text, the SQL PostGraphile generates for it
// (read from the wire, PostGraphile 5.1.5), and the same as one JSON
// document built in the database, which the baseline and pgbench run.

/** The settings statement of @dataplan/pg's own adaptor (no claims check): the unchecked baseline's. */
export const PGSETTINGS_STATEMENT = "select set_config(el->>0, el->>1, true) from json_array_elements($1::json) el";

export const GRAPHQL_LIST_QUERY = "{ tasks(first: 20, orderBy: CREATED_AT_DESC) { nodes { rowId title status createdAt } } }";

/** What PostGraphile sends (under RLS, so without a tenant condition). */
export const TASKS_SELECT = `select
  __tasks__."id" as "0",
  __tasks__."title" as "1",
  __tasks__."status"::text as "2",
  to_char(__tasks__."created_at", 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM'::text) as "3"
from "app_public"."tasks" as __tasks__`;
export const TASKS_ORDER = `order by __tasks__."created_at" desc, __tasks__."tenant_id" desc, __tasks__."id" desc
limit 20`;

/**
 * The same rows as the GraphQL response, {"data":{"tasks":{"nodes":[…]}}},
 * built with json_agg (the subquery's order is kept by the aggregate).
 */
export const LIST_JSON_SQL = `select '{"data":{"tasks":{"nodes":' || coalesce(json_agg(t), '[]'::json)::text || '}}}' as body
from (
  select
    __tasks__."id" as "rowId",
    __tasks__."title" as "title",
    -- GraphQL's enum values are the labels in capitals (server/enum-values.ts).
    upper(__tasks__."status"::text) as "status",
    to_char(__tasks__."created_at", 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM'::text) as "createdAt"
  from "app_public"."tasks" as __tasks__
  ${TASKS_ORDER}
) t`;
