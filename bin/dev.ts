// `npm run dev`: the database once, then two children that reload on change:
// `graphile-migrate watch` (migrations/current/ into the database) and the
// API under `node --watch` (TypeScript changes; PostGraphile itself rebuilds
// the schema when the database changes).
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { openDatabase } from "../db/database.ts";
import { ROOT_DIR, placeholderEnv } from "../db/migrate.ts";
import { seedDemoData } from "../db/seed.ts";
import { ensureDatabase, withDatabase } from "../db/setup.ts";
import { loadConfig } from "../common/config.ts";
import { ROLES } from "../common/roles.ts";

const config = loadConfig();
if (config.database.mode === "url") {
  console.error("npm run dev needs a superuser connection (embedded server or ROOT_DATABASE_URL) for watch mode.");
  process.exit(1);
}
const db = await openDatabase(config);
if (db.firstStart && config.demoData) await seedDemoData(db.ownerUrl);
const rootUrl = db.rootUrl!;
const shadowName = `${config.database.name}_shadow`;
await ensureDatabase(rootUrl, shadowName);

const env: NodeJS.ProcessEnv = {
  ...process.env,
  ...placeholderEnv(),
  ROOT_DATABASE_URL: rootUrl,
  DATABASE_URL: db.ownerUrl,
  AUTH_DATABASE_URL: db.authUrl,
  SHADOW_DATABASE_URL: withDatabase(rootUrl, shadowName, { user: ROLES.owner, password: config.database.ownerPassword }),
  DATABASE_OWNER_PASSWORD: config.database.ownerPassword,
  DATABASE_AUTHENTICATOR_PASSWORD: config.database.authenticatorPassword,
};
const children: ChildProcess[] = [
  spawn(process.execPath, [join(ROOT_DIR, "node_modules/graphile-migrate/dist/cli.js"), "watch"], { cwd: ROOT_DIR, env, stdio: "inherit" }),
  spawn(process.execPath, ["--watch-path=server", "--watch-path=db", "--watch-path=common", "--watch-path=worker", join(ROOT_DIR, "bin/start.ts")], { cwd: ROOT_DIR, env, stdio: "inherit" }),
];

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await Promise.all(
    children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : (c.once("exit", r), c.kill("SIGTERM"))))),
  );
  await db.stop();
  process.exit(0);
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
for (const child of children) child.on("exit", () => void stop());
