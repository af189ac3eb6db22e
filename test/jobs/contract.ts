/**
 * The job queue contract, as behaviour: one suite every queue must pass (the in-process queue and
 * the Redis queue with its sampler workers), so that the two cannot drift. It asserts what the
 * routes can observe through `JobQueue` — states, progress, views, images, error codes, expiry —
 * never how a queue does it. What only one queue does (the in-process queue starting a job inside
 * submit(), the Redis queue's retries, marks and shared folder) stays in its own test file.
 */
import { readdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { isParasolError, type ParasolError } from '../../src/errors.js';
import type { GenerationPayload } from '../../src/jobs/generation.js';
import { isJobId, type JobQueue, type JobView } from '../../src/jobs/queue.js';
import { parseJobView } from '../../src/jobs/result-files.js';
import { controllableRunner, fakeSubmission, until } from './fixtures/fake-runner.js';

export type FakeRunner = ReturnType<typeof controllableRunner>;

export interface QueueShape {
  /** Jobs run at once (sampler worker slots). */
  workers: number;
  queueLength: number;
  ttlMs: number;
  /** The queue's clock (finish times and expiry). */
  now?: () => number;
}

export interface OpenedQueue {
  queue: JobQueue<GenerationPayload>;
  /** The folder finished results are written to. */
  dir: string;
  cleanup(): Promise<void>;
}

/** Opens an empty queue of the given shape whose jobs are run by `runner`. */
export type OpenFreshQueue = (shape: QueueShape, runner: FakeRunner) => Promise<OpenedQueue>;

const BAD_IDS = ['../../etc/passwd', '..', '', '*', 'a'.repeat(36), '00000000-0000-0000-0000-000000000000', `${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}.json`];

export function describeQueueContract(name: string, openFreshQueue: OpenFreshQueue): void {
  describe(`JobQueue contract: ${name}`, () => {
    const opened: Array<OpenedQueue & { runner: FakeRunner }> = [];
    const open = async (shape: Partial<QueueShape> = {}) => {
      const runner = controllableRunner();
      const queue = { ...(await openFreshQueue({ workers: 1, queueLength: 4, ttlMs: 60_000, ...shape }, runner)), runner };
      opened.push(queue);
      return queue;
    };
    /** The job's view once it is in `state`. */
    const reached = async (queue: JobQueue<GenerationPayload>, id: string, state: JobView['state']) =>
      (await until(() => queue.get(id), (v) => v?.state === state)) as JobView;
    const stateOf = async (queue: JobQueue<GenerationPayload>, id: string) => (await queue.get(id))?.state;
    const filesOf = async (dir: string, id: string) => (await readdir(dir).catch(() => [] as string[])).filter((file) => file.startsWith(id)).sort();

    afterEach(async () => {
      // Every fake job may finish: a worker closing waits for its running job.
      for (const { runner } of opened) runner.release();
      await Promise.all(opened.splice(0).map((o) => o.cleanup()));
    });

    it('runs a job through queued → running → succeeded with progress, a result and its image', async () => {
      const { queue, runner, dir } = await open();
      const a = await queue.submit(fakeSubmission('a', 3));
      const b = await queue.submit(fakeSubmission('b', 2));
      expect(isJobId(a.id) && isJobId(b.id)).toBe(true);
      expect(a.id).not.toBe(b.id);
      expect(['queued', 'running']).toContain(a.state);
      expect(b).toMatchObject({ state: 'queued', step: 0, total: 2, kind: 'generate', params: { steps: 2 }, sources: { content: { text: 'b' } } });
      await until(() => queue.get(a.id), (v) => v?.state === 'running');
      runner.step();
      const during = await until(() => queue.get(a.id), (v) => v?.step === 1);
      expect(during).toMatchObject({ state: 'running', step: 1, total: 3, params: { steps: 3 }, sources: { content: { text: 'a' } } });
      expect(during?.startedAt).toBeDefined();
      expect(during?.finishedAt).toBeUndefined();
      expect(await stateOf(queue, b.id)).toBe('queued');
      await expect(queue.image(a.id)).rejects.toMatchObject({ code: 'JOB_NOT_FINISHED', status: 409 });
      runner.release();
      const second = await reached(queue, b.id, 'succeeded');
      const first = (await queue.get(a.id)) as JobView;
      expect(first).toMatchObject({ id: a.id, kind: 'generate', state: 'succeeded', step: 3, total: 3, result: { name: 'a' }, params: { steps: 3 } });
      expect(first.error).toBeUndefined();
      expect(Date.parse(first.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(first.startedAt!));
      expect(first.timing.runMs).toBeGreaterThanOrEqual(0);
      expect(second.timing.queuedMs).toBeGreaterThanOrEqual(0);
      expect((await queue.image(a.id)).toString()).toBe('png:a');
      expect((await queue.image(b.id)).toString()).toBe('png:b');
      expect(runner.started).toEqual(['a', 'b']); // one worker slot: one at a time, in order
      expect(await until(() => filesOf(dir, a.id), (files) => files.length === 2)).toEqual([`${a.id}.json`, `${a.id}.png`]);
    });

    it('answers views another process could read back: every view is a valid JobView', async () => {
      const { queue, runner } = await open();
      runner.release();
      const submitted = await queue.submit(fakeSubmission('v', 2));
      const done = await reached(queue, submitted.id, 'succeeded');
      for (const view of [submitted, done]) {
        expect(parseJobView(JSON.parse(JSON.stringify(view)))).toEqual(view);
        expect(Number.isFinite(Date.parse(view.createdAt))).toBe(true);
      }
      expect(done.createdAt).toBe(submitted.createdAt);
      // A view is a copy: changing it changes nothing in the queue.
      done.state = 'failed';
      (done.params as Record<string, unknown>).steps = 99;
      expect(await queue.get(submitted.id)).toMatchObject({ state: 'succeeded', params: { steps: 2 } });
    });

    it('runs as many jobs at once as it has worker slots, and counts them in stats()', async () => {
      const { queue, runner } = await open({ workers: 2 });
      expect(await queue.stats()).toMatchObject({ workers: 2, running: 0, queued: 0, queueLength: 4, averageSeconds: null });
      const views = await Promise.all(['a', 'b', 'c'].map((job) => queue.submit(fakeSubmission(job, 1))));
      expect(await until(() => queue.stats(), (s) => s.running === 2)).toMatchObject({ workers: 2, running: 2, queued: 1 });
      runner.release();
      for (const v of views) await until(() => queue.get(v.id), (x) => x?.state === 'succeeded');
      expect([...runner.started].sort()).toEqual(['a', 'b', 'c']);
      const stats = await until(() => queue.stats(), (s) => s.running === 0);
      expect(stats).toMatchObject({ running: 0, queued: 0 });
      expect(stats.averageSeconds).toBeGreaterThanOrEqual(0);
    });

    it('refuses a job past the queue length with QUEUE_FULL and a Retry-After', async () => {
      const { queue, runner } = await open({ workers: 1, queueLength: 1 });
      const a = await queue.submit(fakeSubmission('a', 1));
      await until(() => queue.get(a.id), (v) => v?.state === 'running');
      const b = await queue.submit(fakeSubmission('b', 1));
      const error = await queue.submit(fakeSubmission('c', 1)).catch((e: unknown) => e);
      expect(isParasolError(error)).toBe(true);
      expect(error).toMatchObject({ code: 'QUEUE_FULL', status: 429 });
      const retry = Number((error as ParasolError).headers['Retry-After']);
      expect(Number.isInteger(retry) && retry >= 1 && retry <= 3600).toBe(true);
      expect((error as ParasolError).message).toContain(String(retry));
      expect(await queue.stats()).toMatchObject({ workers: 1, running: 1, queued: 1, queueLength: 1 });
      // A place frees up once the running job is done.
      runner.release();
      await until(() => queue.get(b.id), (v) => v?.state === 'succeeded');
      const c = await queue.submit(fakeSubmission('c', 1));
      expect(await until(() => queue.get(c.id), (v) => v?.state === 'succeeded')).toMatchObject({ result: { name: 'c' } });
    });

    it('cancels a queued job at once; no worker ever sees it', async () => {
      const { queue, runner } = await open();
      const a = await queue.submit(fakeSubmission('a', 1));
      await until(() => queue.get(a.id), (v) => v?.state === 'running');
      const b = await queue.submit(fakeSubmission('b', 1));
      const cancelled = await queue.cancel(b.id);
      expect(cancelled).toMatchObject({ id: b.id, state: 'cancelled', params: { steps: 1 } });
      expect(cancelled?.finishedAt).toBeDefined();
      expect(cancelled?.error).toBeUndefined();
      expect((await queue.stats()).queued).toBe(0);
      runner.release();
      await until(() => queue.get(a.id), (v) => v?.state === 'succeeded');
      expect(runner.started).toEqual(['a']);
      expect(await stateOf(queue, b.id)).toBe('cancelled');
      await expect(queue.image(b.id)).rejects.toMatchObject({ code: 'JOB_NOT_FINISHED', status: 409 });
      expect(await queue.remove(b.id)).toBe(true);
      expect(await queue.get(b.id)).toBeUndefined();
    });

    it('cancels a running job: cancelled at once, the runner stops within one step, the worker is freed', async () => {
      const { queue, runner } = await open();
      const a = await queue.submit(fakeSubmission('a', 50));
      const b = await queue.submit(fakeSubmission('b', 1));
      await until(() => queue.get(a.id), (v) => v?.state === 'running');
      runner.step();
      await until(() => queue.get(a.id), (v) => (v?.step ?? 0) >= 1);
      const stepsAtCancel = runner.progress.a.length;
      expect((await queue.cancel(a.id))?.state).toBe('cancelled');
      expect(await stateOf(queue, a.id)).toBe('cancelled');
      await until(async () => runner.aborted, (names) => names.includes('a'));
      runner.release();
      await until(() => queue.get(b.id), (v) => v?.state === 'succeeded');
      expect(runner.progress.a.length).toBeLessThanOrEqual(stepsAtCancel + 1);
      const view = (await queue.get(a.id)) as JobView;
      expect(view.state).toBe('cancelled');
      expect(view.error).toBeUndefined();
      expect(runner.started.filter((job) => job === 'a')).toHaveLength(1);
      await expect(queue.image(a.id)).rejects.toMatchObject({ code: 'JOB_NOT_FINISHED' });
    });

    it('leaves a finished job as it is when cancelled too late', async () => {
      const { queue, runner } = await open();
      runner.release();
      const a = await queue.submit(fakeSubmission('a', 1));
      await until(() => queue.get(a.id), (v) => v?.state === 'succeeded');
      expect(await queue.cancel(a.id)).toMatchObject({ id: a.id, state: 'succeeded', result: { name: 'a' } });
      expect((await queue.image(a.id)).toString()).toBe('png:a');
    });

    it('reports failures: catalogued errors as they are, anything else as INTERNAL without details', async () => {
      const { queue, runner } = await open();
      runner.release();
      const known = await queue.submit(fakeSubmission('k', 1, 'known'));
      const unknown = await queue.submit(fakeSubmission('u', 1, 'unknown'));
      const k = await reached(queue, known.id, 'failed');
      const u = await reached(queue, unknown.id, 'failed');
      expect(k.error).toEqual({ code: 'BAD_REQUEST', message: 'the model refused' });
      expect(u.error).toEqual({ code: 'INTERNAL', message: 'Internal error' });
      expect(JSON.stringify(u)).not.toContain('secret');
      expect(k.finishedAt).toBeDefined();
      expect(k.result).toBeUndefined();
      await expect(queue.image(known.id)).rejects.toMatchObject({ code: 'JOB_NOT_FINISHED', status: 409 });
      expect(await queue.remove(known.id)).toBe(true);
      expect(await queue.get(known.id)).toBeUndefined();
    });

    it('removes only finished jobs, with their files', async () => {
      const { queue, runner, dir } = await open();
      const a = await queue.submit(fakeSubmission('a', 1));
      await until(() => queue.get(a.id), (v) => v?.state === 'running');
      expect(await queue.remove(a.id)).toBe(false);
      expect(await stateOf(queue, a.id)).toBe('running');
      runner.release();
      await until(() => queue.get(a.id), (v) => v?.state === 'succeeded');
      await until(() => filesOf(dir, a.id), (files) => files.includes(`${a.id}.json`));
      expect(await queue.remove(a.id)).toBe(true);
      expect(await queue.get(a.id)).toBeUndefined();
      await expect(queue.image(a.id)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND', status: 404 });
      expect(await queue.remove(a.id)).toBe(false);
      expect(await until(() => filesOf(dir, a.id), (files) => files.length === 0)).toEqual([]);
    });

    it('forgets finished jobs after the TTL, with their files, for good', async () => {
      let offset = 0;
      const { queue, runner, dir } = await open({ ttlMs: 10_000, now: () => Date.now() + offset });
      runner.release();
      const a = await queue.submit(fakeSubmission('a', 1));
      const b = await queue.submit(fakeSubmission('b', 1, 'known'));
      await until(() => queue.get(a.id), (v) => v?.state === 'succeeded');
      await until(() => queue.get(b.id), (v) => v?.state === 'failed');
      await until(() => filesOf(dir, a.id), (files) => files.includes(`${a.id}.json`));
      offset = 9_000;
      expect(await stateOf(queue, a.id)).toBe('succeeded');
      expect((await queue.image(a.id)).toString()).toBe('png:a');
      offset = 11_000;
      expect(await queue.get(a.id)).toBeUndefined();
      expect(await queue.get(b.id)).toBeUndefined();
      await expect(queue.image(a.id)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND', status: 404 });
      await until(() => filesOf(dir, a.id), (files) => files.length === 0);
      offset = 0; // and it does not come back
      expect(await queue.get(a.id)).toBeUndefined();
    });

    it('accepts only UUID job ids: anything else names nothing, and never a key or a file', async () => {
      const { queue } = await open();
      for (const bad of BAD_IDS) {
        expect(isJobId(bad)).toBe(false);
        expect(await queue.get(bad)).toBeUndefined();
        expect(await queue.cancel(bad)).toBeUndefined();
        expect(await queue.remove(bad)).toBe(false);
        await expect(queue.image(bad)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND', status: 404 });
      }
      const unknown = '0b0e6a8e-3b1f-4c57-9a55-0f6c1a2b3c4d';
      expect(await queue.get(unknown)).toBeUndefined();
      expect(await queue.cancel(unknown)).toBeUndefined();
      expect(await queue.remove(unknown)).toBe(false);
      await expect(queue.image(unknown)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    });

    it('refuses new jobs with NOT_READY once closed', async () => {
      const { queue } = await open();
      await queue.close();
      await expect(queue.submit(fakeSubmission('late', 1))).rejects.toMatchObject({ code: 'NOT_READY', status: 503 });
      await queue.close(); // twice is fine
    });
  });
}
