/** Generation job outcomes in /metrics, and the daily generation quota, on the tiny generator pack. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config.js';
import { openContext, type ParasolContext } from '../../src/context.js';
import { TINY_GENERATOR } from '../parasol/helpers.js';
import { appDeps, expectError } from './helpers.js';

let dataDir: string;
let context: ParasolContext;
let app: Express;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'parasol-metrics-jobs-'));
  const config = loadConfig({ dataDir, packDir: TINY_GENERATOR, device: 'cpu', threads: 1, generate: { maxSteps: 4, defaultSteps: 2 } }, {});
  context = await openContext(config);
  app = createApp(appDeps(context));
});

afterAll(async () => {
  await context?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('generation metrics and quotas', () => {
  it('counts finished jobs by kind and state on scrape, with their run time, and enforces the daily generation quota', async () => {
    const { key, secret } = await context.keys.create({ name: 'gen', scopes: ['generate', 'admin'], dailyGenerations: 1 });
    const auth = { Authorization: `Bearer ${secret}` };
    const body = { content: { text: 'a cat' }, style: { text: 'ink wash' }, steps: 2, seed: 3 };
    const accepted = await request(app).post('/v1/generate').set(auth).send(body);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    const id = accepted.body.jobId as string;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const job = await request(app).get(`/v1/jobs/${id}`).set(auth);
      if (job.body.state === 'succeeded') break;
      expect(['queued', 'running']).toContain(job.body.state);
      if (Date.now() > deadline) throw new Error('the job did not finish');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const spent = await request(app).post('/v1/generate').set(auth).send(body);
    await expectError(spent, 429, 'RATE_LIMITED');
    expect(spent.headers['x-quota-kind']).toBe('generations');
    expect(Number(spent.headers['retry-after'])).toBeGreaterThan(0);

    const metrics = await request(app).get('/metrics').set(auth);
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('parasol_generation_jobs_total{kind="generate",state="succeeded"} 1');
    expect(metrics.text).toContain('parasol_generation_job_run_seconds_count{kind="generate"} 1');
    expect(metrics.text).toMatch(/parasol_http_requests_total\{method="POST",route="\/v1\/generate",status="202"\} 1/);
    expect(metrics.text).toMatch(/parasol_http_requests_total\{method="GET",route="\/v1\/jobs\/:id",status="200"\} \d+/);
    // Counted once: a second scrape does not count the job again.
    expect((await request(app).get('/metrics').set(auth)).text).toContain('parasol_generation_jobs_total{kind="generate",state="succeeded"} 1');
    expect((await context.keys.list()).find((k) => k.id === key.id)).toBeDefined();
  });
});
