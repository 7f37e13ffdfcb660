// The HTTP server: health endpoints, token verification, and PostGraphile.
import express from "express";
import { createSecretKey } from "node:crypto";
import { createServer, type Server } from "node:http";
import pg from "pg";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/express/v4";
import { AuthError, makeAuthenticator } from "./auth.ts";
import type { Config } from "./config.ts";
import { UNAVAILABLE } from "./errors.ts";
import { makeExportHandler } from "./export.ts";
import { makePreset } from "./preset.ts";
import { limitedMutations, makeRateLimiter } from "./rate-limit.ts";
import { useSetLocal } from "./set-local.ts";

export interface App {
  server: Server;
  /** Stops accepting connections, waits for requests in flight (up to `timeoutMs`), releases the pool. */
  close(timeoutMs?: number): Promise<void>;
}

export async function createApp(config: Config, authUrl: string, superuserUrl?: string): Promise<App> {
  // statement_timeout is a startup parameter of every connection, so a
  // runaway query ends (code TIMEOUT) whatever role the request switches to.
  const pool = new pg.Pool({
    connectionString: authUrl,
    max: config.database.poolSize,
    statement_timeout: config.database.statementTimeoutMs,
    // Waiting for a free connection may take as long as the statements ahead;
    // past that, the request gets BUSY (retry).
    connectionTimeoutMillis: config.database.statementTimeoutMs + 5000,
  });

  // While the database is unreachable (restart, outage), answer 503 with a
  // retry hint instead of letting requests fail one by one; the first request
  // after it is back (one shared probe at a time) reopens the gate.
  let databaseDown = false;
  let probe: Promise<boolean> | undefined;
  const markDatabaseDown = () => {
    databaseDown = true;
  };
  const databaseUp = () =>
    (probe ??= pool
      .query("select 1")
      .then(() => true, () => false)
      .finally(() => (probe = undefined)));
  // A client that loses its connection must not crash the process.
  pool.on("error", (error) => {
    markDatabaseDown();
    console.error(`[pool] idle client: ${error.message}`);
  });
  pool.on("connect", (client) => client.on("error", (error) => console.error(`[pool] client: ${error.message}`)));
  if (config.database.contextMode === "set_local") useSetLocal(pool);

  // A KeyObject, not a string: jsonwebtoken would otherwise rebuild the key on every verify.
  const jwtKey = createSecretKey(Buffer.from(config.jwt.secret, "utf8"));
  const pgSettingsFor = makeAuthenticator(config.jwt, jwtKey);
  const pgl = postgraphile(makePreset(config, pool, jwtKey, superuserUrl, markDatabaseDown));
  const serv = pgl.createServ(grafserv);

  const app = express();
  app.disable("x-powered-by");
  // Once shutting down, every response closes its connection (also those in
  // flight), so that a client that keeps connections alive (a proxy) cannot
  // hold the process open.
  let closing = false;
  const inFlight = new Set<express.Response>();
  app.use((_req, res, next) => {
    if (closing) res.set("Connection", "close");
    inFlight.add(res);
    res.once("close", () => inFlight.delete(res));
    next();
  });

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  app.get("/readyz", async (_req, res) => {
    try {
      await pool.query("select 1");
      res.json({ status: "ready" });
    } catch {
      res.status(503).json({ status: "unavailable", reason: "database unreachable" });
    }
  });

  const available: express.RequestHandler = async (_req, res, next) => {
    if (!databaseDown || (await databaseUp())) {
      databaseDown = false;
      return next();
    }
    res
      .status(503)
      .set("Retry-After", "2")
      .json({ errors: [{ message: UNAVAILABLE.message, extensions: { code: UNAVAILABLE.code } }] });
  };

  const authenticate: express.RequestHandler = (req, res, next) => {
    try {
      req.pgSettings = pgSettingsFor(req.headers.authorization);
      next();
    } catch (error) {
      if (!(error instanceof AuthError)) return next(error);
      res
        .status(401)
        .set("WWW-Authenticate", `Bearer error="invalid_token"`)
        .json({ errors: [{ message: error.message, extensions: { code: error.code } }] });
    }
  };
  // Bodies are read here (grafserv uses req.body when it is set), so that the
  // rate limiter can see which mutations a request calls.
  const limited = new Set(Object.keys(config.rateLimits));
  const take = makeRateLimiter(config.rateLimits);
  const rateLimit: express.RequestHandler = (req, res, next) => {
    const query = typeof req.body === "string" ? req.body : req.body?.query;
    if (typeof query !== "string") return next();
    for (const mutation of limitedMutations(query, limited)) {
      const wait = take(req.ip ?? "unknown", mutation);
      if (wait) {
        return res
          .status(429)
          .set("Retry-After", String(wait))
          .json({ errors: [{ message: `Too many ${mutation} attempts; retry in ${wait} s.`, extensions: { code: "RATE_LIMITED" } }] });
      }
    }
    next();
  };
  const bodyError: express.ErrorRequestHandler = (error, _req, res, next) => {
    const status = (error as { status?: number }).status;
    if (status === 413) return res.status(413).json({ errors: [{ message: "The request body is too large.", extensions: { code: "TOO_LARGE" } }] });
    if (status === 400) return res.status(400).json({ errors: [{ message: "The request body is not valid JSON.", extensions: { code: "BAD_REQUEST" } }] });
    next(error);
  };
  const bodyLimit = "100kb";
  app.use(
    "/graphql",
    available,
    express.json({ limit: bodyLimit }),
    express.text({ type: "application/graphql", limit: bodyLimit }),
    bodyError,
    authenticate,
    rateLimit,
  );
  app.get("/export", available, authenticate, makeExportHandler(pool, markDatabaseDown));

  const server = createServer(app);
  await serv.addTo(app, server);
  // Warm the schema up now rather than on the first request.
  await pgl.getSchema();

  return {
    server,
    async close(timeoutMs = 10_000) {
      closing = true;
      for (const res of inFlight) if (!res.headersSent) res.set("Connection", "close");
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
      await closed;
      clearTimeout(timer);
      await pgl.release();
      // In watch mode (development) PostGraphile keeps a LISTEN client from
      // this pool after release, and pool.end() would wait for it forever.
      await Promise.race([pool.end(), new Promise((r) => setTimeout(r, 2000).unref())]);
    },
  };
}
