import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/setup/build.ts"],
    // Hang bounds, not speed goals (those are `npm run bench`): generous so a loaded machine
    // (CI, or a shared 2-core box at load 15) does not fail a correct run.
    testTimeout: 120000,
    hookTimeout: 240000,
    pool: "forks",
  },
});
