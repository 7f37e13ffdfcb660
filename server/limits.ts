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
import { SafeError } from "postgraphile/grafast";
import type { Config } from "../common/config.ts";
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

/**
 * How deep brackets ({, [, ( in the document; objects and arrays in the
 * variables) may nest: a legitimate document nests its selections
 * (maxDepth) and, inside one argument, a filter (maxFilterDepth objects,
 * lists between them) and a little more.
 */
const maxNestingOf = (limits: Config["limits"]) => limits.maxDepth + 2 * limits.maxFilterDepth + 8;

/** Whether brackets in a GraphQL document nest deeper than `limit` (strings and comments skipped): one pass, no parse. */
function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{" || c === "[" || c === "(") {
      if (++depth > limit) return true;
    } else if (c === "}" || c === "]" || c === ")") {
      depth--;
    } else if (c === "#") {
      while (i < text.length && text[i] !== "\n" && text[i] !== "\r") i++;
    } else if (c === '"') {
      if (text.startsWith('"""', i)) {
        const end = text.indexOf('"""', i + 3);
        i = end < 0 ? text.length : end + 2;
      } else {
        for (i++; i < text.length && text[i] !== '"' && text[i] !== "\n"; i++) if (text[i] === "\\") i++;
      }
    }
  }
  return false;
}

/** Whether a JSON value nests objects and arrays deeper than `limit`. */
function valueNestsDeeperThan(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== "object") return false;
  if (limit <= 0) return true;
  for (const inner of Array.isArray(value) ? value : Object.values(value)) if (valueNestsDeeperThan(inner, limit - 1)) return true;
  return false;
}

/**
 * A grafserv plugin that adds the rules to the standard validation rules,
 * and refuses, before parsing, a document or variables nested deeper than
 * maxNestingOf(limits): parsing and validating a deeply nested document
 * costs far more than its size says (QUERY_TOO_DEEP, HTTP 400).
 */
export function makeLimitsPlugin(limits: Config["limits"]): GraphileConfig.Plugin {
  const rules = makeLimitRules(limits);
  const maxNesting = maxNestingOf(limits);
  const tooDeep = () =>
    new SafeError(`Brackets in a request may nest at most ${maxNesting} levels deep.`, { code: "QUERY_TOO_DEEP", statusCode: 400 });
  return {
    name: "RequestLimitsPlugin",
    version: "1.0.0",
    grafserv: {
      middleware: {
        setPreset(next, event) {
          event.validationRules.push(...rules);
          return next();
        },
        processGraphQLRequestBody(next, event) {
          const { query, variableValues } = event.body as { query?: unknown; variableValues?: unknown };
          if (typeof query === "string" && nestsDeeperThan(query, maxNesting)) throw tooDeep();
          if (valueNestsDeeperThan(variableValues, maxNesting)) throw tooDeep();
          return next();
        },
      },
    },
  };
}
