// Cross-origin requests from browsers (CORS). A single-page app served from
// another origin (a Vite dev server on another port, a CDN) may call the API
// only from an origin listed in CORS_ORIGINS (common/config.ts); none is by
// default. A plain Node handler, run before everything else on every
// request, so that the headers are on every answer (401, 429, 503 and 404
// too: a browser hides an answer without them from the page, Retry-After
// included).
//
// - An allowed origin: `Access-Control-Allow-Origin` echoes it, with
//   `Vary: Origin`; `Retry-After` and `WWW-Authenticate` are exposed to the
//   page. With REFRESH_COOKIE, also `Access-Control-Allow-Credentials` (the
//   refresh cookie of server/refresh-cookie.ts), never for `*`.
// - A preflight (OPTIONS with Access-Control-Request-Method) from an allowed
//   origin: 204 with the methods, the request headers the API reads, and
//   Max-Age; from any other origin: 403 JSON, code CORS_ORIGIN_NOT_ALLOWED.
// - Any other request from another origin gets no CORS headers: the browser
//   keeps the answer from the page. (Servers and curl send no Origin and are
//   not concerned: CORS is a browser's rule, not authentication.)
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Config } from "../common/config.ts";
import { OPERATOR_TENANT_HEADER } from "./auth.ts";
import { sendError } from "./errors.ts";

/** The request headers a page may send: what the API reads. */
export const CORS_ALLOWED_HEADERS = ["accept", "authorization", "content-type", OPERATOR_TENANT_HEADER];
/** The response headers a page may read beyond the safelisted ones. */
export const CORS_EXPOSED_HEADERS = ["Retry-After", "WWW-Authenticate"];
export const CORS_ALLOWED_METHODS = ["GET", "POST", "OPTIONS"];
/** How long a browser may cache a preflight's answer, in seconds (Chromium caps it at 2 hours). */
export const CORS_MAX_AGE = 7200;
export const CORS_ORIGIN_NOT_ALLOWED = { code: "CORS_ORIGIN_NOT_ALLOWED", message: "This origin may not call the API (CORS_ORIGINS)." };

/**
 * Returns the handler: true when it answered the request (a preflight),
 * false when the request goes on (with the CORS headers set if its origin
 * is allowed).
 */
export function makeCors(cors: Config["cors"], credentials: boolean): (req: IncomingMessage, res: ServerResponse) => boolean {
  const listed = new Set(cors.origins);
  const allowedOrigin = (origin: string): string | undefined => (listed.has(origin) ? origin : cors.anyOrigin ? "*" : undefined);
  return function handleCors(req, res) {
    const origin = req.headers.origin;
    const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
    if (typeof origin !== "string") return false;
    // The answer depends on the Origin: caches must keep one per origin.
    res.setHeader("Vary", "Origin");
    const allowed = allowedOrigin(origin);
    if (!allowed) {
      if (!preflight) return false;
      sendError(res, 403, CORS_ORIGIN_NOT_ALLOWED.code, CORS_ORIGIN_NOT_ALLOWED.message);
      return true;
    }
    res.setHeader("Access-Control-Allow-Origin", allowed);
    if (credentials && allowed !== "*") res.setHeader("Access-Control-Allow-Credentials", "true");
    if (!preflight) {
      res.setHeader("Access-Control-Expose-Headers", CORS_EXPOSED_HEADERS.join(", "));
      return false;
    }
    res.setHeader("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    res.writeHead(204, {
      "Access-Control-Allow-Methods": CORS_ALLOWED_METHODS.join(", "),
      "Access-Control-Allow-Headers": CORS_ALLOWED_HEADERS.join(", "),
      "Access-Control-Max-Age": String(CORS_MAX_AGE),
      "content-length": "0",
    });
    res.end();
    return true;
  };
}
