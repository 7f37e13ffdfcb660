// The refresh token in a cookie (REFRESH_COOKIE=1): a token kept in page
// storage is readable by any script injected into the page; an HttpOnly
// cookie is not. Two plain Node handlers:
//
// - POST /auth/refresh exchanges the refresh token for a new pair (the
//   GraphQL `refresh` mutation, so its rules hold: rotation, the grace,
//   theft detection). It answers `{"accessToken": …}`; the new refresh token
//   goes only into the cookie. The token is read from the JSON body's
//   `refreshToken` when given (once, right after `login`, `createTenant` or
//   `acceptInvitation`, which return it in their payload), else from the cookie.
// - POST /auth/logout ends the session (the `logout` mutation) and clears
//   the cookie.
//
// The cookie: HttpOnly, Secure (browsers accept it from http://localhost
// too), SameSite=Strict, Path=/auth (sent to nothing else, not /graphql),
// Max-Age 30 days (the session's life). Both endpoints want
// `content-type: application/json`, which a cross-origin page cannot send
// without a CORS preflight: only CORS_ORIGINS may, with credentials
// (server/cors.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ExecutionResult } from "postgraphile/graphql";
import { GraphQLError } from "postgraphile/graphql";

export const REFRESH_COOKIE_NAME = "mts_refresh";
export const REFRESH_COOKIE_PATH = "/auth";
/** A session can be refreshed for 30 days after login (app_private.sessions.expires_at). */
const MAX_AGE_SECONDS = 30 * 24 * 3600;
/** The largest body /auth/refresh and /auth/logout read (server/http.ts readBody answers 413 past it). */
export const REFRESH_BODY_LIMIT = 4096;

/** Runs a GraphQL document as the anonymous role for this HTTP request (server/app.ts gives PostGraphile's). */
export type RunGraphQL = (req: IncomingMessage, res: ServerResponse, source: string, variables: Record<string, unknown>) => Promise<ExecutionResult>;
type MaskError = (error: GraphQLError) => GraphQLError;

const REFRESH = "mutation Refresh($token: String!) { refresh(input: {refreshToken: $token}) { result { accessToken refreshToken } } }";
const LOGOUT = "mutation Logout($token: String!) { logout(input: {refreshToken: $token}) { result } }";

export const NO_REFRESH_TOKEN = { code: "INVALID_REFRESH_TOKEN", message: "No refresh token: send it as refreshToken, or log in again." };
const NOT_JSON = { code: "UNSUPPORTED_MEDIA_TYPE", message: "Send a JSON body (content-type: application/json), even {}." };
const BAD_BODY = { code: "BAD_REQUEST", message: "The request body must be a JSON object; refreshToken, if given, a string." };

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}
const sendError = (res: ServerResponse, status: number, { code, message }: { code: string; message: string }, headers: Record<string, string | string[]> = {}) =>
  send(res, status, { errors: [{ message, extensions: { code } }] }, headers);

export function setCookie(token: string) {
  return `${REFRESH_COOKIE_NAME}=${token}; Path=${REFRESH_COOKIE_PATH}; Max-Age=${MAX_AGE_SECONDS}; HttpOnly; Secure; SameSite=Strict`;
}
export const CLEAR_COOKIE = `${REFRESH_COOKIE_NAME}=; Path=${REFRESH_COOKIE_PATH}; Max-Age=0; HttpOnly; Secure; SameSite=Strict`;

function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === REFRESH_COOKIE_NAME && value.length) return value.join("=") || undefined;
  }
  return undefined;
}

/** The refresh token of the request (body first, then cookie); a response already sent when there is none to read. */
async function tokenOf(req: IncomingMessage & { body?: unknown }, res: ServerResponse): Promise<string | null | undefined> {
  if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) return void sendError(res, 415, NOT_JSON);
  // Read and parsed by server/http.ts's readBody (REFRESH_BODY_LIMIT), mounted before these handlers.
  const body = req.body as Record<string, unknown> | undefined;
  if (!body || typeof body !== "object" || Array.isArray(body) || (body.refreshToken !== undefined && typeof body.refreshToken !== "string")) {
    return void sendError(res, 400, BAD_BODY);
  }
  return (body.refreshToken as string | undefined) ?? cookieToken(req) ?? null;
}

/** The first error of a result as the client sees it (server/errors.ts's maskError), with its HTTP status. */
function failure(result: ExecutionResult, maskError: MaskError) {
  const masked = maskError(result.errors![0]);
  const code = String(masked.extensions?.code ?? "INTERNAL");
  const status = code === "UNAVAILABLE" || code === "BUSY" ? 503 : code === "INTERNAL" ? 500 : code === "RATE_LIMITED" ? 429 : 401;
  return { status, error: { code, message: masked.message } };
}

export function makeRefreshCookieHandlers(run: RunGraphQL, maskError: MaskError) {
  return {
    async refresh(req: IncomingMessage, res: ServerResponse) {
      const token = await tokenOf(req, res);
      if (token === undefined) return;
      if (token === null) return sendError(res, 401, NO_REFRESH_TOKEN, { "set-cookie": CLEAR_COOKIE });
      const result = await run(req, res, REFRESH, { token });
      const pair = (result.data as { refresh?: { result?: { accessToken: string; refreshToken: string } | null } } | null | undefined)?.refresh?.result;
      if (pair && !result.errors?.length) return send(res, 200, { accessToken: pair.accessToken }, { "set-cookie": setCookie(pair.refreshToken) });
      if (!result.errors?.length) return sendError(res, 500, { code: "INTERNAL", message: "The refresh returned nothing." });
      const { status, error } = failure(result, maskError);
      // A refused token is of no further use: the cookie goes too.
      sendError(res, status, error, status === 401 ? { "set-cookie": CLEAR_COOKIE } : {});
    },
    async logout(req: IncomingMessage, res: ServerResponse) {
      const token = await tokenOf(req, res);
      if (token === undefined) return;
      if (token !== null) {
        const result = await run(req, res, LOGOUT, { token });
        if (result.errors?.length) {
          const { status, error } = failure(result, maskError);
          if (status !== 401) return sendError(res, status, error);
        }
      }
      send(res, 200, { result: true }, { "set-cookie": CLEAR_COOKIE });
    },
  };
}
