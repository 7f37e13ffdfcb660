// A small declarative harness for row-level security: each case names an
// actor, an operation and the expected outcome. Cases run through the
// authenticator connection, switched to the actor's request role with the
// actor's claims, exactly as the API does, inside a transaction that is
// rolled back afterwards. One actor, "authenticator itself", stays the
// authenticator (no request role, no claims): what the API's own checks
// (claims_are_current, operator_access) run as.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REQUEST_ROLE_BY_CLAIM, ROLES } from "../../common/roles.ts";
import type { Fixtures } from "./fixtures.ts";
import type { World } from "./world.ts";

export type Actor =
  | "anonymous"
  | "member of A"
  | "admin of A"
  | "member of B"
  | "admin of B"
  | "member with no claims"
  | "member with a malformed tenant claim"
  /** A's admin demoted to member whose token (and so request role) still says admin. */
  | "demoted admin of A (token still says admin)"
  /** The demo platform operator: role operator, operator_id claim, no tenant. */
  | "operator"
  /** The demo operator naming tenant A (the x-operator-tenant header). */
  | "operator acting in A"
  /** The authenticator connection itself, not switched to any request role, without claims. */
  | "authenticator itself";

/** The people of the world, by their key in World. */
export type PersonKey = "adminA" | "memberA" | "adminB" | "memberB";

/** Live session ids of the people (jwt.claims.session_id), when the test file has created them. */
export type Sessions = Partial<Record<PersonKey, string>>;

/** What a matrix needs once its beforeAll has run. */
export interface PolicyContext {
  authUrl: string;
  world: World;
  /** Sessions for the people: their actors then carry jwt.claims.session_id, as the API's do. */
  sessions?: Sessions;
  /** The lifecycle fixtures (invitations, sessions, tokens), when the test file has made them. */
  fixtures?: Fixtures;
}

export type Outcome =
  /** The statement returns exactly n rows; with `tenant`, each row's tenant column holds that tenant. */
  | { rows: number; tenant?: "A" | "B"; tenantColumn?: string }
  /** The statement returns at least n rows; with `tenant`, each row's tenant column holds that tenant. */
  | { atLeast: number; tenant?: "A" | "B"; tenantColumn?: string }
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
  /** The statement's parameters; `fx` is the file's lifecycle fixtures (undefined when it made none). */
  params?: (world: World, fx: Fixtures) => unknown[];
  expect: Outcome;
}

/**
 * The database role each actor runs as (undefined: the authenticator itself).
 * Static, so that the coverage test can read a case's role without a
 * database; actorSettings checks it against the world's people.
 */
export const ACTOR_ROLE: Readonly<Record<Actor, string | undefined>> = {
  anonymous: ROLES.anonymous,
  "member of A": ROLES.member,
  "admin of A": ROLES.admin,
  "member of B": ROLES.member,
  "admin of B": ROLES.admin,
  "member with no claims": ROLES.member,
  "member with a malformed tenant claim": ROLES.member,
  "demoted admin of A (token still says admin)": ROLES.admin,
  operator: ROLES.operator,
  "operator acting in A": ROLES.operator,
  "authenticator itself": undefined,
};

function actorSettings(
  actor: Actor,
  world: World,
  sessions: Sessions = {},
): { role: string | undefined; claims: Record<string, string> } {
  const claimsOf = (key: PersonKey) => {
    const p = world[key];
    return {
      "jwt.claims.tenant_id": p.tenantId,
      "jwt.claims.user_id": p.id,
      "jwt.claims.role": p.role,
      ...(sessions[key] ? { "jwt.claims.session_id": sessions[key] } : {}),
    };
  };
  const person: Record<string, PersonKey> = {
    "member of A": "memberA",
    "admin of A": "adminA",
    "member of B": "memberB",
    "admin of B": "adminB",
  };
  const operatorClaims = { "jwt.claims.role": "operator", "jwt.claims.operator_id": world.operator.id };
  switch (actor) {
    case "anonymous":
      return { role: ROLES.anonymous, claims: {} };
    case "member with no claims":
      return { role: ROLES.member, claims: {} };
    case "member with a malformed tenant claim":
      return { role: ROLES.member, claims: { ...claimsOf("memberA"), "jwt.claims.tenant_id": `${world.tenants.A.id}' or true --` } };
    case "demoted admin of A (token still says admin)":
      return { role: ROLES.admin, claims: { ...claimsOf("memberA"), "jwt.claims.role": "admin" } };
    case "operator":
      return { role: ROLES.operator, claims: operatorClaims };
    case "operator acting in A":
      return { role: ROLES.operator, claims: { ...operatorClaims, "jwt.claims.tenant_id": world.tenants.A.id } };
    case "authenticator itself":
      return { role: undefined, claims: {} };
    default: {
      const key = person[actor];
      const role = REQUEST_ROLE_BY_CLAIM[world[key].role];
      expect(role, `${actor}'s request role`).toBe(ACTOR_ROLE[actor]);
      return { role, claims: claimsOf(key) };
    }
  }
}

function describeOutcome(o: Outcome) {
  if ("rows" in o) return `sees ${o.rows} row${o.rows === 1 ? "" : "s"}${o.tenant ? ` of tenant ${o.tenant}` : ""}`;
  if ("atLeast" in o) return `sees at least ${o.atLeast} row${o.atLeast === 1 ? "" : "s"}${o.tenant ? `, all of tenant ${o.tenant}` : ""}`;
  if ("affected" in o) return `changes ${o.affected} row${o.affected === 1 ? "" : "s"}`;
  return `fails with ${o.error}`;
}

/**
 * Declares one vitest test per case. `context()` gives the authenticator URL
 * and the world (and, optionally, the people's sessions) once they exist.
 */
export function policyMatrix(title: string, context: () => PolicyContext, cases: PolicyCase[]) {
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
        const { world, sessions, fixtures } = context();
        const settings = actorSettings(c.actor, world, sessions);
        await client.query("begin");
        try {
          if (settings.role !== undefined) {
            await client.query(`set local role ${client.escapeIdentifier(settings.role)}`);
          }
          for (const [name, value] of Object.entries(settings.claims)) {
            await client.query("select set_config($1, $2, true)", [name, value]);
          }
          const { rows: [me] } = await client.query(
            "select current_user as me, rolsuper, rolbypassrls from pg_roles where rolname = current_user",
          );
          expect(me).toEqual({ me: settings.role ?? ROLES.authenticator, rolsuper: false, rolbypassrls: false });

          let result: pg.QueryResult | undefined;
          let error: (Error & { code?: string }) | undefined;
          try {
            result = await client.query(c.sql, c.params?.(world, fixtures as Fixtures) ?? []);
          } catch (e) {
            error = e as Error & { code?: string };
          }
          const o = c.expect;
          if ("rows" in o || "atLeast" in o) {
            expect(error?.message).toBeUndefined();
            if ("rows" in o) expect(result!.rows).toHaveLength(o.rows);
            else expect(result!.rows.length).toBeGreaterThanOrEqual(o.atLeast);
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
