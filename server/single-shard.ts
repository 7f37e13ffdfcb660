// Single-shard by default (issue #14). On Citus, a query is routed to one
// shard only when it says `tenant_id = <a constant or a parameter>`; the RLS
// policy's `tenant_id = current_tenant_id()` does not count (it is a
// function call), so without this every list fans out to all shards. This
// plugin adds `<table>.tenant_id = $n::uuid`, the value being the request's
// `jwt.claims.tenant_id` setting, to every SELECT PostGraphile builds on a
// table or view that has a `tenant_id` column: lists and connections,
// lookups by key and Node ID, relations (also when PostGraphile inlines them
// into the parent's statement as a join or subquery), and the reads of a
// mutation's payload. RLS stays the authority: the condition uses the very
// value the policies compare with, so it only ever narrows what RLS already
// returns; it changes which shards are asked, not which rows come back.
//
// How it hooks in: the gather hook `pgTables_PgResourceOptions` (typed in
// graphile-build-pg) sets each such table resource's `selectAuth`, the
// public PgResourceOptions callback that @dataplan/pg calls on every
// PgSelectStep of the resource (PgResource.applyAuthorizationChecksToPlan);
// the callback adds a runtime condition with the documented
// `$select.apply(step of query-builder callback)` and `sqlValueWithCodec`
// (a bound parameter, typed uuid). This is the mechanism Benjie Gillam's
// v5-auth-poc uses for row limits.
//
// Not covered, on purpose:
// - Functions (`currentUser`, mutations built from functions): their
//   resources inherit `selectAuth`, but a condition outside a function call
//   routes nothing (Citus plans the function's own statements) and could
//   hide rows a function means to return, so they are skipped.
// - INSERT/UPDATE/DELETE: PostGraphile builds update and delete mutations
//   from a unique key, and every key of a tenant-scoped table here starts
//   with tenant_id (`(tenant_id, id)`, `(tenant_id, email)`), so their
//   `where` already names the tenant as a parameter; an insert is routed by
//   the tenant_id value it writes.
import { access, context, lambda } from "postgraphile/grafast";
import { sqlValueWithCodec, TYPES, type PgSelectQueryBuilderCallback, type PgSelectStep } from "postgraphile/@dataplan/pg";
import { sql } from "postgraphile/pg-sql2";

/** The column that names a row's tenant (the distribution column on Citus). */
export const TENANT_COLUMN = "tenant_id";
/** The request setting that holds the caller's tenant (server/auth.ts sets it for tenant users and for operators naming a tenant). */
export const TENANT_SETTING = "jwt.claims.tenant_id";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The query-builder callback for a request's tenant setting: the condition
 * for a uuid; nothing without a tenant (anonymous, an operator naming no
 * tenant: RLS returns no tenant rows to them anyway); for anything else
 * (server/auth.ts lets no such value through) `false`, so that a bad value
 * can neither raise a cast error nor widen anything.
 */
export function tenantCondition(tenantId: unknown): PgSelectQueryBuilderCallback | null {
  if (tenantId === undefined || tenantId === null || tenantId === "") return null;
  if (typeof tenantId !== "string" || !UUID.test(tenantId)) return (qb) => qb.where(sql.false);
  const value = sqlValueWithCodec(tenantId, TYPES.uuid);
  return (qb) => qb.where(sql`${qb.alias}.${sql.identifier(TENANT_COLUMN)} = ${value}`);
}

/** Narrows one select on a tenant-scoped table to the request's tenant. */
function narrowToRequestTenant($select: PgSelectStep) {
  // Functions have parameters (perhaps none); tables and views do not.
  if ($select.resource.parameters) return;
  const $tenantId = access(context(), ["pgSettings", TENANT_SETTING]);
  $select.apply(lambda($tenantId, tenantCondition, true));
}

export const SingleShardPlugin: GraphileConfig.Plugin = {
  name: "SingleShardPlugin",
  description: "Adds `tenant_id = <the request's tenant>` (a parameter) to every select on a table with a tenant_id column, so Citus routes it to one shard.",
  version: "1.0.0",
  gather: {
    hooks: {
      pgTables_PgResourceOptions(_info, event) {
        const { resourceOptions } = event;
        const attributes = (resourceOptions.codec as { attributes?: Record<string, unknown> }).attributes;
        if (!attributes || !Object.hasOwn(attributes, TENANT_COLUMN)) return;
        const previous = resourceOptions.selectAuth;
        resourceOptions.selectAuth = ($select) => {
          previous?.($select);
          narrowToRequestTenant($select);
        };
      },
    },
  },
};
