/**
 * A sampler worker that dies mid-job must leave the job retried (by another or a restarted
 * worker) or failed — never stuck as running (DESIGN.md §6). Workers run as child processes of the
 * compiled code (dist/, built as test/store/kill.test.ts does) and are SIGKILLed after progress > 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../../src/jobs/queue.js';
import { createRedisGenerationQueue, type RedisGenerationQueue } from '../../src/jobs/redis-queue.js';
import { startGenerationWorker, type GenerationWorker } from '../../src/jobs/worker.js';
import { ensureStoreBuilt } from '../store/build-dist.js';
import { redisServerBinary, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { controllableRunner, fakeSubmission, until } from './fixtures/fake-runner.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const CHILD = path.join(HERE, 'fixtures/generation-worker.mjs');
const COMPILED = [
  'src/jobs/worker.ts',
  'src/jobs/redis-queue.ts',
  'src/jobs/queue.ts',
  'src/jobs/memory-queue.ts',
  'src/jobs/generation.ts',
  'src/jobs/payload-codec.ts',
  'src/jobs/result-files.ts',
  'src/parasol/grid.ts',
  'src/errors.ts',
  'src/log.ts',
];
/** Short locks, so that a dead worker's job is noticed in about a second. */
const LOCK_MS = 1000;
const STALLED_MS = 300;
/** How long a dead worker's job may take to be retried or failed, at most. */
const RECOVERY_BOUND_MS = 15_000;

const REDIS = redisServerBinary('test/jobs/worker-kill.test.ts');

interface ChildWorker {
  child: ChildProcess;
  /** Resolves with the worker's name once it takes jobs. */
  ready: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  lines: string[];
}

describe.skipIf(!REDIS)('a sampler worker killed mid-job', () => {
  let server: RedisServer;
  let dir: string;
  let queueName = '';
  let queue: RedisGenerationQueue | undefined;
  const children: ChildWorker[] = [];
  const workers: GenerationWorker[] = [];

  function spawnWorker(maxStalledCount: number, stepMs = 40): ChildWorker {
    const child = spawn(
      process.execPath,
      [CHILD, server.url, queueName, dir, String(stepMs), String(LOCK_MS), String(STALLED_MS), String(maxStalledCount)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const lines: string[] = [];
    let stderr = '';
    let buffer = '';
    let resolveReady!: (name: string) => void;
    const ready = new Promise<string>((resolve, reject) => {
      resolveReady = resolve;
      child.on('exit', (code, signal) => reject(new Error(`the worker exited before it was ready (${code ?? signal}):\n${stderr}`)));
    });
    ready.catch(() => undefined);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      const complete = buffer.split('\n');
      buffer = complete.pop()!;
      for (const line of complete) {
        lines.push(line);
        if (line.startsWith('READY ')) resolveReady(line.slice(6));
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    const worker = { child, ready, exited, lines };
    children.push(worker);
    return worker;
  }

  const finished = (v: JobView | undefined) => v?.state === 'succeeded' || v?.state === 'failed' || v?.state === 'cancelled';

  beforeAll(async () => {
    ensureStoreBuilt(ROOT, COMPILED);
    server = await startRedisServer(REDIS!);
    dir = await mkdtemp(path.join(tmpdir(), 'parasol-worker-kill-'));
  });
  afterEach(async () => {
    for (const { child } of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(workers.splice(0).map((w) => w.close()));
    await queue?.close();
    queue = undefined;
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A queue, a child worker running a job, then SIGKILL once the job made progress. */
  async function killMidJob(maxStalledCount: number): Promise<{ id: string; killed: ChildWorker }> {
    queueName = `kill-${randomUUID().slice(0, 8)}`;
    queue = createRedisGenerationQueue({ redisUrl: server.url, queueName, dir, queueLength: 4, ttlMs: 60_000 });
    const killed = spawnWorker(maxStalledCount);
    await killed.ready;
    const { id } = await queue.submit(fakeSubmission('victim', 40)); // 40 × 40 ms
    await until(() => queue!.get(id), (v) => v?.state === 'running' && v.step >= 1);
    killed.child.kill('SIGKILL');
    expect((await killed.exited).signal).toBe('SIGKILL');
    // Its lock outlives it for a while: until then the job still shows as running.
    expect((await queue.get(id))?.state).toBe('running');
    return { id, killed };
  }

  it('retries the job on a restarted worker, which finishes it', async () => {
    const { id } = await killMidJob(1);
    const restarted = spawnWorker(1);
    const name = await restarted.ready;
    const started = Date.now();
    const done = (await until(() => queue!.get(id), finished, RECOVERY_BOUND_MS)) as JobView;
    expect(done).toMatchObject({ state: 'succeeded', step: 40, total: 40, result: { name: 'victim', pid: restarted.child.pid } });
    expect(Date.now() - started).toBeLessThan(RECOVERY_BOUND_MS);
    expect(restarted.lines).toContain('STEP victim 1'); // it ran the job from the start
    expect((await queue!.image(id)).toString()).toBe('png:victim');
    expect(name).toMatch(/-c1$/);
    // A SIGTERM is a graceful stop.
    restarted.child.kill('SIGTERM');
    expect((await restarted.exited).code).toBe(0);
  });

  it('fails the job, never leaving it running, once it stalled more than maxStalledCount times', async () => {
    const { id } = await killMidJob(0);
    // The survivor's stalled checker finds the dead worker's job; with maxStalledCount 0 it fails it.
    const runner = controllableRunner();
    runner.release();
    workers.push(await startGenerationWorker({ redisUrl: server.url, queueName, dir, run: runner.run, lockDurationMs: LOCK_MS, stalledIntervalMs: STALLED_MS, maxStalledCount: 0 }));
    const done = (await until(() => queue!.get(id), finished, RECOVERY_BOUND_MS)) as JobView;
    expect(done.state).toBe('failed');
    expect(done.error?.code).toBe('GENERATION_UNAVAILABLE');
    expect(runner.started).toEqual([]);
    // The queue is still usable: the next job runs on the survivor.
    const next = await queue!.submit(fakeSubmission('next', 1));
    expect(await until(() => queue!.get(next.id), finished, RECOVERY_BOUND_MS)).toMatchObject({ state: 'succeeded' });
  });

  it('finishes the running job before a SIGTERMed worker exits', async () => {
    queueName = `term-${randomUUID().slice(0, 8)}`;
    queue = createRedisGenerationQueue({ redisUrl: server.url, queueName, dir, queueLength: 4, ttlMs: 60_000 });
    const worker = spawnWorker(1, 20);
    await worker.ready;
    const { id } = await queue.submit(fakeSubmission('graceful', 20));
    await until(() => queue!.get(id), (v) => v?.state === 'running' && v.step >= 1);
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
    expect(await queue.get(id)).toMatchObject({ state: 'succeeded', result: { name: 'graceful' } });
  });
});
