// `npm run bench:export`: GET /export of one tenant with BENCH_EXPORT_ROWS
// tasks (default 1,000,000; plus its users and projects), plain and gzipped,
// against the real API in a child process: rows per second, bytes, and the
// server's peak memory (it must stay flat: the export streams from a cursor).
// Writes bench/EXPORT.md (or BENCH_OUT_DIR/EXPORT.md).
import jwt from "jsonwebtoken";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join, resolve } from "node:path";
import { withClient } from "../db/setup.ts";
import { startServer } from "./child.ts";
import { openCluster } from "./cluster.ts";
import { loadDataset } from "./dataset.ts";

const BENCH_DIR = import.meta.dirname;
const rows = Number(process.env.BENCH_EXPORT_ROWS ?? 1_000_000);
const audience = "multi-tenant-saas";
const issuer = "multi-tenant-saas";

/** Streams the export and counts lines and bytes without keeping them. */
function download(url: string, token: string, gzip: boolean) {
  return new Promise<{ status: number; lines: number; bytes: number; seconds: number }>((resolve, reject) => {
    const started = performance.now();
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (gzip) headers["accept-encoding"] = "gzip";
    request(`${url}/export`, { headers }, (res) => {
      let lines = 0;
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        if (!gzip) for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
      });
      res.on("end", () => resolve({ status: res.statusCode!, lines, bytes, seconds: (performance.now() - started) / 1000 }));
      res.on("error", reject);
    })
      .on("error", reject)
      .end();
  });
}

const cluster = await openCluster(process.env.BENCH_DATABASE_URL, "mts_bench_export");
try {
  const db = await cluster.prepare("mts_bench_export");
  const loaded = await loadDataset(db.superuserUrl, { name: "export", database: db.name, tenants: 1, rows }, 1);
  // The admin's live session (dataset.ts gives every user one): the API refuses a token without it.
  const { rows: [admin] } = await withClient(db.superuserUrl, (c) =>
    c.query(`select u.tenant_id, u.id, s.id as session_id from app_public.users u
      join app_private.sessions s on s.tenant_id = u.tenant_id and s.user_id = u.id and s.revoked_at is null
      where u.role = 'admin' limit 1`),
  );
  const secret = randomBytes(32).toString("hex");
  const claims = { role: "admin", sub: admin.id, user_id: admin.id, tenant_id: admin.tenant_id, session_id: admin.session_id, operator_id: null };
  const token = jwt.sign(claims, secret, {
    algorithm: "HS256",
    audience,
    issuer,
    expiresIn: 3600,
  });
  const server = await startServer("graphql-export", join(BENCH_DIR, "graphql-server.ts"), {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: "production",
    JWT_SECRET: secret,
    DATABASE_URL: db.ownerUrl,
    AUTH_DATABASE_URL: db.authUrl,
    // e.g. --max-old-space-size=64: proves the export's live memory does not grow with the tenant.
    ...(process.env.BENCH_SERVER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS } : {}),
  });
  try {
    const idleMb = await server.peakRssMb();
    const plain = await download(server.url, token, false);
    const afterPlainMb = await server.peakRssMb();
    const zipped = await download(server.url, token, true);
    const peakMb = await server.peakRssMb();
    if (plain.status !== 200 || zipped.status !== 200) throw new Error(`export answered ${plain.status} / ${zipped.status}`);
    const dataRows = plain.lines - 2; // header and end lines
    const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
    const report = [
      "# Export benchmark",
      "",
      "Written by `bench/export.ts` (`npm run bench:export`); do not edit by hand.",
      "",
      `- Date: ${new Date().toISOString()}`,
      `- Command: \`${process.env.BENCH_EXPORT_ROWS ? `BENCH_EXPORT_ROWS=${rows} ` : ""}${process.env.BENCH_SERVER_NODE_OPTIONS ? `BENCH_SERVER_NODE_OPTIONS="${process.env.BENCH_SERVER_NODE_OPTIONS}" ` : ""}npm run bench:export\``,
      `- Data: one tenant with ${fmt(rows)} tasks (loaded in ${loaded.seconds.toFixed(1)} s), 5 users, 5 projects; ${cluster.kind} PostgreSQL`,
      `- Server Node options: ${process.env.BENCH_SERVER_NODE_OPTIONS ?? "(none)"}`,
      "",
      "| export | rows | seconds | rows/s | bytes sent | server peak RSS after, MB |",
      "| --- | --- | --- | --- | --- | --- |",
      `| NDJSON | ${fmt(dataRows)} | ${plain.seconds.toFixed(1)} | ${fmt(dataRows / plain.seconds)} | ${fmt(plain.bytes)} | ${afterPlainMb.toFixed(0)} |`,
      `| NDJSON, gzip | ${fmt(dataRows)} | ${zipped.seconds.toFixed(1)} | ${fmt(dataRows / zipped.seconds)} | ${fmt(zipped.bytes)} | ${peakMb.toFixed(0)} |`,
      "",
      `Server peak RSS before the first export (after start-up): ${idleMb.toFixed(0)} MB.`,
      "",
    ].join("\n");
    console.log(report);
    const outDir = process.env.BENCH_OUT_DIR ? resolve(process.env.BENCH_OUT_DIR) : BENCH_DIR;
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, "EXPORT.md"), report);
  } finally {
    await server.stop();
  }
} finally {
  await cluster.stop();
}
