// The security model, read from the live catalog after migrations: roles,
// ownership, forced RLS, pinned search paths, EXECUTE grants, comments, and
// the onboarding/login paths that must leave no tenant context behind.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROLES } from "../common/roles.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { createWorld, type World } from "./helpers/world.ts";

let db: TestDatabase;
let world: World;
let catalog: pg.Client;
const REQUEST_ROLES = [ROLES.anonymous, ROLES.member, ROLES.admin, ROLES.operator];
const APP_SCHEMAS = ["app_public", "app_private"];

beforeAll(async () => {
  db = await createTestDatabase();
  world = await createWorld(db.ownerUrl);
  catalog = new pg.Client({ connectionString: db.ownerUrl });
  await catalog.connect();
});
afterAll(() => catalog?.end());

const rows = async (sql: string, params: unknown[] = []) => (await catalog.query(sql, params)).rows;

describe("roles", () => {
  it("no role of ours is a superuser or bypasses RLS; only the owner and the authenticator log in", async () => {
    const found = await rows(
      "select rolname, rolsuper, rolbypassrls, rolcanlogin, rolinherit, rolcreaterole, rolcreatedb from pg_roles where rolname = any($1) order by rolname",
      [Object.values(ROLES)],
    );
    expect(found).toHaveLength(Object.keys(ROLES).length);
    for (const r of found) {
      expect(r, r.rolname).toMatchObject({ rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false });
      expect(r.rolcanlogin, r.rolname).toBe(r.rolname === ROLES.owner || r.rolname === ROLES.authenticator);
    }
    expect(found.find((r) => r.rolname === ROLES.authenticator).rolinherit).toBe(false);
  });

  it("the authenticator can become each request role, and nothing else", async () => {
    const granted = await rows(
      `select r.rolname from pg_auth_members m join pg_roles r on r.oid = m.roleid
        where m.member = (select oid from pg_roles where rolname = $1) order by 1`,
      [ROLES.authenticator],
    );
    expect(granted.map((r) => r.rolname)).toEqual([...REQUEST_ROLES].sort());
  });

  it("the authenticator and the request roles own nothing in the database", async () => {
    const owned = await rows(
      `select 'relation ' || relname as what from pg_class where relowner in (select oid from pg_roles where rolname = any($1))
       union all select 'function ' || proname from pg_proc where proowner in (select oid from pg_roles where rolname = any($1))
       union all select 'schema ' || nspname from pg_namespace where nspowner in (select oid from pg_roles where rolname = any($1))
       union all select 'type ' || typname from pg_type where typowner in (select oid from pg_roles where rolname = any($1))`,
      [[ROLES.authenticator, ...REQUEST_ROLES]],
    );
    expect(owned).toEqual([]);
  });

  it("every object in the app schemas is owned by the owner", async () => {
    const others = await rows(
      `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any($1) and c.relowner <> (select oid from pg_roles where rolname = $2)`,
      [APP_SCHEMAS, ROLES.owner],
    );
    expect(others).toEqual([]);
  });

  it("no request role may use the private schema", async () => {
    for (const role of REQUEST_ROLES) {
      const [r] = await rows("select has_schema_privilege($1, 'app_private', 'usage') as usage", [role]);
      expect(r.usage, role).toBe(false);
    }
  });
});

describe("tables", () => {
  it("every table has row-level security enabled and forced", async () => {
    const tables = await rows(
      `select n.nspname || '.' || c.relname as name, c.relrowsecurity, c.relforcerowsecurity
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any($1) and c.relkind in ('r', 'p') order by 1`,
      [APP_SCHEMAS],
    );
    expect(tables.length).toBeGreaterThanOrEqual(3);
    for (const t of tables) expect(t, t.name).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true });
  });

  it("every tenant-scoped table has tenant_id first in its primary key and an index that leads with it", async () => {
    const scoped = await rows(
      `select c.oid, n.nspname || '.' || c.relname as name,
              (select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
                where i.indrelid = c.oid and i.indisprimary) as pk_first
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any($1) and c.relkind = 'r'
          and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)`,
      [APP_SCHEMAS],
    );
    expect(scoped.map((t) => t.name).sort()).toEqual([
      "app_private.invitation_secrets",
      "app_private.refresh_tokens",
      "app_private.sessions",
      "app_private.user_secrets",
      "app_public.audit_events",
      "app_public.comments",
      "app_public.invitations",
      "app_public.projects",
      "app_public.tasks",
      "app_public.users",
    ]);
    for (const t of scoped) expect(t.pk_first, t.name).toBe("tenant_id");
  });

  it("no policy expression contains a subquery (Citus rejects them)", async () => {
    const policies = await rows(
      `select schemaname || '.' || tablename || ' ' || policyname as name, coalesce(qual, '') || ' ' || coalesce(with_check, '') as expr
         from pg_policies where schemaname = any($1)`,
      [APP_SCHEMAS],
    );
    expect(policies.length).toBeGreaterThan(5);
    for (const p of policies) expect(p.expr, p.name).not.toMatch(/\bselect\b/i);
  });
});

describe("functions", () => {
  it("every SECURITY DEFINER function pins its search_path", async () => {
    const definers = await rows(
      `select p.oid::regprocedure::text as name, p.proconfig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any($1) and p.prosecdef`,
      [APP_SCHEMAS],
    );
    expect(definers.map((d) => d.name).sort()).toEqual([
      "app_private.assert_claims_current(uuid,uuid,text,uuid)",
      "app_private.audit(uuid,text,text,text,text[],jsonb,uuid,uuid)",
      "app_private.claims_are_current(uuid,uuid,text,uuid)",
      "app_private.operator_access(uuid,uuid,jsonb)",
      "app_private.tg_audit()",
      "app_public.accept_invitation(text,text,text)",
      "app_public.change_password(text,text)",
      "app_public.create_tenant(text,text,text,text)",
      "app_public.delete_tenant(text)",
      "app_public.invite_user(text,app_public.user_role)",
      "app_public.login(text,text,text)",
      "app_public.logout(text)",
      "app_public.operator_login(text,text)",
      "app_public.refresh(text)",
      "app_public.remove_user(uuid)",
      "app_public.revoke_invitation(uuid)",
      "app_public.schema_version()",
      "app_public.set_user_role(uuid,app_public.user_role)",
    ]);
    for (const d of definers) {
      expect(d.proconfig ?? [], d.name).toContainEqual(expect.stringMatching(/^search_path=pg_catalog, public, pg_temp$/));
    }
  });

  it("no function is executable by PUBLIC", async () => {
    const open = await rows(
      `select p.oid::regprocedure::text as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any($1)
          and (p.proacl is null or exists (select 1 from aclexplode(p.proacl) a where a.grantee = 0 and a.privilege_type = 'EXECUTE'))`,
      [APP_SCHEMAS],
    );
    expect(open).toEqual([]);
  });
});

describe("documentation", () => {
  it("every table, column, function and type in the app schemas has a comment", async () => {
    const missing = await rows(
      `select 'table ' || n.nspname || '.' || c.relname as what from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any($1) and c.relkind in ('r', 'p', 'v', 'c') and obj_description(c.oid, 'pg_class') is null
          and not (c.relkind = 'c' and exists (select 1 from pg_type t where t.typrelid = c.oid and obj_description(t.oid, 'pg_type') is not null))
       union all
       select 'column ' || n.nspname || '.' || c.relname || '.' || a.attname from pg_attribute a
         join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any($1) and c.relkind in ('r', 'p', 'v', 'c') and a.attnum > 0 and not a.attisdropped
          and col_description(c.oid, a.attnum) is null
       union all
       select 'function ' || p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any($1) and obj_description(p.oid, 'pg_proc') is null
       union all
       select 'type ' || n.nspname || '.' || t.typname from pg_type t join pg_namespace n on n.oid = t.typnamespace
        where n.nspname = any($1) and t.typtype = 'e' and obj_description(t.oid, 'pg_type') is null`,
      [APP_SCHEMAS],
    );
    expect(missing).toEqual([]);
  });
});

describe("tenant context inside onboarding and login", () => {
  let auth: pg.Client;
  beforeAll(async () => {
    auth = new pg.Client({ connectionString: db.authUrl });
    await auth.connect();
  });
  afterAll(() => auth?.end());

  async function asAnonymous<T>(fn: () => Promise<T>) {
    await auth.query("begin");
    try {
      await auth.query(`set local role ${ROLES.anonymous}`);
      return await fn();
    } finally {
      await auth.query("rollback");
    }
  }
  const contextNow = async () =>
    (await auth.query("select app_public.current_tenant_id() as t, current_setting('jwt.claims.tenant_id', true) as raw")).rows[0];

  it("login leaves the caller's transaction without a tenant context", async () => {
    await asAnonymous(async () => {
      const { rows: [token] } = await auth.query("select (access_token).tenant_id from app_public.login($1, $2, $3)", [
        world.tenants.A.slug,
        world.adminA.email,
        world.password,
      ]);
      expect(token.tenant_id).toBe(world.tenants.A.id);
      expect(await contextNow()).toEqual({ t: null, raw: "" });
    });
  });

  it("onboarding leaves the caller's transaction without a tenant context", async () => {
    await asAnonymous(async () => {
      const { rows: [token] } = await auth.query(
        "select (access_token).tenant_id from app_public.create_tenant('Umbrella', 'umbrella', 'ada@umbrella.test', 'password123')",
      );
      expect(token.tenant_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(await contextNow()).toEqual({ t: null, raw: "" });
    });
  });

  it("a member's own context is back in place after it calls login for another tenant", async () => {
    await auth.query("begin");
    try {
      await auth.query(`set local role ${ROLES.member}`);
      await auth.query("select set_config('jwt.claims.tenant_id', $1, true)", [world.tenants.A.id]);
      await auth.query("select * from app_public.login($1, $2, $3)", [world.tenants.B.slug, world.adminB.email, world.password]);
      expect((await contextNow()).t).toBe(world.tenants.A.id);
      const { rows: users } = await auth.query("select tenant_id from app_public.users");
      expect(users).toHaveLength(2);
      for (const u of users) expect(u.tenant_id).toBe(world.tenants.A.id);
    } finally {
      await auth.query("rollback");
    }
  });

  it("a transaction-local setting does not outlive its transaction on the same connection", async () => {
    await auth.query("begin");
    await auth.query("select set_config('jwt.claims.tenant_id', $1, true)", [world.tenants.A.id]);
    await auth.query("commit");
    const { rows: [after] } = await auth.query("select current_setting('jwt.claims.tenant_id', true) as raw");
    expect(after.raw).toBe("");
  });

  it("the authenticator, before switching role, cannot even reach the API schema", async () => {
    await expect(auth.query("select count(*) from app_public.users")).rejects.toMatchObject({ code: "42501" });
  });
});
