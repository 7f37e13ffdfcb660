// What a client sees when something goes wrong: a message and a stable code
// in `extensions.code`, never SQL, stack traces or internal names.
import type { ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { isAsyncIterable, isPromiseLike, isSafeError } from "postgraphile/grafast";
import { GraphQLError } from "postgraphile/graphql";
import { httpRequestOf } from "./response-status.ts";

/** A token refused because the database no longer agrees with it (401). */
export const STALE_TOKEN = { code: "INVALID_TOKEN", message: "The token no longer matches its account or session." };

/**
 * The one vocabulary clients see in `extensions.code` is words
 * (INVALID_CREDENTIALS, NOT_FOUND). SQL raises its deliberate errors with
 * five-capital-letter SQLSTATEs (db/CONVENTIONS.md, "Errors"; `@nullError`
 * tags too); this table gives each its word. A code missing here stops
 * `npm run generate` (generated/ERRORS.md lists every code; bin/generate.ts).
 */
export const SQL_ERROR_CODES: Readonly<Record<string, string>> = {
  BADEM: "INVALID_EMAIL",
  BADIN: "INVALID_INVITATION",
  BADNM: "INVALID_NAME",
  BADRT: "INVALID_REFRESH_TOKEN",
  BADSL: "INVALID_SLUG",
  BADTK: "INVALID_ACCOUNT_TOKEN",
  CONFM: "CONFIRMATION_MISMATCH",
  CREDS: "INVALID_CREDENTIALS",
  EMTKN: "EMAIL_TAKEN",
  IMMUT: "IMMUTABLE_COLUMN",
  LASTA: "LAST_ADMIN",
  LOCKD: "LOGIN_LOCKED",
  LONGP: "PASSWORD_TOO_LONG",
  NOINV: "INVITATION_NOT_FOUND",
  NOUSR: "USER_NOT_FOUND",
  TAKEN: "SLUG_TAKEN",
  WEAKP: "PASSWORD_TOO_SHORT",
};

/** Codes for standard PostgreSQL errors that a caller can cause. */
export const BY_SQLSTATE: Readonly<Record<string, { code: string; message: string }>> = {
  // app_private.assert_claims_current, at the start of the request's transaction.
  "28000": STALE_TOKEN,
  "42501": { code: "FORBIDDEN", message: "Permission denied." },
  "23505": { code: "CONFLICT", message: "A record with these values already exists." },
  "23503": { code: "INVALID_REFERENCE", message: "A referenced record does not exist." },
  "23502": { code: "INVALID_INPUT", message: "A required value is missing." },
  "23514": { code: "INVALID_INPUT", message: "A value is not allowed." },
  "22001": { code: "INVALID_INPUT", message: "A value is too long." },
  "22P02": { code: "INVALID_INPUT", message: "A value has the wrong format." },
  "22021": { code: "INVALID_INPUT", message: "A value contains a character that cannot be stored (such as NUL)." },
  "22P05": { code: "INVALID_INPUT", message: "A value contains a character that cannot be stored." },
  "22007": { code: "INVALID_INPUT", message: "A value has the wrong format." },
  "22008": { code: "INVALID_INPUT", message: "A value is out of range." },
  "22003": { code: "INVALID_INPUT", message: "A value is out of range." },
  // Negative LIMIT/OFFSET (refused earlier by server/request-budget.ts; kept as a backstop).
  "2201W": { code: "INVALID_INPUT", message: "A page size must not be negative." },
  "2201X": { code: "INVALID_INPUT", message: "An offset must not be negative." },
  "57014": { code: "TIMEOUT", message: "The request took too long and was cancelled." },
};

/** PostGraphile's own error when a delete (or update) matched no row the caller may change. */
const NOTHING_CHANGED = /^No values were (deleted|updated) in collection /;

/** The database went away (shutdown, restart, network): worth a retry. */
const UNAVAILABLE_CODES = new Set(["57P01", "57P02", "57P03", "08000", "08001", "08003", "08004", "08006", "ECONNREFUSED", "ECONNRESET", "EPIPE"]);
const UNAVAILABLE = { code: "UNAVAILABLE", message: "The database is unavailable; retry shortly." };

/** True for an error that means the database cannot be reached right now. */
export { UNAVAILABLE };

export function isUnavailable(error: { code?: unknown; message?: string }) {
  return (
    (typeof error.code === "string" && UNAVAILABLE_CODES.has(error.code)) ||
    /^Connection terminated|Client has encountered a connection error/.test(error.message ?? "")
  );
}

/** Errors raised on purpose in SQL use a five-capital-letter SQLSTATE (CREDS, TAKEN...). */
const APPLICATION_SQLSTATE = /^[A-Z]{5}$/;

function replace(error: GraphQLError, message: string, extensions: Record<string, unknown>) {
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions,
  });
}

/** The SQLSTATE of a database error; undefined for anything else (a socket's error, EPIPE, has a code too, but no SQLSTATE). */
function sqlStateOf(error: Error & { code?: unknown }): string | undefined {
  return typeof error.code === "string" && !("syscall" in error) ? error.code : undefined;
}

/**
 * grafserv's maskError. In development the original message is added as
 * `extensions.detail`. `onUnavailable` hears of every error that means the
 * database cannot be reached.
 */
export function makeMaskError(development: boolean, onUnavailable: () => void = () => {}) {
  return function maskError(error: GraphQLError): GraphQLError {
    const original = error.originalError as (Error & { code?: unknown; extensions?: Record<string, unknown> }) | undefined;
    // Parse and validation errors, and errors GraphQL raised itself, are safe.
    if (!original || original instanceof GraphQLError) return error;
    const sqlState = sqlStateOf(original);
    const detail = development ? { detail: original.message } : {};
    if (/^timeout exceeded when trying to connect/.test(original.message)) {
      return replace(error, "The server is busy; retry shortly.", { code: "BUSY", ...detail });
    }
    if (isUnavailable(original)) {
      onUnavailable();
      return replace(error, UNAVAILABLE.message, { code: UNAVAILABLE.code, ...detail });
    }
    // Grafast's and @dataplan/pg's SafeErrors are written for the client:
    // they refuse what the client sent (a cursor that is not one, …).
    if (isSafeError(original)) {
      const code = typeof original.extensions?.code === "string" ? original.extensions.code : "INVALID_INPUT";
      return replace(error, original.message, { code });
    }
    if (sqlState && APPLICATION_SQLSTATE.test(sqlState)) {
      return replace(error, original.message, { code: SQL_ERROR_CODES[sqlState] ?? sqlState });
    }
    const known = sqlState
      ? BY_SQLSTATE[sqlState]
      : NOTHING_CHANGED.test(original.message)
        ? { code: "NOT_FOUND", message: "No record that you may change matches." }
        : undefined;
    if (known) return replace(error, known.message, { code: known.code, ...detail });
    const id = randomUUID();
    console.error(`[error ${id}]`, original);
    return replace(error, `An internal error occurred (reference ${id}).`, { code: "INTERNAL", errorId: id, ...detail });
  };
}

/** An error of a result, before masking, that maskError answers with STALE_TOKEN: the claims check's refusal (app_private.assert_claims_current, SQLSTATE 28000). */
function isStaleTokenError(error: GraphQLError): boolean {
  const original = error.originalError as (Error & { code?: unknown }) | undefined;
  if (!original || original instanceof GraphQLError) return false;
  const sqlState = sqlStateOf(original);
  return sqlState !== undefined && BY_SQLSTATE[sqlState] === STALE_TOKEN;
}

const STALE_TOKEN_BODY = Buffer.from(JSON.stringify({ errors: [{ message: STALE_TOKEN.message, extensions: { code: STALE_TOKEN.code } }] }));

/** HTTP requests whose execution the claims check refused. */
const staleRequests = new WeakSet<IncomingMessage>();

/**
 * The claims check inside the request's transaction fails the request's
 * fields with 28000 (mapped to STALE_TOKEN by maskError). A Grafast
 * `execute` middleware sees that error itself in the result, before
 * masking, and records the fact against the HTTP request; a grafserv
 * middleware then answers such a request as a token refused before
 * execution is answered: HTTP 401, the same body and header, no partial
 * data. The response body is never searched: data may hold any bytes.
 */
export const StaleTokenStatusPlugin: GraphileConfig.Plugin = {
  name: "StaleTokenStatusPlugin",
  version: "2.0.0",
  grafast: {
    middleware: {
      execute(next, event) {
        const record = (result: Awaited<ReturnType<typeof next>>) => {
          if (!isAsyncIterable(result) && result.errors?.some(isStaleTokenError)) {
            const req = httpRequestOf(event.args.requestContext);
            if (req) staleRequests.add(req);
          }
          return result;
        };
        const result = next();
        return isPromiseLike(result) ? Promise.resolve(result).then(record) : record(result);
      },
    },
  },
  grafserv: {
    middleware: {
      async processRequest(next, event) {
        const result = await next();
        const req = httpRequestOf(event.requestDigest.requestContext);
        if (!req || !staleRequests.has(req)) return result;
        return {
          type: "buffer",
          statusCode: 401,
          headers: {
            "content-type": "application/json; charset=utf-8",
            "content-length": String(STALE_TOKEN_BODY.length),
            "www-authenticate": `Bearer error="invalid_token"`,
          },
          buffer: STALE_TOKEN_BODY,
        };
      },
    },
  },
};

/** The code for an error GraphQL or grafserv raised without one (parse, validation, HTTP). */
function codeForUncoded(error: { message?: string; locations?: unknown }, statusCode: number): string {
  const message = String(error.message ?? "");
  if (/^Syntax Error/.test(message)) return "GRAPHQL_PARSE_FAILED";
  if (/cannot represent|Expected value of type|got invalid value|Expected type/i.test(message)) return "INVALID_INPUT";
  if (statusCode === 405) return "METHOD_NOT_ALLOWED";
  if (statusCode === 406 || statusCode === 415) return "UNSUPPORTED_MEDIA_TYPE";
  if (statusCode >= 500) return "INTERNAL";
  // Validation errors point into the document; grafserv's refusals of the body do not.
  return error.locations ? "GRAPHQL_VALIDATION_FAILED" : "BAD_REQUEST";
}

const ERRORS_ONLY = Buffer.from('{"errors":');

/**
 * Errors GraphQL and grafserv raise themselves (a syntax error, an unknown
 * field, an Int out of range, a method or media type grafserv refuses) carry
 * no code. This grafserv middleware gives one to every error of a response
 * that is errors only (nothing ran, so it is small): parsed and written
 * again, never searched as bytes.
 */
export const ErrorCodesPlugin: GraphileConfig.Plugin = {
  name: "ErrorCodesPlugin",
  version: "1.0.0",
  grafserv: {
    middleware: {
      async processRequest(next) {
        const result = await next();
        if (result?.type !== "buffer" || result.buffer.length > 65_536) return result;
        if (!result.buffer.subarray(0, ERRORS_ONLY.length).equals(ERRORS_ONLY)) return result;
        let body: { errors?: { message?: string; locations?: unknown; extensions?: Record<string, unknown> }[]; data?: unknown };
        try {
          body = JSON.parse(result.buffer.toString("utf8"));
        } catch {
          return result;
        }
        if (!Array.isArray(body.errors) || "data" in body) return result;
        let changed = false;
        for (const error of body.errors) {
          if (typeof error?.extensions?.code === "string") continue;
          const { statusCode: _status, ...extensions } = error.extensions ?? {};
          error.extensions = { ...extensions, code: codeForUncoded(error, result.statusCode) };
          changed = true;
        }
        if (!changed) return result;
        const buffer = Buffer.from(JSON.stringify(body));
        return { ...result, buffer, headers: { ...result.headers, "content-length": String(buffer.length) } };
      },
    },
  },
};

/** An HTTP error outside GraphQL execution, in the same shape: `{"errors":[{"message","extensions":{"code"}}]}`. */
export function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) {
  const body = Buffer.from(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
  res.writeHead(status, { ...headers, "Content-Type": "application/json; charset=utf-8", "Content-Length": String(body.length) });
  res.end(body);
}
