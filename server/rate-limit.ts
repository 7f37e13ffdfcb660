// Rate limits for the mutations anyone may call without a token (password
// guessing, bcrypt cost, sign-up spam), and for changePassword, whose caller
// may hold a stolen token (it counts against login's bucket). Which
// mutations, and against which bucket, their functions say in SQL:
// `@rateLimit login` in the function's comment. The buckets and their calls
// per minute are in common/config.ts (rateLimits); every mutation tagged
// with a bucket counts against the same fixed one-minute window per client
// address. Kept in this process's memory:
// behind several server processes or a proxy, put the same limit there too.
// A tag naming a bucket the configuration lacks stops the API at start-up; a
// configured bucket that no function names is reported then.
// Counted on the operation as it runs (server/operation.ts), with fragments
// expanded. A request may call each limited mutation once (a validation
// rule: TOO_MANY_CALLS), since 20 bcrypt comparisons in one request are a
// burst of database CPU that no client needs; each call takes one from its
// bucket. A Grafast `execute` middleware, so trusted documents (which carry
// no text) are counted too.
import { GraphQLError, Kind, OperationTypeNode, type DocumentNode, type GraphQLSchema, type ValidationRule } from "postgraphile/graphql";
import { taggedMutations } from "./function-tags.ts";
import { fragmentsOf, operationOf, perOperation, rootFieldsOf } from "./operation.ts";
import { clientAddressOf, setResponseStatus } from "./response-status.ts";

const WINDOW_MS = 60_000;

/** Calls per minute per client address, by bucket. */
type Buckets = Readonly<Record<string, number>>;

declare global {
  namespace GraphileBuild {
    interface Build {
      /** Root mutation field → the bucket its function's @rateLimit tag names. */
      rateLimitBuckets: ReadonlyMap<string, string>;
    }
  }
}

/** The name of the field extension that records a mutation's bucket in the built schema. */
const EXTENSION = "rateLimit";

/**
 * Mutation field → bucket, from the functions' tags. Throws for a bucket
 * `buckets` lacks, and for a configured bucket no function names: a limit
 * that counts nothing was lost (a comment dropped when a function was
 * re-created, say), so the API does not start without it.
 */
function bucketsByField(build: Parameters<typeof taggedMutations>[0], buckets: Buckets): Map<string, string> {
  const configured = Object.keys(buckets);
  const tagged = taggedMutations(build, "rateLimit", (bucket) => {
    if (!Object.hasOwn(buckets, bucket)) {
      throw new Error(`@rateLimit names the bucket "${bucket}", which common/config.ts (rateLimits) does not configure; it has ${configured.join(", ")}`);
    }
    return bucket;
  });
  const used = new Set(tagged.map((t) => t.value));
  const unused = configured.filter((bucket) => !used.has(bucket));
  if (unused.length) {
    throw new Error(
      `no function's comment says @rateLimit ${unused.join(", ")}: nothing would count against ${unused.length > 1 ? "those buckets" : "that bucket"} (a comment lost when a function was re-created?)`,
    );
  }
  return new Map(tagged.map((t) => [t.fieldName, t.value]));
}

/** The limited mutations of a schema: field name → bucket, as the schema hook recorded them. */
const limitedFieldsCache = new WeakMap<GraphQLSchema, ReadonlyMap<string, string>>();
function limitedFieldsOf(schema: GraphQLSchema): ReadonlyMap<string, string> {
  let limited = limitedFieldsCache.get(schema);
  if (!limited) {
    const fields = Object.values(schema.getMutationType()?.getFields() ?? {});
    limited = new Map(fields.flatMap((f) => (typeof f.extensions[EXTENSION] === "string" ? [[f.name, f.extensions[EXTENSION]]] : [])));
    limitedFieldsCache.set(schema, limited);
  }
  return limited;
}

/** The limited mutations an operation calls, once per call (field names, not aliases; fragments expanded). */
export function limitedCalls(document: DocumentNode, operationName: string | null | undefined, limited: ReadonlyMap<string, string>): string[] {
  const operation = operationOf(document, operationName);
  if (operation?.operation !== OperationTypeNode.MUTATION) return [];
  return rootFieldsOf(operation, fragmentsOf(document))
    .map((f) => f.name.value)
    .filter((name) => limited.has(name));
}

/** Counts calls per (address, bucket); returns the seconds to wait, or 0 when the call may go ahead. */
export function makeRateLimiter(perMinute: Buckets, now: () => number = Date.now) {
  const windows = new Map<string, { start: number; count: number }>();
  let lastSweep = now();
  return function take(address: string, bucket: string): number {
    const t = now();
    if (t - lastSweep > WINDOW_MS) {
      for (const [key, w] of windows) if (t - w.start >= WINDOW_MS) windows.delete(key);
      lastSweep = t;
    }
    const key = `${bucket} ${address}`;
    let w = windows.get(key);
    if (!w || t - w.start >= WINDOW_MS) windows.set(key, (w = { start: t, count: 0 }));
    if (w.count >= perMinute[bucket]) return Math.ceil((w.start + WINDOW_MS - t) / 1000);
    w.count += 1;
    return 0;
  };
}

/**
 * A schema plugin (records each tagged mutation's bucket as its field's
 * `rateLimit` extension) and a Grafast plugin (a request whose limited calls
 * exceed its address's window gets 429 RATE_LIMITED with Retry-After, and
 * runs nothing).
 */
export function makeRateLimitPlugin(perMinute: Buckets): GraphileConfig.Plugin {
  const take = makeRateLimiter(perMinute);
  const callsOf = perOperation((document, operationName, schema: GraphQLSchema) => limitedCalls(document, operationName, limitedFieldsOf(schema)));
  const oncePerRequest: ValidationRule = (context) => ({
    Document(document) {
      const limited = limitedFieldsOf(context.getSchema());
      for (const d of document.definitions) {
        if (d.kind !== Kind.OPERATION_DEFINITION) continue;
        const names = limitedCalls(document, d.name?.value, limited);
        const twice = names.find((name, i) => names.indexOf(name) !== i);
        if (twice) {
          context.reportError(new GraphQLError(`A request may call ${twice} once (this one calls it ${names.filter((n) => n === twice).length} times).`, { extensions: { code: "TOO_MANY_CALLS" } }));
        }
      }
    },
  });
  return {
    name: "RateLimitPlugin",
    version: "1.0.0",
    schema: {
      hooks: {
        build(build) {
          return build.extend(build, { rateLimitBuckets: bucketsByField(build, perMinute) }, "RateLimitPlugin: mutations and their buckets, from the functions' @rateLimit tags");
        },
        GraphQLObjectType_fields_field(field, build, { scope }) {
          const bucket = scope.isRootMutation ? build.rateLimitBuckets.get(scope.fieldName) : undefined;
          return bucket ? { ...field, extensions: { ...field.extensions, [EXTENSION]: bucket } } : field;
        },
      },
    },
    grafserv: {
      middleware: {
        setPreset(next, event) {
          event.validationRules.push(oncePerRequest);
          return next();
        },
      },
    },
    grafast: {
      middleware: {
        execute(next, event) {
          const { schema, document, operationName, requestContext } = event.args;
          const called = callsOf(document, operationName, schema);
          if (!called.length) return next();
          const address = clientAddressOf(requestContext);
          const limited = limitedFieldsOf(schema);
          for (const mutation of called) {
            const wait = take(address, limited.get(mutation)!);
            if (!wait) continue;
            setResponseStatus(requestContext, 429, { "Retry-After": String(wait) });
            return { errors: [new GraphQLError(`Too many ${mutation} attempts; retry in ${wait} s.`, { extensions: { code: "RATE_LIMITED" } })] };
          }
          return next();
        },
      },
    },
  };
}
