// A database of the test file's own, cloned from the migrated template.
import { randomBytes } from "node:crypto";
import { onCleanup } from "./cleanup.ts";
import { inject } from "vitest";
import { dropDatabase, grantDatabaseAccess, withClient, withDatabase } from "../../db/setup.ts";
import { ROLES } from "../../common/roles.ts";

export interface TestDatabase {
  name: string;
  rootUrl: string;
  /** The owner's connection (fixtures only; never for policy assertions). */
  ownerUrl: string;
  /** The authenticator's connection: what the API uses. */
  authUrl: string;
}

/** Creates a fresh database for this file (dropped after the file's tests). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const server = inject("testServer");
  const name = `mts_test_${randomBytes(6).toString("hex")}`;
  await withClient(server.rootUrl, async (client) => {
    await client.query(
      `create database ${client.escapeIdentifier(name)} template ${client.escapeIdentifier(server.template)} owner ${client.escapeIdentifier(ROLES.owner)}`,
    );
    await grantDatabaseAccess(client, name);
  });
  onCleanup(() => dropDatabase(server.rootUrl, name));
  return {
    name,
    rootUrl: server.rootUrl,
    ownerUrl: withDatabase(server.rootUrl, name, { user: ROLES.owner, password: server.ownerPassword }),
    authUrl: withDatabase(server.rootUrl, name, { user: ROLES.authenticator, password: server.authenticatorPassword }),
  };
}
