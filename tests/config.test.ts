// Configuration: defaults, validation, and secrets kept in DATA_DIR.
import { mkdtempSync, readFileSync, statSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../common/config.ts";

const tempDir = () => mkdtempSync(join(tmpdir(), "mts-config-"));

describe("configuration", () => {
  it("defaults to development, the embedded database, 127.0.0.1:3000 and demo data", () => {
    const dataDir = tempDir();
    const config = loadConfig({ DATA_DIR: dataDir });
    expect(config).toMatchObject({
      env: "development",
      host: "127.0.0.1",
      port: 3000,
      dataDir,
      demoData: true,
      graphiql: true,
      database: { mode: "embedded", name: "multi_tenant_saas", poolSize: 10 },
      jwt: { audience: "multi-tenant-saas", issuer: "multi-tenant-saas", expiresInSeconds: 900 },
    });
  });

  it("generates a JWT secret and role passwords once, keeps them in DATA_DIR (mode 600), and reuses them", () => {
    const dataDir = tempDir();
    const first = loadConfig({ DATA_DIR: dataDir });
    const second = loadConfig({ DATA_DIR: dataDir });
    expect(first.jwt.secret.length).toBeGreaterThanOrEqual(32);
    expect(second.jwt.secret).toBe(first.jwt.secret);
    expect(second.database.ownerPassword).toBe(first.database.ownerPassword);
    const file = join(dataDir, "secrets.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8")).jwtSecret).toBe(first.jwt.secret);
  });

  it("JWT_SECRET from the environment wins and is never written to disk", () => {
    const dataDir = tempDir();
    const secret = "s".repeat(40);
    const config = loadConfig({ DATA_DIR: dataDir, JWT_SECRET: secret, DATABASE_URL: "postgres://o@h/d", AUTH_DATABASE_URL: "postgres://a@h/d" });
    expect(config.jwt.secret).toBe(secret);
    expect(existsSync(join(dataDir, "secrets.json"))).toBe(false);
  });

  it("picks the database mode from ROOT_DATABASE_URL, then DATABASE_URL", () => {
    expect(loadConfig({ DATA_DIR: tempDir(), ROOT_DATABASE_URL: "postgres://root@h/postgres" }).database.mode).toBe("root");
    expect(
      loadConfig({ DATA_DIR: tempDir(), DATABASE_URL: "postgres://o@h/d", AUTH_DATABASE_URL: "postgres://a@h/d" }).database.mode,
    ).toBe("url");
  });

  it.each([
    [{ NODE_ENV: "production" }, /JWT_SECRET is required in production/],
    [{ JWT_SECRET: "too-short" }, /JWT_SECRET must be at least 32 characters/],
    [{ DATABASE_URL: "postgres://o@h/d" }, /AUTH_DATABASE_URL .* is required with DATABASE_URL/],
    [{ DATABASE_URL: "mysql://o@h/d", AUTH_DATABASE_URL: "postgres://a@h/d" }, /DATABASE_URL must be a postgres:\/\/ URL/],
    [{ PORT: "eighty" }, /PORT must be a port number/],
    [{ DATABASE_NAME: "Robert'); drop table" }, /DATABASE_NAME must be a lowercase identifier/],
    [{ DEMO_DATA: "maybe" }, /DEMO_DATA must be true or false/],
    [{ SMTP_URL: "http://mail.example.test" }, /SMTP_URL must be a smtp:\/\/ or smtps:\/\/ URL/],
    [{ PUBLIC_URL: "app.example.test" }, /PUBLIC_URL must be a http:\/\/ or https:\/\/ URL/],
    [{ WORKER: "sometimes" }, /WORKER must be inline or off/],
    [{ AUDIT_RETENTION: "a while" }, /AUDIT_RETENTION must be an interval/],
    [{ AUDIT_RETENTION: "0 days" }, /AUDIT_RETENTION must be an interval/],
  ])("refuses %o with a clear message", (env, message) => {
    expect(() => loadConfig({ DATA_DIR: tempDir(), ...env })).toThrow(message);
    expect(() => loadConfig({ DATA_DIR: tempDir(), ...env })).toThrow(ConfigError);
  });

  it("in production, demo data and GraphiQL are off unless asked for", () => {
    const config = loadConfig({ NODE_ENV: "production", JWT_SECRET: "p".repeat(32), DATA_DIR: tempDir() });
    expect(config).toMatchObject({ isProduction: true, demoData: false, graphiql: false });
  });

  it("email and the worker: links from PUBLIC_URL, the outbox folder without SMTP_URL, the worker inline, audit kept forever", () => {
    const dataDir = tempDir();
    const config = loadConfig({ DATA_DIR: dataDir });
    expect(config.mail).toEqual({ smtpUrl: undefined, from: expect.any(String), publicUrl: "http://127.0.0.1:3000", outboxDir: join(dataDir, "emails") });
    expect(config.worker).toEqual({ mode: "inline", concurrency: 2, auditRetention: undefined });
    const set = loadConfig({ DATA_DIR: dataDir, SMTP_URL: "smtp://u:p@mail.example.test:587", PUBLIC_URL: "https://app.example.test/", WORKER: "off", AUDIT_RETENTION: "1 year 6 months" });
    expect(set.mail).toMatchObject({ smtpUrl: "smtp://u:p@mail.example.test:587", publicUrl: "https://app.example.test" });
    expect(set.worker).toMatchObject({ mode: "off", auditRetention: "1 year 6 months" });
    expect(set.rateLimits).toMatchObject({ forgotPassword: 10, verificationEmail: 10, accountToken: 30 });
  });

  it("in production, a process that runs the worker needs SMTP_URL and PUBLIC_URL; one that does not, neither", () => {
    const prod = { NODE_ENV: "production", JWT_SECRET: "p".repeat(32), DATA_DIR: tempDir() };
    for (const worker of ["inline", "alone"] as const) {
      expect(() => loadConfig(prod, { worker })).toThrow(/SMTP_URL is required in production/);
      expect(() => loadConfig(prod, { worker })).toThrow(/PUBLIC_URL is required in production/);
      expect(loadConfig({ ...prod, SMTP_URL: "smtp://mail.example.test", PUBLIC_URL: "https://app.example.test" }, { worker }).mail.smtpUrl).toBe("smtp://mail.example.test");
    }
    // npm start with WORKER=off, and every other command (migrations, CLIs, the tests' API), send no email.
    expect(loadConfig({ ...prod, WORKER: "off" }, { worker: "inline" }).worker.mode).toBe("off");
    expect(() => loadConfig({ ...prod, WORKER: "off" }, { worker: "alone" })).toThrow(/SMTP_URL is required/);
    expect(loadConfig(prod).isProduction).toBe(true);
  });
});
