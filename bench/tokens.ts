// Access tokens for the load: signed as PostGraphile signs them (HS256, the
// configured secret, audience and issuer), one per member.
import jwt from "jsonwebtoken";
import type { Config } from "../server/config.ts";
import type { Member } from "./dataset.ts";

/** Valid for 12 hours: longer than any run. */
const LIFETIME_SECONDS = 12 * 3600;

export function signTokens(members: Member[], jwtConfig: Config["jwt"]): string[] {
  return members.map((m) =>
    jwt.sign({ role: "member", sub: m.userId, user_id: m.userId, tenant_id: m.tenantId }, jwtConfig.secret, {
      algorithm: "HS256",
      audience: jwtConfig.audience,
      issuer: jwtConfig.issuer,
      expiresIn: LIFETIME_SECONDS,
    }),
  );
}
