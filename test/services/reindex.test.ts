/**
 * Re-encoding from stored images with real encoders (the tiny pack's ONNX sessions) and a real
 * SQLite + HNSW store: items indexed from a folder keep a thumbnail, and re-encoding from it gives
 * vectors close to the originals' (the thumbnail is a lossy WebP, not the original bytes).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEncoders, type LoadedEncoders } from '../../src/encoders/index.js';
import { reencodeWith, needsReencode, renderSizeFor, storedImageReader } from '../../src/services/reindex.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import { reencodeEmbedded } from '../../src/store/embedded-reencode.js';
import { ingest } from '../../indexer/ingest.js';
import { folderSource } from '../../indexer/sources/folder.js';
import { dot } from '../../src/vectors.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const IMAGES = path.join(ROOT, 'test/fixtures/tiny-pack/images');
const HNSW = { M: 16, efConstruction: 100, efSearch: 100 };

let encoders: LoadedEncoders;
let dataDir: string;

beforeAll(async () => {
  encoders = await loadEncoders({ packDir: path.join(ROOT, 'test/fixtures/tiny-pack'), device: 'cpu', threads: 1 });
  dataDir = await mkdtemp(path.join(tmpdir(), 'parasol-reindex-'));
});

afterAll(async () => {
  await encoders?.dispose();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('re-encoding from stored images', () => {
  it("gives each item vectors close to its original's, from the thumbnail the catalog kept", async () => {
    const dims = { semantic: encoders.semanticDim, style: encoders.styleDim };
    const store = await openEmbeddedStore({ dataDir, dims, hnsw: HNSW, pack: encoders.stamp });
    const before = new Map<string, { semantic: Float32Array; style: Float32Array }>();
    try {
      const summary = await ingest(await folderSource(IMAGES), encoders, store, { batchSize: 4, thumbnailSize: 256, maxPixels: 1e7, progress: null });
      // flat-banner.png is one colour: skipped as blank.
      expect(summary.added).toBe(4);
      for await (const page of store.catalog.scan(100)) for (const item of page) before.set(item.id, { semantic: item.semantic, style: item.style });
    } finally {
      await store.close();
    }
    expect(needsReencode({ pack: encoders.stamp, dims, items: 4 }, encoders.stamp, dims)).toBe(false);
    expect(needsReencode({ pack: { name: 'x', fingerprint: '0'.repeat(16) }, dims, items: 5 }, encoders.stamp, dims)).toBe(true);
    expect(needsReencode({ dims: { semantic: 7, style: 3 }, items: 5 }, encoders.stamp, dims)).toBe(true);
    expect(needsReencode({}, encoders.stamp, dims)).toBe(false);

    const reencode = (options: Parameters<typeof reencodeEmbedded>[1]) => reencodeEmbedded(dataDir, options);
    const result = await reencodeWith(encoders, storedImageReader(renderSizeFor(encoders)), reencode, { batchSize: 2 });
    expect(result).toMatchObject({ finished: true, encoded: 4, resumedFrom: 0 });
    const reopened = await openEmbeddedStore({ dataDir, dims, hnsw: HNSW, pack: encoders.stamp });
    try {
      for await (const page of reopened.catalog.scan(100)) {
        for (const item of page) {
          const original = before.get(item.id)!;
          expect(dot(item.semantic, original.semantic)).toBeGreaterThan(0.95);
          expect(dot(item.style, original.style)).toBeGreaterThan(0.95);
        }
      }
    } finally {
      await reopened.close();
    }
  });

  it('stops, naming the item, when one has no stored image', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'parasol-reindex-bare-'));
    try {
      const dims = { semantic: encoders.semanticDim, style: encoders.styleDim };
      const store = await openEmbeddedStore({ dataDir: dir, dims, hnsw: HNSW, pack: encoders.stamp });
      const [vectors] = await encoders.describeImages([await (await import('node:fs/promises')).readFile(path.join(IMAGES, 'alpha-24.png'))]);
      await store.catalog.addBatch([{ id: 'bare', contentHash: 'f'.repeat(64), source: 'api', title: 'no thumbnail', tags: [], width: 24, height: 24, ...vectors }]);
      await store.close();
      await expect(
        reencodeWith(encoders, storedImageReader(renderSizeFor(encoders)), (options) => reencodeEmbedded(dir, options), { batchSize: 4 }),
      ).rejects.toThrow(/item "bare" has no stored image to re-encode from/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
