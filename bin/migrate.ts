// `npm run migrate -- <graphile-migrate command>`: runs the graphile-migrate
// CLI (commit, uncommit, status, watch, reset...) against the configured
// database, starting the embedded server if that is the mode, with the
// connection strings and role placeholders it needs in its environment.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { loadConfig } from "../common/config.ts";
import { ROLES } from "../common/roles.ts";
import { connectDatabase } from "../db/database.ts";
import { ROOT_DIR, placeholderEnv } from "../db/migrate.ts";
import { ensureDatabase, withDatabase } from "../db/setup.ts";

const config = loadConfig();
const db = await connectDatabase(config);
const env: NodeJS.ProcessEnv = { ...process.env, ...placeholderEnv(), DATABASE_URL: db.ownerUrl };
if (db.rootUrl) {
  const shadowName = `${config.database.name}_shadow`;
  await ensureDatabase(db.rootUrl, shadowName);
  env.ROOT_DATABASE_URL = withDatabase(db.rootUrl, "template1");
  env.SHADOW_DATABASE_URL = withDatabase(db.rootUrl, shadowName, {
    user: ROLES.owner,
    password: config.database.ownerPassword,
  });
}
const child = spawn(process.execPath, [join(ROOT_DIR, "node_modules/graphile-migrate/dist/cli.js"), ...process.argv.slice(2)], {
  cwd: ROOT_DIR,
  env,
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
const code: number = await new Promise((r) => child.on("exit", (c) => r(c ?? 1)));
await db.stop();
process.exit(code);
