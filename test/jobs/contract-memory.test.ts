/** The job queue contract against the in-process queue, writing its results to a temp folder. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { GenerationPayload } from '../../src/jobs/generation.js';
import { InMemoryJobQueue } from '../../src/jobs/memory-queue.js';
import { describeQueueContract } from './contract.js';

describeQueueContract('in-process', async ({ workers, queueLength, ttlMs, now }, runner) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'parasol-queue-contract-'));
  const queue = new InMemoryJobQueue<GenerationPayload>({ run: runner.run, workers, queueLength, ttlMs, cacheBytes: 1 << 20, dir, ...(now ? { now } : {}) });
  return {
    queue,
    dir,
    cleanup: async () => {
      await queue.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
