// A domain (such as app_public.email, citext with a CHECK) is its base type
// in the API: PostGraphile V5 would otherwise give each domain a GraphQL
// scalar of its own (`Email`, `EmailFilter`), so that moving a column's
// check into a domain would rename the column's type for every client. The
// database still enforces the domain's check on every write.
//
// A gather hook, run before PostGraphile's own: the codec of a domain is the
// codec of its base type (recursively, for a domain over a domain).

export const DomainsAsBaseTypesPlugin: GraphileConfig.Plugin = {
  name: "DomainsAsBaseTypesPlugin",
  version: "1.0.0",
  gather: {
    hooks: {
      pgCodecs_findPgCodec: {
        before: ["PgCodecsPlugin"],
        async callback(info, event) {
          const { pgType } = event;
          if (event.pgCodec || pgType.typtype !== "d" || !pgType.typbasetype) return;
          event.pgCodec = await info.helpers.pgCodecs.getCodecFromType(event.serviceName, pgType.typbasetype, pgType.typtypmod);
        },
      },
    },
  },
};
