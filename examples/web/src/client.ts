// The GraphQL client: urql with three exchanges.
// - authExchange adds `Authorization: Bearer <access token>`, refreshes the
//   tokens before the access token expires (and after a 401), then retries.
// - persistedExchange sends each document's hash as
//   extensions.persistedQuery.sha256Hash instead of its text, so the app
//   works against an API that runs only trusted documents (TRUSTED_DOCUMENTS
//   = src/gql/persisted-documents.json).
// - fetchExchange: POST to the API's /graphql, another origin (CORS).
// In cookie mode (VITE_REFRESH_COOKIE=true) the refresh goes to the API's
// /auth/refresh instead of the `refresh` mutation (src/refresh-cookie.ts).
import { Client, CombinedError, fetchExchange, type Operation } from "@urql/core";
import { authExchange } from "@urql/exchange-auth";
import { persistedExchange } from "@urql/exchange-persisted";
import { API_URL } from "./api-url.ts";
import { ANONYMOUS_OPERATIONS, Refresh } from "./documents.ts";
import { refreshWithCookie } from "./refresh-cookie.ts";
import * as session from "./session.ts";

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

/** The access token an operation was sent with. */
function bearerOf(operation: Operation): string | undefined {
  const options = typeof operation.context.fetchOptions === "function" ? operation.context.fetchOptions() : operation.context.fetchOptions;
  const header = (options?.headers as Record<string, string> | undefined)?.Authorization;
  return header?.replace(/^Bearer /, "");
}

/** The access token the next refresh replaces: found expired before sending, or refused by the API. */
let replacing: string | undefined;

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
        if (!tokens || anonymous(operation) || !session.accessTokenIsStale(tokens)) return false;
        replacing = tokens.accessToken;
        return true;
      },
      didAuthError(error, operation) {
        const refused = error.response?.status === 401 || error.graphQLErrors.some((e) => TOKEN_REFUSED.has(String(e.extensions?.code)));
        if (refused) replacing = bearerOf(operation);
        return refused;
      },
      async refreshAuth() {
        await session.refresh(replacing, async ({ refreshToken }) => {
          if (session.REFRESH_COOKIE || !refreshToken) return refreshWithCookie();
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
