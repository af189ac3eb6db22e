/**
 * The job queue contract against the Redis queue (BullMQ) with a sampler worker in this process,
 * on a throwaway redis-server (skipped with a message when there is none, unless
 * PARASOL_REQUIRE_REDIS=1). Each queue has its own BullMQ queue name and results folder.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { createRedisGenerationQueue } from '../../src/jobs/redis-queue.js';
import { startGenerationWorker } from '../../src/jobs/worker.js';
import { redisServerBinary, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { describeQueueContract } from './contract.js';

const REDIS = redisServerBinary('test/jobs/contract-redis.test.ts');

describe.skipIf(!REDIS)('Redis queue with a sampler worker', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer(REDIS!);
  });
  afterAll(async () => {
    await server?.stop();
  });

  describeQueueContract('Redis (BullMQ)', async ({ workers, queueLength, ttlMs, now }, runner) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'parasol-queue-contract-'));
    const queueName = `q-${randomUUID().slice(0, 8)}`;
    const queue = createRedisGenerationQueue({ redisUrl: server.url, queueName, dir, queueLength, ttlMs, ...(now ? { now } : {}) });
    const worker = await startGenerationWorker({ redisUrl: server.url, queueName, dir, run: runner.run, concurrency: workers, lockDurationMs: 5000, stalledIntervalMs: 5000 });
    return {
      queue,
      dir,
      cleanup: async () => {
        await worker.close();
        await queue.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  });
});
