// `npm start`: database (embedded unless configured otherwise), migrations,
// demo data on first start, then the API and (WORKER=inline, the default) the
// job queue's worker. Shuts down in order on SIGTERM/SIGINT.
import { openDatabase } from "../db/database.ts";
import { DEMO_OPERATOR, DEMO_PASSWORD, DEMO_TENANTS, hasDemoData, seedDemoData } from "../db/seed.ts";
import { ConfigError, loadConfig, type Config } from "../common/config.ts";
import { startWorker, type Worker } from "../worker/runner.ts";

function banner(config: Config, url: string, demo: "loaded" | "present" | "absent") {
  const lines = [
    "",
    `multi-tenant-saas is ready (${config.env}, database: ${config.database.mode})`,
    `  GraphQL   ${url}/graphql`,
    config.graphiql ? `  GraphiQL  ${url}/graphiql` : `  GraphiQL  off (GRAPHIQL=true to enable)`,
    `  Health    ${url}/healthz  ${url}/readyz`,
  ];
  if (demo !== "absent") {
    lines.push("", demo === "loaded" ? "Demo data loaded:" : "Demo data (loaded on first start):");
    for (const t of DEMO_TENANTS) {
      lines.push(`  tenant ${t.slug}: ${t.users.map((u) => `${u.email} (${u.role})`).join(", ")}`);
    }
    lines.push(`  platform operator (operatorLogin): ${DEMO_OPERATOR.email}`);
    lines.push(`  password for every demo account: ${DEMO_PASSWORD}`);
    const [t] = DEMO_TENANTS;
    const login = JSON.stringify({
      query: `mutation { login(input: {tenantSlug: "${t.slug}", email: "${t.users[0].email}", password: "${DEMO_PASSWORD}"}) { result { accessToken } } }`,
    });
    const query = JSON.stringify({
      query: "{ currentTenant { name } users { nodes { email role } } tasks(orderBy: TITLE_ASC) { nodes { title status assignee { name } } } }",
    });
    lines.push(
      "",
      "Log in and run a query:",
      `  TOKEN=$(curl -s ${url}/graphql -H 'content-type: application/json' -d '${login}' | sed -E 's/.*"accessToken":"([^"]+)".*/\\1/') && \\`,
      `  curl -s ${url}/graphql -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" -d '${query}'`,
    );
  }
  console.log(lines.join("\n") + "\n");
}

async function main() {
  const started = performance.now();
  const config = loadConfig(process.env, { worker: "inline" });
  // Grafast reads GRAPHILE_ENV when it is first imported, so decide it here,
  // from the configuration, and import the app only afterwards.
  process.env.GRAPHILE_ENV ??= config.env === "development" ? "development" : "production";
  const { createApp } = await import("../server/app.ts");
  const db = await openDatabase(config);
  let demo: "loaded" | "present" | "absent" = "absent";
  if (db.firstStart && config.demoData) {
    await seedDemoData(db.ownerUrl);
    demo = "loaded";
  } else if (config.demoData && (await hasDemoData(db.ownerUrl))) {
    demo = "present";
  }
  let app: Awaited<ReturnType<typeof createApp>>;
  let worker: Worker | undefined;
  try {
    if (config.worker.mode === "inline") worker = await startWorker(config, db.ownerUrl);
    app = await createApp(config, db.authUrl, db.superuserUrl);
    await new Promise<void>((resolve, reject) => {
      app.server.once("error", reject);
      app.server.listen(config.port, config.host, resolve);
    });
  } catch (error) {
    await worker?.stop();
    await db.stop();
    throw error;
  }
  const address = app.server.address() as { port: number };
  const host = config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host;
  banner(config, `http://${host}:${address.port}`, demo);
  console.log(`  Worker    ${worker ? "running in this process" : "off (WORKER=off: run npm run worker)"}${config.mail.smtpUrl ? "" : `; emails go to ${config.mail.outboxDir}`}`);
  console.log(`ready in ${Math.round(performance.now() - started)} ms`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: finishing requests in flight, then stopping`);
    try {
      await app.close();
      await worker?.stop();
    } finally {
      await db.stop();
    }
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((error) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
