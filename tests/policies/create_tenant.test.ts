// The policy spec of app_public.create_tenant: the matrix's cases are in
// ./create_tenant.cases.ts (data the coverage test reads too); below them,
// the tenant context onboarding leaves behind.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROLES } from "../../common/roles.ts";
import type { TestDatabase } from "../helpers/database.ts";
import { policyMatrix } from "../helpers/policy.ts";
import { cases } from "./create_tenant.cases.ts";
import { policySpec } from "./setup.ts";

const spec = policySpec();
let db: TestDatabase;
beforeAll(() => {
  db = spec.db();
});

policyMatrix("app_public.create_tenant", spec.context, cases);

describe("the tenant context onboarding leaves behind", () => {
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

  it("onboarding leaves the caller's transaction without a tenant context", async () => {
    await asAnonymous(async () => {
      const { rows: [token] } = await auth.query(
        "select (access_token).tenant_id from app_public.create_tenant('Umbrella', 'umbrella', 'ada@umbrella.test', 'password123')",
      );
      expect(token.tenant_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(await contextNow()).toEqual({ t: null, raw: "" });
    });
  });
});
