// `npm run citus:distribute`: applies generated/citus.sql (written by `npm run
// generate` from the catalog: db/citus.ts) in the application database on the
// coordinator, as the superuser of ROOT_DATABASE_URL. After `npm run
// citus:setup` and the first `npm start` (which migrates); before serving.
// Idempotent: what is distributed already is skipped.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../common/config.ts";
import { applyCitusSql } from "../db/citus.ts";
import { ROOT_DIR } from "../db/migrate.ts";
import { withDatabase } from "../db/setup.ts";

try {
  const config = loadConfig();
  if (!config.database.rootUrl) {
    console.error("citus:distribute needs ROOT_DATABASE_URL: the superuser's URL of the coordinator.");
    process.exit(1);
  }
  const sql = readFileSync(join(ROOT_DIR, "generated/citus.sql"), "utf8");
  const tables = await applyCitusSql(withDatabase(config.database.rootUrl, config.database.name), sql);
  for (const t of tables) console.log(`  ${t.kind.padEnd(12)} ${t.table}`);
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
