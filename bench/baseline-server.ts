// Child process: the hand-written baseline. Express + pg + jsonwebtoken,
// verifying the same JWT (secret, HS256, audience, issuer, the claims of a
// tenant user including session_id) and running the same transaction as the
// API's list request (`begin read only`; the settings statement; the list;
// commit), with the response JSON built in the database. It sends them one
// after another, as hand-written code usually does (the API pipelines them:
// server/request-context.ts).
//
// With BASELINE_REVOCATION_CHECK=on (the default) it gives the same
// guarantee as the API, the same way: its opening statements are the API's
// own, from openingStatements (server/request-context.ts) with the same
// settings, so app_private.assert_claims_current runs before the settings,
// in the same statement, and raises 28000 (→ 401) when the session, user,
// tenant or role no longer hold. With BASELINE_REVOCATION_CHECK=off it sends
// @dataplan/pg's plain settings statement instead: the variant that
// measures what the check costs.
import express from "express";
import jwt from "jsonwebtoken";
import { createSecretKey } from "node:crypto";
import { createServer } from "node:http";
import pg from "pg";
import { loadConfig } from "../common/config.ts";
import { REQUEST_ROLE_BY_CLAIM } from "../common/roles.ts";
import { openingStatements, READ_ONLY_SETTING } from "../server/request-context.ts";
import { LIST_JSON_SQL, PGSETTINGS_STATEMENT } from "./list-request.ts";
import { serveInChild } from "./server-process.ts";

const config = loadConfig({ ...process.env });
const revocationCheck = (process.env.BASELINE_REVOCATION_CHECK ?? "on") !== "off";
const pool = new pg.Pool({ connectionString: config.database.authUrl, max: config.database.poolSize });
const key = createSecretKey(Buffer.from(config.jwt.secret, "utf8"));
const verifyOptions = { algorithms: ["HS256" as const], audience: config.jwt.audience, issuer: config.jwt.issuer };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isUuid = (v: unknown): v is string => typeof v === "string" && UUID.test(v);

interface Claims {
  userId: string;
  tenantId: string;
  role: string;
  sessionId: string;
  /** The settings, as the API's authenticator makes them. */
  settings: Record<string, string>;
}

function claimsFor(authorization: string | undefined): Claims | undefined {
  const token = authorization?.startsWith("Bearer ") ? authorization.slice(7) : undefined;
  if (!token) return undefined;
  try {
    const claims = jwt.verify(token, key, verifyOptions) as jwt.JwtPayload;
    const { role, user_id: userId, tenant_id: tenantId, session_id: sessionId } = claims;
    const dbRole = typeof role === "string" ? REQUEST_ROLE_BY_CLAIM[role] : undefined;
    if (!dbRole || !isUuid(userId) || claims.sub !== userId || !isUuid(tenantId) || !isUuid(sessionId) || claims.operator_id != null) {
      return undefined;
    }
    return {
      userId,
      tenantId,
      role,
      sessionId,
      settings: {
        role: dbRole,
        "jwt.claims.tenant_id": tenantId,
        "jwt.claims.user_id": userId,
        "jwt.claims.role": role,
        "jwt.claims.session_id": sessionId,
      },
    };
  } catch {
    return undefined;
  }
}

/** The statements that open the transaction: the API's (a query: read-only), or without the check. */
const opening = (claims: Claims) =>
  revocationCheck
    ? openingStatements(config.database.contextMode, { ...claims.settings, [READ_ONLY_SETTING]: "on" }, {}, pg.escapeLiteral).statements
    : ["begin read only", { name: "settings", text: PGSETTINGS_STATEMENT, values: [JSON.stringify(Object.entries(claims.settings))] }];

const app = express();
app.disable("x-powered-by");
app.post("/graphql", express.json(), async (req, res) => {
  const claims = claimsFor(req.headers.authorization);
  if (!claims) {
    res.status(401).json({ errors: [{ message: "The token is not valid.", extensions: { code: "INVALID_TOKEN" } }] });
    return;
  }
  const client = await pool.connect();
  try {
    for (const statement of opening(claims)) await client.query(statement);
    const { rows } = await client.query<{ body: string }>({ name: "list", text: LIST_JSON_SQL });
    await client.query("commit");
    res.type("application/json").send(rows[0].body);
  } catch (error) {
    await client.query("rollback").catch(() => {});
    if ((error as { code?: string }).code === "28000") {
      res.status(401).json({ errors: [{ message: "The token no longer matches its account or session.", extensions: { code: "INVALID_TOKEN" } }] });
      return;
    }
    res.status(500).json({ errors: [{ message: String(error) }] });
  } finally {
    client.release();
  }
});

await serveInChild(createServer(app), async () => {
  await pool.end();
});
