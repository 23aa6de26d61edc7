import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // System tests change network namespaces and firewall rules: they run in their own files,
    // each namespace named by the test, so files may run side by side.
    pool: 'forks',
    reporters: ['default'],
  },
});
