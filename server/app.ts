// The HTTP server: /graphql on plain Node (token verification, fair share,
// body, then PostGraphile through grafserv's Node adaptor), and the other
// endpoints (health, export, GraphiQL in development) on Express.
import express from "express";
import { createSecretKey, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import pg from "pg";
import { postgraphile } from "postgraphile";
import { grafast } from "postgraphile/grafast";
import { AuthError, makeAuthenticator, OPERATOR_TENANT_HEADER } from "./auth.ts";
import type { Config } from "../common/config.ts";
import { makeAvailability } from "./availability.ts";
import { makeCors } from "./cors.ts";
import { makeOperatorCheck, summarize } from "./operator-check.ts";
import { isUnavailable, makeMaskError, sendError, STALE_TOKEN, UNAVAILABLE } from "./errors.ts";
import { makeExportHandler } from "./export.ts";
import { makePreset } from "./preset.ts";
import { makeFairShare } from "./fair-share.ts";
import { makeRefreshCookieHandlers, REFRESH_BODY_LIMIT, REFRESH_COOKIE_PATH, type RunGraphQL } from "./refresh-cookie.ts";
import { chain, clientAddress, readBody, NodeGrafservWithBody, type ErrorHandler, type Handler, type HttpRequest, type HttpResponse } from "./http.ts";

export interface App {
  server: Server;
  /** Stops accepting connections, waits for requests in flight (up to `timeoutMs`), releases the pool. */
  close(timeoutMs?: number): Promise<void>;
}

/** The path of a request's URL, without its query string. */
function pathOf(url = "/"): string {
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}

export async function createApp(config: Config, authUrl: string, superuserUrl?: string): Promise<App> {
  // statement_timeout is a startup parameter of every connection, so a
  // runaway query ends (code TIMEOUT) whatever role the request switches to.
  const pool = new pg.Pool({
    connectionString: authUrl,
    max: config.database.poolSize,
    // Statements are written without waiting for the previous answer, so
    // that a request's transaction needs fewer round trips: begin, check,
    // settings and the first query in one write (server/request-context.ts).
    pipeline: true,
    statement_timeout: config.database.statementTimeoutMs,
    // A database-side backstop: a transaction left open by a bug (or a
    // stalled stream) is ended by PostgreSQL, and its connection with it.
    idle_in_transaction_session_timeout: config.database.idleInTransactionTimeoutMs,
    // Waiting for a free connection may take as long as the statements ahead;
    // past that, the request gets BUSY (retry).
    connectionTimeoutMillis: config.database.statementTimeoutMs + 5000,
  });

  const availability = makeAvailability(pool);
  // A client that loses its connection must not crash the process.
  pool.on("error", (error) => {
    availability.markDown();
    console.error(`[pool] idle client: ${error.message}`);
  });
  pool.on("connect", (client) => client.on("error", (error) => console.error(`[pool] client: ${error.message}`)));

  // A KeyObject, not a string: jsonwebtoken would otherwise rebuild the key on every verify.
  const jwtKey = createSecretKey(Buffer.from(config.jwt.secret, "utf8"));
  const pgSettingsFor = makeAuthenticator(config.jwt, jwtKey);
  const pgl = postgraphile(makePreset(config, pool, jwtKey, superuserUrl, availability.markDown));
  const serv = pgl.createServ((grafservConfig) => new NodeGrafservWithBody(grafservConfig));
  const graphqlHandler = serv.handler();

  const app = express();
  app.disable("x-powered-by");
  // Which proxies may tell the client's address (per-address limits and fair shares use it).
  app.set("trust proxy", config.trustProxy);
  let closing = false;
  const inFlight = new Set<HttpResponse>();

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

  const operatorMayProceed = makeOperatorCheck(pool);
  const refuseToken = (res: HttpResponse, code: string, message: string) =>
    sendError(res, 401, code, message, { "WWW-Authenticate": `Bearer error="invalid_token"` });
  /**
   * Verifies the token (headers only, before the body is read) and sets
   * req.pgSettings. Tenant users' claims are checked against the database
   * inside the request's own transaction (server/request-context.ts);
   * operators' below.
   */
  const verifyToken: Handler = (req, res, next) => {
    try {
      const operatorTenant = req.headers[OPERATOR_TENANT_HEADER];
      req.pgSettings = pgSettingsFor(req.headers.authorization, Array.isArray(operatorTenant) ? operatorTenant.join(",") : operatorTenant);
    } catch (error) {
      if (!(error instanceof AuthError)) return next(error);
      if (error.status === 403) return sendError(res, 403, error.code, error.message);
      return refuseToken(res, error.code, error.message);
    }
    next();
  };
  /** An operator's token is checked, and its access to a tenant audited (with the request's operation), before the request runs. */
  const checkOperator: Handler = async (req, res, next) => {
    const settings = req.pgSettings!;
    if (settings["jwt.claims.operator_id"] === undefined) return next();
    try {
      if (!(await operatorMayProceed(settings, () => summarize(req)))) return refuseToken(res, STALE_TOKEN.code, STALE_TOKEN.message);
    } catch (error) {
      if (!isUnavailable(error as Error)) return next(error);
      availability.markDown();
      return sendError(res, 503, UNAVAILABLE.code, UNAVAILABLE.message, { "Retry-After": "2" });
    }
    next();
  };
  const notFound = (res: HttpResponse) => sendError(res, 404, "NOT_FOUND", "There is nothing at this address.");
  // Whatever else goes wrong, the answer is JSON with a stable code.
  const lastResort: ErrorHandler = (error, _req, res) => {
    if (res.headersSent) {
      console.error("[http] failed mid-response:", (error as Error).message);
      return void res.destroy();
    }
    const status = (error as { status?: number }).status;
    if (typeof status === "number" && status >= 400 && status < 500) {
      return sendError(res, status, "BAD_REQUEST", "The request is not valid.");
    }
    const id = randomUUID();
    console.error(`[error ${id}]`, error);
    sendError(res, 500, "INTERNAL", `An internal error occurred (reference ${id}).`);
  };

  // The tenant's fair share (rate, concurrency) is decided from the token
  // alone, so that a refused request costs no body parsing. Bodies are read
  // here (grafserv uses req.body when it is set), so that a body too large
  // or not JSON is refused before GraphQL sees it.
  const bodyLimit = 100 * 1024;
  const fairShare = makeFairShare(config.fairShare, bodyLimit);
  const graphql = chain(
    [
      clientAddress(config.trustProxy),
      availability.gate,
      verifyToken,
      fairShare.graphql,
      readBody(bodyLimit),
      checkOperator,
      (req, res, next) => graphqlHandler(req, res, (error) => (error ? next(error) : notFound(res))),
    ],
    lastResort,
  );
  if (config.refreshCookie) {
    // The refresh token in an HttpOnly cookie (server/refresh-cookie.ts), through PostGraphile's own mutations, as anonymous.
    const run: RunGraphQL = async (req, res, source, variableValues) => {
      const { schema, resolvedPreset } = await pgl.getSchemaResult();
      return (await grafast({ schema, source, variableValues, resolvedPreset, requestContext: { node: { req, res } } as Partial<Grafast.RequestContext> })) as Awaited<ReturnType<RunGraphQL>>;
    };
    const cookie = makeRefreshCookieHandlers(run, makeMaskError(config.env !== "production", availability.markDown));
    const perTenantShare = fairShare.graphql;
    const body = readBody(REFRESH_BODY_LIMIT);
    app.post(`${REFRESH_COOKIE_PATH}/refresh`, availability.gate, perTenantShare, body, (req, res, next) => void cookie.refresh(req, res).catch(next));
    app.post(`${REFRESH_COOKIE_PATH}/logout`, availability.gate, perTenantShare, body, (req, res, next) => void cookie.logout(req, res).catch(next));
  }
  app.get("/export", availability.gate, verifyToken, fairShare.export, checkOperator, makeExportHandler(pool, config.database.contextMode, config.exports, availability.markDown));
  // GraphiQL (development) and its assets.
  app.use((req, res, next) => graphqlHandler(req, res, next));
  app.use((_req, res) => notFound(res));
  app.use(((error, req, res, _next) => lastResort(error, req, res)) as express.ErrorRequestHandler);

  const cors = makeCors(config.cors, config.refreshCookie);
  const server = createServer((req, res) => {
    // Once shutting down, every response closes its connection (also those in
    // flight), so that a client that keeps connections alive (a proxy) cannot
    // hold the process open.
    if (closing) res.setHeader("Connection", "close");
    inFlight.add(res);
    res.once("close", () => inFlight.delete(res));
    // CORS before everything else: preflights answered, headers on every answer (errors too).
    if (cors(req, res)) return;
    if (pathOf(req.url) === "/graphql") return graphql(req, res);
    app(req, res);
  });
  // Build the schema now rather than on the first request: a schema that
  // cannot be built (a function's smart tag at fault) stops the start.
  try {
    await pgl.getSchema();
  } catch (error) {
    await pgl.release();
    await pool.end();
    throw error;
  }

  return {
    server,
    async close(timeoutMs = 10_000) {
      closing = true;
      for (const res of inFlight) if (!res.headersSent) res.setHeader("Connection", "close");
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
