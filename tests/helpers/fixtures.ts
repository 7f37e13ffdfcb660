// The lifecycle state every policy spec starts from, on top of the world:
// a live session of each person, a rotated and a logged-out and an expired
// session, invitations pending, revoked and expired, and a disabled
// operator. Made as the owner, through the SQL functions, and committed.
import type pg from "pg";
import { expect } from "vitest";
import { withClient } from "../../db/setup.ts";
import type { Person, World } from "./world.ts";

export interface Invitation {
  id: string;
  token: string;
}

export interface Fixtures {
  /** A live session of each person (their actors carry it as jwt.claims.session_id). */
  sessions: { adminA: string; memberA: string; adminB: string; memberB: string };
  /** A's member's session: its first refresh token (already exchanged) and the one it was exchanged for. */
  memberA: { session: string; usedToken: string; liveToken: string };
  /** A session of A's admin ended by logout, and its refresh token. */
  loggedOutA: { session: string; token: string };
  /** A session of A's admin past its expiry (30 days after login), and its refresh token. */
  expiredA: { session: string; token: string };
  /** A second live session of A's member (its password change ends it). */
  memberAOtherSession: string;
  /** A pending, a revoked and an expired invitation in A, a pending one in B. */
  invitations: { pendingA: Invitation; revokedA: Invitation; expiredA: Invitation; pendingB: Invitation };
  /** A disabled operator, with its password. */
  disabledOperator: { id: string; email: string; password: string };
}

/** Runs fn as the owner in one transaction, with a person's claims set (as the API would set them). */
export async function asOwnerFor<T>(client: pg.Client, person: Person, fn: () => Promise<T>): Promise<T> {
  await client.query("begin");
  try {
    await client.query("select set_config('jwt.claims.tenant_id', $1, true)", [person.tenantId]);
    await client.query("select set_config('jwt.claims.user_id', $1, true)", [person.id]);
    await client.query("select set_config('jwt.claims.role', $1, true)", [person.role]);
    const result = await fn();
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback");
    throw error;
  }
}

export async function createFixtures(ownerUrl: string, world: World): Promise<Fixtures> {
  return withClient(ownerUrl, async (client) => {
    const issue = (p: Person) =>
      asOwnerFor(client, p, async () => {
        const { rows: [t] } = await client.query(
          "select (access_token).session_id, refresh_token from app_private.issue_tokens($1, $2)",
          [p.tenantId, p.id],
        );
        return t as { session_id: string; refresh_token: string };
      });
    const invite = (admin: Person, email: string) =>
      asOwnerFor(client, admin, async () => {
        const { rows: [i] } = await client.query("select invitation_id as id, token from app_public.invite_user($1, 'member')", [email]);
        return i as Invitation;
      });

    const adminA = await issue(world.adminA);
    const memberA = await issue(world.memberA);
    const adminB = await issue(world.adminB);
    const memberB = await issue(world.memberB);

    // Rotation: the member's first refresh token is exchanged once.
    const { rows: [rotated] } = await client.query("select refresh_token from app_public.refresh($1)", [memberA.refresh_token]);
    expect(rotated.refresh_token).toMatch(new RegExp(`^${world.tenants.A.id}\\.`));
    // Used a minute ago: past the grace of app_private.refresh_grace(), so presenting it again is theft.
    await asOwnerFor(client, world.memberA, () =>
      client.query("update app_private.refresh_tokens set used_at = used_at - interval '1 minute' where session_id = $1 and used_at is not null", [memberA.session_id]),
    );

    // A second session of A's admin, ended by logout.
    const loggedOut = await issue(world.adminA);
    await client.query("select app_public.logout($1)", [loggedOut.refresh_token]);

    const pendingA = await invite(world.adminA, "carol@acme.test");
    const revokedA = await invite(world.adminA, "dave@acme.test");
    await asOwnerFor(client, world.adminA, () => client.query("select app_public.revoke_invitation($1)", [revokedA.id]));
    const pendingB = await invite(world.adminB, "ivan@globex.test");
    const expiredA = await invite(world.adminA, "frank@acme.test");
    await asOwnerFor(client, world.adminA, () =>
      client.query("update app_public.invitations set expires_at = now() - interval '1 day' where id = $1", [expiredA.id]),
    );
    const memberAOther = await issue(world.memberA);
    const expired = await issue(world.adminA);
    await asOwnerFor(client, world.adminA, () =>
      client.query("update app_private.sessions set expires_at = now() - interval '1 second' where id = $1", [expired.session_id]),
    );

    const disabled = { email: "former@platform.test", password: "former-password" };
    await client.query("begin");
    const { rows: [op] } = await client.query("select (app_private.create_operator($1, 'Former operator', $2)).id", [
      disabled.email,
      disabled.password,
    ]);
    await client.query("update app_public.operators set disabled_at = now() where id = $1", [op.id]);
    await client.query("commit");

    return {
      sessions: { adminA: adminA.session_id, memberA: memberA.session_id, adminB: adminB.session_id, memberB: memberB.session_id },
      memberA: { session: memberA.session_id, usedToken: memberA.refresh_token, liveToken: rotated.refresh_token },
      loggedOutA: { session: loggedOut.session_id, token: loggedOut.refresh_token },
      expiredA: { session: expired.session_id, token: expired.refresh_token },
      memberAOtherSession: memberAOther.session_id,
      invitations: { pendingA, revokedA, expiredA, pendingB },
      disabledOperator: { id: op.id, ...disabled },
    };
  });
}
