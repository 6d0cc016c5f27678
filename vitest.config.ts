import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    reporters: ["default", "./tooling/vitest/summary-reporter.ts"],
    include: ["packages/*/src/**/*.test.ts", "apps/*/src/**/*.test.ts", "e2e/src/**/*.test.ts"],
    globalSetup: ["packages/db/src/testing/global-setup.ts", "apps/server/src/testing/build-once.ts"],
    // Two cores: PostgreSQL, PGlite and the test workers share them.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
