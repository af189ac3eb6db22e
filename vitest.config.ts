import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // onnxruntime-node rejects typed arrays created in worker VMs: keep the forks pool.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
