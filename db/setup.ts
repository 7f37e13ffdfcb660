// Idempotent cluster set-up with a superuser connection: the roles (which are
// cluster-wide, so they live outside migrations) and the application database.
import pg from "pg";
import { ROLES } from "../common/roles.ts";

/** Returns `url` with its database (and optionally its credentials) replaced. */
export function withDatabase(url: string, database: string, credentials?: { user: string; password: string }) {
  const u = new URL(url);
  u.pathname = `/${database}`;
  if (credentials) {
    u.username = encodeURIComponent(credentials.user);
    u.password = encodeURIComponent(credentials.password);
  }
  return u.toString();
}

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates the roles, or brings existing ones back to the attributes the
 * security model relies on:
 * - owner: owns every object and runs migrations; not a superuser;
 * - authenticator: the only role the API logs in as (NOINHERIT: it has no
 *   rights of its own until a request switches role);
 * - anonymous, member, admin, operator: the request roles (no BYPASSRLS; admin
 *   inherits member). NOLOGIN, unless `requestRolesLogin` (Citus opens its
 *   worker connections as the current role; give them no password and let
 *   pg_hba admit them only from the cluster's nodes).
 */
export async function ensureRoles(
  rootUrl: string,
  passwords: { owner: string; authenticator: string },
  options: { requestRolesLogin?: boolean } = {},
) {
  await withClient(rootUrl, async (client) => {
    const lit = (s: string) => client.escapeLiteral(s);
    const id = (s: string) => client.escapeIdentifier(s);
    const { rows } = await client.query<{ rolname: string }>(
      "select rolname from pg_roles where rolname = any($1::text[])",
      [Object.values(ROLES)],
    );
    const existing = new Set(rows.map((r) => r.rolname));
    const base = "nosuperuser nocreatedb nocreaterole noreplication nobypassrls";
    const requestLogin = options.requestRolesLogin ? "login password null" : "nologin";
    const attributes: Record<string, string> = {
      [ROLES.owner]: `login inherit ${base} password ${lit(passwords.owner)}`,
      [ROLES.authenticator]: `login noinherit ${base} password ${lit(passwords.authenticator)}`,
      [ROLES.anonymous]: `${requestLogin} inherit ${base}`,
      [ROLES.member]: `${requestLogin} inherit ${base}`,
      [ROLES.admin]: `${requestLogin} inherit ${base}`,
      [ROLES.operator]: `${requestLogin} inherit ${base}`,
    };
    for (const [role, attrs] of Object.entries(attributes)) {
      // Two sessions may race to create the same role; the loser just alters it.
      if (!existing.has(role)) {
        await client.query(`create role ${id(role)}`).catch((e) => {
          if (e.code !== "42710" && e.code !== "23505") throw e;
        });
      }
      await client.query(`alter role ${id(role)} with ${attrs}`);
    }
    await client.query(
      `grant ${id(ROLES.anonymous)}, ${id(ROLES.member)}, ${id(ROLES.admin)}, ${id(ROLES.operator)} to ${id(ROLES.authenticator)}`,
    );
    await client.query(`grant ${id(ROLES.member)} to ${id(ROLES.admin)}`);
  });
}

/** Creates the database owned by the owner role if it does not exist. Returns true when it was created. */
export async function ensureDatabase(rootUrl: string, name: string): Promise<boolean> {
  return withClient(rootUrl, async (client) => {
    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [name]);
    let created = false;
    if (!rowCount) {
      await client.query(`create database ${client.escapeIdentifier(name)} owner ${client.escapeIdentifier(ROLES.owner)}`);
      created = true;
    }
    await grantDatabaseAccess(client, name);
    return created;
  });
}

/** Only the owner and the authenticator may connect. (graphile-migrate's afterReset.sql does the same.) */
export async function grantDatabaseAccess(client: pg.Client, name: string) {
  const db = client.escapeIdentifier(name);
  await client.query(`revoke all on database ${db} from public`);
  await client.query(`grant all on database ${db} to ${client.escapeIdentifier(ROLES.owner)}`);
  await client.query(`grant connect on database ${db} to ${client.escapeIdentifier(ROLES.authenticator)}`);
}

export async function dropDatabase(rootUrl: string, name: string) {
  await withClient(rootUrl, (client) =>
    client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`),
  );
}
