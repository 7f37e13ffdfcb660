// app_private.tg_audit, the row-change audit trigger, as Citus needs it: it
// records the table name it is given (on Citus it fires on shards such as
// app_public.projects_102008, whose own name must not reach the log), and
// records nothing for a row written without a tenant context (how Citus
// copies rows into shards while distributing them). Through the API it
// records as before: tests/lifecycle.test.ts ("audit log").
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withDatabase } from "../db/setup.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { createWorld, type World } from "./helpers/world.ts";

let db: TestDatabase;
let world: World;
/** A superuser, like the session that runs citus:distribute (RLS does not stop it; the trigger must). */
let superuser: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createWorld(db.ownerUrl);
  superuser = new pg.Client({ connectionString: withDatabase(db.rootUrl, db.name) });
  await superuser.connect();
});
afterAll(() => superuser?.end());

/** Runs `work` in a transaction that is rolled back. */
async function inTransaction<T>(work: () => Promise<T>): Promise<T> {
  await superuser.query("begin");
  try {
    return await work();
  } finally {
    await superuser.query("rollback");
  }
}

const eventsFor = async (rowKey: string) =>
  (await superuser.query("select tenant_id, action, table_name from app_public.audit_events where row_key = $1", [rowKey])).rows;

describe("the audit trigger", () => {
  it("records nothing for a row written without a tenant context (Citus copying rows into shards)", async () => {
    await inTransaction(async () => {
      const { rows: [p] } = await superuser.query(
        "insert into app_public.projects (tenant_id, name) values ($1, 'Copied') returning id",
        [world.tenants.A.id],
      );
      expect(await eventsFor(p.id)).toEqual([]);
    });
  });

  it("records the same write made in the row's tenant context, under the table's name", async () => {
    await inTransaction(async () => {
      await superuser.query("select set_config('jwt.claims.tenant_id', $1, true)", [world.tenants.A.id]);
      const { rows: [p] } = await superuser.query("insert into app_public.projects (name) values ('Written') returning id");
      expect(await eventsFor(p.id)).toEqual([{ tenant_id: world.tenants.A.id, action: "insert", table_name: "app_public.projects" }]);
    });
  });

  it("records the name it is given, not the relation it fires on (a table named like a Citus shard)", async () => {
    await inTransaction(async () => {
      await superuser.query(`
        create table app_public.projects_102008 (tenant_id uuid not null, id uuid not null default gen_random_uuid(), name text);
        create trigger _900_audit before insert on app_public.projects_102008
          for each row execute procedure app_private.tg_audit('tenant_id', 'app_public.projects');`);
      await superuser.query("select set_config('jwt.claims.tenant_id', $1, true)", [world.tenants.A.id]);
      const { rows: [p] } = await superuser.query(
        "insert into app_public.projects_102008 (tenant_id, name) values ($1, 'On a shard') returning id",
        [world.tenants.A.id],
      );
      expect(await eventsFor(p.id)).toEqual([{ tenant_id: world.tenants.A.id, action: "insert", table_name: "app_public.projects" }]);
    });
  });
});
