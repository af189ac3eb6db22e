import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadGenerator, type GeneratorModels } from '../../src/encoders/generator.js';
import { loadEncoders, type LoadedEncoders } from '../../src/encoders/index.js';
import { isParasolError, ParasolError } from '../../src/errors.js';
import { Generator } from '../../src/parasol/generate.js';
import { generationRunner, type GenerationPayload } from '../../src/jobs/generation.js';
import { InMemoryJobQueue } from '../../src/jobs/memory-queue.js';
import { isJobId, type JobRunner, type JobState, type JobView } from '../../src/jobs/queue.js';
import { testImage, TINY_GENERATOR } from '../parasol/helpers.js';

/** A fake sampler: `steps` steps, each waiting for the test to let it through (or a short timer). */
interface FakeJob {
  name: string;
  steps: number;
  fail?: 'known' | 'unknown';
}

function controllableRunner() {
  const started: string[] = [];
  const progress: Record<string, number[]> = {};
  let open = false;
  const waiters: Array<() => void> = [];
  const gate = () => (open ? new Promise<void>((resolve) => setTimeout(resolve, 2)) : new Promise<void>((resolve) => waiters.push(resolve)));
  const run: JobRunner<FakeJob> = async (job, { signal, onProgress }) => {
    started.push(job.name);
    for (let i = 0; i < job.steps; i++) {
      signal.throwIfAborted();
      await gate();
      progress[job.name] = [...(progress[job.name] ?? []), i + 1];
      onProgress(i + 1, job.steps);
    }
    if (job.fail === 'known') throw new ParasolError('BAD_REQUEST', 'the model refused');
    if (job.fail === 'unknown') throw new Error('secret internals');
    return { png: Buffer.from(`png:${job.name}`), result: { name: job.name } };
  };
  return {
    run,
    started,
    progress,
    /** Lets every waiting step through once. */
    step() {
      for (const resolve of waiters.splice(0)) resolve();
    },
    /** Lets everything run freely from now on. */
    release() {
      open = true;
      this.step();
    },
  };
}

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const stateOf = (queue: InMemoryJobQueue<FakeJob>, id: string) =>
  until(
    () => queue.get(id),
    () => true,
  ).then((v) => v?.state);

function submission(job: FakeJob) {
  return { kind: 'generate', payload: job, params: { steps: job.steps }, sources: { content: { text: job.name } }, total: job.steps };
}

describe('InMemoryJobQueue', () => {
  let dir: string;
  const queues: Array<InMemoryJobQueue<FakeJob>> = [];
  const make = (runner: JobRunner<FakeJob>, options: Partial<ConstructorParameters<typeof InMemoryJobQueue<FakeJob>>[0]> = {}) => {
    const queue = new InMemoryJobQueue<FakeJob>({ run: runner, workers: 1, queueLength: 4, ttlMs: 60_000, cacheBytes: 1 << 20, dir, ...options });
    queues.push(queue);
    return queue;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'parasol-jobs-'));
  });
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.close()));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a job through queued → running → succeeded with progress, and keeps the image', async () => {
    const runner = controllableRunner();
    const queue = make(runner.run, { workers: 1 });
    const a = await queue.submit(submission({ name: 'a', steps: 3 }));
    const b = await queue.submit(submission({ name: 'b', steps: 2 }));
    expect(isJobId(a.id)).toBe(true);
    expect(a.id).not.toBe(b.id);
    expect(a.state).toBe('running'); // a worker was free
    expect(b.state).toBe('queued');
    expect(b.total).toBe(2);
    runner.step();
    const during = await until(() => queue.get(a.id), (v) => v?.step === 1);
    expect(during).toMatchObject({ state: 'running', step: 1, total: 3, params: { steps: 3 }, sources: { content: { text: 'a' } } });
    expect((await queue.get(b.id))?.state).toBe('queued');
    await expect(queue.image(a.id)).rejects.toMatchObject({ code: 'JOB_NOT_FINISHED', status: 409 });
    runner.release();
    const done = await until(() => queue.get(b.id), (v) => v?.state === 'succeeded');
    const first = (await queue.get(a.id)) as JobView;
    expect(first).toMatchObject({ state: 'succeeded', step: 3, total: 3, result: { name: 'a' } });
    expect(first.finishedAt).toBeDefined();
    expect(first.timing.runMs).toBeGreaterThanOrEqual(0);
    expect(done.timing.queuedMs).toBeGreaterThanOrEqual(0);
    expect((await queue.image(a.id)).toString()).toBe('png:a');
    expect(runner.started).toEqual(['a', 'b']); // one worker: one at a time, in order
    const files = await until(() => readdir(dir), (names) => names.includes(`${a.id}.json`));
    expect(files.filter((name) => name.startsWith(a.id)).sort()).toEqual([`${a.id}.json`, `${a.id}.png`]);
  });

  it('runs as many jobs at once as it has workers', async () => {
    const runner = controllableRunner();
    const queue = make(runner.run, { workers: 2 });
    const views = await Promise.all(['a', 'b', 'c'].map((name) => queue.submit(submission({ name, steps: 1 }))));
    expect(views.map((v) => v.state)).toEqual(['running', 'running', 'queued']);
    runner.release();
    for (const v of views) await until(() => queue.get(v.id), (x) => x?.state === 'succeeded');
  });

  it('refuses a job past the queue length with QUEUE_FULL and a Retry-After', async () => {
    const runner = controllableRunner();
    const queue = make(runner.run, { workers: 1, queueLength: 1 });
    await queue.submit(submission({ name: 'a', steps: 1 }));
    await queue.submit(submission({ name: 'b', steps: 1 }));
    const error = await queue.submit(submission({ name: 'c', steps: 1 })).catch((e: unknown) => e);
    expect(isParasolError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'QUEUE_FULL', status: 429 });
    const retry = Number((error as ParasolError).headers['Retry-After']);
    expect(Number.isInteger(retry) && retry >= 1).toBe(true);
    expect((error as ParasolError).message).toContain(String(retry));
    expect(await queue.stats()).toMatchObject({ running: 1, queued: 1, queueLength: 1, workers: 1 });
    runner.release();
  });

  it('estimates Retry-After from the average job time', async () => {
    let clock = 1_000_000;
    const runner = controllableRunner();
    const queue = make(runner.run, { workers: 1, queueLength: 0, now: () => clock });
    const first = await queue.submit(submission({ name: 'a', steps: 1 }));
    clock += 40_000; // the job takes 40 s
    runner.step();
    await until(() => queue.get(first.id), (v) => v?.state === 'succeeded');
    expect((await queue.stats()).averageSeconds).toBeCloseTo(40);
    await queue.submit(submission({ name: 'b', steps: 1 }));
    clock += 10_000; // b has run 10 s of the expected 40
    const error = (await queue.submit(submission({ name: 'c', steps: 1 })).catch((e: unknown) => e)) as ParasolError;
    expect(error.headers['Retry-After']).toBe('30');
    runner.release();
  });

  it('removes a queued job at once when it is cancelled; the runner never sees it', async () => {
    const runner = controllableRunner();
    const queue = make(runner.run, { workers: 1 });
    const a = await queue.submit(submission({ name: 'a', steps: 1 }));
    const b = await queue.submit(submission({ name: 'b', steps: 1 }));
    const cancelled = await queue.cancel(b.id);
    expect(cancelled?.state).toBe('cancelled');
    expect((await queue.stats()).queued).toBe(0);
    runner.release();
    await until(() => queue.get(a.id), (v) => v?.state === 'succeeded');
    expect(runner.started).toEqual(['a']);
    expect(await stateOf(queue, b.id)).toBe('cancelled');
    await expect(queue.image(b.id)).rejects.toMatchObject({ code: 'JOB_NOT_FINISHED' });
  });

  it('stops a running job within one step of the cancel, and frees its worker', async () => {
    const runner = controllableRunner();
    const queue = make(runner.run, { workers: 1 });
    const a = await queue.submit(submission({ name: 'a', steps: 50 }));
    const b = await queue.submit(submission({ name: 'b', steps: 1 }));
    runner.step();
    runner.step();
    await until(() => queue.get(a.id), (v) => (v?.step ?? 0) >= 1);
    const stepsAtCancel = runner.progress.a.length;
    expect((await queue.cancel(a.id))?.state).toBe('cancelled');
    runner.release();
    await until(() => queue.get(b.id), (v) => v?.state === 'succeeded');
    expect(runner.progress.a.length).toBeLessThanOrEqual(stepsAtCancel + 1);
    const view = (await queue.get(a.id)) as JobView;
    expect(view.state).toBe('cancelled');
    expect(view.error).toBeUndefined();
  });

  it('reports failures: catalogued errors as they are, others as INTERNAL without details', async () => {
    const runner = controllableRunner();
    runner.release();
    const queue = make(runner.run);
    const known = await queue.submit(submission({ name: 'k', steps: 1, fail: 'known' }));
    const unknown = await queue.submit(submission({ name: 'u', steps: 1, fail: 'unknown' }));
    const k = await until(() => queue.get(known.id), (v) => v?.state === 'failed');
    const u = await until(() => queue.get(unknown.id), (v) => v?.state === 'failed');
    expect(k.error).toEqual({ code: 'BAD_REQUEST', message: 'the model refused' });
    expect(u.error?.code).toBe('INTERNAL');
    expect(JSON.stringify(u)).not.toContain('secret');
  });

  it('forgets finished jobs after the TTL, in memory and on disk', async () => {
    let clock = 5_000_000;
    const runner = controllableRunner();
    runner.release();
    const queue = make(runner.run, { ttlMs: 10_000, now: () => clock });
    const a = await queue.submit(submission({ name: 'a', steps: 1 }));
    await until(() => queue.get(a.id), (v) => v?.state === 'succeeded');
    await until(() => readdir(dir), (names) => names.includes(`${a.id}.json`));
    clock += 9_000;
    expect((await queue.get(a.id))?.state).toBe('succeeded');
    clock += 2_000;
    expect(await queue.get(a.id)).toBeUndefined();
    await expect(queue.image(a.id)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND', status: 404 });
    await until(() => readdir(dir), (names) => !names.some((name) => name.startsWith(a.id)));
  });

  it('serves finished images after a restart, from disk, and past the memory bound', async () => {
    const runner = controllableRunner();
    runner.release();
    const queue = make(runner.run, { cacheBytes: 8 }); // smaller than any image: nothing stays in memory
    const a = await queue.submit(submission({ name: 'restart', steps: 2 }));
    await until(() => queue.get(a.id), (v) => v?.state === 'succeeded');
    await until(() => readdir(dir), (names) => names.includes(`${a.id}.json`));
    expect((await queue.image(a.id)).toString()).toBe('png:restart');
    await queue.close();

    const again = make(controllableRunner().run);
    const view = await again.get(a.id);
    expect(view).toMatchObject({ id: a.id, state: 'succeeded', step: 2, total: 2, result: { name: 'restart' } });
    expect((await again.image(a.id)).toString()).toBe('png:restart');
    expect(await again.remove(a.id)).toBe(true);
    expect(await again.get(a.id)).toBeUndefined();
    expect((await readdir(dir)).some((name) => name.startsWith(a.id))).toBe(false);
  });

  it('accepts only UUID job ids: anything else names nothing, and never a file', async () => {
    const queue = make(controllableRunner().run);
    for (const bad of ['../../etc/passwd', '..', '', 'a'.repeat(36), '00000000-0000-0000-0000-000000000000', `${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}.json`]) {
      expect(isJobId(bad)).toBe(false);
      expect(await queue.get(bad)).toBeUndefined();
      expect(await queue.cancel(bad)).toBeUndefined();
      expect(await queue.remove(bad)).toBe(false);
      await expect(queue.image(bad)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    }
    expect(await queue.get('0b0e6a8e-3b1f-4c57-9a55-0f6c1a2b3c4d')).toBeUndefined();
  });

  it('close() cancels what is queued and running', async () => {
    const runner = controllableRunner();
    const queue = make(runner.run);
    const a = await queue.submit(submission({ name: 'a', steps: 100 }));
    const b = await queue.submit(submission({ name: 'b', steps: 1 }));
    const closing = queue.close();
    runner.release();
    await closing;
    const states: Array<JobState | undefined> = [(await queue.get(a.id))?.state, (await queue.get(b.id))?.state];
    expect(states).toEqual(['cancelled', 'cancelled']);
    await expect(queue.submit(submission({ name: 'c', steps: 1 }))).rejects.toMatchObject({ code: 'NOT_READY' });
  });
});

describe('generation jobs on the tiny generator', () => {
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

  it('stops a running sampler within one step of the cancel', async () => {
    const steps: number[] = [];
    let cancelledAt = -1;
    let queue!: InMemoryJobQueue<GenerationPayload>;
    let id = '';
    const inner = generationRunner(async () => generator);
    queue = new InMemoryJobQueue<GenerationPayload>({
      run: (payload, context) =>
        inner(payload, {
          signal: context.signal,
          onProgress(step, total) {
            steps.push(step);
            context.onProgress(step, total);
            if (step === 3 && cancelledAt < 0) {
              cancelledAt = step;
              void queue.cancel(id);
            }
          },
        }),
      workers: 1,
      queueLength: 1,
      ttlMs: 60_000,
      cacheBytes: 1 << 20,
    });
    const view = await queue.submit({
      kind: 'generate',
      payload: { kind: 'generate', request: { content: { image: content }, style: { image: style }, steps: 8, lambda: 4, seed: 1 } },
      params: {},
      sources: {},
      total: 16,
    });
    id = view.id;
    const done = await until(() => queue.get(id), (v) => v?.state === 'cancelled');
    await queue.close();
    expect(done.state).toBe('cancelled');
    expect(Math.max(...steps)).toBeLessThanOrEqual(cancelledAt + 1);
  });
});
