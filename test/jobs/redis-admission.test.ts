/**
 * Admission to the Redis generation queue from several API servers at once (two queue clients on
 * one redis-server): the global queue length and the per-key allowance are checked and reserved
 * in one Lua script, so concurrent submits on different servers can overrun neither.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ParasolError } from '../../src/errors.js';
import type { JobView } from '../../src/jobs/queue.js';
import { createRedisGenerationQueue, type RedisGenerationQueue, type RedisGenerationQueueOptions } from '../../src/jobs/redis-queue.js';
import { startGenerationWorker, type GenerationWorker } from '../../src/jobs/worker.js';
import { redisServerBinary, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { controllableRunner, fakeSubmission, until } from './fixtures/fake-runner.js';

const REDIS = redisServerBinary('test/parasol/redis-admission.test.ts');

type Outcome = { ok: JobView } | { error: ParasolError };

async function outcome(promise: Promise<JobView>): Promise<Outcome> {
  try {
    return { ok: await promise };
  } catch (error) {
    if (!(error instanceof ParasolError)) throw error;
    return { error };
  }
}

describe.skipIf(!REDIS)('RedisGenerationQueue admission across API servers', () => {
  let server: RedisServer;
  let dir: string;
  let queueName = '';
  const queues: RedisGenerationQueue[] = [];
  const workers: GenerationWorker[] = [];

  /** Two API servers' queue clients on the same Redis queue. */
  const twoServers = (options: Partial<RedisGenerationQueueOptions>) =>
    [0, 1].map(() => {
      const queue = createRedisGenerationQueue({ redisUrl: server.url, queueName, dir, queueLength: 4, ttlMs: 60_000, ...options });
      queues.push(queue);
      return queue;
    });

  beforeAll(async () => {
    server = await startRedisServer(REDIS!);
    dir = await mkdtemp(path.join(tmpdir(), 'parasol-admission-'));
  });
  beforeEach(() => {
    queueName = `q-${randomUUID().slice(0, 8)}`;
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.close()));
    await Promise.all(queues.splice(0).map((q) => q.close()));
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('admits exactly queueLength jobs of 12 submitted at once through two servers', async () => {
    const [a, b] = twoServers({ queueLength: 3 });
    const outcomes = await Promise.all(Array.from({ length: 12 }, (_, i) => outcome((i % 2 === 0 ? a : b).submit(fakeSubmission(`j${i}`, 1)))));
    const admitted = outcomes.filter((o): o is { ok: JobView } => 'ok' in o);
    const refused = outcomes.filter((o): o is { error: ParasolError } => 'error' in o);
    expect(admitted).toHaveLength(3);
    expect(refused).toHaveLength(9);
    for (const { error } of refused) {
      expect(error.code).toBe('QUEUE_FULL');
      expect(Number(error.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
    }
    expect(await b.stats()).toMatchObject({ queued: 3, running: 0 });
    // A place freed on one server is free on the other.
    expect(await a.cancel(admitted[0].ok.id)).toMatchObject({ state: 'cancelled' });
    expect('ok' in (await outcome(b.submit(fakeSubmission('late', 1))))).toBe(true);
    expect('error' in (await outcome(a.submit(fakeSubmission('later', 1))))).toBe(true);
  });

  it('holds each key to its allowance across servers; other keys and a freed place are unaffected', async () => {
    const [a, b] = twoServers({ queueLength: 20, perOwnerLimit: 2 });
    expect(a.enforcesOwnerLimit).toBe(true);
    const owned = (name: string, owner: string) => ({ ...fakeSubmission(name, 1), owner });
    const burst = await Promise.all(Array.from({ length: 8 }, (_, i) => outcome((i % 2 === 0 ? a : b).submit(owned(`k${i}`, 'key1')))));
    const mine = burst.filter((o): o is { ok: JobView } => 'ok' in o).map((o) => o.ok.id);
    expect(mine).toHaveLength(2);
    for (const o of burst) {
      if ('error' in o) {
        expect(o.error.code).toBe('QUEUE_FULL');
        expect(o.error.message).toMatch(/This API key already has 2 generation jobs/);
        expect(Number(o.error.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
      }
    }
    expect('ok' in (await outcome(b.submit(owned('other', 'key2'))))).toBe(true);
    expect('ok' in (await outcome(a.submit(fakeSubmission('no owner', 1))))).toBe(true);

    // Cancelling one of key1's jobs (on the other server) gives key1 one place back.
    await b.cancel(mine[0]);
    expect('ok' in (await outcome(a.submit(owned('again', 'key1'))))).toBe(true);
    expect('error' in (await outcome(b.submit(owned('once more', 'key1'))))).toBe(true);
  });

  it('frees a key place when its job finishes in a worker', async () => {
    const [a, b] = twoServers({ queueLength: 20, perOwnerLimit: 1 });
    const runner = controllableRunner();
    const worker = await startGenerationWorker({ redisUrl: server.url, queueName, dir, run: runner.run, lockDurationMs: 5000, stalledIntervalMs: 5000 });
    workers.push(worker);
    const first = await a.submit({ ...fakeSubmission('first', 1), owner: 'key1' });
    await until(() => a.get(first.id), (v) => v?.state === 'running');
    expect('error' in (await outcome(b.submit({ ...fakeSubmission('second', 1), owner: 'key1' })))).toBe(true); // running counts too
    runner.release();
    await until(() => a.get(first.id), (v) => v?.state === 'succeeded');
    expect('ok' in (await outcome(b.submit({ ...fakeSubmission('third', 1), owner: 'key1' })))).toBe(true);
  });
});
