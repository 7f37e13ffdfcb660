// Runs the committed graphile-migrate migrations, with settings from .gmrc
// and role names from server/config.ts.
import { Logger, migrate, reset, type Settings } from "graphile-migrate";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROLES } from "../server/config.ts";
import { withClient } from "./setup.ts";

export const ROOT_DIR = join(import.meta.dirname, "..");

/** The environment graphile-migrate's "!ENV" placeholders read (also for its CLI). */
export function placeholderEnv(): Record<string, string> {
  return {
    DATABASE_AUTHENTICATOR: ROLES.authenticator,
    DATABASE_ANONYMOUS: ROLES.anonymous,
    DATABASE_MEMBER: ROLES.member,
    DATABASE_ADMIN: ROLES.admin,
  };
}

function settings(ownerUrl: string, rootUrl?: string): Settings {
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
    migrationsFolder: join(ROOT_DIR, "migrations"),
    placeholders,
    logger: quietLogger,
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

/** Applies every committed migration not yet applied, as the owner. */
export async function runMigrations(ownerUrl: string) {
  await migrate(settings(ownerUrl));
}

/** Drops and recreates the database (superuser), then applies all migrations. */
export async function resetDatabase(ownerUrl: string, rootUrl: string) {
  await reset(settings(ownerUrl, rootUrl), false);
}
