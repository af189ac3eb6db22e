/**
 * The storage contract against the Elasticsearch backend: a real cluster when ES_URL is set (a
 * unique index name per store, deleted afterwards), otherwise the in-memory fake. Also checks
 * that the search engine answers the same over both backends for the same data.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SearchEngine, type SearchResponse } from '../../src/search/engine.js';
import type { SearchRequestInput } from '../../src/search/query.js';
import { openElasticStore, type ElasticStore } from '../../src/store/elastic.js';
import { openEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.js';
import { corpusItems, FakeEncoders, SEMANTIC_DIM, STYLE_DIM } from '../search/helpers.js';
import { describeStoreContract } from './contract.js';
import { dropStoreIndices, REAL_ES_URL, testClient, uniqueIndexName } from './elastic/real-cluster.js';
import { DIMS, tempDir } from './helpers.js';

const where = REAL_ES_URL ? `real cluster at ${REAL_ES_URL}` : 'in-memory fake';

async function openElastic(dims = DIMS): Promise<{ store: ElasticStore; cleanup(): Promise<void> }> {
  const { client } = testClient();
  const index = uniqueIndexName();
  const store = await openElasticStore({ client, index, dims, hnsw: { m: 16, efConstruction: 200 }, numCandidatesFactor: 10 });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await dropStoreIndices(client, index);
      // The mock's connection cannot be closed (it holds nothing); a real client can.
      if (REAL_ES_URL) await client.close();
    },
  };
}

describeStoreContract(`elastic (${where})`, openElastic);

describe(`engine parity: embedded vs elastic (${where})`, () => {
  const dims = { semantic: SEMANTIC_DIM, style: STYLE_DIM };
  let embedded: EmbeddedStore;
  let elastic: { store: ElasticStore; cleanup(): Promise<void> };
  let dir: string;
  let engines: { embedded: SearchEngine; elastic: SearchEngine };

  beforeAll(async () => {
    ({ dir } = tempDir('parasol-parity-'));
    embedded = await openEmbeddedStore({ dataDir: dir, dims, hnsw: { M: 16, efConstruction: 200, efSearch: 200 } });
    elastic = await openElastic(dims);
    const corpus = corpusItems();
    for (const store of [embedded, elastic.store]) {
      await store.catalog.addBatch(corpus);
      await store.catalog.delete('tree-oil-1');
      await store.sync();
    }
    const options = { oversample: 2, maxCandidates: 200 };
    engines = {
      embedded: new SearchEngine({ catalog: embedded.catalog, indices: embedded.indices, encoders: new FakeEncoders(), options }),
      elastic: new SearchEngine({ catalog: elastic.store.catalog, indices: elastic.store.indices, encoders: new FakeEncoders(), options }),
    };
  });
  afterAll(async () => {
    await embedded?.close({ save: false });
    await rm(dir, { recursive: true, force: true });
    await elastic?.cleanup();
  });

  const requests: Array<[string, SearchRequestInput]> = [
    ['text, both modalities', { q: 'cat', style: 'ink', k: 20 }],
    ['weighted', { q: 'dog', style: 'oil', weights: { content: 2, style: 1 }, k: 30 }],
    ['style only', { style: 'watercolor', k: 25 }],
    ['filtered by source and tag', { q: 'tree', style: 'oil', filters: { sources: ['demo'], tags: ['oil'] }, k: 10 }],
    ['filtered by keywords and license', { q: 'bird', filters: { keywords: 'boats', licenses: ['cc0'] }, k: 10 }],
    ['rrf', { q: 'house', style: 'pixel', fusion: 'rrf', k: 12 }],
    ['more like an item', { contentItemId: 'boat-ink-0', styleItemId: 'boat-ink-0', k: 10 }],
  ];

  it.each(requests)('%s: same ids and per-modality scores', async (_name, request) => {
    const [a, b] = await Promise.all([engines.embedded.search(request), engines.elastic.search(request)]);
    const view = (response: SearchResponse) => response.results.map((r) => ({ id: r.id, content: r.scores.content, style: r.scores.style }));
    expect(view(b).map((r) => r.id)).toEqual(view(a).map((r) => r.id));
    expect(a.results.length).toBeGreaterThan(0);
    view(b).forEach((r, i) => {
      const other = view(a)[i];
      for (const key of ['content', 'style'] as const) {
        if (other[key] === null) expect(r[key]).toBeNull();
        else expect(r[key]).toBeCloseTo(other[key] as number, 5);
      }
    });
    expect(view(b).some((r) => r.id === 'tree-oil-1')).toBe(false);
  });

  it('pages the same way', async () => {
    const request: SearchRequestInput = { q: 'cat', style: 'pixel', k: 7 };
    const pagesOf = async (engine: SearchEngine) => {
      const ids: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await engine.search({ ...request, cursor });
        ids.push(page.results.map((r) => r.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor && ids.length < 5);
      return ids;
    };
    expect(await pagesOf(engines.elastic)).toEqual(await pagesOf(engines.embedded));
  });
});
