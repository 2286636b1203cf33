import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // End-to-end tests share one Docker daemon and one plugin socket: run files one at a time.
    fileParallelism: false,
    testTimeout: 120_000,
    // logfan's own log, for in-process tests: only what is worth reading.
    env: { LOGFAN_LOG_LEVEL: 'error' },
    hookTimeout: 180_000,
  },
});
