// Limits on what one GraphQL document may ask for, checked at validation
// time (results are cached per document, so they cost nothing per request):
// - depth of nested selections;
// - number of fields in total (a simple cost measure);
// - number of root fields, fragments expanded (aliases turn one request
//   into a batch: 1,000 `login` calls in one document, written out or
//   spread from a fragment on Mutation, would be a password-guessing batch);
// - introspection (`__schema`, `__type`), off in production by default.
// What depends on variables (page sizes, the row budget, filter bounds) is
// checked per request, before execution, in server/request-budget.ts.
// Batched HTTP requests (a JSON array of operations) are refused by grafserv
// itself, and bodies over its maxRequestLength get 413.
import {
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from "postgraphile/graphql";
import type { Config } from "./config.ts";
import { fragmentsOf, rootFieldsOf } from "./operation.ts";

function limitError(message: string, code: string, context: ValidationContext) {
  context.reportError(new GraphQLError(message, { extensions: { code } }));
}

/** Depth and field count of each operation, following fragments (each at most once per path). */
function measure(selectionSet: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, seen: Set<string>) {
  let depth = 0;
  let fields = 0;
  for (const selection of selectionSet.selections) {
    let inner: { depth: number; fields: number } = { depth: 0, fields: 0 };
    if (selection.kind === Kind.FIELD) {
      // Introspection has its own switch (below); GraphiQL's query is deep.
      if (selection.name.value.startsWith("__")) continue;
      fields += 1;
      if (selection.selectionSet) inner = measure(selection.selectionSet, fragments, seen);
      depth = Math.max(depth, 1 + inner.depth);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      inner = measure(selection.selectionSet, fragments, seen);
      depth = Math.max(depth, inner.depth);
    } else {
      const fragment = fragments.get(selection.name.value);
      if (fragment && !seen.has(fragment.name.value)) {
        inner = measure(fragment.selectionSet, fragments, new Set(seen).add(fragment.name.value));
        depth = Math.max(depth, inner.depth);
      }
    }
    fields += inner.fields;
  }
  return { depth, fields };
}

export function makeLimitRules(limits: Config["limits"]): ValidationRule[] {
  const sizeRule: ValidationRule = (context): ASTVisitor => ({
    Document(document) {
      const fragments = fragmentsOf(document);
      for (const d of document.definitions) {
        if (d.kind !== Kind.OPERATION_DEFINITION) continue;
        const rootFields = rootFieldsOf(d, fragments).length;
        if (rootFields > limits.maxRootFields) {
          limitError(`An operation may have at most ${limits.maxRootFields} root fields (this one has ${rootFields}).`, "TOO_MANY_ROOT_FIELDS", context);
        }
        const { depth, fields } = measure(d.selectionSet, fragments, new Set());
        if (depth > limits.maxDepth) {
          limitError(`Queries may nest at most ${limits.maxDepth} levels deep (this one: ${depth}).`, "QUERY_TOO_DEEP", context);
        }
        if (fields > limits.maxFields) {
          limitError(`An operation may select at most ${limits.maxFields} fields (this one: ${fields}).`, "QUERY_TOO_LARGE", context);
        }
      }
    },
  });
  return limits.introspection ? [sizeRule] : [sizeRule, NoSchemaIntrospectionCustomRule];
}

/** A grafserv plugin that adds the rules to the standard validation rules. */
export function makeLimitsPlugin(limits: Config["limits"]): GraphileConfig.Plugin {
  const rules = makeLimitRules(limits);
  return {
    name: "RequestLimitsPlugin",
    version: "1.0.0",
    grafserv: {
      middleware: {
        setPreset(next, event) {
          event.validationRules.push(...rules);
          return next();
        },
      },
    },
  };
}
