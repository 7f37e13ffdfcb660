// Child process: our GraphQL API (server/app.ts), configured from its
// environment by common/config.ts, on a random loopback port.
import { serveInChild } from "./server-process.ts";

// Grafast reads GRAPHILE_ENV when it is first imported (as in bin/start.ts).
const { loadConfig } = await import("../common/config.ts");
const config = loadConfig({ ...process.env });
process.env.GRAPHILE_ENV ??= config.env === "development" ? "development" : "production";
const { createApp } = await import("../server/app.ts");

const app = await createApp(config, config.database.authUrl!);
await serveInChild(app.server, () => app.close(2000));
