// Tenant isolation under concurrency: many clients, more than the API has
// database connections, send a random mix of reads, writes, requests that
// fail half-way, anonymous requests and requests they abort mid-flight.
// Every answer is checked against the caller's tenant, and at the end the
// database is compared, row by row and per tenant, with what the clients saw.
//
// Fast form (npm test): about 2,000 requests. Stress form: STRESS=1 (20,000
// requests) or STRESS=<n> (n requests), bounded by STRESS_SECONDS (default
// 300). LOAD_SEED replays a run's random choices.
import { beforeAll, describe, expect, it } from "vitest";
import { withClient, withDatabase } from "../db/setup.ts";
import { ROLES } from "../common/roles.ts";
import { startApi, type TestApi } from "./helpers/api.ts";
import { createTestDatabase, type TestDatabase } from "./helpers/database.ts";
import { auditWrites, fmt, LOAD_PASSWORD, mapLimit, runLoad, seedTenants, type LoadResult, type LoadTenant } from "./helpers/load.ts";

const stressValue = Number(process.env.STRESS ?? 0) || 0;
const STRESS = stressValue > 0;
const REQUESTS = !STRESS ? 2_000 : stressValue > 1 ? stressValue : 20_000;
const TIME_LIMIT_MS = STRESS ? Number(process.env.STRESS_SECONDS ?? 300) * 1000 : 60_000;
const TENANTS = STRESS ? 100 : 50;
const CLIENTS = 24;
const POOL = 4;
const SEED = Number(process.env.LOAD_SEED ?? Date.now() % 1_000_000);

let db: TestDatabase;
let superuserUrl: string;
let api: TestApi;
let tenants: LoadTenant[];

beforeAll(async () => {
  db = await createTestDatabase();
  superuserUrl = withDatabase(db.rootUrl, db.name);
  const t0 = Date.now();
  tenants = await seedTenants(db.ownerUrl, TENANTS, { prefix: "iso", tasksPerTenant: 3 });
  const t1 = Date.now();
  // All clients share one address and few tenants: the fair share per tenant
  // (tests/request-limits.test.ts) would turn collisions into 429s here.
  api = await startApi(db, { DB_POOL_SIZE: String(POOL), TENANT_CONCURRENCY: String(CLIENTS) });
  await mapLimit(
    tenants.flatMap((t) => t.users.map((u) => ({ t, u }))),
    POOL,
    async ({ t, u }) => {
      u.token = await api.login(t.slug, u.email, LOAD_PASSWORD);
    },
  );
  console.log(
    `isolation setup: ${TENANTS} tenants (admin, member, project, 3 tasks each) in ${t1 - t0} ms, ` +
      `${TENANTS * 2} logins through the API in ${Date.now() - t1} ms; load seed ${SEED}`,
  );
}, 180_000);

/** Samples the API's backends on this database while `fn` runs: the most seen, and any left idle in a transaction. */
async function watchBackends<T>(fn: () => Promise<T>): Promise<{ value: T; maxBackends: number; samples: number }> {
  let maxBackends = 0;
  let samples = 0;
  let done = false;
  const sampler = withClient(superuserUrl, async (c) => {
    while (!done) {
      const { rows: [r] } = await c.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where datname = $1 and usename = $2",
        [db.name, ROLES.authenticator],
      );
      maxBackends = Math.max(maxBackends, r.n);
      samples++;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });
  try {
    const value = await fn();
    return { value, maxBackends, samples };
  } finally {
    done = true;
    await sampler;
  }
}

describe("isolation under concurrency", () => {
  it(
    `${fmt(REQUESTS)} requests from ${CLIENTS} clients over ${POOL} connections: no foreign rows, no cross-tenant writes, exact counts`,
    async () => {
      const { value: load, maxBackends, samples } = await watchBackends(() =>
        runLoad({
          url: api.url,
          tenants,
          clients: CLIENTS,
          requests: REQUESTS,
          deadline: Date.now() + TIME_LIMIT_MS,
          seed: SEED,
          abortRatio: 0.08,
          abortMaxMs: 25,
        }),
      );
      // No backend of the API is left inside a transaction (settings are transaction-local; an aborted
      // request must not leave its transaction, and with it its tenant, open on a pooled connection).
      // Requests the clients aborted may still be finishing on the server: wait (up to a few seconds)
      // until the API's backends have been idle for three samples in a row, then audit.
      const lingering = await withClient(superuserUrl, async (c) => {
        for (let waited = 0, quiet = 0; ; waited += 100) {
          const { rows } = await c.query(
            "select state, left(query, 200) as query from pg_stat_activity where datname = $1 and usename = $2 and state <> 'idle'",
            [db.name, ROLES.authenticator],
          );
          quiet = rows.length ? 0 : quiet + 1;
          if (quiet === 3 || waited >= 5000) return rows;
          await new Promise((r) => setTimeout(r, 100));
        }
      });
      const audit = await auditWrites(superuserUrl, db.ownerUrl, tenants, load.writes);
      // And the API still answers, anonymous as anonymous.
      const after = await api.graphql("{ currentUser { rowId } currentTenant { rowId } }");

      report(load, audit, maxBackends, samples);

      none(load.foreignRows, "rows of another tenant in answers");
      none(load.anonymousLeaks, "anonymous requests that saw a user, a tenant or a table");
      none(audit.crossTenantWrites, "rows written into another tenant");
      none(audit.strayRows, "rows nobody wrote, or seeded rows changed");
      none(audit.missingCommitted, "writes the client saw commit that are missing");
      none(audit.presentButRejected, "writes that failed but exist");
      none(audit.countMismatches, "per-tenant counts");
      none(load.missedWrites, "reads that missed a committed write");
      expect(
        { count: load.unexpected.length, first: load.unexpected.slice(0, 5).map((r) => `${r.kind} ${r.status} ${JSON.stringify(r.body).slice(0, 600)}`) },
        "answers other than the op expects",
      ).toEqual({ count: 0, first: [] });
      expect(lingering, "API backends not idle after the load").toEqual([]);
      expect(after.body.data).toEqual({ currentUser: null, currentTenant: null });
      expect(maxBackends).toBeLessThanOrEqual(POOL);
      // The semantics observed: each mutation field of a request runs in its own transaction, so a
      // later field's failure leaves an earlier field's write committed, and a failed field does not
      // stop the ones after it (GraphQL runs mutation fields in order, each resolved independently).
      expect(load.halfway.firstCommittedSecondFailed).toBeGreaterThan(0);
      expect(load.halfway.firstFailedSecondCommitted).toBeGreaterThan(0);
      expect(audit.tenantsChecked).toBe(TENANTS);
      if (!STRESS) expect(load.requests).toBe(REQUESTS);
    },
    TIME_LIMIT_MS + 120_000,
  );
});

/** Asserts that a list of findings is empty, showing the count and the first few. */
function none(findings: string[], what: string) {
  expect({ count: findings.length, first: findings.slice(0, 5) }, what).toEqual({ count: 0, first: [] });
}

function report(load: LoadResult, audit: Awaited<ReturnType<typeof auditWrites>>, maxBackends: number, samples: number) {
  const kinds = Object.entries(load.byKind)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${fmt(n)}`)
    .join(", ");
  const rate = Math.round((load.requests / load.elapsedMs) * 1000);
  console.log(
    [
      `load: ${fmt(load.requests)} requests in ${(load.elapsedMs / 1000).toFixed(1)} s (${rate}/s), seed ${SEED}: ${kinds}`,
      `  aborted by the client: ${fmt(load.aborted)}; API backends seen at once: at most ${maxBackends} (${samples} samples, pool ${POOL})`,
      `  half-way failures: first committed and second failed ${fmt(load.halfway.firstCommittedSecondFailed)} times, ` +
        `first failed and second committed ${fmt(load.halfway.firstFailedSecondCommitted)} times (each mutation field is its own transaction)`,
      `  writes: ${fmt(audit.known)} seen to commit, ${fmt(audit.unknown)} unknown (aborted), of which ${fmt(audit.unknownCommitted)} committed`,
      `  unexpected answers: ${load.unexpected.length}; reads that missed a committed write: ${load.missedWrites.length}`,
    ].join("\n"),
  );
  const foreign = load.foreignRows.length + load.anonymousLeaks.length;
  const exact = audit.countMismatches.length === 0 && audit.missingCommitted.length === 0 && audit.presentButRejected.length === 0;
  console.log(
    `isolation: ${fmt(load.requests)} requests, ${TENANTS} tenants, ${CLIENTS} clients over ${POOL} connections: ` +
      `${foreign} foreign rows, ${audit.crossTenantWrites.length} cross-tenant writes, ` +
      `counts ${exact ? "exact" : "WRONG"} (${fmt(audit.unknown)} aborted writes unknown, ${fmt(audit.unknownCommitted)} of them committed)`,
  );
}
