// GraphQL enum values are SCREAMING_CASE by convention, as the orderBy values
// PostGraphile makes already are: a PostgreSQL enum's labels (`in_progress`,
// `admin`) become `IN_PROGRESS`, `ADMIN` in the API. The database keeps its
// lowercase labels; PostGraphile maps each GraphQL value to its label, so SQL,
// policies and stored rows are unchanged.
//
// An inflection replacement of `enumValue` (graphile-build-pg's
// PgCodecsPlugin calls it for every value of a pg enum codec).

export const EnumValuesPlugin: GraphileConfig.Plugin = {
  name: "EnumValuesPlugin",
  version: "1.0.0",
  inflection: {
    replace: {
      enumValue(previous, _options, value, codec) {
        return this.constantCase(previous!(value, codec));
      },
    },
  },
};
