// `npm run db:reset`: drops and recreates the application database, applies
// every committed migration and reloads the demo data. Needs a superuser
// connection: the embedded server, or ROOT_DATABASE_URL.
import { loadConfig } from "../common/config.ts";
import { connectDatabase } from "../db/database.ts";
import { resetDatabase } from "../db/migrate.ts";
import { seedDemoData } from "../db/seed.ts";

const config = loadConfig();
if (config.database.mode === "url") {
  console.error("db:reset needs a superuser connection: unset DATABASE_URL to use the embedded server, or set ROOT_DATABASE_URL.");
  process.exit(1);
}
const db = await connectDatabase(config);
try {
  await resetDatabase(db.ownerUrl, db.rootUrl!);
  if (config.demoData) await seedDemoData(db.ownerUrl);
  console.log(`database ${config.database.name} reset${config.demoData ? " and demo data loaded" : ""}`);
} finally {
  await db.stop();
}
