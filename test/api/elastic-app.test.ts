/**
 * The HTTP API served from the Elasticsearch backend (the in-memory fake on elasticsearch-mock, or
 * a real cluster when ES_URL is set): the demo build, searches with filters and cursors, items,
 * thumbnails, uploads and deletes go through the same routes as on the embedded store.
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
import { readPack } from '../../src/encoders/pack.js';
import { openElasticStore } from '../../src/store/elastic.js';
import { buildDemoIndex } from '../../indexer/demo-index.js';
import { dropStoreIndices, REAL_ES_URL, testClient, uniqueIndexName } from '../store/elastic/real-cluster.js';
import { appDeps, expectError, PACK_DIR, testImage } from './helpers.js';

const DEMO_ITEMS = 40;

describe(`the API on Elasticsearch (${REAL_ES_URL ? REAL_ES_URL : 'in-memory fake'})`, () => {
  let dataDir: string;
  let context: ParasolContext;
  let app: Express;
  let ids: string[];
  const { client } = testClient();
  const index = uniqueIndexName('parasol-api');

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'parasol-es-api-'));
    const config = loadConfig({ dataDir, packDir: PACK_DIR, device: 'cpu', threads: 2, backend: 'elastic', elastic: { url: 'http://unused.invalid:9200' } }, {});
    const { manifest } = await readPack(PACK_DIR);
    const store = await openElasticStore({ client, index, dims: { semantic: manifest.semantic.dim, style: manifest.style.dim }, numCandidatesFactor: 10 });
    context = await openContext(config, undefined, { store });
    const summary = await buildDemoIndex(context, { limit: DEMO_ITEMS, progress: null });
    expect(summary.added).toBe(DEMO_ITEMS);
    ids = summary.addedIds;
    app = createApp(appDeps(context));
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await dropStoreIndices(client, index);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('reports the backend and the catalog in /v1/stats', async () => {
    const res = await request(app).get('/v1/stats');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ backend: 'elastic', catalog: { items: DEMO_ITEMS }, indices: { semantic: DEMO_ITEMS, style: DEMO_ITEMS } });
  });

  it('searches by text with per-modality scores, filters and disjoint pages', async () => {
    const res = await request(app).get('/v1/search').query({ q: 'face', style: 'flat', k: 5 });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.results).toHaveLength(5);
    for (const result of res.body.results) {
      expect(typeof result.scores.content).toBe('number');
      expect(typeof result.scores.style).toBe('number');
    }
    const next = await request(app).get('/v1/search').query({ q: 'face', style: 'flat', k: 5, cursor: res.body.nextCursor });
    expect(next.status).toBe(200);
    const first = res.body.results.map((r: { id: string }) => r.id);
    expect(next.body.results.map((r: { id: string }) => r.id).filter((id: string) => first.includes(id))).toEqual([]);

    const source = res.body.results[0].source as string;
    const filtered = await request(app).post('/v1/search').send({ q: 'face', k: 50, filters: { sources: [source] } });
    expect(filtered.status).toBe(200);
    expect(filtered.body.results.length).toBeGreaterThan(0);
    expect(filtered.body.results.every((r: { source: string }) => r.source === source)).toBe(true);
  });

  it('fuses the words with the vectors and counts facets over the candidate pool', async () => {
    const item = await request(app).get(`/v1/items/${encodeURIComponent(ids[3])}`);
    const word = (item.body.title as string).toLowerCase().split(/[^a-z]+/).find((w) => w.length >= 4) as string;
    const res = await request(app).get('/v1/search').query({ q: word, k: 5, explain: 'true' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.results[0].scores.text).toBeGreaterThan(0);
    expect(res.body.results[0].explanation.terms.length).toBeGreaterThan(0);

    // RRF's window holds the whole catalogue here, so a full page of the same query is the pool.
    const query = { q: 'face', style: 'flat', fusion: 'rrf', k: 5, facets: 'source,license,tags', facetLimit: 100 };
    const faceted = await request(app).get('/v1/search').query(query);
    expect(faceted.status, JSON.stringify(faceted.body)).toBe(200);
    expect(faceted.body.facetScope).toBe('candidates');
    expect(faceted.body.total).toBeDefined();
    const all = await request(app).get('/v1/search').query({ q: 'face', style: 'flat', fusion: 'rrf', k: 100 });
    expect(all.body.results).toHaveLength(faceted.body.total);
    const count = (values: string[][]) => {
      const counts = new Map<string, number>();
      for (const list of values) for (const value of new Set(list)) if (value !== '') counts.set(value, (counts.get(value) ?? 0) + 1);
      return [...counts].map(([value, n]) => ({ value, count: n })).sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    };
    const results = all.body.results as Array<{ source: string; license: string; tags: string[] }>;
    expect(faceted.body.facets.source).toEqual(count(results.map((r) => [r.source])));
    expect(faceted.body.facets.license).toEqual(count(results.map((r) => [r.license])));
    expect(faceted.body.facets.tags).toEqual(count(results.map((r) => r.tags)));
  });

  it('serves items and their thumbnails, and finds similar ones', async () => {
    const item = await request(app).get(`/v1/items/${ids[0]}`);
    expect(item.status).toBe(200);
    expect(item.body.id).toBe(ids[0]);
    const thumbnail = await request(app).get(`/v1/items/${ids[0]}/thumbnail`);
    expect(thumbnail.status).toBe(200);
    expect(thumbnail.headers['content-type']).toBe('image/webp');
    const similar = await request(app).get(`/v1/items/${ids[0]}/similar`).query({ mode: 'style', k: 5 });
    expect(similar.status).toBe(200);
    expect(similar.body.results.map((r: { id: string }) => r.id)).not.toContain(ids[0]);
  });

  it('ingests an upload, finds it, deletes it, and never returns it again', async () => {
    const added = await request(app)
      .post('/v1/items')
      .field('items', JSON.stringify([{ id: 'shop:magenta', title: 'Magenta square', tags: ['magenta'] }]))
      .attach('images', await testImage('#ff00ff'), 'magenta.png');
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    expect(added.body.results[0]).toMatchObject({ id: 'shop:magenta', status: 'added' });
    const byKeyword = await request(app).post('/v1/search').send({ style: 'flat', k: 5, filters: { keywords: 'magenta' } });
    expect(byKeyword.body.results.map((r: { id: string }) => r.id)).toEqual(['shop:magenta']);

    expect((await request(app).delete('/v1/items/shop:magenta')).status).toBe(204);
    await expectError(await request(app).get('/v1/items/shop:magenta'), 404, 'ITEM_NOT_FOUND');
    const after = await request(app).post('/v1/search').send({ style: 'flat', k: 5, filters: { keywords: 'magenta' } });
    expect(after.body.results).toEqual([]);
  });
});
