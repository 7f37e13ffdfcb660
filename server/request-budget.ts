// What one request may ask the database for, checked before it runs, on the
// operation as it will execute (fragments expanded, variables applied):
// - page arguments: `first`/`last` at most maxPageSize, `offset` at most
//   maxOffset, none negative (INVALID_INPUT, PAGE_TOO_LARGE);
// - a row budget: over every path of nested connections and lists, the
//   product of the page sizes along it (defaultPageSize where none is
//   given), summed over all paths and aliases, at most maxRows
//   (TOO_MANY_ROWS). `projects { nodes { tasks { nodes { … } } } }` with
//   the default page size asks for 100 + 100 × 100 rows;
// - filters: every `filter` argument at most maxFilterDepth levels deep,
//   and all of them together at most maxFilterSize conditions
//   (FILTER_TOO_COMPLEX): nested relation filters (`some`/`every`) make
//   PostgreSQL plan for seconds even on an empty tenant.
// A validation rule (for documents whose arguments are literals) and a
// Grafast `execute` middleware (with variables): a refused request gets a
// GraphQL error with a stable code (HTTP 400) and never reaches the database. A request
// that may run holds its row budget against its tenant's and the server's
// rows in flight while it executes (server/fair-share.ts). The
// document's shape is worked out once per document; a document whose page
// and filter arguments are literals is judged once, at validation.
import {
  getNamedType,
  getVariableValues,
  GraphQLError,
  isCompositeType,
  isInterfaceType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ValidationRule,
  type ValueNode,
  valueFromAST,
} from "postgraphile/graphql";
import type { HttpRequest } from "./http.ts";
import { isPromiseLike } from "postgraphile/grafast";
import type { Config } from "../common/config.ts";
import { makeRowShare, shareKey } from "./fair-share.ts";
import { forEachField, fragmentsOf, operationOf, perOperation, rootTypeName } from "./operation.ts";
import { httpRequestOf, setResponseStatus } from "./response-status.ts";

type Limits = Config["limits"];

/** A field that takes page arguments or a filter, and those below it. */
interface Collection {
  field: FieldNode;
  definition: GraphQLField<unknown, unknown>;
  /** Whether it multiplies the rows below it (it has a `first` argument). */
  paginated: boolean;
  children: Collection[];
}

interface Shape {
  operation: OperationDefinitionNode;
  collections: Collection[];
  /** Whether a page or filter argument refers to a variable (then every request is judged on its own). */
  usesVariables: boolean;
  /** The verdict, when it cannot depend on variables: the row budget (allowed) or the error. */
  verdict?: GraphQLError | number;
}

const PAGE_ARGUMENTS = ["first", "last", "offset", "filter"];

/** The collections of an operation, as a tree, using the schema to know which fields take page arguments. */
function shapeOf(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): Shape {
  const fragments = fragmentsOf(document);
  let usesVariables = false;
  const collect = (selectionSet: FieldNode["selectionSet"], typeName: string): Collection[] => {
    const found: Collection[] = [];
    if (!selectionSet) return found;
    forEachField(selectionSet, typeName, fragments, (field, onType) => {
      const type = schema.getType(onType);
      if (!type || !(isObjectType(type) || isInterfaceType(type))) return;
      const definition = type.getFields()[field.name.value];
      if (!definition) return; // __typename, or a validation error
      const named = getNamedType(definition.type);
      const below = isCompositeType(named) ? collect(field.selectionSet, named.name) : [];
      const takes = definition.args.filter((a) => PAGE_ARGUMENTS.includes(a.name));
      if (!takes.length) {
        found.push(...below);
        return;
      }
      if (field.arguments?.some((a) => PAGE_ARGUMENTS.includes(a.name.value) && hasVariable(a.value))) {
        usesVariables = true;
      }
      found.push({ field, definition, paginated: takes.some((a) => a.name === "first"), children: below });
    });
    return found;
  };
  const root = rootTypeName(schema, operation);
  return { operation, collections: root ? collect(operation.selectionSet, root) : [], usesVariables };
}

/** Whether a value (literal or nested input) refers to a variable anywhere. */
function hasVariable(value: ValueNode): boolean {
  if (value.kind === Kind.VARIABLE) return true;
  if (value.kind === Kind.LIST) return value.values.some(hasVariable);
  if (value.kind === Kind.OBJECT) return value.fields.some((f) => hasVariable(f.value));
  return false;
}

function refusal(code: string, message: string) {
  return new GraphQLError(message, { extensions: { code } });
}

/** Depth and number of conditions of a filter value (an input object of objects and lists). */
function filterMeasure(value: unknown): { depth: number; size: number } {
  if (Array.isArray(value)) {
    let depth = 0;
    let size = 0;
    for (const item of value) {
      const m = filterMeasure(item);
      depth = Math.max(depth, m.depth);
      size += m.size;
    }
    return { depth, size };
  }
  if (value === null || typeof value !== "object") return { depth: 0, size: 0 };
  let depth = 0;
  let size = 0;
  for (const inner of Object.values(value)) {
    const m = filterMeasure(inner);
    depth = Math.max(depth, m.depth);
    size += 1 + m.size;
  }
  return { depth: depth + 1, size };
}

/** The same, of a filter as written (a literal, possibly with variables inside): no coercion needed. */
function filterNodeMeasure(node: ValueNode, variables: Record<string, unknown>): { depth: number; size: number } {
  if (node.kind === Kind.VARIABLE) return filterMeasure(variables[node.name.value]);
  if (node.kind === Kind.LIST) {
    let depth = 0;
    let size = 0;
    for (const item of node.values) {
      const m = filterNodeMeasure(item, variables);
      depth = Math.max(depth, m.depth);
      size += m.size;
    }
    return { depth, size };
  }
  if (node.kind !== Kind.OBJECT) return { depth: 0, size: 0 };
  let depth = 0;
  let size = 0;
  for (const field of node.fields) {
    const m = filterNodeMeasure(field.value, variables);
    depth = Math.max(depth, m.depth);
    size += 1 + m.size;
  }
  return { depth: depth + 1, size };
}

/** A page argument's value (first, last, offset): from its variable, its literal, or its default. */
function pageArgument(c: Collection, name: string, variables: Record<string, unknown>): number | null | undefined {
  const definition = c.definition.args.find((a) => a.name === name);
  if (!definition) return undefined;
  const node = c.field.arguments?.find((a) => a.name.value === name)?.value;
  if (!node) return definition.defaultValue as number | undefined;
  if (node.kind === Kind.VARIABLE) return variables[node.name.value] as number | null | undefined;
  const value = valueFromAST(node, definition.type, variables);
  if (value === undefined) throw new Error(`invalid ${name}`); // GraphQL's own rules report it
  return value as number | null;
}

/** The verdict for one request: its row budget when it may run, else the error it gets. */
function judge(collections: Collection[], variables: Record<string, unknown>, limits: Limits): GraphQLError | number {
  let rows = 0;
  let filterSize = 0;
  const visit = (list: Collection[], multiplier: number): GraphQLError | null => {
    for (const c of list) {
      const args: Record<string, number | null | undefined> = {};
      for (const key of ["first", "last", "offset"]) args[key] = pageArgument(c, key, variables);
      const filter = c.field.arguments?.find((a) => a.name.value === "filter")?.value;
      const name = c.field.alias?.value ?? c.field.name.value;
      for (const key of ["first", "last", "offset"] as const) {
        const n = args[key];
        if (n == null) continue;
        if (n < 0) return refusal("INVALID_INPUT", `\`${key}\` of \`${name}\` must not be negative.`);
        const max = key === "offset" ? limits.maxOffset : limits.maxPageSize;
        if (n > max) return refusal("PAGE_TOO_LARGE", `\`${key}\` of \`${name}\` may be at most ${max} (it is ${n}).`);
      }
      if (filter) {
        const { depth, size } = filterNodeMeasure(filter, variables);
        filterSize += size;
        if (depth > limits.maxFilterDepth) {
          return refusal("FILTER_TOO_COMPLEX", `The filter of \`${name}\` nests ${depth} levels; at most ${limits.maxFilterDepth} are allowed.`);
        }
        if (filterSize > limits.maxFilterSize) {
          return refusal("FILTER_TOO_COMPLEX", `The filters of this request have more than ${limits.maxFilterSize} conditions.`);
        }
      }
      let below = multiplier;
      if (c.paginated) {
        const { first, last } = args;
        const page = first != null && last != null ? Math.min(first, last) : (first ?? last ?? limits.defaultPageSize);
        below = multiplier * page;
        rows += below;
        if (rows > limits.maxRows) {
          return refusal(
            "TOO_MANY_ROWS",
            `This request could read more than ${limits.maxRows} rows (nested lists multiply: ask for smaller pages with \`first\`).`,
          );
        }
      }
      const inner = visit(c.children, below);
      if (inner) return inner;
    }
    return null;
  };
  return visit(collections, 1) ?? rows;
}

/**
 * A Grafast plugin that refuses, before execution, requests over the budget,
 * and holds each running request's rows against its tenant's and the
 * server's rows in flight (server/fair-share.ts) until it has executed.
 */
export function makeRequestBudgetPlugin(limits: Limits, fairShare: Config["fairShare"]): GraphileConfig.Plugin {
  const rowShare = makeRowShare(fairShare);
  const shapeFor = perOperation((document, operationName, schema: GraphQLSchema): Shape | null => {
    const operation = operationOf(document, operationName);
    return operation ? shapeOf(schema, document, operation) : null;
  });
  /** Judges a shape whose arguments are all literals, once: the verdict is kept on the shape. */
  const staticVerdict = (shape: Shape): GraphQLError | number | undefined => {
    if (shape.usesVariables) return undefined;
    if (shape.verdict === undefined) {
      try {
        shape.verdict = judge(shape.collections, {}, limits);
      } catch {
        return undefined; // an argument GraphQL refuses: its own rules report it
      }
    }
    return shape.verdict;
  };
  // Documents whose page and filter arguments are literals are judged at
  // validation, so that a refused document is cached by grafserv as its
  // error alone, not as a parsed document (a few kB of nested filter parse
  // into a megabyte of syntax tree).
  const rule: ValidationRule = (context) => ({
    Document(document) {
      for (const d of document.definitions) {
        if (d.kind !== Kind.OPERATION_DEFINITION) continue;
        const shape = shapeFor(document, d.name?.value, context.getSchema());
        const verdict = shape && staticVerdict(shape);
        if (verdict instanceof GraphQLError) context.reportError(verdict);
      }
    },
  });
  return {
    name: "RequestBudgetPlugin",
    version: "1.0.0",
    grafserv: {
      middleware: {
        setPreset(next, event) {
          event.validationRules.push(rule);
          return next();
        },
      },
    },
    grafast: {
      middleware: {
        execute(next, event) {
          const { schema, document, operationName, variableValues } = event.args;
          const shape = shapeFor(document, operationName, schema);
          if (!shape) return next(); // no such operation: Grafast answers that
          let verdict = staticVerdict(shape);
          if (verdict === undefined) {
            if (!shape.usesVariables) return next(); // an argument GraphQL refuses: Grafast reports it
            const coerced = getVariableValues(schema, shape.operation.variableDefinitions ?? [], (variableValues ?? {}) as Record<string, unknown>);
            if (coerced.errors) return next(); // Grafast reports invalid variables itself
            try {
              verdict = judge(shape.collections, coerced.coerced, limits);
            } catch {
              return next();
            }
          }
          if (typeof verdict !== "number") return { errors: [verdict] };
          if (verdict === 0) return next();
          const req = httpRequestOf(event.args.requestContext) as HttpRequest | undefined;
          const taken = rowShare.take(req ? shareKey(req) : "unknown", verdict);
          const run = (release: () => void) => {
            try {
              const result = next();
              if (isPromiseLike(result)) return Promise.resolve(result).finally(release);
              release();
              return result;
            } catch (error) {
              release();
              throw error;
            }
          };
          if (typeof taken === "function") return run(taken);
          return taken.then((outcome) => {
            if (typeof outcome === "function") return run(outcome);
            setResponseStatus(event.args.requestContext, outcome === "tenant" ? 429 : 503, { "Retry-After": "1" });
            const error =
              outcome === "tenant"
                ? refusal("TENANT_BUSY", "This tenant's running requests already ask for as many rows as it may hold; retry shortly.")
                : refusal("BUSY", "The server is busy; retry shortly.");
            return { errors: [error] };
          });
        },
      },
    },
  };
}
