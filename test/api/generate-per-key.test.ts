/**
 * The per-key allowance of generation jobs (config.generate.perKeyQueue): past it a key's
 * requests get 429 QUEUE_FULL with Retry-After while other keys still get places; requests
 * without a key share one bucket. A gated sampler keeps the jobs queued for as long as needed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config.js';
import { openContext, type ParasolContext } from '../../src/context.js';
import type { GenerationPayload } from '../../src/jobs/generation.js';
import { InMemoryJobQueue } from '../../src/jobs/memory-queue.js';
import type { JobRunner } from '../../src/jobs/queue.js';
import { TINY_GENERATOR } from '../parasol/helpers.js';
import { appDeps, expectError } from './helpers.js';

const BODY = { content: { text: 'a cat' }, style: { text: 'ink' }, steps: 2, seed: 1 };

let dataDir: string;
let context: ParasolContext;
let queue: InMemoryJobQueue<GenerationPayload>;
let app: Express;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'parasol-per-key-'));
  const config = loadConfig(
    { dataDir, packDir: TINY_GENERATOR, device: 'cpu', threads: 1, generate: { workers: 1, queueLength: 50, maxSteps: 8, defaultSteps: 2, perKeyQueue: 2 } },
    {},
  );
  context = await openContext(config);
  // Jobs never finish on their own: they wait until cancelled.
  const run: JobRunner<GenerationPayload> = (_payload, ctx) =>
    new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
  queue = new InMemoryJobQueue({ run, workers: 1, queueLength: 50, ttlMs: 60_000, cacheBytes: 1 << 20 });
  app = createApp(appDeps({ ...context, jobs: queue }));
});

afterAll(async () => {
  await queue?.close();
  await context?.close();
  await rm(dataDir, { recursive: true, force: true });
});

function post(secret?: string, route = '/v1/generate', body: object = BODY) {
  const req = request(app).post(route);
  if (secret) req.set('Authorization', `Bearer ${secret}`);
  return req.send(body);
}

describe('per-key generation allowance', () => {
  it('reads PARASOL_GENERATE_PER_KEY_QUEUE and defaults to 4', () => {
    expect(loadConfig({}, {}).generate.perKeyQueue).toBe(4);
    expect(loadConfig({}, { PARASOL_GENERATE_PER_KEY_QUEUE: '7' }).generate.perKeyQueue).toBe(7);
  });

  it('lets requests without a key share one bucket', async () => {
    const anonymous = [];
    for (let i = 0; i < 2; i++) {
      const res = await post();
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      anonymous.push(res.body.jobId as string);
    }
    const full = await post();
    await expectError(full, 429, 'QUEUE_FULL');
    expect(Number(full.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // The grid route counts against the same allowance.
    const grid = await post(undefined, '/v1/generate/grid', {
      contents: [{ text: 'a cat' }, { text: 'a dog' }],
      styles: [{ text: 'ink' }, { text: 'oil' }],
      rows: 2,
      cols: 2,
      steps: 2,
      seed: 1,
    });
    await expectError(grid, 429, 'QUEUE_FULL');
    for (const id of anonymous) expect((await request(app).delete(`/v1/jobs/${id}`)).status).toBe(200);
  });

  it('limits each key on its own and frees a place when a job ends', async () => {
    const a = (await context.keys.create({ name: 'a', scopes: ['generate'] })).secret;
    const b = (await context.keys.create({ name: 'b', scopes: ['generate'] })).secret;
    const ofA: string[] = [];
    // Concurrent requests cannot both take the last place.
    const burst = await Promise.all([post(a), post(a), post(a), post(a)]);
    expect(burst.map((res) => res.status).sort()).toEqual([202, 202, 429, 429]);
    for (const res of burst) if (res.status === 202) ofA.push(res.body.jobId as string);
    else await expectError(res, 429, 'QUEUE_FULL');

    // Another key still gets places.
    expect((await post(b)).status).toBe(202);
    expect((await post(b)).status).toBe(202);
    await expectError(await post(b), 429, 'QUEUE_FULL');

    // Cancelling one of a's jobs gives a a place again.
    expect((await request(app).delete(`/v1/jobs/${ofA[0]}`).set('Authorization', `Bearer ${a}`)).status).toBe(200);
    expect((await post(a)).status).toBe(202);
    await expectError(await post(a), 429, 'QUEUE_FULL');
  });
});
