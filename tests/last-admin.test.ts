// The last admin of a tenant stays: app_private.assert_not_last_admin, used
// by set_user_role and remove_user, locks the tenant's admins before it
// counts them, so two admins who demote or remove each other at the same
// moment cannot both succeed. Run as the API runs them: two authenticator
// connections switched to mts_admin with each admin's claims.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROLES } from "../common/roles.ts";
import { withClient } from "../db/setup.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { createWorld, type Person, type World } from "./helpers/world.ts";

let db: TestDatabase;
let world: World;
let first: pg.Client;
let second: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createWorld(db.ownerUrl);
  first = new pg.Client({ connectionString: db.authUrl });
  second = new pg.Client({ connectionString: db.authUrl });
  await Promise.all([first.connect(), second.connect()]);
});
afterAll(async () => {
  await first?.end();
  await second?.end();
});

/** A's member made a second admin of A (committed, as the owner, through set_user_role). */
async function promoteMemberA() {
  await withClient(db.ownerUrl, async (c) => {
    await c.query("begin");
    await c.query("select set_config('jwt.claims.tenant_id', $1, true), set_config('jwt.claims.user_id', $2, true)", [
      world.tenants.A.id,
      world.adminA.id,
    ]);
    await c.query("select app_public.set_user_role($1, 'admin')", [world.memberA.id]);
    await c.query("commit");
  });
}

/** Opens a transaction as `person`, an admin, the way the API does. */
async function beginAsAdmin(client: pg.Client, person: Person) {
  await client.query("begin");
  await client.query(`set local role ${ROLES.admin}`);
  await client.query(
    "select set_config('jwt.claims.tenant_id', $1, true), set_config('jwt.claims.user_id', $2, true), set_config('jwt.claims.role', 'admin', true)",
    [person.tenantId, person.id],
  );
  const { rows: [me] } = await client.query("select current_user as me, rolsuper, rolbypassrls from pg_roles where rolname = current_user");
  expect(me).toEqual({ me: ROLES.admin, rolsuper: false, rolbypassrls: false });
}

async function adminsOfA(): Promise<string[]> {
  return withClient(db.ownerUrl, async (c) => {
    await c.query("begin");
    await c.query("select set_config('jwt.claims.tenant_id', $1, true)", [world.tenants.A.id]);
    const { rows } = await c.query("select id from app_public.users where role = 'admin' order by id");
    await c.query("commit");
    return rows.map((r) => r.id);
  });
}

describe.each([
  ["demote", "select app_public.set_user_role($1, 'member')", "cannot be demoted"],
  ["remove", "select app_public.remove_user($1)", "cannot be removed"],
])("two admins of A who %s each other at once", (_, sql, message) => {
  it(`the first succeeds; the second waits for it, then gets LASTA ("${message}"); A keeps one admin`, async () => {
    await promoteMemberA();
    const [adminA, otherAdmin] = [world.adminA, { ...world.memberA, role: "admin" as const }];
    expect(await adminsOfA()).toEqual([adminA.id, otherAdmin.id].sort());
    const { rows: [{ pid }] } = await second.query("select pg_backend_pid() as pid");

    await beginAsAdmin(first, adminA);
    await beginAsAdmin(second, otherAdmin);
    try {
      await first.query(sql, [otherAdmin.id]);
      const pending = second.query(sql, [adminA.id]).then(
        () => undefined,
        (error: Error & { code?: string }) => error,
      );
      // The second call is blocked on the admins the first has locked.
      await expect
        .poll(async () => {
          const { rows } = await withClient(db.rootUrl, (c) =>
            c.query("select wait_event_type from pg_stat_activity where pid = $1", [pid]),
          );
          return rows[0]?.wait_event_type;
        })
        .toBe("Lock");
      await first.query("commit");
      const error = await pending;
      expect(error?.code, error?.message).toBe("LASTA");
      expect(error?.message).toContain(message);
    } finally {
      await first.query("rollback").catch(() => {});
      await second.query("rollback");
    }
    const left = await adminsOfA();
    expect(left).toEqual([adminA.id]);
    // For the next case: A's member (if still there) is a member again.
    await withClient(db.ownerUrl, async (c) => {
      await c.query("begin");
      await c.query("select set_config('jwt.claims.tenant_id', $1, true), set_config('jwt.claims.user_id', $2, true)", [
        world.tenants.A.id,
        adminA.id,
      ]);
      const { rows } = await c.query("select 1 from app_public.users where id = $1", [otherAdmin.id]);
      if (rows.length) await c.query("select app_public.set_user_role($1, 'member')", [otherAdmin.id]);
      await c.query("commit");
    });
  });
});
