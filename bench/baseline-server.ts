// Child process: the hand-written baseline. Express + pg + jsonwebtoken,
// verifying the same JWT (secret, HS256, audience, issuer) and running the
// same transaction as PostGraphile (begin; the settings statement; the
// list; commit), with the response JSON built in the database.
import express from "express";
import jwt from "jsonwebtoken";
import { createSecretKey } from "node:crypto";
import { createServer } from "node:http";
import pg from "pg";
import { loadConfig, REQUEST_ROLE_BY_CLAIM } from "../server/config.ts";
import { LIST_JSON_SQL, PGSETTINGS_STATEMENT } from "./list-request.ts";
import { serveInChild } from "./server-process.ts";

const config = loadConfig({ ...process.env });
const pool = new pg.Pool({ connectionString: config.database.authUrl, max: config.database.poolSize });
const key = createSecretKey(Buffer.from(config.jwt.secret, "utf8"));
const verifyOptions = { algorithms: ["HS256" as const], audience: config.jwt.audience, issuer: config.jwt.issuer };

function settingsFor(authorization: string | undefined): string | undefined {
  const token = authorization?.startsWith("Bearer ") ? authorization.slice(7) : undefined;
  if (!token) return undefined;
  try {
    const claims = jwt.verify(token, key, verifyOptions) as jwt.JwtPayload;
    const role = REQUEST_ROLE_BY_CLAIM[claims.role];
    if (!role || typeof claims.tenant_id !== "string" || typeof claims.user_id !== "string") return undefined;
    return JSON.stringify([
      ["role", role],
      ["jwt.claims.tenant_id", claims.tenant_id],
      ["jwt.claims.user_id", claims.user_id],
      ["jwt.claims.role", claims.role],
    ]);
  } catch {
    return undefined;
  }
}

const app = express();
app.disable("x-powered-by");
app.post("/graphql", express.json(), async (req, res) => {
  const settings = settingsFor(req.headers.authorization);
  if (!settings) {
    res.status(401).json({ errors: [{ message: "The token is not valid.", extensions: { code: "INVALID_TOKEN" } }] });
    return;
  }
  const client = await pool.connect();
  try {
    await client.query("begin");
    await client.query(PGSETTINGS_STATEMENT, [settings]);
    const { rows } = await client.query<{ body: string }>({ name: "list", text: LIST_JSON_SQL });
    await client.query("commit");
    res.type("application/json").send(rows[0].body);
  } catch (error) {
    await client.query("rollback").catch(() => {});
    res.status(500).json({ errors: [{ message: String(error) }] });
  } finally {
    client.release();
  }
});

await serveInChild(createServer(app), async () => {
  await pool.end();
});
