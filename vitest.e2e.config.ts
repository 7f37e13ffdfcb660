// `npm run test:e2e`: the example app (examples/web) in Debian's Chromium,
// against the API started by bin/start.ts. Not part of `npm test`: it needs
// /usr/bin/chromium and the example's own packages (npm ci in examples/web).
import { resolve } from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // playwright-core is the example's dev dependency (examples/web/package.json), not the root's.
  resolve: { alias: { "playwright-core": resolve(import.meta.dirname, "examples/web/node_modules/playwright-core/index.mjs") } },
  test: {
    include: ["tests/e2e/**/*.e2e.ts"],
    globalSetup: ["tests/global-setup.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    env: { GRAPHILE_ENV: "production" },
  },
});
