// `npm start` as a newcomer runs it: a real process, from an empty DATA_DIR
// to a running API with demo data, the banner's curl pasted into a shell,
// a clean stop on SIGTERM, a restart that keeps the data, and recovery after
// the process was killed. Against the embedded server by default; with
// TEST_DATABASE_URL, through ROOT_DATABASE_URL on that server.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, inject, it } from "vitest";
import { ROOT_DIR } from "../db/migrate.ts";
import { dropDatabase } from "../db/setup.ts";
import { createTestDatabase } from "./helpers/database.ts";

const server = inject("testServer");
const dataDir = mkdtempSync(join(tmpdir(), "mts-start-"));
const databaseName = `mts_start_${randomBytes(4).toString("hex")}`;
const children = new Set<ChildProcess>();

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  if (!server.embedded) await dropDatabase(server.rootUrl, databaseName);
  rmSync(dataDir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  output: () => string;
  url: string;
}

/** Runs `node bin/start.ts` as `npm start` does and waits for its banner. */
async function start(env: Record<string, string> = {}): Promise<Started> {
  const modeEnv: Record<string, string> = server.embedded
    ? {}
    : { ROOT_DATABASE_URL: server.rootUrl, DATABASE_NAME: databaseName };
  const child = spawn(process.execPath, [join(ROOT_DIR, "bin/start.ts")], {
    cwd: ROOT_DIR,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, PORT: "0", ...modeEnv, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after 60 s:\n${output}`)), 60_000);
    const check = () => {
      if (/ready in \d+ ms/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", check);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before it was ready:\n${output}`));
    });
  });
  const url = /GraphQL\s+(http:\/\/\S+)\/graphql/.exec(output)![1];
  return { child, output: () => output, url };
}

function stop(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  return new Promise((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.kill(signal);
  });
}

/** The curl pipeline printed under "Log in and run a query:", run by bash exactly as printed. */
async function runBannerCurl(output: string) {
  const lines = output.split("\n");
  const at = lines.findIndex((l) => l.startsWith("Log in and run a query:"));
  const command = lines.slice(at + 1, at + 3).join("\n");
  const { stdout } = await promisify(execFile)("bash", ["-c", command]);
  return JSON.parse(stdout);
}

describe("npm start", () => {
  let first: Started;

  it("boots from an empty DATA_DIR, loads demo data and prints everything a newcomer needs", async () => {
    first = await start();
    const out = first.output();
    expect(out).toMatch(/GraphiQL\s+http:\/\/127\.0\.0\.1:\d+\/graphiql/);
    expect(out).toContain("Demo data loaded:");
    expect(out).toContain("tenant acme: alice@acme.test (admin), bob@acme.test (member)");
    expect(out).toContain("password for every demo account: demo-password");
  });

  it("the printed curl logs in and sees only its own tenant's rows", async () => {
    const result = await runBannerCurl(first.output());
    expect(result.errors).toBeUndefined();
    expect(result.data.currentTenant).toEqual({ name: "Acme Corporation" });
    expect(result.data.users.nodes.map((u: { email: string }) => u.email).sort()).toEqual(["alice@acme.test", "bob@acme.test"]);
    expect(result.data.tasks.nodes).toHaveLength(3);
    expect(result.data.tasks.nodes).toContainEqual({ title: "Write the copy", status: "TODO", assignee: { name: "Bob" } });
  });

  it("runs the worker in its process: without SMTP_URL, a reset email goes to DATA_DIR/emails/ and its link is printed", async () => {
    expect(first.output()).toMatch(/Worker\s+running in this process; emails go to /);
    const res = await fetch(`${first.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: 'mutation { forgotPassword(input: {tenantSlug: "acme", email: "bob@acme.test"}) { result } }' }),
    });
    expect(await res.json()).toEqual({ data: { forgotPassword: { result: true } } });
    await expect.poll(() => /\[mail\]\s+http:\/\/127\.0\.0\.1:\d+\/reset-password\?token=/.test(first.output()), { timeout: 10_000 }).toBe(true);
    const files = readdirSync(join(dataDir, "emails"));
    expect(files).toEqual([expect.stringMatching(/-bob@acme\.test\.eml$/)]);
  });

  it("stops cleanly on SIGTERM, with its database server", async () => {
    expect(await stop(first.child)).toBe(0);
    if (server.embedded) expect(existsSync(join(dataDir, "postgres", "postmaster.pid"))).toBe(false);
  });

  it("restarts on the same DATA_DIR without loading the demo data again", async () => {
    const again = await start();
    expect(again.output()).toContain("Demo data (loaded on first start):");
    const result = await runBannerCurl(again.output());
    expect(result.data.users.nodes).toHaveLength(2);
    expect(await stop(again.child)).toBe(0);
  });

  it.runIf(server.embedded)("recovers when the previous process was killed and left postgres running", async () => {
    const killed = await start();
    await stop(killed.child, "SIGKILL");
    const pidFile = join(dataDir, "postgres", "postmaster.pid");
    expect(existsSync(pidFile)).toBe(true); // the orphan is still there
    const orphan = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
    const recovered = await start();
    expect(recovered.output()).toContain(`stopping PostgreSQL (pid ${orphan}) left running by a previous process`);
    expect((await runBannerCurl(recovered.output())).data.users.nodes).toHaveLength(2);
    expect(await stop(recovered.child)).toBe(0);
  });
});

describe("npm start with DATABASE_URL and AUTH_DATABASE_URL (roles and database exist)", () => {
  it("applies migrations and serves, without creating roles or demo data", async () => {
    const db = await createTestDatabase();
    const started = await start({ DATABASE_URL: db.ownerUrl, AUTH_DATABASE_URL: db.authUrl, ROOT_DATABASE_URL: "" });
    expect(started.output()).toContain("database: url");
    expect(started.output()).not.toContain("Demo data loaded:");
    const ready = await fetch(`${started.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await stop(started.child)).toBe(0);
  });
});
