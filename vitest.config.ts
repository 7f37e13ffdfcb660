import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    globalSetup: ["tests/global-setup.ts"],
    // Every file gets its own database from a migrated template, so files run in parallel.
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Grafast's mode (it warns when unset); error masking follows NODE_ENV instead.
    env: { GRAPHILE_ENV: "production" },
  },
});
