// The PostgreSQL server the benchmark uses: an embedded one in a fresh
// temporary DATA_DIR (started by db/database.ts, as `npm start` does), or
// BENCH_DATABASE_URL (a superuser URL), where the bench databases are made
// the way tests/global-setup.ts makes its template.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../db/database.ts";
import { runMigrations } from "../db/migrate.ts";
import { dropDatabase, ensureDatabase, ensureRoles, withDatabase } from "../db/setup.ts";
import { loadConfig } from "../common/config.ts";
import { ROLES } from "../common/roles.ts";

export interface BenchDatabase {
  name: string;
  /** Superuser: loads data, and is the RLS-bypassing side of the RLS comparison. */
  superuserUrl: string;
  ownerUrl: string;
  /** The authenticator: what the servers and the list transaction connect as. */
  authUrl: string;
}

export interface BenchCluster {
  kind: "embedded" | "external";
  /** A fresh, migrated database of this name (an existing one is dropped first). */
  prepare(name: string): Promise<BenchDatabase>;
  /** Drops the databases it made (external) or stops and deletes the embedded server. */
  stop(): Promise<void>;
}

function urls(rootUrl: string, name: string, owner: string, authenticator: string): BenchDatabase {
  return {
    name,
    superuserUrl: withDatabase(rootUrl, name),
    ownerUrl: withDatabase(rootUrl, name, { user: ROLES.owner, password: owner }),
    authUrl: withDatabase(rootUrl, name, { user: ROLES.authenticator, password: authenticator }),
  };
}

async function migratedDatabase(rootUrl: string, name: string, owner: string, authenticator: string) {
  await dropDatabase(rootUrl, name);
  await ensureDatabase(rootUrl, name);
  const db = urls(rootUrl, name, owner, authenticator);
  await runMigrations(db.ownerUrl);
  return db;
}

/** `firstDatabase` is the one openDatabase creates in embedded mode. */
export async function openCluster(databaseUrl: string | undefined, firstDatabase: string): Promise<BenchCluster> {
  if (databaseUrl) return openExternal(databaseUrl);
  const dataDir = mkdtempSync(join(tmpdir(), "mts-bench-"));
  const config = loadConfig({ DATA_DIR: dataDir, DATABASE_NAME: firstDatabase, DEMO_DATA: "false" });
  const opened = await openDatabase(config, () => {});
  const { ownerPassword, authenticatorPassword } = config.database;
  return {
    kind: "embedded",
    async prepare(name) {
      if (name === firstDatabase) return { name, superuserUrl: opened.superuserUrl!, ownerUrl: opened.ownerUrl, authUrl: opened.authUrl };
      return migratedDatabase(opened.rootUrl!, name, ownerPassword, authenticatorPassword);
    },
    async stop() {
      await opened.stop();
      rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    },
  };
}

async function openExternal(rootUrl: string): Promise<BenchCluster> {
  // Roles are cluster-wide: reuse the passwords a test run may have set, as tests/global-setup.ts does.
  const owner = process.env.DATABASE_OWNER_PASSWORD ?? randomBytes(16).toString("hex");
  const authenticator = process.env.DATABASE_AUTHENTICATOR_PASSWORD ?? randomBytes(16).toString("hex");
  await ensureRoles(rootUrl, { owner, authenticator });
  const made: string[] = [];
  return {
    kind: "external",
    async prepare(name) {
      made.push(name);
      return migratedDatabase(rootUrl, name, owner, authenticator);
    },
    async stop() {
      for (const name of made) await dropDatabase(rootUrl, name);
    },
  };
}
