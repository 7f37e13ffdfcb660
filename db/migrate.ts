// Runs the committed graphile-migrate migrations, with settings from .gmrc
// and role names from common/config.ts, after graphile-worker's own
// migrations (its schema graphile_worker, which the job queue lives in and
// the app's functions queue jobs into).
import { Logger, migrate, reset, watch, type Settings } from "graphile-migrate";
import { Logger as WorkerLogger, runMigrations as runWorkerMigrations } from "graphile-worker";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROLES } from "../common/roles.ts";
import { withClient } from "./setup.ts";

export const ROOT_DIR = join(import.meta.dirname, "..");

/** The environment graphile-migrate's "!ENV" placeholders read (also for its CLI). */
export function placeholderEnv(): Record<string, string> {
  return {
    DATABASE_AUTHENTICATOR: ROLES.authenticator,
    DATABASE_ANONYMOUS: ROLES.anonymous,
    DATABASE_MEMBER: ROLES.member,
    DATABASE_ADMIN: ROLES.admin,
    DATABASE_OPERATOR: ROLES.operator,
  };
}

/** graphile-migrate's settings: .gmrc, plus connections, role placeholders and (optionally) another folder or logger. */
export function migrationSettings(
  ownerUrl: string,
  { rootUrl, migrationsFolder = join(ROOT_DIR, "migrations"), logger = quietLogger }: { rootUrl?: string; migrationsFolder?: string; logger?: Logger } = {},
): Settings {
  const gmrc = JSON.parse(readFileSync(join(ROOT_DIR, ".gmrc"), "utf8"));
  delete gmrc["//"];
  const placeholders = Object.fromEntries(
    Object.entries(placeholderEnv()).map(([name, value]) => [`:${name}`, value]),
  );
  return {
    ...gmrc,
    connectionString: ownerUrl,
    // Only `reset` uses the root connection; migrate never does.
    rootConnectionString: rootUrl ?? ownerUrl.replace(/\/[^/?]*(\?|$)/, "/template1$1"),
    migrationsFolder,
    placeholders,
    logger,
  };
}

// graphile-migrate logs every migration; keep warnings and errors only.
const quietLogger = new Logger(() => (level, message) => {
  if (String(level) === "error" || String(level) === "warning") console.error(`[migrate] ${message}`);
});

/** True when no migration has ever been applied to the database (first start). */
export async function hasNoMigrations(ownerUrl: string): Promise<boolean> {
  return withClient(ownerUrl, async (client) => {
    const { rows } = await client.query("select to_regclass('graphile_migrate.migrations') as t");
    if (!rows[0].t) return true;
    const { rowCount } = await client.query("select 1 from graphile_migrate.migrations limit 1");
    return rowCount === 0;
  });
}

// graphile-migrate keeps its connection pool for 200 ms after a command and
// exits the process if a pooled connection breaks meanwhile (for example
// because the embedded server is being stopped). settled() waits that out.
const POOL_KEEPALIVE_MS = 250;
let lastCommandAt = 0;

/** Resolves once graphile-migrate has closed the pool of its last command. */
export async function settled() {
  const wait = lastCommandAt + POOL_KEEPALIVE_MS - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

// graphile-worker logs each of its migrations; keep warnings and errors only.
const quietWorkerLogger = new WorkerLogger(() => (level, message) => {
  if (level === "error" || level === "warning") console.error(`[worker-migrate] ${message}`);
});

/**
 * Installs or upgrades graphile-worker's schema (graphile_worker), as the
 * owner: the owner owns its tables, and no request role gets USAGE on it
 * (jobs carry raw tokens). Idempotent; graphile-worker locks while it migrates.
 */
export async function runJobQueueMigrations(ownerUrl: string) {
  await runWorkerMigrations({ connectionString: ownerUrl, logger: quietWorkerLogger });
}

/** Applies graphile-worker's migrations, then every committed migration not yet applied, as the owner. */
export async function runMigrations(ownerUrl: string) {
  try {
    await runJobQueueMigrations(ownerUrl);
    await migrate(migrationSettings(ownerUrl));
  } finally {
    lastCommandAt = Date.now();
  }
}

/**
 * Applies migrations/current/ (the migration being written, not yet
 * committed) once, as `graphile-migrate watch --once` does. The test template
 * and `npm run generate` include it, so that a DBA sees the effect of what
 * they are writing; `npm start` never runs it.
 */
export async function runCurrentMigration(ownerUrl: string) {
  try {
    await watch(migrationSettings(ownerUrl), true);
  } finally {
    lastCommandAt = Date.now();
  }
}

/** Drops and recreates the database (superuser), then applies all migrations (and graphile-worker's). */
export async function resetDatabase(ownerUrl: string, rootUrl: string) {
  try {
    await reset(migrationSettings(ownerUrl, { rootUrl }), false);
    await runJobQueueMigrations(ownerUrl);
  } finally {
    lastCommandAt = Date.now();
  }
}
