// The API's documentation speaks the clients' vocabulary: SQL comments name
// their errors by SQLSTATE (`Errors: CREDS, LOCKD.`, `42501 otherwise`),
// which become the GraphQL descriptions of the fields built from them; this
// schema hook writes each such code as the word a client gets in
// `extensions.code` (SQL_ERROR_CODES and BY_SQLSTATE of server/errors.ts).
import { BY_SQLSTATE, SQL_ERROR_CODES } from "./errors.ts";

const WORDS: Record<string, string> = {
  ...SQL_ERROR_CODES,
  ...Object.fromEntries(Object.entries(BY_SQLSTATE).map(([state, { code }]) => [state, code])),
};
const CODE = new RegExp(`\\b(${Object.keys(WORDS).join("|")})\\b`, "g");

/** A description with every SQL error code written as its word. */
export function withClientCodes(description: string): string {
  return description.replace(CODE, (state) => WORDS[state]);
}

export const ErrorDescriptionsPlugin: GraphileConfig.Plugin = {
  name: "ErrorDescriptionsPlugin",
  version: "1.0.0",
  schema: {
    hooks: {
      GraphQLObjectType_fields_field(field) {
        return field.description ? { ...field, description: withClientCodes(field.description) } : field;
      },
    },
  },
};
