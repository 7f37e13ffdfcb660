// Every code a client can see in `extensions.code`, for generated/ERRORS.md
// (`npm run generate`, bin/generate.ts): the server's own codes are listed
// here with their meaning, HTTP status and where they come from; the
// database's come from the catalog (db/error-sites.ts: the raise sites, their
// messages and the functions that reach them), named by SQL_ERROR_CODES
// and BY_SQLSTATE of server/errors.ts. tests/errors.test.ts fails when a
// code written in server/ is missing here.
import { BY_SQLSTATE, SQL_ERROR_CODES } from "./errors.ts";

export interface ServerErrorCode {
  /** The HTTP status (200: inside a GraphQL response, next to any data). */
  status: string;
  meaning: string;
  /** Which requests or operations can get it. */
  raisedBy: string;
}

/** The codes the server gives itself (auth, limits, HTTP), and those it gives standard PostgreSQL errors. */
export const SERVER_ERROR_CODES: Readonly<Record<string, ServerErrorCode>> = {
  INVALID_TOKEN: {
    status: "401, `WWW-Authenticate`",
    meaning: "The access token is malformed, forged, or no longer matches its account or session (logout, password change, removed user, changed role).",
    raisedBy: "any request with `Authorization` (server/auth.ts; the claims check in the request's transaction)",
  },
  TOKEN_EXPIRED: { status: "401, `WWW-Authenticate`", meaning: "The access token has expired: refresh it.", raisedBy: "any request with `Authorization`" },
  FORBIDDEN: {
    status: "200; 403 for a header or export refused",
    meaning: "Not allowed (a privilege or policy); an `X-Operator-Tenant` header on anything but an operator's token; an export by a non-admin.",
    raisedBy: "mutations of admins (`inviteUser`, `setUserRole`, …) called by members; `X-Operator-Tenant`; `GET /export`",
  },
  UNAUTHENTICATED: { status: "401", meaning: "Log in first.", raisedBy: "`GET /export` without a token" },
  CONFLICT: { status: "200", meaning: "A record with these values already exists (a unique key).", raisedBy: "create and update mutations" },
  INVALID_REFERENCE: { status: "200", meaning: "A referenced record does not exist (a foreign key).", raisedBy: "create and update mutations" },
  INVALID_INPUT: {
    status: "200; 400 before anything runs",
    meaning: "A value is missing, too long, out of range or of the wrong format; a cursor that is not one; a negative `first`/`last`/`offset`.",
    raisedBy: "any operation with arguments",
  },
  NOT_FOUND: {
    status: "200; 404 for a path",
    meaning: "An update or delete matched no row the caller may change; a path the server does not serve; an exported tenant that no longer exists.",
    raisedBy: "`update*`/`delete*` mutations; any unknown path; `GET /export`",
  },
  TIMEOUT: { status: "200", meaning: "A statement ran longer than `STATEMENT_TIMEOUT` and was cancelled.", raisedBy: "any operation" },
  QUERY_TOO_DEEP: { status: "400", meaning: "The document (or its brackets) nests deeper than allowed.", raisedBy: "any document (server/limits.ts)" },
  QUERY_TOO_LARGE: { status: "400", meaning: "The document selects more fields than allowed.", raisedBy: "any document (server/limits.ts)" },
  TOO_MANY_ROOT_FIELDS: { status: "400", meaning: "The operation has more root fields than allowed.", raisedBy: "any document (server/limits.ts)" },
  PAGE_TOO_LARGE: { status: "400", meaning: "`first`, `last` or `offset` is over its limit.", raisedBy: "connections (server/request-budget.ts)" },
  TOO_MANY_ROWS: { status: "400", meaning: "The request asks for more rows than its row budget.", raisedBy: "nested connections (server/request-budget.ts)" },
  FILTER_TOO_COMPLEX: { status: "400", meaning: "A filter nests too deep, or the filters have too many conditions.", raisedBy: "`filter` arguments (server/request-budget.ts)" },
  TOO_MANY_CALLS: {
    status: "400",
    meaning: "A request calls a rate-limited mutation more than once.",
    raisedBy: "every mutation whose function is tagged `@rateLimit` (server/rate-limit.ts): `login`, `operatorLogin`, `changePassword`, `acceptInvitation`, `createTenant`, `forgotPassword`, `resetPassword`, `sendVerificationEmail`, `verifyEmail`",
  },
  RATE_LIMITED: {
    status: "429, `Retry-After`",
    meaning: "Too many calls of a rate-limited mutation from one address, or the tenant is over its rate.",
    raisedBy: "every mutation tagged `@rateLimit` (as for `TOO_MANY_CALLS`); any request of a tenant over its rate",
  },
  TENANT_BUSY: { status: "429, `Retry-After`", meaning: "The tenant already runs its share of requests or of rows in flight.", raisedBy: "any request (server/fair-share.ts, server/request-budget.ts)" },
  TOO_MANY_EXPORTS: { status: "429, `Retry-After`", meaning: "The tenant's or the server's exports are all running.", raisedBy: "`GET /export`" },
  UNTRUSTED_DOCUMENT: {
    status: "400",
    meaning: "Trusted documents are on, and the request names no trusted document, an unknown one, or sends query text.",
    raisedBy: "`POST /graphql` with `TRUSTED_DOCUMENTS` set",
  },
  GRAPHQL_PARSE_FAILED: { status: "400 (200 for clients accepting only `application/json`)", meaning: "The document is not GraphQL.", raisedBy: "`POST /graphql`" },
  GRAPHQL_VALIDATION_FAILED: { status: "400 (200 for clients accepting only `application/json`)", meaning: "The document is not valid against the schema.", raisedBy: "`POST /graphql`" },
  METHOD_NOT_ALLOWED: { status: "405", meaning: "`/graphql` takes POST.", raisedBy: "`/graphql`" },
  UNSUPPORTED_MEDIA_TYPE: { status: "415 (406)", meaning: "The body must be JSON (or `application/graphql` for `/graphql`), not compressed.", raisedBy: "`/graphql`, `/auth/*`" },
  TOO_LARGE: { status: "413", meaning: "The body is over its limit: 100 KiB for `/graphql`, 4 KiB for `/auth/*`.", raisedBy: "`POST /graphql`, `/auth/*`" },
  BAD_REQUEST: { status: "400", meaning: "The body is not valid JSON, or not what the endpoint takes.", raisedBy: "`POST /graphql`, `/auth/*`" },
  CORS_ORIGIN_NOT_ALLOWED: { status: "403", meaning: "A browser's preflight from an origin not in `CORS_ORIGINS`.", raisedBy: "`OPTIONS` preflights (server/cors.ts)" },
  BUSY: { status: "503, `Retry-After`", meaning: "No pooled connection became free in time, or the server's rows in flight are taken: retry.", raisedBy: "any request" },
  UNAVAILABLE: { status: "503, `Retry-After: 2`", meaning: "The database cannot be reached: retry.", raisedBy: "any request" },
  INTERNAL: { status: "200 or 500", meaning: "Anything else; the message carries a reference the server logs with the details.", raisedBy: "any request" },
};

/** A deliberate error site in SQL (db/error-sites.ts gives them; the shape is repeated here, as server/ does not import db/). */
export interface SqlErrorSite {
  sqlState: string;
  messages: string[];
  functions: string[];
  triggerTables: string[];
}

const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const cell = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");

/**
 * generated/ERRORS.md. Throws when SQL raises a five-letter code that
 * SQL_ERROR_CODES does not name, or a standard SQLSTATE on purpose that
 * BY_SQLSTATE does not.
 */
export function renderErrorsMarkdown(sites: SqlErrorSite[]): string {
  const unnamed = sites.filter((s) => !SQL_ERROR_CODES[s.sqlState] && !BY_SQLSTATE[s.sqlState]).map((s) => s.sqlState);
  if (unnamed.length) throw new Error(`SQL raises codes that server/errors.ts does not name (add them to SQL_ERROR_CODES): ${unnamed.join(", ")}`);
  const fromSql = new Map<string, { sqlStates: string[]; messages: string[]; operations: string[] }>();
  for (const s of sites) {
    const code = SQL_ERROR_CODES[s.sqlState] ?? BY_SQLSTATE[s.sqlState].code;
    const entry = fromSql.get(code) ?? { sqlStates: [], messages: [], operations: [] };
    entry.sqlStates.push(s.sqlState);
    entry.messages.push(...s.messages);
    entry.operations.push(...s.functions.map((f) => `\`${camel(f)}\``), ...s.triggerTables.map((t) => `a direct update of \`${t}\``));
    fromSql.set(code, entry);
  }
  const lines = [
    "# Error codes",
    "",
    "Generated by `npm run generate` from the migrated database and server/error-catalog.ts. Do not edit.",
    "",
    "Every error, inside GraphQL or out, is JSON: `{\"errors\":[{\"message\": \"…\", \"extensions\": {\"code\": \"…\"}}]}`.",
    "The code is stable (a client branches on it); the message is for people and may change.",
    "HTTP 200 means the error is in a GraphQL response, next to any data.",
    "Development adds `extensions.detail`.",
    "",
    "## Raised by the database",
    "",
    "Deliberate errors of the SQL functions (five-letter SQLSTATEs there, named by `SQL_ERROR_CODES` in server/errors.ts), in GraphQL responses (HTTP 200).",
    "Operations: the mutations and queries built from the `app_public` functions that may reach the raise site (directly or through the helpers they call).",
    "",
    "| code | message | operations | SQLSTATE |",
    "| --- | --- | --- | --- |",
  ];
  for (const [code, e] of [...fromSql].sort(([a], [b]) => a.localeCompare(b))) {
    const messages = [...new Set(e.messages)].sort().map(cell).join("<br>");
    const operations = [...new Set(e.operations)].sort().join(", ") || "every request (the server's claims check)";
    lines.push(`| \`${code}\` | ${messages} | ${operations} | ${[...new Set(e.sqlStates)].sort().join(", ")} |`);
  }
  lines.push("", "## Raised by the server", "", "| code | HTTP | meaning | raised by |", "| --- | --- | --- | --- |");
  for (const [code, e] of Object.entries(SERVER_ERROR_CODES).sort(([a], [b]) => a.localeCompare(b))) {
    const also = fromSql.has(code) ? " (also raised by the database, above)" : "";
    lines.push(`| \`${code}\` | ${e.status} | ${cell(e.meaning)}${also} | ${e.raisedBy} |`);
  }
  return lines.join("\n") + "\n";
}
