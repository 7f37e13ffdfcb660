// The operation a GraphQL request runs, as the executor sees it: the one the
// request names (or the only one), with fragment spreads and inline
// fragments expanded. Every per-field rule (root-field limit, rate limits,
// page sizes, the row budget, filter bounds) counts what this module
// returns, never the request's text: a fragment on `Mutation` spread into
// the operation is as many root fields as it contains.
import {
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from "postgraphile/graphql";

/** The document's fragments by name. */
export function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  return fragments;
}

/** The operation GraphQL's executor would run: the one named, or the only one (undefined if neither). */
export function operationOf(document: DocumentNode, operationName?: string | null): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operationName) return operations.find((o) => o.name?.value === operationName);
  return operations.length === 1 ? operations[0] : undefined;
}

/**
 * Calls `visit` for every field of a selection set, fragments expanded, with
 * the name of the type the field is selected on (a fragment's or inline
 * fragment's type condition, else `typeName`). A fragment is expanded at
 * most once per path (a cycle is a validation error anyway). Fields under
 * `@skip`/`@include` are visited too: limits count what might run.
 */
export function forEachField(
  selectionSet: SelectionSetNode,
  typeName: string,
  fragments: Map<string, FragmentDefinitionNode>,
  visit: (field: FieldNode, typeName: string) => void,
  seen: ReadonlySet<string> = new Set(),
): void {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      visit(selection, typeName);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      forEachField(selection.selectionSet, selection.typeCondition?.name.value ?? typeName, fragments, visit, seen);
    } else {
      const fragment = fragments.get(selection.name.value);
      if (!fragment || seen.has(fragment.name.value)) continue;
      const inner = new Set(seen).add(fragment.name.value);
      forEachField(fragment.selectionSet, fragment.typeCondition.name.value, fragments, visit, inner);
    }
  }
}

/** The root fields of an operation, fragments expanded (introspection's `__` fields left out). */
export function rootFieldsOf(operation: OperationDefinitionNode, fragments: Map<string, FragmentDefinitionNode>): FieldNode[] {
  const fields: FieldNode[] = [];
  forEachField(operation.selectionSet, "", fragments, (field) => {
    if (!field.name.value.startsWith("__")) fields.push(field);
  });
  return fields;
}

/** The name of the root type an operation runs on. */
export function rootTypeName(schema: GraphQLSchema, operation: OperationDefinitionNode): string | undefined {
  return schema.getRootType(operation.operation)?.name;
}

/**
 * Memoizes `compute` per document (held weakly) and operation name. grafserv
 * parses a document once per text and hands the same DocumentNode to every
 * request that sends that text, so per-operation facts cost nothing after
 * the first request.
 */
export function perOperation<T, A = void>(compute: (document: DocumentNode, operationName: string | null | undefined, extra: A) => T) {
  const cache = new WeakMap<DocumentNode, Map<string | null | undefined, T>>();
  return (document: DocumentNode, operationName: string | null | undefined, extra: A): T => {
    let byName = cache.get(document);
    if (!byName) cache.set(document, (byName = new Map()));
    if (!byName.has(operationName)) byName.set(operationName, compute(document, operationName, extra));
    return byName.get(operationName)!;
  };
}
