// Every connection and list of the API is paginated: a request that gives
// neither `first` nor `last` reads `defaultPageSize` rows (not the whole
// table), and no page is larger than `maxPageSize`. A schema plugin: the
// `first`/`last` arguments that graphile-build-pg adds
// (PgFirstLastBeforeAfterArgsPlugin) are applied by the field's own plan,
// which sees both and so can default `first` only when `last` is absent.
// Requests asking for more than the maximum are refused before they run
// (server/request-budget.ts); the clamp here is the fail-closed backstop.
import { constant, lambda, type Step } from "postgraphile/grafast";
import type { Config } from "../common/config.ts";

type Limits = Pick<Config["limits"], "defaultPageSize" | "maxPageSize">;

interface Paginated extends Step {
  setFirst(first: Step<number | null | undefined>): void;
  setLast(last: Step<number | null | undefined>): void;
}

/** The page size a collection reads: `first`, else the default unless paginating backwards; never above the maximum. */
function effectiveFirst(first: number | null | undefined, last: number | null | undefined, limits: Limits): number | null {
  if (first != null) return Math.min(first, limits.maxPageSize);
  return last == null ? limits.defaultPageSize : null;
}

/** `last`, never above the maximum. */
function effectiveLast(last: number | null | undefined, limits: Limits): number | null {
  return last == null ? null : Math.min(last, limits.maxPageSize);
}

export function makePaginationPlugin(limits: Limits): GraphileConfig.Plugin {
  const isCollection = (scope: { isPgFieldConnection?: boolean; isPgFieldSimpleCollection?: boolean }) =>
    !!(scope.isPgFieldConnection || scope.isPgFieldSimpleCollection);
  return {
    name: "DefaultAndMaximumPageSizePlugin",
    version: "1.0.0",
    after: ["PgFirstLastBeforeAfterArgsPlugin"],
    schema: {
      hooks: {
        // `first` and `last` are applied by the field's plan (below), not one by one.
        GraphQLObjectType_fields_field_args(args, _build, context) {
          if (!isCollection(context.scope) || !args.first) return args;
          const { applyPlan: _first, ...first } = args.first;
          const last = args.last ? (({ applyPlan: _last, ...rest }) => rest)(args.last) : undefined;
          return { ...args, first: { ...first, description: `${first.description ?? ""} At most ${limits.maxPageSize}; ${limits.defaultPageSize} when neither \`first\` nor \`last\` is given.`.trim() }, ...(last ? { last } : {}) };
        },
        GraphQLObjectType_fields_field(field, _build, context) {
          if (!isCollection(context.scope) || typeof field.plan !== "function") return field;
          const plan = field.plan;
          return {
            ...field,
            plan($parent, fieldArgs, info) {
              const $collection = plan($parent, fieldArgs, info) as Paginated;
              const names = new Set(info.field.args.map((a) => a.name));
              if (!names.has("first")) return $collection;
              const $first = fieldArgs.getRaw("first") as Step<number | null | undefined>;
              const $last = (names.has("last") ? fieldArgs.getRaw("last") : constant(null)) as Step<number | null | undefined>;
              $collection.setFirst(lambda([$first, $last], ([first, last]) => effectiveFirst(first, last, limits), true));
              if (names.has("last")) $collection.setLast(lambda($last, (last) => effectiveLast(last, limits), true));
              return $collection;
            },
          };
        },
      },
    },
  };
}
