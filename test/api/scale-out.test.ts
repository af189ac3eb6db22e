/**
 * The scale-out stack without Docker, as README "Scale-out" runs it: a real redis-server, two API
 * servers (in-process contexts with the Redis queue and Redis sessions) and one sampler worker as
 * a separate `parasol worker` process (the compiled CLI), all sharing one generated-images folder.
 * Jobs submitted to one API server are sampled by the worker and served by both; a session begun
 * on one server continues on the other; `worker --check` reads the worker's heartbeat.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { openContext, type ParasolContext } from '../../src/context.js';
import { readProvenance } from '../../src/parasol/image.js';
import { buildDemoIndex } from '../../indexer/demo-index.js';
import { TINY_GENERATOR } from '../parasol/helpers.js';
import { ensureStoreBuilt } from '../store/build-dist.js';
import { redisServerBinary, startRedisServer, type RedisServer } from '../support/redis-server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const REDIS = redisServerBinary('scale-out.test.ts');
const run = promisify(execFile);

describe.skipIf(!REDIS)('scale-out: API servers and a sampler worker over Redis', () => {
  let redis: RedisServer;
  let dir: string;
  let env: Record<string, string>;
  let worker: ChildProcess;
  let workerLog = '';
  const contexts: ParasolContext[] = [];
  let apps: Express[];
  let ids: string[];

  const configFor = (dataDir: string): Config =>
    loadConfig({ dataDir, packDir: TINY_GENERATOR, device: 'cpu', threads: 1, generate: { maxSteps: 8, defaultSteps: 4 } }, env);

  beforeAll(async () => {
    ensureStoreBuilt(ROOT, ['src/cli.ts', 'src/jobs/worker-process.ts', 'src/jobs/worker.ts', 'src/jobs/redis-queue.ts', 'src/context.ts']);
    redis = await startRedisServer(REDIS!);
    dir = await mkdtemp(path.join(tmpdir(), 'parasol-scale-'));
    env = {
      PARASOL_QUEUE: 'redis',
      PARASOL_SESSION_STORE: 'redis',
      REDIS_URL: redis.url,
      PARASOL_REDIS_PREFIX: 'scale-test',
      PARASOL_GENERATED_DIR: path.join(dir, 'generated'),
      PARASOL_WORKER_HEARTBEAT: path.join(dir, 'worker.heartbeat'),
    };
    worker = spawn(process.execPath, [CLI, 'worker', '--data', path.join(dir, 'worker')], {
      env: { ...process.env, ...env, PARASOL_PACK: TINY_GENERATOR, PARASOL_DEVICE: 'cpu', PARASOL_THREADS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.setEncoding('utf8').on('data', (chunk: string) => (workerLog += chunk));
    worker.stderr!.setEncoding('utf8').on('data', (chunk: string) => (workerLog += chunk));
    for (const name of ['api-a', 'api-b']) {
      const context = await openContext(configFor(path.join(dir, name)));
      contexts.push(context);
      const summary = await buildDemoIndex(context, { limit: 6, progress: null });
      ids = summary.addedIds;
    }
    apps = contexts.map((context) => createApp({ config: context.config, logger: context.logger, services: context.services }));
  }, 120_000);

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      worker.kill('SIGKILL');
      await new Promise((resolve) => worker.once('exit', resolve));
    }
    for (const context of contexts) await context.close();
    await redis?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function waitForJob(app: Express, id: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await request(app).get(`/v1/jobs/${id}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      if (['succeeded', 'failed', 'cancelled'].includes(res.body.state)) return res.body;
      if (Date.now() > deadline) throw new Error(`job ${id} stuck in ${res.body.state}; worker said:\n${workerLog}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('samples a job submitted to one API server in the worker process, and both servers serve it', async () => {
    const [a, b] = apps;
    const submitted = await request(a)
      .post('/v1/generate')
      .send({ content: { itemId: ids[0] }, style: { text: 'ink wash' }, steps: 3, lambda: 1, seed: 5 });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
    const job = await waitForJob(a, submitted.body.jobId);
    expect(job, workerLog).toMatchObject({ state: 'succeeded', step: 6, total: 6, result: { steps: 3, seed: 5, inverted: true } });
    const fromA = (await request(a).get(`/v1/jobs/${job.id}/image`).buffer(true)).body as Buffer;
    const fromB = await request(b).get(`/v1/jobs/${job.id}/image`).buffer(true);
    expect(fromB.status).toBe(200);
    expect(fromB.body).toEqual(fromA);
    expect(readProvenance(fromA)?.parameters).toMatchObject({ seed: 5, steps: 3 });
    expect((await request(b).get(`/v1/jobs/${job.id}`)).body.state).toBe('succeeded');
  });

  it('continues on one server a refinement session started on the other', async () => {
    const [a, b] = apps;
    const created = await request(a).post('/v1/sessions').send({ q: 'face', style: 'flat', k: 4 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.session.id as string;
    const step = await request(b).post(`/v1/sessions/${id}/steps`).send({ weights: { style: 2 } });
    expect(step.status, JSON.stringify(step.body)).toBe(200);
    expect((await request(a).get(`/v1/sessions/${id}`)).body.session.step).toBe(1);
  });

  it('reports a live worker to `worker --check`, and a missing heartbeat as a failure', async () => {
    await expect(run(process.execPath, [CLI, 'worker', '--check'], { env: { ...process.env, ...env } })).resolves.toBeDefined();
    const missing = await run(process.execPath, [CLI, 'worker', '--check'], {
      env: { ...process.env, ...env, PARASOL_WORKER_HEARTBEAT: path.join(dir, 'nobody.heartbeat') },
    }).catch((error: { code: number; stderr: string }) => error);
    expect(missing).toMatchObject({ code: 1 });
    expect((missing as { stderr: string }).stderr).toMatch(/^parasol worker: NOT_READY: .*no worker heartbeat/);
  });

  it('stops the worker cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    worker.kill('SIGTERM');
    expect(await exited, workerLog).toBe(0);
  });
});
