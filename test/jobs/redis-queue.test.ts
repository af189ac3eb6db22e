/**
 * The Redis-backed generation queue (src/jobs/redis-queue.ts) with workers (worker.ts) in this
 * process, against a redis-server of our own: what only this queue does (several workers, marks,
 * retries, the shared folder, Redis going away). What every queue does is the contract suite's
 * (contract.ts, run on this queue by contract-redis.test.ts).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadGenerator, type GeneratorModels } from '../../src/encoders/generator.js';
import { loadEncoders, type LoadedEncoders } from '../../src/encoders/index.js';
import { isParasolError, ParasolError } from '../../src/errors.js';
import { Generator } from '../../src/parasol/generate.js';
import type { GenerationPayload } from '../../src/jobs/generation.js';
import { isJobId, type JobRunner, type JobView } from '../../src/jobs/queue.js';
import {
  averageOf,
  createRedisGenerationQueue,
  decodeFailure,
  redisQueueNames,
  type RedisGenerationQueue,
  type RedisGenerationQueueOptions,
} from '../../src/jobs/redis-queue.js';
import { startGenerationWorker, type GenerationWorker, type GenerationWorkerOptions } from '../../src/jobs/worker.js';
import { redisServerBinary, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { testImage, TINY_GENERATOR } from '../parasol/helpers.js';
import { controllableRunner, fakeSubmission, until } from './fixtures/fake-runner.js';

const REDIS = redisServerBinary('test/jobs/redis-queue.test.ts');

describe.skipIf(!REDIS)('RedisGenerationQueue with workers', () => {
  let server: RedisServer;
  let dir: string;
  /** Each test has its own BullMQ queue name: nothing leaks between tests. */
  let queueName = '';
  const queues: RedisGenerationQueue[] = [];
  const workers: GenerationWorker[] = [];

  const makeQueue = (options: Partial<RedisGenerationQueueOptions> = {}) => {
    const queue = createRedisGenerationQueue({ redisUrl: server.url, queueName, dir, queueLength: 4, ttlMs: 60_000, ...options });
    queues.push(queue);
    return queue;
  };
  const makeWorker = async (run: JobRunner<GenerationPayload> | undefined, options: Partial<GenerationWorkerOptions> = {}) => {
    const worker = await startGenerationWorker({ redisUrl: server.url, queueName, dir, ...(run ? { run } : {}), lockDurationMs: 5000, stalledIntervalMs: 5000, ...options });
    workers.push(worker);
    return worker;
  };
  const stateOf = async (queue: RedisGenerationQueue, id: string) => (await queue.get(id))?.state;

  beforeAll(async () => {
    server = await startRedisServer(REDIS!);
    dir = await mkdtemp(path.join(tmpdir(), 'parasol-redis-jobs-'));
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.close()));
    await Promise.all(queues.splice(0).map((q) => q.close()));
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    queueName = `q-${randomUUID().slice(0, 8)}`;
  });

  it('keeps a job queued until a worker takes it, then runs it from the shared folder', async () => {
    const runner = controllableRunner();
    runner.release();
    const queue = makeQueue();
    const a = await queue.submit(fakeSubmission('a', 2));
    expect(a).toMatchObject({ state: 'queued', step: 0, total: 2 });
    expect(await queue.stats()).toMatchObject({ workers: 0, running: 0, queued: 1 });
    expect(await stateOf(queue, a.id)).toBe('queued');
    await makeWorker(runner.run);
    expect(await until(() => queue.get(a.id), (v) => v?.state === 'succeeded')).toMatchObject({ step: 2, total: 2, result: { name: 'a' } });
    expect((await readdir(dir)).filter((name) => name.startsWith(a.id)).sort()).toEqual([`${a.id}.json`, `${a.id}.png`]);
    expect((await queue.stats()).averageSeconds).not.toBeNull();
  });

  it('shares the jobs among several workers', async () => {
    const runners = [controllableRunner(), controllableRunner()];
    const queue = makeQueue();
    await makeWorker(runners[0].run);
    await makeWorker(runners[1].run);
    const views = await Promise.all(['a', 'b', 'c'].map((name) => queue.submit(fakeSubmission(name, 1))));
    try {
      await until(() => queue.stats(), (s) => s.running === 2);
      expect(await queue.stats()).toMatchObject({ workers: 2, running: 2, queued: 1 });
      // A job is active in Redis a moment before its worker's runner starts on it.
      await until(async () => runners.map((r) => r.started.length), (counts) => counts[0] === 1 && counts[1] === 1);
    } finally {
      for (const r of runners) r.release();
    }
    for (const v of views) await until(() => queue.get(v.id), (x) => x?.state === 'succeeded');
    expect([...runners[0].started, ...runners[1].started].sort()).toEqual(['a', 'b', 'c']);
  });

  it('counts the slots of a worker with concurrency > 1', async () => {
    const runner = controllableRunner();
    const queue = makeQueue({ queueLength: 0 });
    await makeWorker(runner.run, { concurrency: 2 });
    expect((await queue.stats()).workers).toBe(2);
    // queueLength 0, two idle slots: two jobs are taken, the third has no place.
    await queue.submit(fakeSubmission('a', 1));
    await queue.submit(fakeSubmission('b', 1));
    await until(() => queue.stats(), (s) => s.running === 2);
    await expect(queue.submit(fakeSubmission('c', 1))).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    runner.release();
  });

  it('stops a running job within one step of the cancel, frees its worker, and never retries it', async () => {
    const runner = controllableRunner();
    const queue = makeQueue();
    await makeWorker(runner.run, { cancelPollMs: 60_000 }); // the channel alone must do it
    const a = await queue.submit(fakeSubmission('a', 50));
    const b = await queue.submit(fakeSubmission('b', 1));
    await until(() => queue.get(a.id), (v) => v?.state === 'running');
    runner.step();
    await until(() => queue.get(a.id), (v) => (v?.step ?? 0) >= 1);
    const stepsAtCancel = runner.progress.a.length;
    const cancelledAt = Date.now();
    expect((await queue.cancel(a.id))?.state).toBe('cancelled');
    expect(await stateOf(queue, a.id)).toBe('cancelled'); // at once, as in-process
    await until(async () => runner.aborted, (names) => names.includes('a'), 5000);
    expect(Date.now() - cancelledAt).toBeLessThan(2000);
    runner.release();
    await until(() => queue.get(b.id), (v) => v?.state === 'succeeded');
    expect(runner.progress.a.length).toBeLessThanOrEqual(stepsAtCancel + 1);
    const view = (await queue.get(a.id)) as JobView;
    expect(view.state).toBe('cancelled');
    expect(view.error).toBeUndefined();
    expect(runner.started.filter((name) => name === 'a')).toHaveLength(1);
  });

  it('estimates Retry-After from the recent job times', async () => {
    const runner = controllableRunner();
    const queue = makeQueue({ queueLength: 0 });
    await makeWorker(runner.run);
    const raw = new Redis(server.url);
    try {
      // Recent runs took 40 s (newest first, as workers record them).
      await raw.lpush(redisQueueNames('parasol', queueName).durations, '40', '40');
    } finally {
      await raw.quit();
    }
    expect((await queue.stats()).averageSeconds).toBeCloseTo(40);
    const a = await queue.submit(fakeSubmission('a', 1));
    await until(() => queue.get(a.id), (v) => v?.state === 'running');
    const error = (await queue.submit(fakeSubmission('b', 1)).catch((e: unknown) => e)) as ParasolError;
    expect(error.code).toBe('QUEUE_FULL');
    expect(['39', '40']).toContain(error.headers['Retry-After']); // 40 s less the ~0 s a has run
    runner.release();
  });

  it('stops a running job whose cancel message was missed, by polling the marks', async () => {
    const runner = controllableRunner();
    const queue = makeQueue();
    await makeWorker(runner.run, { cancelPollMs: 50 });
    const a = await queue.submit(fakeSubmission('a', 50));
    await until(() => queue.get(a.id), (v) => v?.state === 'running');
    // As cancel() does, less the message on the channel.
    const raw = new Redis(server.url);
    try {
      const view = (await queue.get(a.id))!;
      await raw.set(redisQueueNames('parasol', queueName).mark(a.id), JSON.stringify({ ...view, state: 'cancelled', finishedAt: new Date().toISOString() }));
    } finally {
      await raw.quit();
    }
    await until(async () => runner.aborted, (names) => names.includes('a'), 5000);
    expect(await stateOf(queue, a.id)).toBe('cancelled');
  });

  it('fails a job whose request in Redis is corrupt as INTERNAL, and carries on', async () => {
    const runner = controllableRunner();
    runner.release();
    const queue = makeQueue();
    const bad = await queue.submit(fakeSubmission('bad', 1));
    const raw = new Redis(server.url);
    try {
      await raw.set(redisQueueNames('parasol', queueName).payload(bad.id), JSON.stringify({ v: 1, kind: 'generate', request: { content: {} } }));
    } finally {
      await raw.quit();
    }
    const good = await queue.submit(fakeSubmission('good', 1));
    await makeWorker(runner.run);
    expect(await until(() => queue.get(bad.id), (v) => v?.state === 'failed')).toMatchObject({ error: { code: 'INTERNAL', message: 'Internal error' } });
    expect(await until(() => queue.get(good.id), (v) => v?.state === 'succeeded')).toMatchObject({ result: { name: 'good' } });
    expect(runner.started).toEqual(['good']);
  });

  it('reports failures: catalogued errors as they are, others as INTERNAL without details; retries only those', async () => {
    const runner = controllableRunner();
    runner.release();
    const queue = makeQueue({ attempts: 2 });
    await makeWorker(runner.run);
    const known = await queue.submit(fakeSubmission('k', 1, 'known'));
    const unknown = await queue.submit(fakeSubmission('u', 1, 'unknown'));
    const k = await until(() => queue.get(known.id), (v) => v?.state === 'failed');
    const u = await until(() => queue.get(unknown.id), (v) => v?.state === 'failed');
    expect(k?.error).toEqual({ code: 'BAD_REQUEST', message: 'the model refused' });
    expect(u?.error).toEqual({ code: 'INTERNAL', message: 'Internal error' });
    expect(JSON.stringify(u)).not.toContain('secret');
    expect(runner.started.filter((name) => name === 'k')).toHaveLength(1); // a user's error is final
    expect(runner.started.filter((name) => name === 'u')).toHaveLength(2); // attempts: 2
    await expect(queue.image(known.id)).rejects.toMatchObject({ code: 'JOB_NOT_FINISHED' });
  });

  it('serves results to another API server from the shared folder, even after Redis forgot the job', async () => {
    const runner = controllableRunner();
    runner.release();
    const serverA = makeQueue();
    const serverB = makeQueue();
    await makeWorker(runner.run);
    const a = await serverA.submit(fakeSubmission('shared', 2));
    const c = await serverA.submit(fakeSubmission('other', 1));
    await until(() => serverB.get(a.id), (v) => v?.state === 'succeeded');
    await until(() => serverB.get(c.id), (v) => v?.state === 'succeeded');
    expect((await serverB.image(a.id)).toString()).toBe('png:shared');

    // Redis loses everything about the queue: the folder still answers.
    const raw = new Queue(queueName, { connection: { url: server.url }, prefix: 'parasol' });
    await raw.obliterate({ force: true });
    await raw.close();
    const view = await serverB.get(a.id);
    expect(view).toMatchObject({ id: a.id, state: 'succeeded', step: 2, total: 2, result: { name: 'shared' } });
    expect((await serverB.image(a.id)).toString()).toBe('png:shared');

    expect(await serverB.remove(a.id)).toBe(true);
    expect(await serverA.get(a.id)).toBeUndefined();
    await expect(serverA.image(a.id)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    expect((await readdir(dir)).some((name) => name.startsWith(a.id))).toBe(false);
    expect((await serverA.get(c.id))?.state).toBe('succeeded');
  });

  it('close() answers NOT_READY afterwards, and leaves the shared jobs running for everyone else', async () => {
    const runner = controllableRunner();
    const leaving = makeQueue();
    const staying = makeQueue();
    await makeWorker(runner.run);
    const a = await leaving.submit(fakeSubmission('a', 2));
    await until(() => staying.get(a.id), (v) => v?.state === 'running');
    await leaving.close();
    await expect(leaving.submit(fakeSubmission('b', 1))).rejects.toMatchObject({ code: 'NOT_READY', status: 503 });
    await expect(leaving.get(a.id)).rejects.toMatchObject({ code: 'NOT_READY' });
    runner.release();
    expect(await until(() => staying.get(a.id), (v) => v?.state === 'succeeded')).toMatchObject({ result: { name: 'a' } });
  });

  it('answers GENERATION_UNAVAILABLE when Redis cannot be reached', async () => {
    const queue = createRedisGenerationQueue({ redisUrl: 'redis://127.0.0.1:1', queueName, dir, queueLength: 1, ttlMs: 1000, redisTimeoutMs: 300 });
    queues.push(queue);
    await expect(queue.get('0b0e6a8e-3b1f-4c57-9a55-0f6c1a2b3c4d')).rejects.toMatchObject({ code: 'GENERATION_UNAVAILABLE', status: 503 });
    await expect(queue.submit(fakeSubmission('a', 1))).rejects.toMatchObject({ code: 'GENERATION_UNAVAILABLE' });
  });

  describe('on the tiny generator', () => {
    let encoders: LoadedEncoders;
    let models: GeneratorModels;
    let generator: Generator;
    let content: Buffer;
    let style: Buffer;

    beforeAll(async () => {
      encoders = await loadEncoders({ packDir: TINY_GENERATOR, device: 'cpu', threads: 1 });
      models = await loadGenerator({ packDir: TINY_GENERATOR, device: 'cpu', threads: 1 });
      generator = new Generator({ models, encoders });
      [content, style] = await Promise.all([testImage(64, 1), testImage(48, 2)]);
    });
    afterAll(async () => {
      await Promise.all([encoders?.dispose(), models?.dispose()]);
    });

    it('runs a real job and a grid through Redis: PNGs with provenance, cells, progress', async () => {
        const queue = makeQueue();
      await makeWorker(undefined, { generator: async () => generator });
      const single = await queue.submit({
        kind: 'generate',
        payload: { kind: 'generate', request: { content: { image: content, id: 'c1' }, style: { image: style }, steps: 4, lambda: 2, seed: 7 } },
        params: { steps: 4 },
        sources: { content: { itemId: 'c1' } },
        total: 8,
      });
      const grid = await queue.submit({
        kind: 'grid',
        payload: {
          kind: 'grid',
          rows: 1,
          cols: 2,
          requests: [
            { content: { image: content }, style: { image: style }, steps: 3, seed: 1 },
            { content: { image: content }, style: { image: content }, steps: 3, seed: 2 },
          ],
        },
        params: { steps: 3, rows: 1, cols: 2 },
        sources: {},
        total: 6,
      });
      const done = await until(() => queue.get(single.id), (v) => v?.state === 'succeeded' || v?.state === 'failed', 30_000);
      expect(done).toMatchObject({ state: 'succeeded', step: 8, total: 8, result: { steps: 4, lambda: 2, seed: 7, inverted: true } });
      const png = await queue.image(single.id);
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      expect(png.toString('latin1')).toContain('parasol-ddpm/1');

      const gridDone = await until(() => queue.get(grid.id), (v) => v?.state === 'succeeded' || v?.state === 'failed', 30_000);
      expect(gridDone).toMatchObject({ state: 'succeeded', cells: 2, result: { rows: 1, cols: 2 } });
      const cells = await Promise.all([queue.image(grid.id, 0), queue.image(grid.id, 1)]);
      for (const cell of cells) expect(cell.subarray(1, 4).toString()).toBe('PNG');
      await expect(queue.image(grid.id, 2)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('fails a request the generator refuses with its BAD_REQUEST, not INTERNAL', async () => {
        const queue = makeQueue();
      await makeWorker(undefined, { generator: async () => generator });
      const view = await queue.submit({
        kind: 'generate',
        payload: { kind: 'generate', request: { content: { image: content }, style: { image: style }, steps: 100_000 } },
        params: {},
        sources: {},
        total: 1,
      });
      const failed = await until(() => queue.get(view.id), (v) => v?.state === 'failed', 30_000);
      expect(failed?.error?.code).toBe('BAD_REQUEST');
      expect(failed?.error?.message).toMatch(/steps/);
    });
  });
});

describe('Redis queue helpers', () => {
  it('averages recent run times oldest first, as the in-process queue does', () => {
    expect(averageOf([])).toBeNull();
    expect(averageOf([40])).toBe(40);
    expect(averageOf([20, 10])).toBeCloseTo(0.7 * 10 + 0.3 * 20); // newest first
    expect(averageOf([Number.NaN, 5])).toBe(5);
  });

  it('shows failures as catalogued errors and never BullMQ\'s own text', () => {
    expect(decodeFailure('parasol:error:{"code":"BAD_REQUEST","message":"no"}')).toEqual({ code: 'BAD_REQUEST', message: 'no' });
    expect(decodeFailure('job stalled more than allowable limit').code).toBe('GENERATION_UNAVAILABLE');
    for (const reason of [undefined, 'TypeError: x is undefined', 'parasol:error:{bad json', 'parasol:error:{"code":"lower","message":"x"}']) {
      expect(decodeFailure(reason)).toEqual({ code: 'INTERNAL', message: 'Internal error' });
    }
  });
});
