// Case builders several specs share. Pure data: importing this module
// declares no tests (the coverage test imports every *.cases.ts).
import type { Actor, PolicyCase } from "../helpers/policy.ts";

/** One actor per request role, and both kinds of operator request. */
export const REQUEST_ACTORS: Actor[] = ["anonymous", "member of A", "admin of A", "admin of B", "operator", "operator acting in A"];

/** The same token with another tenant's id in front. */
export const withTenant = (token: string, tenantId: string) => tenantId + token.slice(token.indexOf("."));

/** One row when the composite the function returned is null (a recorded failure). */
export const nullResult = (call: string) => `select 1 as failed from ${call} r where r is null`;

/** An operator reads a tenant table: nothing without naming a tenant; acting in A, nothing of B's. */
export const operatorReads = (table: string): PolicyCase[] => [
  {
    actor: "operator acting in A",
    does: `reads B's ${table} by tenant id`,
    sql: `select * from app_public.${table} where tenant_id = $1`,
    params: (w) => [w.tenants.B.id],
    expect: { rows: 0 },
  },
  { actor: "operator", does: `lists ${table} without naming a tenant`, sql: `select * from app_public.${table}`, expect: { rows: 0 } },
];

/** Every actor given lacks the privilege for each command given on the table (`column`: one the update may name). */
export function withoutPrivilege(
  table: string,
  column: string,
  actors: Actor[],
  commands: ("select" | "insert" | "update" | "delete")[],
): PolicyCase[] {
  const sql = {
    select: `select * from ${table}`,
    insert: `insert into ${table} default values`,
    update: `update ${table} set ${column} = ${column}`,
    delete: `delete from ${table}`,
  };
  const does = { select: "reads", insert: "inserts a row into", update: "updates", delete: "deletes from" };
  return actors.flatMap((actor) =>
    commands.map((command): PolicyCase => ({ actor, does: `${does[command]} ${table} directly`, sql: sql[command], expect: { error: "permission denied" } })),
  );
}
