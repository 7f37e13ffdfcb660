// A small declarative harness for row-level security: each case names an
// actor, an operation and the expected outcome. Cases run through the
// authenticator connection, switched to the actor's request role with the
// actor's claims, exactly as the API does, inside a transaction that is
// rolled back afterwards.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REQUEST_ROLE_BY_CLAIM, ROLES } from "../../server/config.ts";
import type { World } from "./world.ts";

export type Actor =
  | "anonymous"
  | "member of A"
  | "admin of A"
  | "member of B"
  | "admin of B"
  | "member with no claims"
  | "member with a malformed tenant claim";

export type Outcome =
  /** The statement returns exactly n rows; with `tenant`, each row's tenant column holds that tenant. */
  | { rows: number; tenant?: "A" | "B"; tenantColumn?: string }
  /** The statement changes exactly n rows. */
  | { affected: number }
  /** Refused by privileges (42501, not a policy). */
  | { error: "permission denied" }
  /** Refused by a policy's WITH CHECK (42501, row-level security). */
  | { error: "RLS violation" }
  /** Raised with this SQLSTATE. */
  | { error: string };

export interface PolicyCase {
  actor: Actor;
  /** What the actor does, in words: "reads users", "renames tenant B". */
  does: string;
  sql: string;
  params?: (world: World) => unknown[];
  expect: Outcome;
}

function actorSettings(actor: Actor, world: World): { role: string; claims: Record<string, string> } {
  const claimsOf = (p: World["adminA"]) => ({
    "jwt.claims.tenant_id": p.tenantId,
    "jwt.claims.user_id": p.id,
    "jwt.claims.role": p.role,
  });
  const person = { "member of A": world.memberA, "admin of A": world.adminA, "member of B": world.memberB, "admin of B": world.adminB };
  switch (actor) {
    case "anonymous":
      return { role: ROLES.anonymous, claims: {} };
    case "member with no claims":
      return { role: ROLES.member, claims: {} };
    case "member with a malformed tenant claim":
      return { role: ROLES.member, claims: { ...claimsOf(world.memberA), "jwt.claims.tenant_id": `${world.tenants.A.id}' or true --` } };
    default: {
      const p = person[actor];
      return { role: REQUEST_ROLE_BY_CLAIM[p.role], claims: claimsOf(p) };
    }
  }
}

function describeOutcome(o: Outcome) {
  if ("rows" in o) return `sees ${o.rows} row${o.rows === 1 ? "" : "s"}${o.tenant ? ` of tenant ${o.tenant}` : ""}`;
  if ("affected" in o) return `changes ${o.affected} row${o.affected === 1 ? "" : "s"}`;
  return `fails with ${o.error}`;
}

/** Declares one vitest test per case. `context()` gives the authenticator URL and the world once they exist. */
export function policyMatrix(title: string, context: () => { authUrl: string; world: World }, cases: PolicyCase[]) {
  describe(title, () => {
    let client: pg.Client;

    beforeAll(async () => {
      client = new pg.Client({ connectionString: context().authUrl });
      await client.connect();
      // Policy tests mean nothing as a superuser or a role that bypasses RLS.
      const { rows } = await client.query(
        "select current_user as me, rolsuper, rolbypassrls, rolinherit from pg_roles where rolname = current_user",
      );
      expect(rows[0]).toEqual({ me: ROLES.authenticator, rolsuper: false, rolbypassrls: false, rolinherit: false });
    });
    afterAll(() => client?.end());

    for (const c of cases) {
      it(`${c.actor} ${c.does}: ${describeOutcome(c.expect)}`, async () => {
        const { world } = context();
        const { role, claims } = actorSettings(c.actor, world);
        await client.query("begin");
        try {
          await client.query(`set local role ${client.escapeIdentifier(role)}`);
          for (const [name, value] of Object.entries(claims)) {
            await client.query("select set_config($1, $2, true)", [name, value]);
          }
          const { rows: [me] } = await client.query(
            "select current_user as me, rolsuper, rolbypassrls from pg_roles where rolname = current_user",
          );
          expect(me).toEqual({ me: role, rolsuper: false, rolbypassrls: false });

          let result: pg.QueryResult | undefined;
          let error: (Error & { code?: string }) | undefined;
          try {
            result = await client.query(c.sql, c.params?.(world) ?? []);
          } catch (e) {
            error = e as Error & { code?: string };
          }
          const o = c.expect;
          if ("rows" in o) {
            expect(error?.message).toBeUndefined();
            expect(result!.rows).toHaveLength(o.rows);
            if (o.tenant) {
              const column = o.tenantColumn ?? "tenant_id";
              for (const row of result!.rows) expect(row[column]).toBe(world.tenants[o.tenant].id);
            }
          } else if ("affected" in o) {
            expect(error?.message).toBeUndefined();
            expect(result!.rowCount).toBe(o.affected);
          } else if (o.error === "permission denied") {
            expect(error?.code).toBe("42501");
            expect(error?.message).toMatch(/^permission denied/);
          } else if (o.error === "RLS violation") {
            expect(error?.code).toBe("42501");
            expect(error?.message).toMatch(/violates row-level security policy/);
          } else {
            expect(error?.code, error?.message).toBe(o.error);
          }
        } finally {
          await client.query("rollback");
        }
      });
    }
  });
}
