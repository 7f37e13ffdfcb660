// A row is named by its Node ID: `task(id: ID!)`, `updateTask(input: {id,
// patch})`, `deleteTask(input: {id})`. The Node ID of a table whose primary
// key is (tenant_id, id) encodes both, so a client never has to send the
// tenant, and server/single-shard.ts still sees `tenant_id = $n` in every
// statement (decoded from the Node ID for updates and deletes; added from
// the request for reads).
//
// What this hides, with behaviors (graphile-build-pg's `pgResourceUnique`
// entity: `single` for the Query field, `update`/`delete` for mutations):
// - every lookup and mutation by the primary key's columns
//   (`taskByTenantIdAndRowId`, `updateTaskByTenantIdAndRowId`): the Node ID
//   does it;
// - lookups and mutations by any other unique key that includes tenant_id
//   (`userByTenantIdAndEmail`): a client would send its own tenant back;
//   `users(condition: {email})` finds a user of the caller's tenant;
// - mutations by any other unique key (`updateTenantBySlug`): one way to
//   change a row.
// Kept: lookups by a global unique key (`tenantBySlug`, `operatorByEmail`).
//
// The names come from PostGraphile's own inflectors once
// @graphile/simplify-inflection's `pgShortPk` (which gives the primary key
// the short names and the Node ID `…ById`) is off (server/preset.ts).
import { TENANT_COLUMN } from "./single-shard.ts";

export const NodeIdLookupsPlugin: GraphileConfig.Plugin = {
  name: "NodeIdLookupsPlugin",
  description: "Single-row queries and mutations by Node ID only; the composite-key variants are hidden.",
  version: "1.0.0",
  schema: {
    entityBehavior: {
      pgResourceUnique: {
        inferred: {
          after: ["inferred"],
          provides: ["postInferred"],
          callback(behavior, [, unique]) {
            const hideLookup = unique.isPrimary || unique.attributes.includes(TENANT_COLUMN);
            const hidden: GraphileBuild.BehaviorString[] = [...(hideLookup ? (["-single"] as const) : []), "-update", "-delete"];
            return [behavior, ...hidden];
          },
        },
      },
    },
  },
};
