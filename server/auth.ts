// Verifies the request's bearer token and translates its claims into the
// transaction-local settings PostGraphile applies (`role`, `jwt.claims.*`).
import jwt from "jsonwebtoken";
import type { KeyObject } from "node:crypto";
import { type Config } from "../common/config.ts";
import { REQUEST_ROLE_BY_CLAIM, ROLES } from "../common/roles.ts";

export type PgSettings = Readonly<Record<string, string>>;

/** Why a request's credentials were refused: 401 (bad token) or 403 (a header the token may not use). */
export class AuthError extends Error {
  readonly code: "INVALID_TOKEN" | "TOKEN_EXPIRED" | "FORBIDDEN";
  readonly status: 401 | 403;
  constructor(code: AuthError["code"], message: string) {
    super(message);
    this.code = code;
    this.status = code === "FORBIDDEN" ? 403 : 401;
  }
}

/** No Authorization header: the anonymous role, with no tenant context. */
export const ANONYMOUS_SETTINGS: PgSettings = Object.freeze({ role: ROLES.anonymous });

/** The header by which an operator names the one tenant a request acts in (operators only). */
export const OPERATOR_TENANT_HEADER = "x-operator-tenant";

/** The `role` claim of an operator's token (tenant users have admin or member). */
export const OPERATOR_CLAIM = "operator";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;
const MAX_HEADER_LENGTH = 4096;
const requestRoles = new Map(Object.entries(REQUEST_ROLE_BY_CLAIM));
const isUuid = (value: unknown): value is string => typeof value === "string" && UUID.test(value);

/**
 * How many verified tokens the authenticator remembers (about 1 KB each).
 * Verifying a token costs an HMAC and a JSON parse, 30 to 50 µs under load;
 * a client sends the same token for 15 minutes.
 */
export const VERIFIED_TOKENS_KEPT = 10_000;

/**
 * Returns a function from the Authorization and X-Operator-Tenant headers to
 * pgSettings. It throws AuthError for anything but a well-formed, correctly
 * signed, unexpired HS256 token with our audience and issuer and exactly the
 * claims of a tenant user (role admin/member, user, tenant, session) or of
 * an operator (role operator, operator id, no user or tenant). Only an
 * operator's token may name a tenant with the header.
 */
export function makeAuthenticator(jwtConfig: Config["jwt"], key: KeyObject, keep = VERIFIED_TOKENS_KEPT) {
  const verifyOptions: jwt.VerifyOptions & { complete?: false } = {
    algorithms: ["HS256"],
    audience: jwtConfig.audience,
    issuer: jwtConfig.issuer,
  };
  const invalid = () => new AuthError("INVALID_TOKEN", "The token is not valid.");
  /**
   * Payloads of tokens that passed jwt.verify, by the exact token text
   * (signature included), oldest first. A token found here is only taken
   * while unexpired; one that failed is never kept.
   */
  const verified = new Map<string, jwt.JwtPayload>();
  const verify = (token: string): jwt.JwtPayload => {
    const known = verified.get(token);
    if (known && Math.floor(Date.now() / 1000) < known.exp!) return known;
    verified.delete(token);
    const payload = jwt.verify(token, key, verifyOptions);
    if (typeof payload !== "object") throw new Error("payload is not an object");
    if (typeof payload.exp === "number") {
      if (verified.size >= keep) verified.delete(verified.keys().next().value!);
      verified.set(token, Object.freeze(payload));
    }
    return payload;
  };
  return function pgSettingsFor(authorization: string | undefined, operatorTenant?: string): PgSettings {
    if (authorization === undefined) {
      if (operatorTenant !== undefined) throw new AuthError("FORBIDDEN", "Only an operator's token may name a tenant.");
      return ANONYMOUS_SETTINGS;
    }
    const match = authorization.length <= MAX_HEADER_LENGTH ? BEARER.exec(authorization) : null;
    if (!match) throw new AuthError("INVALID_TOKEN", "The Authorization header must be 'Bearer <token>'.");
    let claims: jwt.JwtPayload;
    try {
      claims = verify(match[1]);
    } catch (error) {
      if (error instanceof jwt.TokenExpiredError) throw new AuthError("TOKEN_EXPIRED", "The token has expired.");
      throw invalid();
    }
    const { sub, user_id: userId, tenant_id: tenantId, session_id: sessionId, operator_id: operatorId, role, exp } = claims;
    if (typeof exp !== "number") throw invalid();

    if (role === OPERATOR_CLAIM) {
      if (!isUuid(operatorId) || sub !== operatorId || userId != null || tenantId != null) throw invalid();
      if (operatorTenant !== undefined && !isUuid(operatorTenant)) {
        throw new AuthError("FORBIDDEN", `The ${OPERATOR_TENANT_HEADER} header must be a tenant id.`);
      }
      return {
        role: ROLES.operator,
        "jwt.claims.role": OPERATOR_CLAIM,
        "jwt.claims.operator_id": operatorId,
        ...(operatorTenant !== undefined ? { "jwt.claims.tenant_id": operatorTenant } : {}),
      };
    }

    const dbRole = typeof role === "string" ? requestRoles.get(role) : undefined;
    if (!dbRole || !isUuid(userId) || sub !== userId || !isUuid(tenantId) || !isUuid(sessionId) || operatorId != null) {
      throw invalid();
    }
    if (operatorTenant !== undefined) throw new AuthError("FORBIDDEN", "Only an operator's token may name a tenant.");
    return {
      role: dbRole,
      "jwt.claims.tenant_id": tenantId,
      "jwt.claims.user_id": userId,
      "jwt.claims.role": role as string,
      "jwt.claims.session_id": sessionId,
    };
  };
}
