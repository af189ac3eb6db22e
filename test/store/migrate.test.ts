import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.js';
import { openElasticStore } from '../../src/store/elastic.js';
import { migrateCatalog } from '../../src/store/migrate.js';
import { dropStoreIndices, testClient, uniqueIndexName } from './elastic/real-cluster.js';
import { DIMS, makeItem, seededRandom, tempDir } from './helpers.js';

const HNSW = { M: 16, efConstruction: 100, efSearch: 64 };

describe('migrateCatalog', () => {
  let dir: string;
  let cleanup: () => void;
  let source: EmbeddedStore;
  let target: EmbeddedStore;
  const lines: string[] = [];
  const sink = { write: (line: string) => lines.push(line) };

  beforeEach(async () => {
    ({ dir, cleanup } = tempDir('parasol-migrate-'));
    source = await openEmbeddedStore({ dataDir: join(dir, 'from'), dims: DIMS, hnsw: HNSW });
    target = await openEmbeddedStore({ dataDir: join(dir, 'to'), dims: DIMS, hnsw: HNSW });
    const random = seededRandom(11);
    const items = Array.from({ length: 23 }, (_, i) =>
      makeItem(`m${i}`, random, {
        ...(i % 3 === 0 ? { license: 'CC0', attribution: `artist ${i}`, url: `https://example.org/${i}` } : {}),
        ...(i % 4 === 0 ? { thumbnail: Buffer.from(`thumb ${i}`), externalId: `ext-${i}` } : {}),
        ...(i === 5 ? { id: 'explicit-id', keywords: ['umbrella'], description: 'an umbrella in the rain', extra: { set: 'noto' } } : {}),
      }),
    );
    await source.catalog.addBatch(items);
    // A second id for item 5's image, with its own metadata.
    await source.catalog.addBatch([{ ...items[5], id: 'explicit-alias', title: 'Alias title', tags: ['alias'], description: 'other words' }]);
    await source.catalog.delete((await source.catalog.findByHash(items[7].contentHash))!.id);
    await source.sync();
    lines.length = 0;
  });
  afterEach(async () => {
    await source.close({ save: false });
    await target.close({ save: false });
    cleanup();
  });

  it('copies every live item with its id, metadata, vectors and thumbnail, and indexes it', async () => {
    const summary = await migrateCatalog(source.catalog, target, { batchSize: 5, progress: sink });
    expect(summary).toMatchObject({ seen: 22, added: 22, duplicates: 0, stopped: false });
    expect(lines.at(-1)).toMatch(/^migrate 22\/22 \(100%\)/);
    const copied = new Map<string, Awaited<ReturnType<typeof target.catalog.getWithVectors>>>();
    for await (const page of target.catalog.scan(100)) for (const item of page) copied.set(item.id, item);
    expect(copied.size).toBe(22);
    for await (const page of source.catalog.scan(100)) {
      for (const item of page) {
        const other = copied.get(item.id)!;
        const { seq: _a, createdAt: _b, updatedAt: _c, ...expected } = item;
        expect(other).toMatchObject(expected);
        expect(await target.catalog.thumbnail(item.id)).toEqual(await source.catalog.thumbnail(item.id));
      }
    }
    expect(await target.indices.semantic.size()).toBe(22);
    expect(await target.indices.style.size()).toBe(22);
    const anyItem = copied.get('explicit-id')!;
    expect((await target.indices.style.search(anyItem.style, 1))[0].seq).toBe(anyItem.seq);
  });

  it('stops between batches when asked, and a second run copies only the rest', async () => {
    let batches = 0;
    const first = await migrateCatalog(source.catalog, target, { batchSize: 4, progress: null, shouldStop: () => ++batches >= 2 });
    expect(first).toMatchObject({ seen: 8, added: 8, stopped: true });
    const second = await migrateCatalog(source.catalog, target, { batchSize: 4, progress: null });
    expect(second).toMatchObject({ seen: 22, added: 14, duplicates: 8, stopped: false });
    expect((await target.catalog.stats()).items).toBe(22);
  });

  it('copies into Elasticsearch and back without changing an item', async () => {
    const { client } = testClient();
    const index = uniqueIndexName('parasol-migrate');
    const elastic = await openElasticStore({ client, index, dims: DIMS });
    try {
      expect(await migrateCatalog(source.catalog, elastic, { batchSize: 7, progress: null })).toMatchObject({ seen: 22, added: 22, aliases: 1 });
      expect(await migrateCatalog(elastic.catalog, target, { batchSize: 7, progress: null })).toMatchObject({ seen: 22, added: 22, aliases: 1 });
      const { createdAt: _d, updatedAt: _e, ...alias } = (await source.catalog.get('explicit-alias'))!;
      expect(alias).toMatchObject({ aliasOf: 'explicit-id', title: 'Alias title', tags: ['alias'], description: 'other words' });
      expect(await target.catalog.get('explicit-alias')).toMatchObject({ ...alias, seq: (await target.catalog.get('explicit-id'))!.seq });
      for await (const page of source.catalog.scan(100)) {
        for (const item of page) {
          const { seq: _a, createdAt: _b, updatedAt: _c, ...expected } = item;
          expect(await target.catalog.getWithVectors(item.id)).toMatchObject(expected);
          expect(await target.catalog.thumbnail(item.id)).toEqual(await source.catalog.thumbnail(item.id));
        }
      }
      const probe = (await source.catalog.getWithVectors('explicit-id'))!;
      const [hit] = await elastic.indices.style.search(probe.style, 1);
      expect((await elastic.catalog.getManyBySeq([hit.seq])).get(hit.seq)?.id).toBe('explicit-id');
    } finally {
      await elastic.close();
      await dropStoreIndices(client, index);
    }
  });

  it('rejects a batch size that is not a positive integer', async () => {
    await expect(migrateCatalog(source.catalog, target, { batchSize: 0 })).rejects.toThrow(/batchSize/);
  });
});
