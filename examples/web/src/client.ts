// The GraphQL client: urql with three exchanges.
// - authExchange adds `Authorization: Bearer <access token>`, refreshes the
//   tokens before the access token expires (and after a 401), then retries.
// - persistedExchange sends each document's hash as
//   extensions.persistedQuery.sha256Hash instead of its text, so the app
//   works against an API that runs only trusted documents (TRUSTED_DOCUMENTS
//   = src/gql/persisted-documents.json).
// - fetchExchange: POST to the API's /graphql, another origin (CORS).
import { Client, CombinedError, fetchExchange, type Operation } from "@urql/core";
import { authExchange } from "@urql/exchange-auth";
import { persistedExchange } from "@urql/exchange-persisted";
import { ANONYMOUS_OPERATIONS, Refresh } from "./documents.ts";
import * as session from "./session.ts";

/** The API's GraphQL endpoint, fixed at build time (`VITE_API_URL`). */
export const API_URL: string = import.meta.env.VITE_API_URL ?? "http://127.0.0.1:3000/graphql";

/** Codes with which the API refuses a token (HTTP 401). */
const TOKEN_REFUSED = new Set(["INVALID_TOKEN", "TOKEN_EXPIRED"]);

export function errorCode(error: CombinedError | undefined): string | undefined {
  const code = error?.graphQLErrors[0]?.extensions?.code;
  return typeof code === "string" ? code : undefined;
}

function operationName(operation: Operation): string | undefined {
  for (const definition of operation.query.definitions) {
    if (definition.kind === "OperationDefinition") return definition.name?.value;
  }
  return undefined;
}

const anonymous = (operation: Operation) => ANONYMOUS_OPERATIONS.has(operationName(operation) ?? "");

export const client = new Client({
  url: API_URL,
  // No cache: every screen reads what the API says now.
  requestPolicy: "network-only",
  preferGetMethod: false,
  exchanges: [
    authExchange(async (utils) => ({
      addAuthToOperation(operation) {
        const tokens = session.load();
        if (!tokens || anonymous(operation)) return operation;
        return utils.appendHeaders(operation, { Authorization: `Bearer ${tokens.accessToken}` });
      },
      willAuthError(operation) {
        const tokens = session.load();
        return !!tokens && !anonymous(operation) && session.accessTokenIsStale(tokens);
      },
      didAuthError(error) {
        return error.response?.status === 401 || error.graphQLErrors.some((e) => TOKEN_REFUSED.has(String(e.extensions?.code)));
      },
      async refreshAuth() {
        await session.refresh(async (refreshToken) => {
          const result = await utils.mutate(Refresh, { refreshToken });
          const tokens = result.data?.refresh?.result;
          if (tokens?.accessToken && tokens.refreshToken) {
            return { tokens: { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken } };
          }
          return result.error?.networkError ? { failed: true } : { rejected: true };
        });
      },
    })),
    persistedExchange({
      enforcePersistedQueries: true,
      enableForMutation: true,
      preferGetForPersistedQueries: false,
      generateHash: async (_query, document) => (document as { __meta__?: { hash?: string } }).__meta__?.hash,
    }),
    fetchExchange,
  ],
});
