// Verifies the request's bearer token and translates its claims into the
// transaction-local settings PostGraphile applies (`role`, `jwt.claims.*`).
import jwt from "jsonwebtoken";
import type { KeyObject } from "node:crypto";
import { REQUEST_ROLE_BY_CLAIM, ROLES, type Config } from "./config.ts";

export type PgSettings = Readonly<Record<string, string>>;

/** Why a token was refused; sent to the client as the error code of a 401. */
export class AuthError extends Error {
  readonly code: "INVALID_TOKEN" | "TOKEN_EXPIRED";
  constructor(code: AuthError["code"], message: string) {
    super(message);
    this.code = code;
  }
}

/** No Authorization header: the anonymous role, with no tenant context. */
export const ANONYMOUS_SETTINGS: PgSettings = Object.freeze({ role: ROLES.anonymous });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;
const MAX_HEADER_LENGTH = 4096;
const requestRoles = new Map(Object.entries(REQUEST_ROLE_BY_CLAIM));

/**
 * Returns a function from the Authorization header to pgSettings. It throws
 * AuthError for anything but a well-formed, correctly signed, unexpired
 * HS256 token with our audience and issuer and the claims the policies need.
 */
export function makeAuthenticator(jwtConfig: Config["jwt"], key: KeyObject) {
  const verifyOptions: jwt.VerifyOptions & { complete?: false } = {
    algorithms: ["HS256"],
    audience: jwtConfig.audience,
    issuer: jwtConfig.issuer,
  };
  return function pgSettingsFor(authorization: string | undefined): PgSettings {
    if (authorization === undefined) return ANONYMOUS_SETTINGS;
    const match = authorization.length <= MAX_HEADER_LENGTH ? BEARER.exec(authorization) : null;
    if (!match) throw new AuthError("INVALID_TOKEN", "The Authorization header must be 'Bearer <token>'.");
    let claims: jwt.JwtPayload;
    try {
      const verified = jwt.verify(match[1], key, verifyOptions);
      if (typeof verified !== "object") throw new Error("payload is not an object");
      claims = verified;
    } catch (error) {
      if (error instanceof jwt.TokenExpiredError) throw new AuthError("TOKEN_EXPIRED", "The token has expired.");
      throw new AuthError("INVALID_TOKEN", "The token is not valid.");
    }
    const { sub, user_id: userId, tenant_id: tenantId, role, exp } = claims;
    const dbRole = typeof role === "string" ? requestRoles.get(role) : undefined;
    if (
      typeof exp !== "number" ||
      typeof userId !== "string" ||
      !UUID.test(userId) ||
      sub !== userId ||
      typeof tenantId !== "string" ||
      !UUID.test(tenantId) ||
      !dbRole
    ) {
      throw new AuthError("INVALID_TOKEN", "The token is not valid.");
    }
    return {
      role: dbRole,
      "jwt.claims.tenant_id": tenantId,
      "jwt.claims.user_id": userId,
      "jwt.claims.role": role,
    };
  };
}
