import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Two cores: more workers only make the suites (which start servers and emulators) contend.
    maxWorkers: 2,
    reporters: process.env.CI ? ["default"] : ["default"],
    // The AWS-shape suites run the functions, which write CloudWatch metric lines to stdout; the tests
    // of those lines turn them back on (vi.stubEnv).
    env: { POWERTOOLS_METRICS_DISABLED: "true" },
  },
});
