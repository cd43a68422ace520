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
  },
});
