// Smart tags on the PostgreSQL functions that mutations are built from: a
// line `@name value` at the top of a function's comment (COMMENT ON
// FUNCTION; see migrations/current/200-function-smart-tags.sql). PostGraphile
// parses them into the function resource's `extensions.tags` and leaves them
// out of the GraphQL description. The API's plugins give each mutation the
// meaning its function's tags say, so that what a function means is written
// next to it, in SQL, and survives a GraphQL rename (@name).
import type { PgResource } from "postgraphile/@dataplan/pg";

declare global {
  namespace GraphileBuild {
    interface PgResourceTags {
      /** `CODE message`: the error the function's null result stands for (server/null-result-errors.ts). */
      nullError: string;
      /** The bucket of common/config.ts rateLimits that calls to the function count against (server/rate-limit.ts). */
      rateLimit: string;
    }
  }
}

export interface TaggedMutation<T> {
  /** The GraphQL mutation field built from the function. */
  fieldName: string;
  /** The tag's value, as `parse` read it. */
  value: T;
}

type FunctionResource = Parameters<GraphileBuild.Inflection["customMutationField"]>[0]["resource"];

function sqlNameOf(resource: PgResource) {
  const pg = resource.extensions?.pg;
  return pg ? `${pg.schemaName}.${pg.name}` : resource.name;
}

/**
 * The mutations built from functions that carry `tag`, each with the tag's
 * value as `parse` reads it (`parse` throws to refuse a value). Runs while
 * the schema is built (a `build` hook), so a tag at fault stops the API at
 * start-up; every such tag is listed: one given twice or without a value,
 * one `parse` refuses, one on a function that is no mutation (not VOLATILE)
 * and would mean nothing there.
 */
export function taggedMutations<T>(build: Pick<GraphileBuild.Build, "input" | "inflection">, tag: "nullError" | "rateLimit", parse: (value: string) => T): TaggedMutation<T>[] {
  const found: TaggedMutation<T>[] = [];
  const problems: string[] = [];
  for (const resource of Object.values(build.input.pgRegistry.pgResources)) {
    // Functions have parameters (perhaps none); tables and views do not.
    const raw = resource.extensions?.tags?.[tag];
    if (raw === undefined || !resource.parameters) continue;
    const sqlName = sqlNameOf(resource);
    if (typeof raw !== "string" || raw.trim() === "") {
      problems.push(`${sqlName}: @${tag} must be given once, with a value (got ${JSON.stringify(raw)})`);
    } else if (!resource.isMutation) {
      problems.push(`${sqlName}: @${tag} is only read on mutations, and this function is not VOLATILE`);
    } else {
      try {
        found.push({ fieldName: build.inflection.customMutationField({ resource: resource as FunctionResource }), value: parse(raw.trim()) });
      } catch (error) {
        problems.push(`${sqlName}: ${(error as Error).message}`);
      }
    }
  }
  if (problems.length) throw new Error(`Smart tags of functions in the database are not valid:\n  - ${problems.join("\n  - ")}`);
  return found;
}
