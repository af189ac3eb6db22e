import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadGenerator, type GeneratorModels } from '../../src/encoders/generator.js';
import { loadEncoders, type LoadedEncoders } from '../../src/encoders/index.js';
import type { ParasolError } from '../../src/errors.js';
import { Generator } from '../../src/parasol/generate.js';
import { generationRunner, type GenerationPayload } from '../../src/jobs/generation.js';
import { InMemoryJobQueue } from '../../src/jobs/memory-queue.js';
import type { JobRunner, JobState } from '../../src/jobs/queue.js';
import { testImage, TINY_GENERATOR } from '../parasol/helpers.js';
import { controllableRunner, fakeSubmission, until } from './fixtures/fake-runner.js';

/**
 * What only the in-process queue does. What every queue does (states, progress, cancel, failures,
 * QUEUE_FULL, TTL, ids) is the contract suite's: contract.ts, run on this queue by contract-memory.test.ts.
 */
describe('InMemoryJobQueue', () => {
  let dir: string;
  const queues: Array<InMemoryJobQueue<GenerationPayload>> = [];
  const make = (runner: JobRunner<GenerationPayload>, options: Partial<ConstructorParameters<typeof InMemoryJobQueue<GenerationPayload>>[0]> = {}) => {
    const queue = new InMemoryJobQueue<GenerationPayload>({ run: runner, workers: 1, queueLength: 4, ttlMs: 60_000, cacheBytes: 1 << 20, dir, ...options });
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

  it('starts a job inside submit() when a worker is free', async () => {
    const runner = controllableRunner();
    const queue = make(runner.run, { workers: 2 });
    const views = await Promise.all(['a', 'b', 'c'].map((name) => queue.submit(fakeSubmission(name, 1))));
    expect(views.map((v) => v.state)).toEqual(['running', 'running', 'queued']);
    expect(views[0].startedAt).toBeDefined();
    runner.release();
    for (const v of views) await until(() => queue.get(v.id), (x) => x?.state === 'succeeded');
  });

  it('estimates Retry-After from the average job time', async () => {
    let clock = 1_000_000;
    const runner = controllableRunner();
    const queue = make(runner.run, { workers: 1, queueLength: 0, now: () => clock });
    const first = await queue.submit(fakeSubmission('a', 1));
    clock += 40_000; // the job takes 40 s
    runner.step();
    await until(() => queue.get(first.id), (v) => v?.state === 'succeeded');
    expect((await queue.stats()).averageSeconds).toBeCloseTo(40);
    await queue.submit(fakeSubmission('b', 1));
    clock += 10_000; // b has run 10 s of the expected 40
    const error = (await queue.submit(fakeSubmission('c', 1)).catch((e: unknown) => e)) as ParasolError;
    expect(error.headers['Retry-After']).toBe('30');
    runner.release();
  });

  it('serves finished images after a restart, from disk, and past the memory bound', async () => {
    const runner = controllableRunner();
    runner.release();
    const queue = make(runner.run, { cacheBytes: 8 }); // smaller than any image: nothing stays in memory
    const a = await queue.submit(fakeSubmission('restart', 2));
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

  it('close() cancels what is queued and running', async () => {
    const runner = controllableRunner();
    const queue = make(runner.run);
    const a = await queue.submit(fakeSubmission('a', 100));
    const b = await queue.submit(fakeSubmission('b', 1));
    const closing = queue.close();
    runner.release();
    await closing;
    const states: Array<JobState | undefined> = [(await queue.get(a.id))?.state, (await queue.get(b.id))?.state];
    expect(states).toEqual(['cancelled', 'cancelled']);
    expect(runner.started).toEqual(['a']);
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
    expect(done?.state).toBe('cancelled');
    expect(Math.max(...steps)).toBeLessThanOrEqual(cancelledAt + 1);
  });
});
