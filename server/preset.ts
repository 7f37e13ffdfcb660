// The PostGraphile V5 configuration: which schema to expose, how names are
// made, how tokens are signed, and how a request's settings reach PostgreSQL.
import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";
import type { KeyObject } from "node:crypto";
import type { Pool } from "pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { PostGraphileConnectionFilterPreset } from "postgraphile-plugin-connection-filter";
import { ANONYMOUS_SETTINGS, type PgSettings } from "./auth.ts";
import type { Config } from "../common/config.ts";
import { DomainsAsBaseTypesPlugin } from "./domain-types.ts";
import { EnumValuesPlugin } from "./enum-values.ts";
import { ErrorDescriptionsPlugin } from "./error-descriptions.ts";
import { ErrorCodesPlugin, makeMaskError, StaleTokenStatusPlugin } from "./errors.ts";
import { makeLimitsPlugin } from "./limits.ts";
import { NodeIdLookupsPlugin } from "./node-ids.ts";
import { NullResultErrorsPlugin } from "./null-result-errors.ts";
import { makePaginationPlugin } from "./pagination.ts";
import { makeRateLimitPlugin } from "./rate-limit.ts";
import { makeRequestBudgetPlugin } from "./request-budget.ts";
import type { HttpRequest } from "./http.ts";
import { httpRequestOf, ResponseStatusPlugin } from "./response-status.ts";
import { makeRequestPgService, readOnlyFor } from "./request-context.ts";
import { SingleShardPlugin } from "./single-shard.ts";
import { makeTrustedDocumentsPreset } from "./trusted-documents.ts";

declare global {
  namespace Express {
    interface Request {
      /** Set by the auth middleware from the verified token. */
      pgSettings?: PgSettings;
    }
  }
}

export function makePreset(
  config: Config,
  pool: Pool,
  jwtKey: KeyObject,
  superuserUrl?: string,
  onDatabaseUnavailable?: () => void,
): GraphileConfig.Preset {
  // Watch mode installs an event trigger (and LISTENs) in the database, which
  // makes Citus's DDL fail ("cannot PREPARE a transaction that has executed
  // LISTEN, UNLISTEN, or NOTIFY"): never in set_local (Citus) mode.
  const watch = config.env === "development" && !!superuserUrl && config.database.contextMode !== "set_local";
  return {
    extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset, PostGraphileConnectionFilterPreset, makeTrustedDocumentsPreset(config)],
    plugins: [
      makeLimitsPlugin(config.limits),
      makePaginationPlugin(config.limits),
      makeRequestBudgetPlugin(config.limits, config.fairShare),
      makeRateLimitPlugin(config.rateLimits),
      ResponseStatusPlugin,
      NullResultErrorsPlugin,
      StaleTokenStatusPlugin,
      ErrorCodesPlugin,
      DomainsAsBaseTypesPlugin,
      EnumValuesPlugin,
      NodeIdLookupsPlugin,
      ErrorDescriptionsPlugin,
      SingleShardPlugin,
    ],
    pgServices: [
      // Every request's SQL runs in withRequestTransaction (server/request-context.ts):
      // begin, the claims check, the settings, commit.
      makeRequestPgService(config.database.contextMode, {
        pool,
        schemas: ["app_public"],
        // Watch mode needs LISTEN (pub/sub); otherwise hold no LISTEN client.
        pubsub: watch,
        // Only for watch mode, which installs an event trigger.
        superuserConnectionString: watch ? superuserUrl : undefined,
      }),
    ],
    gather: {
      pgJwtTypes: "app_public.jwt_token",
    },
    schema: {
      // Node IDs name rows (server/node-ids.ts): the Node ID lookups and
      // mutations get the plain names (`task`, `updateTask`).
      pgShortPk: false,
      pgJwtSecret: jwtKey,
      pgJwtSignOptions: {
        algorithm: "HS256",
        audience: config.jwt.audience,
        issuer: config.jwt.issuer,
        expiresIn: config.jwt.expiresInSeconds,
      },
    },
    grafast: {
      // Applied inside the request's transaction (server/request-context.ts),
      // so nothing outlives the request. Queries run read-only.
      context(requestContext, args) {
        const req = httpRequestOf(requestContext) as HttpRequest | undefined;
        return { pgSettings: readOnlyFor(req?.pgSettings ?? ANONYMOUS_SETTINGS, args) };
      },
    },
    grafserv: {
      graphqlPath: "/graphql",
      graphiql: config.graphiql,
      graphiqlPath: "/graphiql",
      graphiqlOnGraphQLGET: false,
      // Parsed documents kept (500 by default). Entries, not bytes: a
      // 100 kB document can parse into a megabyte of syntax tree.
      parseAndValidateCacheSize: 100,
      watch,
      maskError: makeMaskError(config.env !== "production", onDatabaseUnavailable),
    },
  };
}
