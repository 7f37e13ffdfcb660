// Access tokens for the load: signed as PostGraphile signs them (HS256, the
// configured secret, audience and issuer), one per member, with the claims
// the API issues (app_public.jwt_token: role, sub, user_id, tenant_id,
// session_id, operator_id). Each names the member's live session (see
// dataset.ts), which the API checks on every request.
// Also: refresh tokens (new sessions) for the refresh load, made in the
// database by app_private.issue_tokens, as login makes them.
import jwt from "jsonwebtoken";
import type pg from "pg";
import { withClient } from "../db/setup.ts";
import type { Config } from "../common/config.ts";
import type { Member } from "./dataset.ts";

/** Valid for 12 hours: longer than any run. */
const LIFETIME_SECONDS = 12 * 3600;

export function signToken(member: Member, jwtConfig: Config["jwt"], role: "member" | "admin" = "member"): string {
  const claims = {
    role,
    sub: member.userId,
    user_id: member.userId,
    tenant_id: member.tenantId,
    session_id: member.sessionId,
    operator_id: null,
  };
  return jwt.sign(claims, jwtConfig.secret, {
    algorithm: "HS256",
    audience: jwtConfig.audience,
    issuer: jwtConfig.issuer,
    expiresIn: LIFETIME_SECONDS,
  });
}

export function signTokens(members: Member[], jwtConfig: Config["jwt"]): string[] {
  return members.map((m) => signToken(m, jwtConfig));
}

/** A refresh token format check: `<tenant uuid>.<32 bytes base64url>`. */
export const REFRESH_TOKEN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.[A-Za-z0-9_-]{43}$/i;

/** A new session for the member, as login starts one; returns its first refresh token. */
async function issueOne(client: pg.Client, member: Pick<Member, "tenantId" | "userId">): Promise<string> {
  await client.query("begin");
  try {
    // issue_tokens expects the tenant's context (the sessions' RLS policy).
    await client.query("select set_config('jwt.claims.tenant_id', $1, true)", [member.tenantId]);
    const { rows } = await client.query<{ refresh_token: string }>(
      "select (app_private.issue_tokens($1, $2)).refresh_token",
      [member.tenantId, member.userId],
    );
    await client.query("commit");
    return rows[0].refresh_token;
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  }
}

/** `count` refresh tokens, each of a new session, of the members in turn (so of different tenants first). */
export async function issueRefreshTokens(url: string, members: Member[], count: number): Promise<string[]> {
  if (members.length === 0) throw new Error("no members to issue refresh tokens for");
  return withClient(url, async (client) => {
    const tokens: string[] = [];
    for (let i = 0; i < count; i++) tokens.push(await issueOne(client, members[i % members.length]));
    return tokens;
  });
}

/** One refresh token of a new session (to replace a chain a failed refresh broke). */
export async function issueRefreshToken(url: string, member: Member): Promise<string> {
  return withClient(url, (client) => issueOne(client, member));
}
