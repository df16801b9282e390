import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // An unhandled rejection or uncaught exception fails the test it surfaced in (see the file).
    setupFiles: ['test/support/setup-process-hooks.ts'],
    // The default, stated because that file relies on it: its afterEach runs after the test file's own.
    sequence: { hooks: 'stack' },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two files at a time: end-to-end tests mostly wait on real time, so two run in about the time of one
    // (vitest's default on a 2-core machine is one worker, which made the suite the sum of every file).
    maxWorkers: 2,
    reporters: ['default'],
  },
});
