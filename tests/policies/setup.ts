// What every policy spec starts from: a database of its own (cloned from the
// migrated template), the world (tenants A and B, their people and work, the
// demo operator) and the lifecycle fixtures, all made as the owner in a
// beforeAll. The spec's cases then run as the request roles (policyMatrix).
import { beforeAll } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { createFixtures, type Fixtures } from "../helpers/fixtures.ts";
import type { PolicyContext } from "../helpers/policy.ts";
import { createWorld, type World } from "../helpers/world.ts";

export interface PolicySpec {
  /** For policyMatrix. */
  context: () => PolicyContext;
  db: () => TestDatabase;
  world: () => World;
  fx: () => Fixtures;
}

/** Registers the beforeAll that makes the database, the world and the fixtures. */
export function policySpec(): PolicySpec {
  let db: TestDatabase;
  let world: World;
  let fx: Fixtures;
  beforeAll(async () => {
    db = await createTestDatabase();
    world = await createWorld(db.ownerUrl);
    fx = await createFixtures(db.ownerUrl, world);
  });
  return {
    context: () => ({ authUrl: db.authUrl, world, sessions: fx.sessions, fixtures: fx }),
    db: () => db,
    world: () => world,
    fx: () => fx,
  };
}

