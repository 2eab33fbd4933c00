import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    // Guests are big: one test file at a time, so two QEMU guests never share 2 cores.
    fileParallelism: false,
  },
});
