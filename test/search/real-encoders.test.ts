/**
 * The engine end to end with the real encoders (onnxruntime on the CPU) over the real store. The
 * tiny fixture pack has random weights, so this pins the plumbing (dimensions, normalisation,
 * image and text paths), not retrieval quality; the bundled mini pack is used too when present.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEncoders, type LoadedEncoders } from '../../src/encoders/index.js';
import { SearchEngine } from '../../src/search/engine.js';
import { openEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const IMAGES = path.join(ROOT, 'test/fixtures/tiny-pack/images');
const PACKS = [path.join(ROOT, 'test/fixtures/tiny-pack'), path.join(ROOT, 'models/mini')].filter((dir) =>
  existsSync(path.join(dir, 'pack.json')),
);

describe.each(PACKS)('search with the real encoders of %s', (packDir) => {
  let encoders: LoadedEncoders;
  let store: EmbeddedStore;
  let dir: string;
  let engine: SearchEngine;
  let images: Array<{ name: string; bytes: Buffer }>;

  beforeAll(async () => {
    encoders = await loadEncoders({ packDir, device: 'cpu', threads: 1 });
    dir = await mkdtemp(path.join(tmpdir(), 'parasol-search-real-'));
    store = await openEmbeddedStore({
      dataDir: dir,
      dims: { semantic: encoders.semanticDim, style: encoders.styleDim },
      hnsw: { M: 16, efConstruction: 100, efSearch: 100 },
    });
    const files = (await readdir(IMAGES)).filter((f) => f.endsWith('.png')).sort();
    images = await Promise.all(files.map(async (name) => ({ name, bytes: await readFile(path.join(IMAGES, name)) })));
    const descriptors = await encoders.describeImages(images.map((i) => i.bytes));
    await store.catalog.addBatch(
      images.map((image, i) => ({
        id: image.name.replace('.png', ''),
        contentHash: createHash('sha256').update(image.bytes).digest('hex'),
        source: 'fixtures',
        title: image.name,
        tags: [],
        width: 32,
        height: 32,
        semantic: descriptors[i].semantic,
        style: descriptors[i].style,
      })),
    );
    await store.sync();
    engine = new SearchEngine({ catalog: store.catalog, indices: store.indices, encoders });
  });

  afterAll(async () => {
    await store?.close({ save: false });
    await encoders?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('finds an indexed image first when queried with its own bytes', async () => {
    const query = images[1];
    const response = await engine.search({ contentImage: query.bytes, styleImage: query.bytes, k: 3 });
    expect(response.results[0].id).toBe(query.name.replace('.png', ''));
    expect(response.results[0].scores.content).toBeCloseTo(1, 4);
    expect(response.results[0].scores.style).toBeCloseTo(1, 4);
  });

  it('answers content and style text queries with every result scored', async () => {
    const response = await engine.search({ q: 'a red pattern', style: 'flat colours', k: images.length });
    expect(response.results).toHaveLength(images.length);
    expect(response.total).toBe(images.length);
    for (const r of response.results) {
      expect(Number.isFinite(r.scores.content)).toBe(true);
      expect(Number.isFinite(r.scores.style)).toBe(true);
    }
  });

  it('interpolates between an item and a text', async () => {
    const response = await engine.interpolate({ style: { a: { itemId: 'alpha-24' }, b: { text: 'pencil' } }, t: 0.5, k: 2 });
    expect(response.results).toHaveLength(2);
    expect(response.results.map((r) => r.id)).not.toContain('alpha-24');
  });
});
