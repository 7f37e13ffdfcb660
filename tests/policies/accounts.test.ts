// The policy spec of forgot_password, reset_password, send_verification_email, verify_email,
// users.email_verified_at and the job queue: the cases are in ./accounts.cases.ts
// (data the coverage test reads too), run here as the real request roles.
import { beforeAll } from "vitest";
import { withClient } from "../../db/setup.ts";
import { policyMatrix } from "../helpers/policy.ts";
import { cases } from "./accounts.cases.ts";
import { tokens } from "./accounts.cases.ts";
import { policySpec } from "./setup.ts";

const spec = policySpec();

// Tokens of A's member, as forgot_password's worker and send_verification_email issue them.
beforeAll(async () => {
  const w = spec.world();
  await withClient(spec.db().ownerUrl, async (client) => {
    await client.query("begin");
    await client.query("select set_config('jwt.claims.tenant_id', $1, true)", [w.tenants.A.id]);
    const issue = async (purpose: string, validFor: string) =>
      (await client.query<{ t: string }>("select app_private.new_account_token($1, $2, $3, $4, $5::interval) as t", [w.tenants.A.id, w.memberA.id, w.memberA.email, purpose, validFor])).rows[0].t;
    tokens.reset = await issue("password_reset", "1 hour");
    tokens.expiredReset = await issue("password_reset", "-1 minute");
    tokens.usedReset = await issue("password_reset", "1 hour");
    tokens.verification = await issue("email_verification", "24 hours");
    tokens.expiredVerification = await issue("email_verification", "-1 minute");
    await client.query("update app_private.account_tokens set used_at = now() where token_hash = app_private.token_hash($1)", [tokens.usedReset]);
    await client.query("commit");
  });
});

policyMatrix("forgot_password, reset_password, send_verification_email, verify_email, users.email_verified_at, graphile_worker", spec.context, cases);
