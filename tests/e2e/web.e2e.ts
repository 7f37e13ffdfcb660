// The example app (examples/web) in a real browser: Debian's Chromium driven
// by playwright-core, against the API as `npm start` runs it (bin/start.ts,
// in production mode, on a fresh database of this file) on one origin, and
// the built app served by `vite preview` on another (CORS_ORIGINS). The API
// enforces the app's trusted documents and issues short-lived access tokens,
// so the flows below also cross several transparent refreshes. Its worker
// delivers emails to a real SMTP server of this file: the invited member
// follows the link in the invitation email. A second build of the app, on a
// third origin, keeps the refresh token in the API's HttpOnly cookie
// (VITE_REFRESH_COOKIE=true, REFRESH_COOKIE=1).
//
// Every test fails on a console error or an uncaught exception in any page.
// Screenshots of each main screen go to $E2E_ARTIFACTS (default
// /tmp/e2e-artifacts).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page, type Request } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ROOT_DIR } from "../../db/migrate.ts";
import { createTestDatabase } from "../helpers/database.ts";
import { startSmtpSink, type SmtpSink } from "../helpers/smtp.ts";

const WEB_DIR = join(ROOT_DIR, "examples/web");
const TRUSTED_DOCUMENTS = join(WEB_DIR, "src/gql/persisted-documents.json");
const ARTIFACTS = process.env.E2E_ARTIFACTS || "/tmp/e2e-artifacts";
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
/** Access tokens live this long; the app refreshes 5 s before expiry. */
const JWT_EXPIRES_IN = 10;
const PASSWORD = "correct-horse-battery";
/** The API's codes for a used invitation and a refresh token of an ended session (generated/ERRORS.md). */
const INVALID_INVITATION = "INVALID_INVITATION";
const INVALID_REFRESH_TOKEN = "INVALID_REFRESH_TOKEN";
/** A wrong password at login. */
const INVALID_CREDENTIALS = "INVALID_CREDENTIALS";

const children: ChildProcess[] = [];
const temporary: string[] = [];
let apiUrl = "";
let webUrl = "";
/** The same app built with VITE_REFRESH_COOKIE=true. */
let cookieWebUrl = "";
let browser: Browser;
/** The SMTP server the API's worker delivers to. */
let smtp: SmtpSink;
/** Console errors and uncaught exceptions of every page, cleared after each test. */
let pageErrors: string[] = [];
/** Every GraphQL request the pages sent: its operation name and its HTTP status. */
const calls: { page: Page; operation: string; status: number }[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs a process on Node 24 (this process's node) and resolves once its output matches `ready`. */
function run(args: string[], options: { cwd: string; env: Record<string, string | undefined>; ready: RegExp; what: string }): Promise<string> {
  const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${options.what}: not ready after 90 s:\n${output}`)), 90_000);
    const onData = (chunk: Buffer) => {
      output += chunk;
      if (options.ready.test(output)) {
        clearTimeout(timer);
        resolve(output);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (!options.ready.test(output)) reject(new Error(`${options.what} exited with ${code}:\n${output}`));
    });
  });
}

/** The persisted document id of an operation, by name (the client sends only ids). */
function documentId(operation: string): string {
  const documents = JSON.parse(readFileSync(TRUSTED_DOCUMENTS, "utf8")) as Record<string, string>;
  const id = Object.keys(documents).find((key) => new RegExp(`^(query|mutation) ${operation}\\b`).test(documents[key]));
  if (!id) throw new Error(`no trusted document for ${operation}`);
  return id;
}

/** A fresh browser context (its own storage: another person, or another browser). */
async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 900, height: 800 } });
  context.on("page", watch);
  return context;
}

function watch(page: Page) {
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(`console: ${message.text()} (${page.url()})`);
  });
  page.on("pageerror", (error) => pageErrors.push(`uncaught: ${error.message} (${page.url()})`));
  page.on("requestfinished", (request) => void record(page, request));
  page.on("requestfailed", (request) => void record(page, request));
}

async function record(page: Page, request: Request) {
  if (!request.url().startsWith(apiUrl) || request.method() !== "POST") return;
  const path = new URL(request.url()).pathname;
  const body = request.postDataJSON() as { operationName?: string } | null;
  const response = await request.response();
  calls.push({ page, operation: path === "/graphql" ? (body?.operationName ?? "?") : path, status: response?.status() ?? 0 });
}

async function openApp(context: BrowserContext, hash = "#/login", origin = webUrl): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${origin}/${hash}`);
  return page;
}

async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Fails with the error the app shows, if it shows one. */
async function noErrorShown(page: Page) {
  const error = page.getByTestId("error");
  expect(await error.isVisible() ? await error.textContent() : "").toBe("");
}

async function fill(page: Page, form: string, values: Record<string, string>) {
  const scope = page.getByTestId(form);
  for (const [name, value] of Object.entries(values)) {
    const input = scope.locator(`[name="${name}"]`);
    if ((await input.evaluate((e) => e.tagName)) === "SELECT") await input.selectOption(value);
    else await input.fill(value);
  }
  await scope.locator('button[type="submit"]').click();
}

const titles = (page: Page) => page.getByTestId("task-title").allTextContents();
const summary = (page: Page) => page.getByTestId("task-summary").textContent();

async function signUp(page: Page, slug: string, name: string, email: string, origin = webUrl) {
  await page.goto(`${origin}/#/signup`);
  await page.getByTestId("signup-screen").waitFor();
  await fill(page, "signup-form", { name, slug, email, password: PASSWORD });
  await page.getByTestId("tasks-screen").waitFor();
  await expect.poll(() => page.getByTestId("who").textContent()).toBe(`${email} · ${name}`);
}

async function addTask(page: Page, title: string) {
  const before = await summary(page);
  await fill(page, "new-task-form", { title });
  await expect.poll(() => summary(page)).not.toBe(before);
  await noErrorShown(page);
}

/** Waits until the page's stored access token has expired. */
async function waitForExpiredToken(page: Page) {
  const exp = await page.evaluate(() => {
    const { accessToken } = JSON.parse(localStorage.getItem("mts.session")!);
    return JSON.parse(atob(accessToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).exp as number;
  });
  const wait = exp * 1000 - Date.now() + 500;
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

const slugA = `e2e-a-${randomBytes(3).toString("hex")}`;
const slugB = `e2e-b-${randomBytes(3).toString("hex")}`;
const adminA = `admin@${slugA}.test`;
const memberA = `member@${slugA}.test`;
const adminB = `admin@${slugB}.test`;
const slugC = `e2e-c-${randomBytes(3).toString("hex")}`;
const adminC = `admin@${slugC}.test`;
const slugD = `e2e-d-${randomBytes(3).toString("hex")}`;
const adminD = `admin@${slugD}.test`;
const slugE = `e2e-e-${randomBytes(3).toString("hex")}`;
const adminE = `admin@${slugE}.test`;

/** The first email to `to` whose link opens `path` of the app (the API's worker sends it after the request). */
async function emailedLink(to: string, path: string): Promise<string> {
  const matches = () => smtp.to(to).filter((m) => m.link?.startsWith(`${webUrl}/${path}?token=`));
  await smtp.waitFor(() => matches().length > 0);
  return matches()[0].link!;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  if (!existsSync(join(WEB_DIR, "node_modules/.bin/vite"))) throw new Error("examples/web has no node_modules: npm ci --prefix examples/web");
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });

  const db = await createTestDatabase();
  smtp = await startSmtpSink();
  const webPort = await freePort();
  const cookieWebPort = await freePort();
  webUrl = `http://127.0.0.1:${webPort}`;
  cookieWebUrl = `http://127.0.0.1:${cookieWebPort}`;
  const dataDir = mkdtempSync(join(tmpdir(), "mts-e2e-"));
  temporary.push(dataDir);
  // The API as `npm start` runs it, in production mode, on the file's database.
  const apiOutput = await run([join(ROOT_DIR, "bin/start.ts")], {
    what: "bin/start.ts",
    cwd: ROOT_DIR,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: "production",
      JWT_SECRET: randomBytes(32).toString("hex"),
      DATABASE_URL: db.ownerUrl,
      AUTH_DATABASE_URL: db.authUrl,
      DATA_DIR: dataDir,
      HOST: "127.0.0.1",
      PORT: "0",
      JWT_EXPIRES_IN: String(JWT_EXPIRES_IN),
      TRUSTED_DOCUMENTS,
      CORS_ORIGINS: `${webUrl},${cookieWebUrl}`,
      REFRESH_COOKIE: "1",
      // The worker runs inline and sends the invitation emails, whose links open the app.
      SMTP_URL: smtp.url,
      PUBLIC_URL: webUrl,
    },
    ready: /ready in \d+ ms/,
  });
  apiUrl = /GraphQL\s+(http:\/\/\S+)\/graphql/.exec(apiOutput)![1];

  // The app, built against that API, served from its own origin; and again in cookie mode.
  const vite = join(WEB_DIR, "node_modules/vite/bin/vite.js");
  for (const [port, cookie] of [[webPort, false], [cookieWebPort, true]] as const) {
    const dist = mkdtempSync(join(tmpdir(), "mts-e2e-web-"));
    temporary.push(dist);
    const viteEnv = { PATH: process.env.PATH, HOME: process.env.HOME, VITE_API_URL: `${apiUrl}/graphql`, VITE_REFRESH_COOKIE: String(cookie) };
    await run([vite, "build", "--outDir", dist, "--emptyOutDir"], { what: "vite build", cwd: WEB_DIR, env: viteEnv, ready: /built in/ });
    await run([vite, "preview", "--outDir", dist, "--port", String(port), "--strictPort"], {
      what: "vite preview",
      cwd: WEB_DIR,
      env: viteEnv,
      ready: new RegExp(`127\\.0\\.0\\.1:${port}`),
    });
  }

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

afterEach(() => {
  const errors = pageErrors;
  pageErrors = [];
  expect(errors).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  for (const child of children.reverse()) {
    if (child.exitCode !== null) continue;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null) child.kill("SIGKILL");
  }
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});

describe("the example app in Chromium", () => {
  let alice: BrowserContext;
  let page: Page;

  it("serves the app and the API on different origins", () => {
    expect(new URL(webUrl).origin).not.toBe(new URL(apiUrl).origin);
  });

  it("signs up a tenant", async () => {
    alice = await newContext();
    page = await openApp(alice, "#/signup");
    await page.getByTestId("signup-screen").waitFor();
    await screenshot(page, "01-signup");
    await signUp(page, slugA, "Tenant A", adminA);
    await expect.poll(() => summary(page)).toBe("No tasks yet.");
    await noErrorShown(page);
  });

  it("creates a project and tasks, and pages through them with cursors", async () => {
    await page.getByTestId("no-project").waitFor();
    await fill(page, "new-project-form", { name: "Launch" });
    await page.getByTestId("new-task-form").locator('select[name="projectId"]').waitFor();
    for (let i = 1; i <= 7; i++) await addTask(page, `A task ${i}`);
    // Newest first, five to a page.
    await expect.poll(() => summary(page)).toBe("Tasks 1–5 of 7");
    expect(await titles(page)).toEqual(["A task 7", "A task 6", "A task 5", "A task 4", "A task 3"]);
    expect(await page.getByTestId("previous-page").isDisabled()).toBe(true);
    await screenshot(page, "02-tasks");

    await page.getByTestId("next-page").click();
    await expect.poll(() => summary(page)).toBe("Tasks 6–7 of 7");
    expect(await titles(page)).toEqual(["A task 2", "A task 1"]);
    expect(await page.getByTestId("next-page").isDisabled()).toBe(true);

    await page.getByTestId("previous-page").click();
    await expect.poll(() => summary(page)).toBe("Tasks 1–5 of 7");
    expect(await titles(page)).toEqual(["A task 7", "A task 6", "A task 5", "A task 4", "A task 3"]);
    await noErrorShown(page);
  });

  it("edits a task", async () => {
    const first = page.getByTestId("task").first();
    await first.getByTestId("edit-task").click();
    await page.getByTestId("edit-task-form").waitFor();
    await screenshot(page, "03-edit-task");
    await fill(page, "edit-task-form", { title: "A task 7, edited", status: "DONE" });
    await expect.poll(() => page.getByTestId("task-title").first().textContent()).toBe("A task 7, edited");
    expect(await page.getByTestId("task-status").first().textContent()).toBe("Done");
    // Read back from the API: a reload shows what the database holds.
    await page.reload();
    await expect.poll(() => titles(page)).toContain("A task 7, edited");
    await noErrorShown(page);
  });

  it("invites a member, who accepts in a second browser context", async () => {
    await page.getByRole("link", { name: "Members" }).click();
    await page.getByTestId("members-screen").waitFor();
    await expect.poll(() => page.getByTestId("member").count()).toBe(1);
    await fill(page, "invite-form", { email: memberA, role: "MEMBER" });
    const shown = await page.getByTestId("invitation-link").inputValue();
    expect(shown).toMatch(new RegExp(`^${webUrl}/accept-invitation\\?token=.+`));
    await screenshot(page, "04-members-invite");
    // The same link arrives by email (the API's worker, a real SMTP server).
    const [email] = await smtp.waitFor((received) => received.some((m) => m.to === memberA)).then(() => smtp.to(memberA));
    expect(email.link).toBe(shown);
    const token = new URL(shown).searchParams.get("token")!;

    const bob = await newContext();
    const bobPage = await bob.newPage();
    await bobPage.goto(email.link!);
    await bobPage.getByTestId("accept-screen").waitFor();
    expect(await bobPage.getByTestId("accept-form").locator('[name="token"]').inputValue()).toBe(token);
    // The token left the address bar.
    expect(new URL(bobPage.url()).search).toBe("");
    await screenshot(bobPage, "05-accept-invitation");
    await fill(bobPage, "accept-form", { name: "Bob", password: PASSWORD });
    await bobPage.getByTestId("tasks-screen").waitFor();
    await expect.poll(() => bobPage.getByTestId("who").textContent()).toBe(`${memberA} · Tenant A`);
    await expect.poll(() => summary(bobPage)).toBe("Tasks 1–5 of 7");
    await noErrorShown(bobPage);

    // The same invitation works once.
    const again = await bob.newPage();
    await again.goto(`${webUrl}/#/accept?token=${encodeURIComponent(token)}`);
    await again.evaluate(() => localStorage.clear());
    await again.reload();
    await again.getByTestId("accept-screen").waitFor();
    await fill(again, "accept-form", { name: "Mallory", password: PASSWORD });
    await expect.poll(() => again.getByTestId("error").textContent()).toMatch(new RegExp(`^${INVALID_INVITATION}: `));
    await bob.close();

    await page.reload();
    // (sorted here: the order of names depends on the database's collation)
    await expect.poll(async () => (await page.getByTestId("member").allTextContents()).sort()).toEqual([`Bob <${memberA}> Member verified`, `admin <${adminA}> Admin not verified`]);
  });

  it("shows another tenant none of the first tenant's data", async () => {
    const carol = await newContext();
    const other = await carol.newPage();
    await signUp(other, slugB, "Tenant B", adminB);
    await expect.poll(() => summary(other)).toBe("No tasks yet.");
    await other.getByTestId("no-project").waitFor();
    await fill(other, "new-project-form", { name: "B project" });
    await other.getByTestId("new-task-form").locator('select[name="projectId"]').waitFor();
    await addTask(other, "B task");
    await expect.poll(() => summary(other)).toBe("Tasks 1–1 of 1");
    expect(await titles(other)).toEqual(["B task"]);
    expect(await other.getByTestId("new-task-form").locator('select[name="projectId"] option').allTextContents()).toEqual(["B project"]);
    await screenshot(other, "06-other-tenant");
    await other.getByRole("link", { name: "Members" }).click();
    await expect.poll(() => other.getByTestId("member").allTextContents()).toEqual([`admin <${adminB}> Admin not verified`]);
    await noErrorShown(other);
    await carol.close();

    // And tenant A still sees its own seven tasks, none of B's.
    await page.getByRole("link", { name: "Tasks" }).click();
    await expect.poll(() => summary(page)).toBe("Tasks 1–5 of 7");
    await page.getByTestId("next-page").click();
    await expect.poll(() => summary(page)).toBe("Tasks 6–7 of 7");
    expect(await titles(page)).toEqual(["A task 2", "A task 1"]);
  });

  it("refreshes transparently when the access token expires, once across two tabs", async () => {
    await page.reload();
    await expect.poll(() => summary(page)).toBe("Tasks 1–5 of 7");
    const second = await alice.newPage();
    await second.goto(`${webUrl}/#/tasks`);
    await expect.poll(() => summary(second)).toBe("Tasks 1–5 of 7");
    const before = await page.evaluate(() => JSON.parse(localStorage.getItem("mts.session")!).refreshToken as string);

    await waitForExpiredToken(page);
    const from = calls.length;
    // Both tabs need the API at the same moment, with an expired access token.
    await Promise.all([page.getByTestId("next-page").click(), second.getByTestId("next-page").click()]);
    await expect.poll(() => summary(page)).toBe("Tasks 6–7 of 7");
    await expect.poll(() => summary(second)).toBe("Tasks 6–7 of 7");
    await noErrorShown(page);
    await noErrorShown(second);
    await new Promise((r) => setTimeout(r, 300)); // the last responses' events
    const during = calls.slice(from);
    // One refresh for both tabs (the other adopted its tokens), and no request refused.
    expect(during.filter((c) => c.operation === "Refresh")).toHaveLength(1);
    expect(during.filter((c) => c.status !== 200)).toEqual([]);
    const after = await page.evaluate(() => JSON.parse(localStorage.getItem("mts.session")!).refreshToken as string);
    expect(after).not.toBe(before);
    // The session goes on: the rotated tokens work.
    await page.getByTestId("previous-page").click();
    await expect.poll(() => summary(page)).toBe("Tasks 1–5 of 7");
    await second.close();
  });

  it("logs out, and the session's refresh token no longer works", async () => {
    const refreshToken = await page.evaluate(() => JSON.parse(localStorage.getItem("mts.session")!).refreshToken as string);
    await page.getByTestId("logout").click();
    await page.getByTestId("login-screen").waitFor();
    expect(await page.evaluate(() => localStorage.getItem("mts.session"))).toBeNull();
    await screenshot(page, "07-login");

    // The server ended the session: its refresh token is refused (the trusted Refresh document, sent as the app sends it).
    const res = await fetch(`${apiUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ documentId: documentId("Refresh"), operationName: "Refresh", variables: { refreshToken } }),
    });
    const body = (await res.json()) as { data?: { refresh: unknown }; errors?: { extensions?: { code?: string } }[] };
    expect(body.errors?.[0]?.extensions?.code).toBe(INVALID_REFRESH_TOKEN);

    // And logging in again starts a new one.
    await fill(page, "login-form", { slug: slugA, email: adminA, password: PASSWORD });
    await page.getByTestId("tasks-screen").waitFor();
    await expect.poll(() => summary(page)).toBe("Tasks 1–5 of 7");
    await noErrorShown(page);
  });

  it("the API refuses a document that is not in the app's trusted list", async () => {
    const res = await fetch(`${apiUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ tasks { totalCount } }" }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code).toBe("UNTRUSTED_DOCUMENT");
  });
});

describe("the example app in Chromium: password recovery and email verification by the emailed links", () => {
  const NEW_PASSWORD = "a-brand-new-passphrase";

  it("resets a forgotten password with the emailed link; the old password stops working", async () => {
    const context = await newContext();
    const page = await openApp(context, "#/signup");
    await signUp(page, slugE, "Tenant E", adminE);
    await page.getByTestId("logout").click();
    await page.getByTestId("login-screen").waitFor();

    await page.getByTestId("forgot-link").click();
    await page.getByTestId("forgot-screen").waitFor();
    await screenshot(page, "09-forgot-password");
    await fill(page, "forgot-form", { slug: slugE, email: adminE });
    await page.getByTestId("forgot-sent").waitFor();
    expect(await page.getByTestId("forgot-sent").textContent()).toMatch(/^If an account exists for /);
    expect(await page.getByTestId("forgot-form").isHidden()).toBe(true);
    await screenshot(page, "10-forgot-password-sent");
    await noErrorShown(page);
    // An address without an account gets the same answer.
    await page.reload();
    await fill(page, "forgot-form", { slug: slugE, email: `nobody@${slugE}.test` });
    await page.getByTestId("forgot-sent").waitFor();
    expect(await page.getByTestId("forgot-sent").textContent()).toMatch(/^If an account exists for nobody@/);
    await noErrorShown(page);

    // The email (the API's worker, a real SMTP server) links to the app's reset screen.
    const link = await emailedLink(adminE, "reset-password");
    const reset = await context.newPage();
    await reset.goto(link);
    await reset.getByTestId("reset-screen").waitFor();
    // The token left the address bar: neither the query nor the hash holds it.
    expect(new URL(reset.url()).search).toBe("");
    expect(new URL(reset.url()).hash).toBe("#/reset");
    await screenshot(reset, "11-reset-password");
    await fill(reset, "reset-form", { password: NEW_PASSWORD });
    await reset.getByTestId("login-screen").waitFor();
    expect(await reset.getByTestId("notice").textContent()).toMatch(/^Your password was changed/);
    await screenshot(reset, "12-login-after-reset");
    await noErrorShown(reset);

    // The old password fails, the new one works.
    await fill(reset, "login-form", { slug: slugE, email: adminE, password: PASSWORD });
    await expect.poll(() => reset.getByTestId("error").textContent()).toMatch(new RegExp(`^${INVALID_CREDENTIALS}: `));
    await fill(reset, "login-form", { slug: slugE, email: adminE, password: NEW_PASSWORD });
    await reset.getByTestId("tasks-screen").waitFor();
    await expect.poll(() => reset.getByTestId("who").textContent()).toBe(`${adminE} · Tenant E`);
    await noErrorShown(reset);
    await reset.getByTestId("logout").click();
    await reset.getByTestId("login-screen").waitFor();

    // The link works once: a second use says so, and leads back to "forgot password".
    await reset.goto(link);
    await reset.getByTestId("reset-screen").waitFor();
    await fill(reset, "reset-form", { password: "yet-another-password" });
    await reset.getByTestId("reset-invalid").waitFor();
    expect(await reset.getByTestId("reset-form").isHidden()).toBe(true);
    await screenshot(reset, "13-reset-link-used");
    await noErrorShown(reset);
    await reset.getByTestId("reset-invalid").getByRole("link").click();
    await reset.getByTestId("forgot-screen").waitFor();
    await context.close();
  });

  it("sends a verification email; its link verifies the address, and the members screen shows it", async () => {
    const context = await newContext();
    const page = await openApp(context, "#/signup");
    await signUp(page, slugD, "Tenant D", adminD);
    await page.getByRole("link", { name: "Members" }).click();
    await page.getByTestId("members-screen").waitFor();
    await expect.poll(() => page.getByTestId("member").allTextContents()).toEqual([`admin <${adminD}> Admin not verified`]);
    await page.getByTestId("send-verification").click();
    await expect.poll(() => page.getByTestId("verification-outcome").textContent()).toBe(`We sent a link to ${adminD}; it works once, for 24 hours.`);
    await screenshot(page, "14-members-not-verified");
    await noErrorShown(page);

    const link = await emailedLink(adminD, "verify-email");
    const verify = await context.newPage();
    await verify.goto(link);
    await verify.getByTestId("verify-screen").waitFor();
    await expect.poll(() => verify.getByTestId("verify-outcome").getAttribute("data-result")).toBe("verified");
    expect(new URL(verify.url()).search).toBe("");
    expect(new URL(verify.url()).hash).toBe("#/verify");
    await screenshot(verify, "15-verify-email");
    await noErrorShown(verify);

    await page.reload();
    await expect.poll(() => page.getByTestId("member").allTextContents()).toEqual([`admin <${adminD}> Admin verified`]);
    expect(await page.getByTestId("verification").isHidden()).toBe(true);
    await screenshot(page, "16-members-verified");

    // The link works once.
    await verify.goto(link);
    await expect.poll(() => verify.getByTestId("verify-outcome").getAttribute("data-result")).toBe("invalid");
    await noErrorShown(verify);
    await context.close();
  });
});

describe("the example app in Chromium, with the refresh token in the API's HttpOnly cookie", () => {
  let context: BrowserContext;
  let page: Page;
  // (Playwright's URL filter leaves out Secure cookies of http URLs, though Chromium sends them to 127.0.0.1.)
  const refreshCookie = async () => (await context.cookies()).find((c) => c.name === "mts_refresh" && c.domain === "127.0.0.1");

  it("signs up, and the page never holds the refresh token", async () => {
    context = await newContext();
    page = await openApp(context, "#/signup", cookieWebUrl);
    await signUp(page, slugC, "Tenant C", adminC, cookieWebUrl);
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem("mts.session")!));
    expect(Object.keys(stored)).toEqual(["accessToken"]);
    const cookie = await refreshCookie();
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: "Strict", path: "/auth" });
    expect(await page.evaluate(() => document.cookie)).toBe("");
    await page.getByTestId("no-project").waitFor();
    await fill(page, "new-project-form", { name: "C project" });
    await page.getByTestId("new-task-form").locator('select[name="projectId"]').waitFor();
    await addTask(page, "C task");
    await expect.poll(() => summary(page)).toBe("Tasks 1–1 of 1");
    await screenshot(page, "08-cookie-mode-tasks");
  });

  it("refreshes through /auth/refresh when the access token expires, once across two tabs", async () => {
    const second = await openApp(context, "#/tasks", cookieWebUrl);
    await expect.poll(() => summary(second)).toBe("Tasks 1–1 of 1");
    const before = (await refreshCookie())!.value;
    await waitForExpiredToken(page);
    const from = calls.length;
    // Both tabs read their screens again at the same moment.
    const rerender = (p: Page) => p.evaluate(() => window.dispatchEvent(new HashChangeEvent("hashchange")));
    await Promise.all([rerender(page), rerender(second)]);
    await expect.poll(() => summary(page)).toBe("Tasks 1–1 of 1");
    await expect.poll(() => summary(second)).toBe("Tasks 1–1 of 1");
    await new Promise((r) => setTimeout(r, 300));
    const during = calls.slice(from);
    expect(during.filter((c) => c.operation === "/auth/refresh")).toHaveLength(1);
    expect(during.filter((c) => c.operation === "Refresh")).toEqual([]);
    expect(during.filter((c) => c.status !== 200)).toEqual([]);
    expect((await refreshCookie())!.value).not.toBe(before);
    await noErrorShown(page);
    await noErrorShown(second);
    await second.close();
  });

  it("logs out: the cookie is cleared and its refresh token refused", async () => {
    const token = (await refreshCookie())!.value;
    await page.getByTestId("logout").click();
    await page.getByTestId("login-screen").waitFor();
    expect(await refreshCookie()).toBeUndefined();
    expect(await page.evaluate(() => localStorage.getItem("mts.session"))).toBeNull();
    const res = await fetch(`${apiUrl}/auth/refresh`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refreshToken: token }),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code).toBe(INVALID_REFRESH_TOKEN);
    await fill(page, "login-form", { slug: slugC, email: adminC, password: PASSWORD });
    await expect.poll(() => summary(page)).toBe("Tasks 1–1 of 1");
    expect(await refreshCookie()).toBeDefined();
    await context.close();
  });
});
