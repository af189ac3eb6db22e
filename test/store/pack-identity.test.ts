/**
 * Which pack built an index: both backends record it, refuse another pack's store in one line
 * naming both packs and `parasol reindex`, and re-encode (interruptible, resumable) without ever
 * letting a store open with two packs' vectors in it. Real SQLite + HNSW; Elasticsearch: the fake.
 */
import { describe, expect, it } from 'vitest';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import { readEmbeddedRecord, reencodeEmbedded } from '../../src/store/embedded-reencode.js';
import { openElasticStore, readElasticRecord, reencodeElastic } from '../../src/store/elastic.js';
import type { Item, ReencodeOptions, Store } from '../../src/store/types.js';
import { DIMS, makeItem, randomUnitVector, seededRandom, tempDir } from './helpers.js';
import { FakeElasticsearch } from './elastic/fake-elasticsearch.js';

const HNSW = { M: 16, efConstruction: 100, efSearch: 100 };
const OLD = { name: 'mini', fingerprint: '0123456789abcdef' };
const NEW = { name: 'clip-b32', fingerprint: 'fedcba9876543210' };
const NEW_DIMS = { semantic: 12, style: 6 };

async function refusal(open: () => Promise<Store>): Promise<Error & { code?: string }> {
  return open().then(
    async (store) => {
      await store.close({ save: false });
      throw new Error('expected the store to refuse');
    },
    (error: unknown) => error as Error & { code?: string },
  );
}

/** A deterministic stand-in for the new pack's encoders: vectors from the item's id, checked to read its thumbnail. */
function encoderFor(thumbnailsSeen: string[]): ReencodeOptions['encode'] {
  return async (items: Item[], catalog) => {
    for (const item of items) {
      const bytes = await catalog.thumbnail(item.id);
      if (bytes) thumbnailsSeen.push(item.id);
    }
    return items.map((item) => {
      const random = seededRandom(item.seq + 1000);
      return { semantic: randomUnitVector(NEW_DIMS.semantic, random), style: randomUnitVector(NEW_DIMS.style, random) };
    });
  };
}

function expectOneLine(error: Error, ...parts: RegExp[]): void {
  expect(error.message).not.toContain('\n');
  for (const part of parts) expect(error.message).toMatch(part);
}

describe('embedded store: the pack that built it', () => {
  it('records the pack, refuses another with the same dimensions, and adopts a pack on an index that had none', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const random = seededRandom(1);
      const legacy = await openEmbeddedStore({ dataDir: dir, dims: DIMS, hnsw: HNSW });
      await legacy.catalog.addBatch([makeItem('a', random)]);
      await legacy.close();
      expect((await readEmbeddedRecord(dir)).pack).toBeUndefined();

      const adopted = await openEmbeddedStore({ dataDir: dir, dims: DIMS, hnsw: HNSW, pack: OLD });
      await adopted.close();
      expect(await readEmbeddedRecord(dir)).toMatchObject({ pack: OLD, dims: DIMS, items: 1 });

      const error = await refusal(() => openEmbeddedStore({ dataDir: dir, dims: DIMS, hnsw: HNSW, pack: { name: 'other', fingerprint: 'aaaaaaaaaaaaaaaa' } }));
      expect(error.code).toBe('CONFIG_INVALID');
      expectOneLine(error, /built with the model pack "mini" \(0123456789abcdef\), not "other" \(aaaaaaaaaaaaaaaa\)/, /run `parasol reindex`/);
      // A copy of the same pack under another name is the same pack.
      const renamed = await openEmbeddedStore({ dataDir: dir, dims: DIMS, hnsw: HNSW, pack: { ...OLD, name: 'mini-copy' } });
      await renamed.close();
    } finally {
      cleanup();
    }
  });

  it('re-encodes with another pack: stops after a batch, refuses to open half done, resumes, then serves only the new vectors', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const random = seededRandom(2);
      const store = await openEmbeddedStore({ dataDir: dir, dims: DIMS, hnsw: HNSW, pack: OLD });
      await store.catalog.addBatch(Array.from({ length: 10 }, (_, i) => makeItem(`item${i}`, random, { thumbnail: Buffer.from(`png ${i}`) })));
      await store.catalog.delete((await store.catalog.findByHash(makeItem('item3', random).contentHash))!.id);
      await store.close();

      const seen: string[] = [];
      let batches = 0;
      const progress: number[] = [];
      const first = await reencodeEmbedded(dir, {
        target: NEW,
        dims: NEW_DIMS,
        encode: encoderFor(seen),
        batchSize: 4,
        onProgress: ({ done }) => progress.push(done),
        shouldStop: () => batches++ >= 1,
      });
      expect(first).toMatchObject({ finished: false, encoded: 4, resumedFrom: 0, previous: OLD });
      expect(await readEmbeddedRecord(dir)).toMatchObject({ pack: OLD, reencoding: NEW, items: 9 });

      for (const pack of [OLD, NEW]) {
        const error = await refusal(() => openEmbeddedStore({ dataDir: dir, dims: pack === OLD ? DIMS : NEW_DIMS, hnsw: HNSW, pack }));
        expectOneLine(error, /is half re-encoded with the model pack "clip-b32" \(fedcba9876543210\); run `parasol reindex`/);
      }

      const second = await reencodeEmbedded(dir, { target: NEW, dims: NEW_DIMS, encode: encoderFor(seen), batchSize: 4, onProgress: ({ done }) => progress.push(done) });
      expect(second).toMatchObject({ finished: true, encoded: 5, resumedFrom: 4 });
      expect(progress).toEqual([0, 4, 4, 8, 9]);
      expect(new Set(seen).size).toBe(9);
      expect(await readEmbeddedRecord(dir)).toEqual({ pack: NEW, dims: NEW_DIMS, reencoding: undefined, items: 9 });

      const error = await refusal(() => openEmbeddedStore({ dataDir: dir, dims: DIMS, hnsw: HNSW, pack: OLD }));
      expectOneLine(error, /built with the model pack "clip-b32" \(fedcba9876543210\), not "mini"/);
      const moved = await openEmbeddedStore({ dataDir: dir, dims: NEW_DIMS, hnsw: HNSW, pack: NEW });
      try {
        expect(await moved.indices.semantic.size()).toBe(9);
        for await (const page of moved.catalog.scan(100)) {
          for (const item of page) {
            const want = randomUnitVector(NEW_DIMS.semantic, seededRandom(item.seq + 1000));
            expect(Array.from(item.semantic)).toEqual(Array.from(want));
            const [hit] = await moved.indices.semantic.search(item.semantic, 1);
            expect(hit.seq).toBe(item.seq);
          }
        }
      } finally {
        await moved.close();
      }
    } finally {
      cleanup();
    }
  });

  it('a server that opened the catalog before a re-encode began cannot add old-pack vectors to it', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const random = seededRandom(3);
      const running = await openEmbeddedStore({ dataDir: dir, dims: DIMS, hnsw: HNSW, pack: OLD });
      await running.catalog.addBatch([makeItem('first', random)]);
      await reencodeEmbedded(dir, { target: NEW, dims: NEW_DIMS, encode: encoderFor([]), batchSize: 8, shouldStop: () => true });
      await expect(running.catalog.addBatch([makeItem('late', random)])).rejects.toMatchObject({ code: 'NOT_READY' });
      await running.close({ save: false });
    } finally {
      cleanup();
    }
  });
});

describe('Elasticsearch store: the pack that built it', () => {
  it('records the pack in the mapping and refuses another with the same dimensions', async () => {
    const fake = new FakeElasticsearch({ version: '9.2.1' });
    const store = await openElasticStore({ client: fake.client(), index: 'art', dims: DIMS, pack: OLD });
    await store.close();
    expect(await readElasticRecord({ client: fake.client(), index: 'art' })).toMatchObject({ pack: OLD, dims: DIMS, items: 0 });
    const error = await refusal(() => openElasticStore({ client: fake.client(), index: 'art', dims: DIMS, pack: NEW }));
    expect(error.code).toBe('CONFIG_INVALID');
    expectOneLine(error, /the Elasticsearch index art was built with the model pack "mini" \(0123456789abcdef\), not "clip-b32"/, /run `parasol reindex`/);
  });

  it('an index made before packs were recorded adopts the pack that opens it', async () => {
    const fake = new FakeElasticsearch({ version: '9.2.1' });
    await (await openElasticStore({ client: fake.client(), index: 'art', dims: DIMS })).close();
    await (await openElasticStore({ client: fake.client(), index: 'art', dims: DIMS, pack: OLD })).close();
    expect((await readElasticRecord({ client: fake.client(), index: 'art' })).pack).toEqual(OLD);
  });

  it('re-encodes into a new index: interrupted, resumed, then the alias moves and only the new pack opens it', async () => {
    const fake = new FakeElasticsearch({ version: '9.2.1' });
    const random = seededRandom(4);
    const store = await openElasticStore({ client: fake.client(), index: 'art', dims: DIMS, pack: OLD });
    await store.catalog.addBatch(Array.from({ length: 7 }, (_, i) => makeItem(`item${i}`, random, { thumbnail: Buffer.from(`png ${i}`) })));
    const gone = await store.catalog.findByHash(makeItem('item5', random).contentHash);
    await store.catalog.delete(gone!.id);
    await store.close();

    const seen: string[] = [];
    let batches = 0;
    const connection = { client: fake.client(), index: 'art' };
    const first = await reencodeElastic(connection, { target: NEW, dims: NEW_DIMS, encode: encoderFor(seen), batchSize: 3, shouldStop: () => batches++ >= 1 });
    expect(first).toMatchObject({ finished: false, resumedFrom: 0, previous: OLD });
    expect(first.encoded).toBeGreaterThan(0);
    expect(fake.aliasTargets('art')).toEqual(['art-v1']);
    expect(await readElasticRecord(connection)).toMatchObject({ pack: OLD, reencoding: NEW, items: 6 });

    const second = await reencodeElastic(connection, { target: NEW, dims: NEW_DIMS, encode: encoderFor(seen), batchSize: 3 });
    expect(second.finished).toBe(true);
    expect(second.resumedFrom).toBe(first.encoded);
    expect(first.encoded + second.encoded).toBeGreaterThanOrEqual(6);
    expect(fake.aliasTargets('art')).toEqual(['art-v2']);
    expect(fake.indexNames()).not.toContain('art-v1');
    expect(await readElasticRecord(connection)).toMatchObject({ pack: NEW, dims: NEW_DIMS, reencoding: undefined, items: 6 });
    expect(new Set(seen).size).toBe(6);

    const error = await refusal(() => openElasticStore({ client: fake.client(), index: 'art', dims: DIMS, pack: OLD }));
    expectOneLine(error, /built with the model pack "clip-b32"/);
    const moved = await openElasticStore({ client: fake.client(), index: 'art', dims: NEW_DIMS, pack: NEW });
    try {
      expect((await moved.catalog.stats()).items).toBe(6);
      for await (const page of moved.catalog.scan(100)) {
        for (const item of page) {
          const want = randomUnitVector(NEW_DIMS.semantic, seededRandom(item.seq + 1000));
          expect(Array.from(item.semantic)).toEqual(Array.from(want));
        }
      }
      const [hit] = await moved.indices.style.search(randomUnitVector(NEW_DIMS.style, seededRandom(1001)).slice(), 1);
      expect(hit).toBeDefined();
    } finally {
      await moved.close();
    }
  });
});
