// `npm run citus:setup`: prepares a running Citus cluster for the project
// (db/citus.ts setupCitus): from ROOT_DATABASE_URL, the coordinator's
// superuser URL, and the workers its pg_dist_node names. Idempotent. Then the
// first `npm start` (same variables, DB_CONTEXT_MODE=set_local) migrates, and
// `npm run citus:distribute` distributes the tables.
import { ConfigError, loadConfig } from "../common/config.ts";
import { setupCitus } from "../db/citus.ts";

try {
  const config = loadConfig();
  if (!config.database.rootUrl) {
    console.error("citus:setup needs ROOT_DATABASE_URL: the superuser's URL of the coordinator's maintenance database (where the workers were added with citus_add_node).");
    process.exit(1);
  }
  await setupCitus({
    rootUrl: config.database.rootUrl,
    database: config.database.name,
    passwords: { owner: config.database.ownerPassword, authenticator: config.database.authenticatorPassword },
  });
  console.log("citus:setup done");
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
