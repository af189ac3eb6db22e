/** The fake keeps the properties of Elasticsearch the adapter relies on (so a bug cannot hide behind it). */
import { describe, expect, it } from 'vitest';
import { openElasticStore } from '../../../src/store/elastic.js';
import { DIMS, makeItem, seededRandom } from '../helpers.js';
import { analyze, FakeElasticsearch } from './fake-elasticsearch.js';

describe('FakeElasticsearch', () => {
  it('is near-real-time: GET sees a write at once, search only after a refresh', async () => {
    const fake = new FakeElasticsearch();
    const client = fake.client();
    await client.indices.create({ index: 'nrt', mappings: { properties: { n: { type: 'long' } } } });
    await client.index({ index: 'nrt', id: '1', document: { n: 1 } });
    expect((await client.get({ index: 'nrt', id: '1' }))._source).toEqual({ n: 1 });
    expect((await client.count({ index: 'nrt' })).count).toBe(0);
    await client.indices.refresh({ index: 'nrt' });
    expect((await client.count({ index: 'nrt' })).count).toBe(1);
  });

  it('enforces optimistic concurrency and op_type create', async () => {
    const fake = new FakeElasticsearch();
    const client = fake.client();
    const created = await client.index({ index: 'occ', id: 'c', document: { v: 1 } });
    await expect(client.index({ index: 'occ', id: 'c', document: { v: 2 }, if_seq_no: (created._seq_no ?? 0) + 5, if_primary_term: 1 })).rejects.toMatchObject({ statusCode: 409 });
    await client.index({ index: 'occ', id: 'c', document: { v: 2 }, if_seq_no: created._seq_no, if_primary_term: created._primary_term });
    await expect(client.create({ index: 'occ', id: 'c', document: { v: 3 } })).rejects.toMatchObject({ statusCode: 409 });
  });

  it('refuses vectors of the wrong dimension and unknown fields under a strict mapping', async () => {
    const fake = new FakeElasticsearch();
    const client = fake.client();
    await client.indices.create({ index: 'strict', mappings: { dynamic: 'strict', properties: { v: { type: 'dense_vector', dims: 2 } } } });
    await expect(client.index({ index: 'strict', id: '1', document: { v: [1, 2, 3] } })).rejects.toMatchObject({ statusCode: 400 });
    await expect(client.index({ index: 'strict', id: '1', document: { other: 1 } })).rejects.toMatchObject({ statusCode: 400 });
  });

  it('analyzes text with lowercase, folding and crude stemming', () => {
    expect(analyze('Café SLEEPING cats puppies')).toEqual(['cafe', 'sleep', 'cat', 'puppi']);
    expect(analyze('日本語 コーヒー')).toEqual(['日', '本', '語', 'コーヒー']);
  });
});

describe('refresh policy', () => {
  it("with refresh 'false' writes reach searches after store.sync()", async () => {
    const fake = new FakeElasticsearch();
    const store = await openElasticStore({ client: fake.client(), index: 'lazy', dims: DIMS, refresh: 'false' });
    const [{ id, seq }] = await store.catalog.addBatch([makeItem('a', seededRandom(1))]);
    expect(await store.catalog.get(id)).toBeDefined(); // realtime GET through the registry
    expect(await store.catalog.matchFilter({})).toEqual(new Set());
    await store.sync();
    expect(await store.catalog.matchFilter({})).toEqual(new Set([seq]));
    expect(store.indices.semantic.version()).toBe(1);
  });
});
