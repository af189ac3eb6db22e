/**
 * The generation routes over a real context on the tiny random generator pack (encoders and
 * generator in one folder) with a few demo items; tiny step counts keep it fast.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config.js';
import { openContext, type ParasolContext } from '../../src/context.js';
import { readProvenance } from '../../src/parasol/image.js';
import { generationRunner, type GenerationPayload } from '../../src/jobs/generation.js';
import { InMemoryJobQueue } from '../../src/jobs/memory-queue.js';
import type { JobRunner } from '../../src/jobs/queue.js';
import { buildDemoIndex } from '../../indexer/demo-index.js';
import { TINY_GENERATOR } from '../parasol/helpers.js';
import { appDeps, expectError, pngBomb, testImage } from './helpers.js';

const TINY_PACK = path.join(TINY_GENERATOR, '..', 'tiny-pack');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let dataDir: string;
let context: ParasolContext;
let app: Express;
let ids: string[];

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'parasol-generate-'));
  const config = loadConfig(
    { dataDir, packDir: TINY_GENERATOR, device: 'cpu', threads: 1, generate: { workers: 1, queueLength: 4, maxSteps: 8, defaultSteps: 4 } },
    {},
  );
  context = await openContext(config);
  const summary = await buildDemoIndex(context, { limit: 6, progress: null });
  ids = summary.addedIds;
  expect(ids.length).toBeGreaterThanOrEqual(3);
  app = createApp(appDeps(context));
});

afterAll(async () => {
  await context?.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function waitForJob(target: Express, id: string, states = ['succeeded', 'failed', 'cancelled']): Promise<Record<string, any>> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await request(target).get(`/v1/jobs/${id}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    if (states.includes(res.body.state)) return res.body;
    if (Date.now() > deadline) throw new Error(`job ${id} stuck in ${res.body.state}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function generate(body: unknown, target: Express = app): Promise<{ jobId: string; params: Record<string, any> }> {
  const res = await request(target).post('/v1/generate').send(body as object);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body;
}

describe('POST /v1/generate', () => {
  let firstJob: string;

  it('generates from two items: 202, progress to succeeded, a PNG with provenance', async () => {
    const res = await request(app)
      .post('/v1/generate')
      .send({ content: { itemId: ids[0] }, style: { itemId: ids[1] }, steps: 4, lambda: 2, gs: 4, gy: 2, seed: 7 });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.jobId).toMatch(UUID);
    expect(['queued', 'running']).toContain(res.body.state);
    expect(res.body.params).toEqual({ steps: 4, lambda: 2, gs: 4, gy: 2, seed: 7, colour: true });
    expect(res.headers.location).toBe(`/v1/jobs/${res.body.jobId}`);
    firstJob = res.body.jobId;

    const job = await waitForJob(app, firstJob);
    expect(job).toMatchObject({ id: firstJob, jobId: firstJob, kind: 'generate', state: 'succeeded', step: 8, total: 8 });
    expect(job.sources).toEqual({ content: { itemId: ids[0] }, style: { itemId: ids[1] } });
    expect(job.result).toMatchObject({ steps: 4, lambda: 2, seed: 7, inverted: true, guidance: { style: 4, content: 2 } });
    expect(job.image).toBe(`/v1/jobs/${firstJob}/image`);
    expect(job.timing.runMs).toBeGreaterThanOrEqual(0);

    const image = await request(app).get(`/v1/jobs/${firstJob}/image`).buffer(true);
    expect(image.status).toBe(200);
    expect(image.headers['content-type']).toBe('image/png');
    const png = image.body as Buffer;
    expect((await sharp(png).metadata()).width).toBe(64);
    const provenance = readProvenance(png)!;
    expect(provenance.aiGenerated).toBe(true);
    expect(provenance.generator).toBe('parasol-ddpm/1');
    expect(provenance.pack).toBe('tiny-generator@1');
    expect(provenance.sources).toEqual({ content: ids[0], style: [ids[1]] });
    expect(provenance.parameters).toMatchObject({ seed: 7, steps: 4, lambda: 2 });
  });

  it('picks a random seed when none is given, and returns it', async () => {
    const { params } = await generate({ content: { text: 'a red apple' }, style: { text: 'ink wash' }, steps: 2 });
    expect(Number.isInteger(params.seed)).toBe(true);
    expect(params.seed).toBeGreaterThanOrEqual(0);
    expect(params.seed).toBeLessThanOrEqual(0xffffffff);
  });

  it('generates from texts alone (no inversion), from a style mix, and from a finished job', async () => {
    const text = await generate({ content: { text: 'a smiling face' }, style: { text: 'flat bright colours' }, steps: 3, seed: 1, colorTransfer: false });
    const mix = await generate({
      content: { itemId: ids[2] },
      style: { mix: [{ itemId: ids[0], weight: 3 }, { text: 'monochrome outline', weight: 1 }] },
      steps: 3,
      seed: 2,
    });
    const fromJob = await generate({ content: { jobId: firstJob }, style: { jobId: firstJob }, steps: 3, seed: 3 });
    const [a, b, c] = await Promise.all([text, mix, fromJob].map((j) => waitForJob(app, j.jobId)));
    expect(a).toMatchObject({ state: 'succeeded', total: 3, result: { inverted: false, lambda: 0, colour: false } });
    expect(b).toMatchObject({ state: 'succeeded', result: { inverted: true, styleWeights: [0.75, 0.25] } });
    expect(c).toMatchObject({ state: 'succeeded', sources: { content: { jobId: firstJob } } });
    const png = (await request(app).get(`/v1/jobs/${c.id}/image`).buffer(true)).body as Buffer;
    expect(readProvenance(png)?.sources).toEqual({ content: `job:${firstJob}`, style: [`job:${firstJob}`] });
  });

  it('takes uploaded images (multipart) with the parameters as JSON text', async () => {
    const res = await request(app)
      .post('/v1/generate')
      .field('params', JSON.stringify({ style: { itemId: ids[1] }, steps: 2, seed: 5 }))
      .attach('contentImage', await testImage('#3366cc', 40), 'content.png');
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const job = await waitForJob(app, res.body.jobId);
    expect(job).toMatchObject({ state: 'succeeded', sources: { content: { upload: 'contentImage' }, style: { itemId: ids[1] } } });
    const both = await request(app)
      .post('/v1/generate')
      .field('params', JSON.stringify({ steps: 2 }))
      .attach('contentImage', await testImage('#3366cc', 40), 'c.png')
      .attach('styleImage', await testImage('#cc3366', 40), 's.png');
    expect(both.status, JSON.stringify(both.body)).toBe(202);
    expect((await waitForJob(app, both.body.jobId)).state).toBe('succeeded');
  });

  it('refuses bad input before queueing anything', async () => {
    const good = { content: { itemId: ids[0] }, style: { text: 'ink' }, steps: 2 };
    const post = (body: unknown) => request(app).post('/v1/generate').send(body as object);
    await expectError(await post({ ...good, content: { itemId: 'noto:nothing-here' } }), 404, 'ITEM_NOT_FOUND');
    await expectError(await post({ ...good, style: { mix: [{ itemId: 'nope:1', weight: 1 }] } }), 404, 'ITEM_NOT_FOUND');
    await expectError(await post({ ...good, content: { jobId: '0b0e6a8e-3b1f-4c57-9a55-0f6c1a2b3c4d' } }), 404, 'JOB_NOT_FOUND');
    await expectError(await post({ ...good, content: { jobId: '../../etc/passwd' } }), 400, 'INVALID_QUERY');
    await expectError(await post({ ...good, steps: 1_000_000 }), 400, 'INVALID_QUERY');
    await expectError(await post({ ...good, steps: 9 }), 400, 'INVALID_QUERY'); // maxSteps is 8 here
    await expectError(await post({ ...good, steps: 0 }), 400, 'INVALID_QUERY');
    await expectError(await post({ ...good, steps: 2.5 }), 400, 'INVALID_QUERY');
    await expectError(await post({ ...good, lambda: 3 }), 400, 'INVALID_QUERY'); // > steps
    await expectError(await post({ ...good, gs: 'NaN' }), 400, 'INVALID_QUERY');
    await expectError(await post({ ...good, gs: 1e308 * 10 }), 400, 'INVALID_QUERY'); // Infinity serialises as null
    await expectError(await post({ ...good, gy: 21 }), 400, 'INVALID_QUERY');
    await expectError(await post({ ...good, seed: -1 }), 400, 'INVALID_QUERY');
    await expectError(await post({ ...good, seed: 2 ** 32 }), 400, 'INVALID_QUERY');
    await expectError(await post({ ...good, colour: 'yes' }), 400, 'INVALID_QUERY');
    await expectError(await post({ ...good, colour: true, colorTransfer: false }), 400, 'INVALID_QUERY');
    await expectError(await post({ ...good, style: { mix: [] } }), 400, 'INVALID_QUERY');
    await expectError(await post({ ...good, style: { mix: [{ itemId: ids[0], weight: -1 }] } }), 400, 'INVALID_QUERY');
    await expectError(await post({ ...good, style: { mix: [{ itemId: ids[0], weight: 0 }] } }), 400, 'INVALID_QUERY');
    await expectError(await post({ ...good, style: undefined }), 400, 'INVALID_QUERY');
    await expectError(await post({ ...good, content: undefined }), 400, 'INVALID_QUERY');
    await expectError(await post({ ...good, content: { text: '' } }), 400, 'INVALID_QUERY');
    await expectError(await post({ ...good, extra: 1 }), 400, 'INVALID_QUERY');
    await expectError(await post({ ...good, contentImage: 'aGVsbG8=' }), 400, 'INVALID_QUERY');
    await expectError(await post([good]), 400, 'INVALID_QUERY');
    const nan = await request(app).post('/v1/generate').set('Content-Type', 'application/json').send('{"content":{"text":"a"},"style":{"text":"b"},"gs":NaN}');
    await expectError(nan, 400, 'BAD_REQUEST');
    await expectError(await request(app).post('/v1/generate').set('Content-Type', 'text/plain').send('hello'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses uploads that are not images, and decompression bombs', async () => {
    const params = JSON.stringify({ style: { text: 'ink' }, steps: 2 });
    const text = await request(app).post('/v1/generate').field('params', params).attach('contentImage', Buffer.from('just some text, not a picture'), 'x.png');
    await expectError(text, 415, 'UNSUPPORTED_IMAGE');
    const bomb = await request(app).post('/v1/generate').field('params', params).attach('contentImage', await pngBomb(), 'bomb.png');
    await expectError(bomb, 413, 'IMAGE_TOO_LARGE');
    const both = await request(app)
      .post('/v1/generate')
      .field('params', JSON.stringify({ content: { text: 'a' }, style: { text: 'b' } }))
      .attach('contentImage', await testImage('#123456'), 'c.png');
    await expectError(both, 400, 'INVALID_QUERY');
    const stray = await request(app).post('/v1/generate').field('query', '{}').attach('contentImage', await testImage('#123456'), 'c.png');
    await expectError(stray, 400, 'BAD_REQUEST');
    const badJson = await request(app).post('/v1/generate').field('params', '{nope').attach('contentImage', await testImage('#123456'), 'c.png');
    await expectError(badJson, 400, 'BAD_REQUEST');
  });
});

describe('jobs', () => {
  it('validates job ids: anything but a UUID is 404, never a path', async () => {
    for (const id of ['not-a-uuid', '..%2F..%2Fetc%2Fpasswd', '0b0e6a8e-3b1f-4c57-9a55-0f6c1a2b3c4d', 'A'.repeat(36)]) {
      await expectError(await request(app).get(`/v1/jobs/${id}`), 404, 'JOB_NOT_FOUND');
      await expectError(await request(app).get(`/v1/jobs/${id}/image`), 404, 'JOB_NOT_FOUND');
      await expectError(await request(app).delete(`/v1/jobs/${id}`), 404, 'JOB_NOT_FOUND');
    }
  });

  it('deletes a finished job with its image (204)', async () => {
    const { jobId } = await generate({ content: { text: 'a' }, style: { text: 'b' }, steps: 1 });
    await waitForJob(app, jobId);
    expect((await request(app).delete(`/v1/jobs/${jobId}`)).status).toBe(204);
    await expectError(await request(app).get(`/v1/jobs/${jobId}`), 404, 'JOB_NOT_FOUND');
    await expectError(await request(app).get(`/v1/jobs/${jobId}/image`), 404, 'JOB_NOT_FOUND');
  });

  describe('with a queue whose sampler waits for the test', () => {
    let gated: Express;
    let release: () => void;
    let queue: InMemoryJobQueue<GenerationPayload>;

    beforeAll(() => {
      const inner = generationRunner(() => context.generator());
      let open: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      release = () => open();
      const run: JobRunner<GenerationPayload> = async (payload, ctx) => {
        await Promise.race([gate, new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))]);
        return inner(payload, ctx);
      };
      queue = new InMemoryJobQueue({ run, workers: 1, queueLength: 1, ttlMs: 60_000, cacheBytes: 1 << 20 });
      gated = createApp(appDeps({ ...context, jobs: queue }));
    });
    afterAll(async () => {
      release();
      await queue.close();
    });

    it('answers 409 for the image of an unfinished job, 429 QUEUE_FULL with Retry-After when full, and cancels', async () => {
      const body = { content: { text: 'a cat' }, style: { text: 'ink' }, steps: 2, seed: 1 };
      const running = await generate(body, gated);
      const queued = await generate(body, gated);
      expect((await request(gated).get(`/v1/jobs/${running.jobId}`)).body.state).toBe('running');
      expect((await request(gated).get(`/v1/jobs/${queued.jobId}`)).body).toMatchObject({ state: 'queued', step: 0, total: 2 });
      await expectError(await request(gated).get(`/v1/jobs/${queued.jobId}/image`), 409, 'JOB_NOT_FINISHED');
      await expectError(await request(gated).get(`/v1/jobs/${running.jobId}/image`), 409, 'JOB_NOT_FINISHED');

      const full = await request(gated).post('/v1/generate').send(body);
      await expectError(full, 429, 'QUEUE_FULL');
      expect(Number(full.headers['retry-after'])).toBeGreaterThanOrEqual(1);

      const cancelQueued = await request(gated).delete(`/v1/jobs/${queued.jobId}`);
      expect(cancelQueued.status).toBe(200);
      expect(cancelQueued.body.state).toBe('cancelled');
      const cancelRunning = await request(gated).delete(`/v1/jobs/${running.jobId}`);
      expect(cancelRunning.status).toBe(200);
      expect(cancelRunning.body.state).toBe('cancelled');
      // The worker is free again: a new job runs to the end.
      release();
      const next = await generate(body, gated);
      expect((await waitForJob(gated, next.jobId)).state).toBe('succeeded');
      expect((await request(gated).get(`/v1/jobs/${running.jobId}`)).body.state).toBe('cancelled');
    });
  });
});

describe('POST /v1/generate/grid', () => {
  it('makes one job with a grid PNG and one PNG per cell', async () => {
    const res = await request(app)
      .post('/v1/generate/grid')
      .send({ contents: [{ itemId: ids[0] }, { text: 'a house' }], styles: [{ itemId: ids[1] }, { text: 'pencil' }], rows: 2, cols: 3, steps: 2, seed: 9 });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.params).toMatchObject({ rows: 2, cols: 3, steps: 2, seed: 9 });
    const job = await waitForJob(app, res.body.jobId);
    expect(job).toMatchObject({ kind: 'grid', state: 'succeeded', cells: 6, result: { rows: 2, cols: 3 } });
    expect(job.cellImages).toHaveLength(6);
    const grid = (await request(app).get(`/v1/jobs/${job.id}/image`).buffer(true)).body as Buffer;
    const meta = await sharp(grid).metadata();
    expect([meta.width, meta.height]).toEqual([3 * 64 + 2 * 2, 2 * 64 + 2]);
    const provenance = readProvenance(grid)!;
    expect(provenance.aiGenerated).toBe(true);
    expect(provenance.sources.content).toContain(ids[0]);
    const cell = await request(app).get(`/v1/jobs/${job.id}/cells/5`).buffer(true);
    expect(cell.status).toBe(200);
    expect(cell.headers['content-type']).toBe('image/png');
    expect(readProvenance(cell.body as Buffer)?.parameters).toMatchObject({ seed: 9, styleWeights: [0, 1] });
    await expectError(await request(app).get(`/v1/jobs/${job.id}/cells/6`), 404, 'NOT_FOUND');
    await expectError(await request(app).get(`/v1/jobs/${job.id}/cells/x`), 404, 'NOT_FOUND');
  });

  it('refuses grids outside 2..5', async () => {
    const body = { contents: [{ text: 'a' }, { text: 'b' }], styles: [{ text: 'c' }, { text: 'd' }], steps: 2 };
    await expectError(await request(app).post('/v1/generate/grid').send({ ...body, rows: 6 }), 400, 'INVALID_QUERY');
    await expectError(await request(app).post('/v1/generate/grid').send({ ...body, cols: 1 }), 400, 'INVALID_QUERY');
    await expectError(await request(app).post('/v1/generate/grid').send({ ...body, contents: [{ text: 'a' }] }), 400, 'INVALID_QUERY');
  });
});

describe('generative search', () => {
  it('searches with a finished job image (jobId), as JSON and in a session', async () => {
    const { jobId } = await generate({ content: { itemId: ids[0] }, style: { itemId: ids[0] }, steps: 2, lambda: 2, seed: 4 });
    await waitForJob(app, jobId);
    const res = await request(app).post('/v1/search').send({ jobId, k: 3 });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.results.length).toBeGreaterThan(0);
    expect(res.body.results[0].scores.content).not.toBeNull();
    expect(res.body.results[0].scores.style).not.toBeNull();
    const styleOnly = await request(app).post('/v1/search').send({ jobId, k: 3, weights: { content: 0, style: 1 } });
    expect(styleOnly.status).toBe(200);
    expect(styleOnly.body.results[0].scores.content).toBeNull();
    const session = await request(app).post('/v1/sessions').send({ jobId, k: 3 });
    expect(session.status, JSON.stringify(session.body)).toBe(201);
  });

  it('refuses unknown, malformed or unfinished jobs and a job with uploads', async () => {
    await expectError(await request(app).post('/v1/search').send({ jobId: '0b0e6a8e-3b1f-4c57-9a55-0f6c1a2b3c4d' }), 404, 'JOB_NOT_FOUND');
    await expectError(await request(app).post('/v1/search').send({ jobId: 'nope' }), 400, 'INVALID_QUERY');
    const { jobId } = await generate({ content: { text: 'a' }, style: { text: 'b' }, steps: 1 });
    await waitForJob(app, jobId);
    const mixed = await request(app)
      .post('/v1/search')
      .field('query', JSON.stringify({ jobId }))
      .attach('contentImage', await testImage('#224466'), 'c.png');
    await expectError(mixed, 400, 'INVALID_QUERY');
  });
});

describe('without a generator', () => {
  it('routes answer 503 GENERATION_UNAVAILABLE and the context says why', async () => {
    const noGenerator = createApp(appDeps({ ...context, generatorAvailable: false }));
    await expectError(await request(noGenerator).post('/v1/generate').send({ content: { text: 'a' }, style: { text: 'b' } }), 503, 'GENERATION_UNAVAILABLE');
    await expectError(
      await request(noGenerator).post('/v1/generate/grid').send({ contents: [{ text: 'a' }, { text: 'b' }], styles: [{ text: 'c' }, { text: 'd' }] }),
      503,
      'GENERATION_UNAVAILABLE',
    );

    const dir = await mkdtemp(path.join(tmpdir(), 'parasol-nogen-'));
    const plain = await openContext(loadConfig({ dataDir: dir, packDir: TINY_PACK, device: 'cpu', threads: 1 }, {}));
    try {
      expect(plain.generatorAvailable).toBe(false);
      await expect(plain.generator()).rejects.toMatchObject({ code: 'GENERATION_UNAVAILABLE', status: 503 });
    } finally {
      await plain.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
