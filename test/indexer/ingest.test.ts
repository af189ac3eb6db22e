import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEncoders } from '../../src/encoders/index.js';
import type { LoadedEncoders } from '../../src/encoders/index.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import type { EmbeddedStore } from '../../src/store/embedded.js';
import { bytesHash, pixelsHash } from '../../indexer/content-hash.js';
import { ingest } from '../../indexer/ingest.js';
import type { IngestOptions } from '../../indexer/ingest.js';
import { demoSource } from '../../indexer/sources/demo.js';
import { buildCorpus, iconOf } from '../../corpus/corpus.js';
import { renderIconPixels, sheetSafe } from '../../corpus/render.js';
import { folderSource } from '../../indexer/sources/folder.js';
import { manifestSource } from '../../indexer/sources/manifest.js';
import { memorySource } from '../../indexer/sources/memory.js';
import { parseCsv } from '../../indexer/sources/csv.js';
import type { SourceItem } from '../../indexer/sources/types.js';
import type { StagedImageDescriber } from '../../src/encoders/types.js';
import type { ItemInput } from '../../src/store/types.js';
import { maxAbsDiff } from '../encoders/helpers.js';

const TINY_PACK = path.resolve('test/fixtures/tiny-pack');
const options: IngestOptions = { batchSize: 4, thumbnailSize: 256, maxPixels: 1_000_000, progress: null };

let encoders: LoadedEncoders;
const temps: string[] = [];

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

async function openStore(): Promise<EmbeddedStore> {
  return openEmbeddedStore({
    dataDir: await tempDir('parasol-ingest-data-'),
    dims: { semantic: encoders.semanticDim, style: encoders.styleDim },
    hnsw: { M: 16, efConstruction: 100, efSearch: 64 },
  });
}

/** A coloured square with a black dot in it (a flat square would be refused as blank). */
async function colourBytes(r: number, g: number, b: number, size = 48): Promise<Buffer> {
  const dot = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000000' } }).png().toBuffer();
  return sharp({ create: { width: size, height: size, channels: 3, background: { r, g, b } } })
    .composite([{ input: dot, top: Math.floor(size / 3), left: Math.floor(size / 4) }])
    .png()
    .toBuffer();
}

async function colour(r: number, g: number, b: number, size = 48) {
  return sharp(await colourBytes(r, g, b, size));
}

/** A folder with good images in several formats and every kind of bad file. */
async function makeFolder(): Promise<string> {
  const dir = await tempDir('parasol-ingest-src-');
  await mkdir(path.join(dir, 'nested', 'deeper'), { recursive: true });
  await (await colour(255, 0, 0)).png().toFile(path.join(dir, 'red.png'));
  await (await colour(0, 255, 0)).jpeg().toFile(path.join(dir, 'nested', 'green.jpg'));
  await (await colour(0, 0, 255)).webp().toFile(path.join(dir, 'nested', 'deeper', 'blue.webp'));
  await writeFile(path.join(dir, 'circle.svg'), '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><circle cx="20" cy="20" r="15" fill="orange"/></svg>');
  await (await colour(255, 0, 0)).png().toFile(path.join(dir, 'red-copy.png'));
  await writeFile(path.join(dir, 'empty.png'), Buffer.alloc(0));
  await writeFile(path.join(dir, 'text.png'), 'this is not an image at all');
  const jpeg = await (await colour(10, 20, 30, 64)).jpeg().toBuffer();
  await writeFile(path.join(dir, 'truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 3)));
  await sharp({ create: { width: 1200, height: 1200, channels: 3, background: '#888' } }).png().toFile(path.join(dir, 'huge.png'));
  await writeFile(path.join(dir, 'notes.txt'), 'ignored by extension');
  return dir;
}

beforeAll(async () => {
  encoders = await loadEncoders({ packDir: TINY_PACK, device: 'cpu' });
});

afterAll(async () => {
  await encoders?.dispose();
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

describe('ingest from a folder', () => {
  it('adds good images, skips bad ones with reasons, and never stops', async () => {
    const store = await openStore();
    const source = await folderSource(await makeFolder(), { source: 'fixtures' });
    const summary = await ingest(source, encoders, store, options);
    expect(summary.seen).toBe(9);
    expect(summary.added).toBe(4);
    expect(summary.duplicates).toBe(1); // red-copy.png has the same bytes' hash as red.png
    expect(summary.skipped).toBe(4);
    expect(summary.skippedBy).toMatchObject({ empty: 1, unsupported: 1, 'too-large': 1, corrupt: 1 });
    const reasons = Object.fromEntries(summary.skippedRows.map((r) => [r.key, r.reason]));
    expect(reasons['empty.png']).toMatch(/empty/);
    expect(reasons['huge.png']).toMatch(/1200×1200/);
    expect(reasons['truncated.jpg']).toBeDefined();

    const stats = await store.catalog.stats();
    expect(stats.items).toBe(4);
    expect(await store.indices.semantic.size()).toBe(4);
    expect(await store.indices.style.size()).toBe(4);
    const green = summary.addedIds.length;
    expect(green).toBe(4);
    const item = await store.catalog.get(summary.addedIds[0]);
    expect(item?.source).toBe('fixtures');
    const thumb = await store.catalog.thumbnail(summary.addedIds[0]);
    expect((await sharp(thumb!).metadata()).format).toBe('webp');
    await store.close();
  });

  it('is idempotent: a second run adds nothing and encodes nothing new', async () => {
    const store = await openStore();
    const dir = await makeFolder();
    await ingest(await folderSource(dir), encoders, store, options);
    const again = await ingest(await folderSource(dir), encoders, store, options);
    expect(again.added).toBe(0);
    expect(again.duplicates).toBe(5);
    expect((await store.catalog.stats()).items).toBe(4);
    await store.close();
  });

  it('resumes after an interruption between batches', async () => {
    const store = await openStore();
    const dir = await makeFolder();
    let batches = 0;
    const first = await ingest(await folderSource(dir), encoders, store, { ...options, batchSize: 2, shouldStop: () => ++batches >= 1 });
    expect(first.stopped).toBe(true);
    expect(first.seen).toBe(2);
    const rest = await ingest(await folderSource(dir), encoders, store, { ...options, batchSize: 2 });
    expect(rest.stopped).toBe(false);
    expect((await store.catalog.stats()).items).toBe(4);
    expect(first.added + rest.added).toBe(4);
    await store.close();
  });
  it('skips blank images (transparent, flat) with the reason "blank image", and keeps one with a dot', async () => {
    const dir = await tempDir('parasol-ingest-blank-');
    const transparent = sharp({ create: { width: 32, height: 32, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } });
    await transparent.png().toFile(path.join(dir, 'transparent.png'));
    await sharp({ create: { width: 32, height: 32, channels: 3, background: '#ff0000' } }).png().toFile(path.join(dir, 'flat-red.png'));
    await (await colour(255, 0, 0)).png().toFile(path.join(dir, 'red-with-dot.png'));
    const store = await openStore();
    const summary = await ingest(await folderSource(dir), encoders, store, options);
    expect(summary).toMatchObject({ seen: 3, added: 1, skipped: 2, skippedBy: { blank: 2 } });
    expect(Object.fromEntries(summary.skippedRows.map((r) => [r.key, r.reason]))).toEqual({
      'transparent.png': 'blank image',
      'flat-red.png': 'blank image',
    });
    await store.close();
  });
});

describe('ingest from manifests', () => {
  it('reads JSONL with metadata and rejects bad rows', async () => {
    const dir = await makeFolder();
    const manifest = path.join(dir, 'items.jsonl');
    await writeFile(
      manifest,
      [
        JSON.stringify({ path: 'red.png', id: 'red-1', title: 'Red square', tags: ['red', 'square'], license: 'CC0-1.0', attribution: 'Tester', url: 'https://example.com/red' }),
        JSON.stringify({ path: 'nested/green.jpg', title: 'Green' }),
        '{not json',
        JSON.stringify({ title: 'no path' }),
        JSON.stringify({ path: 'circle.svg', id: 'bad id with spaces' }),
        JSON.stringify({ path: 'missing.png' }),
        '',
      ].join('\n'),
    );
    const store = await openStore();
    const summary = await ingest(await manifestSource(manifest), encoders, store, options);
    expect(summary.added).toBe(2);
    expect(summary.skippedBy['invalid-row']).toBe(3);
    expect(summary.skippedBy.unreadable).toBe(1);
    const red = await store.catalog.get('red-1');
    expect(red).toMatchObject({ title: 'Red square', tags: ['red', 'square'], license: 'CC0-1.0', attribution: 'Tester', url: 'https://example.com/red', source: 'items' });
    await store.close();
  });

  it('skips a row whose id belongs to other content, and ingests the rest of its batch', async () => {
    const dir = await makeFolder();
    const manifest = path.join(dir, 'ids.jsonl');
    await writeFile(
      manifest,
      [
        JSON.stringify({ path: 'red.png', id: 'same' }),
        JSON.stringify({ path: 'nested/green.jpg', id: 'same' }),
        JSON.stringify({ path: 'circle.svg', id: 'circle' }),
      ].join('\n'),
    );
    const store = await openStore();
    const summary = await ingest(await manifestSource(manifest), encoders, store, options);
    expect(summary.added).toBe(2);
    expect(summary.skippedBy['id-conflict']).toBe(1);
    expect(await store.catalog.get('circle')).toBeDefined();
    await store.close();
  });

  it('keeps a second id for the same bytes as an alias and lists each duplicate with the stored id', async () => {
    const dir = await makeFolder();
    const manifest = path.join(dir, 'skus.jsonl');
    await writeFile(
      manifest,
      [
        JSON.stringify({ path: 'red.png', id: 'sku-1', title: 'Red', tags: ['red'] }),
        JSON.stringify({ path: 'red-copy.png', id: 'sku-2', title: 'Red again', tags: ['crimson'], license: 'CC0-1.0' }),
        JSON.stringify({ path: 'red.png', id: 'sku-1' }),
      ].join('\n'),
    );
    const store = await openStore();
    const summary = await ingest(await manifestSource(manifest), encoders, store, options);
    expect(summary).toMatchObject({ added: 1, duplicates: 2 });
    expect(summary.duplicateRows.map(({ id, existingId }) => ({ id, existingId }))).toEqual([
      { id: 'sku-1', existingId: 'sku-1' },
      { id: 'sku-2', existingId: 'sku-1' },
    ]);
    expect(await store.catalog.get('sku-2')).toMatchObject({ aliasOf: 'sku-1', title: 'Red again', tags: ['crimson'], license: 'CC0-1.0' });
    expect((await store.catalog.stats()).items).toBe(1);

    // A later run: a third id for the stored image, and a plain re-run of the folder.
    const later = path.join(dir, 'more.jsonl');
    await writeFile(later, [JSON.stringify({ path: 'red.png', id: 'sku-3', title: 'Third' }), JSON.stringify({ path: 'red.png', id: 'sku-2' })].join('\n'));
    const again = await ingest(await manifestSource(later), encoders, store, options);
    expect(again).toMatchObject({ added: 0, duplicates: 2 });
    expect(again.duplicateRows.map(({ id, existingId }) => ({ id, existingId }))).toEqual([
      { id: 'sku-2', existingId: 'sku-1' },
      { id: 'sku-3', existingId: 'sku-1' },
    ]);
    expect((await store.catalog.get('sku-1'))?.aliases).toEqual(['sku-2', 'sku-3']);
    const folder = await ingest(await folderSource(dir), encoders, store, options);
    expect(folder.duplicateRows.find((row) => row.key === 'red.png')).toEqual({ key: 'red.png', id: 'sku-1', existingId: 'sku-1' });
    expect((await store.catalog.get('sku-1'))?.aliases).toEqual(['sku-2', 'sku-3']);
    await store.close();
  });

  it('reads CSV with quoted fields and | separated tags', async () => {
    const dir = await makeFolder();
    const manifest = path.join(dir, 'items.csv');
    await writeFile(manifest, 'path,title,tags,license\r\nred.png,"Red, the colour","warm|primary",MIT\r\nnested/deeper/blue.webp,Blue,,\r\n');
    const store = await openStore();
    const summary = await ingest(await manifestSource(manifest, { source: 'csv-test' }), encoders, store, options);
    expect(summary.added).toBe(2);
    const items = await store.catalog.getManyBySeq([1, 2]);
    const red = [...items.values()].find((i) => i.title === 'Red, the colour');
    expect(red).toMatchObject({ tags: ['warm', 'primary'], license: 'MIT', source: 'csv-test' });
    await store.close();
  });

  it('parses RFC 4180 CSV', () => {
    expect(parseCsv('a,b\n"x ""q""","line\nbreak"\n')).toEqual([
      ['a', 'b'],
      ['x "q"', 'line\nbreak'],
    ]);
  });
});

describe('ingest the demo corpus', () => {
  it('stores demo items with their set, licence and codepoint, without thumbnails', async () => {
    const store = await openStore();
    const summary = await ingest(demoSource({ renderSize: 32, sets: ['openmoji'], limit: 12 }), encoders, store, options);
    expect(summary.added).toBe(12);
    const item = await store.catalog.get(summary.addedIds[0]);
    expect(item?.source).toBe('openmoji');
    expect(item?.license).toBe('CC-BY-SA-4.0');
    expect(item?.attribution).toMatch(/OpenMoji/);
    expect(item?.extra).toMatchObject({ kind: 'emoji-demo', set: 'openmoji' });
    expect(await store.catalog.thumbnail(item!.id)).toBeUndefined();
    // Icons are decoded once (blank check and towers from the same pixels): the vectors are the encoders' own.
    const rendered: Buffer[] = [];
    for await (const demo of demoSource({ renderSize: 32, sets: ['openmoji'], limit: 12 }).items()) rendered.push(await demo.bytes());
    const expected = await encoders.describeImages(rendered);
    for (const [i, id] of summary.addedIds.entries()) {
      const stored = await store.catalog.getWithVectors(id);
      expect(maxAbsDiff(stored!.semantic, expected[i].semantic)).toBeLessThan(1e-6);
      expect(maxAbsDiff(stored!.style, expected[i].style)).toBeLessThan(1e-6);
    }
    await store.close();
  });
});

describe('the demo corpus drawn in sheets', () => {
  it('stores the hashes and vectors that drawing each icon alone gives, in sets with and without gradients', async () => {
    const store = await openStore();
    const source = () => demoSource({ renderSize: 32, sets: ['openmoji', 'noto', 'fluent-emoji-flat'], limit: 40 });
    const summary = await ingest(source(), encoders, store, { ...options, batchSize: 16 });
    expect(summary).toMatchObject({ added: 40, skipped: 0 });
    const corpus = buildCorpus(['openmoji', 'noto', 'fluent-emoji-flat']);
    const byId = new Map(corpus.items.map((item) => [item.id, item]));
    let inSheets = 0;
    for await (const item of source().items()) {
      const { set, icon } = iconOf(corpus, byId.get(item.meta.id!)!);
      if (sheetSafe(icon)) inSheets++;
      // What a store already holds for this icon (each drawn alone): the same hash, so a re-ingest sees it unchanged.
      const alone = await renderIconPixels(set, icon, 32);
      const stored = await store.catalog.getWithVectors(item.meta.id!);
      expect(stored?.contentHash, item.key).toBe(pixelsHash(alone));
      const [expected] = await encoders.describePrepared([await encoders.prepareDecoded(alone)]);
      expect(maxAbsDiff(stored!.semantic, expected.semantic)).toBe(0);
      expect(maxAbsDiff(stored!.style, expected.style)).toBe(0);
    }
    // Both paths ran: icons drawn in sheets and icons drawn alone (gradients, ids).
    expect(inSheets).toBeGreaterThan(4);
    expect(inSheets).toBeLessThan(40);
    await store.close();
  });
});

describe('content hashes of rendered items', () => {
  const demo = () => demoSource({ renderSize: 32, sets: ['openmoji'], limit: 12 });
  async function demoItems(): Promise<SourceItem[]> {
    const items: SourceItem[] = [];
    for await (const item of demo().items()) items.push(item);
    return items;
  }
  /** The first item again under another id: the same image, to be kept as an alias of the stored one. */
  const withCopyOfFirst = (items: SourceItem[]): SourceItem[] => [...items, { ...items[0], key: 'copy', meta: { ...items[0].meta, id: 'copy' } }];
  /** As every rendered item was identified before pixel hashes: by its PNG's bytes. */
  const byBytes = (items: SourceItem[]): SourceItem[] => items.map(({ rendered: _rendered, ...item }) => item);

  it('identifies a rendered item by its pixels, never writing its PNG', async () => {
    const store = await openStore();
    const items = await demoItems();
    let pngs = 0;
    const counted = items.map((item) => ({ ...item, bytes: () => (pngs++, item.bytes()) }));
    const summary = await ingest(memorySource('demo', withCopyOfFirst(counted)), encoders, store, options);
    expect(summary).toMatchObject({ added: 12, duplicates: 1, skipped: 0 });
    expect(pngs).toBe(0);
    const first = await store.catalog.get(items[0].meta.id!);
    const pixels = await items[0].rendered!();
    expect(first?.contentHash).toBe(pixelsHash(pixels));
    expect(first?.contentHash).not.toBe(bytesHash(await items[0].bytes()));
    expect(await store.catalog.get('copy')).toMatchObject({ aliasOf: items[0].meta.id });
    // Identified by the pixels, it is the same image: a second run encodes nothing and adds nothing.
    const again = await ingest(memorySource('demo', withCopyOfFirst(items)), encoders, store, options);
    expect(again).toMatchObject({ added: 0, duplicates: 13, skipped: 0 });
    await store.close();
  });

  it('resumes a store hashed by PNG bytes in that scheme: repeats and aliases still dedupe, no id conflicts', async () => {
    const store = await openStore();
    const items = await demoItems();
    const before = await ingest(memorySource('demo', byBytes(items.slice(0, 8))), encoders, store, options);
    expect(before).toMatchObject({ added: 8, skipped: 0 });
    const legacy = await store.catalog.get(items[0].meta.id!);
    expect(legacy?.contentHash).toBe(bytesHash(await items[0].bytes()));

    const resumed = await ingest(memorySource('demo', withCopyOfFirst(items)), encoders, store, options);
    expect(resumed).toMatchObject({ added: 4, duplicates: 9, skipped: 0 });
    // The items added now are hashed as the store's others, so the copy of the first is its alias.
    expect((await store.catalog.get(items[11].meta.id!))?.contentHash).toBe(bytesHash(await items[11].bytes()));
    expect(await store.catalog.get('copy')).toMatchObject({ aliasOf: items[0].meta.id });
    // Their vectors are the same as a pixel-hashed run's: only the identity's scheme differs.
    const fresh = await openStore();
    await ingest(memorySource('demo', items), encoders, fresh, options);
    for (const item of items) {
      const a = await store.catalog.getWithVectors(item.meta.id!);
      const b = await fresh.catalog.getWithVectors(item.meta.id!);
      expect(maxAbsDiff(a!.semantic, b!.semantic)).toBeLessThan(1e-6);
      expect(maxAbsDiff(a!.style, b!.style)).toBeLessThan(1e-6);
    }
    await fresh.close();
    await store.close();
  });
});

describe('the pipeline', () => {
  /** Forty distinct small images with a dot each (none blank), in memory. */
  async function distinctItems(count: number, onRead: () => void): Promise<SourceItem[]> {
    return Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const bytes = await colourBytes(((i + 1) * 37) % 256, ((i + 1) * 91) % 256, ((i + 1) * 53) % 256, 24);
        return { key: `item-${i}`, meta: { id: `item-${i}` }, storeThumbnail: false, bytes: async () => (onRead(), bytes) };
      }),
    );
  }

  it('reads at most three batches ahead of the last commit, so memory stays bounded', async () => {
    const store = await openStore();
    let read = 0;
    let committed = 0;
    let mostAhead = 0;
    const items = await distinctItems(40, () => {
      read++;
      mostAhead = Math.max(mostAhead, read - committed);
    });
    const summary = await ingest(memorySource('bounded', items), encoders, store, {
      ...options,
      onBatch: (seen) => (committed = seen),
    });
    expect(summary.added).toBe(40);
    // PREPARED_AHEAD (2) batches besides the one committing, four items each; and it does read ahead.
    expect(mostAhead).toBeLessThanOrEqual(12);
    expect(mostAhead).toBeGreaterThan(4);
    await store.close();
  });

  it('encodes the next batch while the catalog commits this one', async () => {
    const store = await openStore();
    const events: string[] = [];
    let batch = 0;
    const watched: StagedImageDescriber = {
      prepareImage: (image) => encoders.prepareImage(image),
      prepareDecoded: (image) => encoders.prepareDecoded(image),
      describePrepared: async (images) => {
        events.push(`encode ${images.length}`);
        return encoders.describePrepared(images);
      },
    };
    const slowCatalog = new Proxy(store.catalog, {
      get(target, name) {
        const value = Reflect.get(target, name, target) as unknown;
        if (name !== 'addBatch' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
        return async (inputs: ItemInput[]) => {
          const n = ++batch;
          events.push(`commit ${n} starts`);
          // A slow commit (a large catalog, a slow disk): the models must not wait for it.
          await new Promise((resolve) => setTimeout(resolve, 150));
          const results = await (value as (inputs: ItemInput[]) => Promise<unknown>).call(target, inputs);
          events.push(`commit ${n} ends`);
          return results;
        };
      },
    });
    const target = { catalog: slowCatalog, sync: () => store.sync(), save: () => store.save() };
    const summary = await ingest(memorySource('overlap', await distinctItems(12, () => undefined)), watched, target, options);
    expect(summary.added).toBe(12);
    expect(events.filter((e) => e.startsWith('encode'))).toEqual(['encode 4', 'encode 4', 'encode 4']);
    // Every batch but the first was encoded before the commit of the one before it ended.
    const at = (event: string) => events.indexOf(event);
    expect(at('commit 1 starts')).toBeLessThan(at('commit 1 ends'));
    expect(events.slice(0, at('commit 1 ends')).filter((e) => e.startsWith('encode'))).toHaveLength(3);
    expect((await store.catalog.stats()).items).toBe(12);
    await store.close();
  });
});

describe('ingest from memory', () => {
  it('stores items already at hand, and skips one whose bytes cannot be read with its reason', async () => {
    const store = await openStore();
    const red = await colourBytes(255, 0, 0);
    const blue = await colourBytes(0, 0, 255);
    const source = memorySource('in memory', [
      { key: 'red', meta: { id: 'red', title: 'Red', source: 'memory' }, bytes: async () => red, storeThumbnail: true },
      { key: 'gone', meta: { title: 'Gone' }, bytes: () => Promise.reject(new Error('the upload vanished')), storeThumbnail: true },
      { key: 'blue', meta: { id: 'blue', title: 'Blue', source: 'memory' }, bytes: async () => blue, storeThumbnail: false },
    ]);
    expect(source).toMatchObject({ label: 'in memory', total: 3, rejected: [] });
    const summary = await ingest(source, encoders, store, options);
    expect(summary.added).toBe(2);
    expect(summary.skipped).toBe(1);
    expect(summary.skippedRows).toEqual([expect.objectContaining({ key: 'gone', reason: expect.stringContaining('the upload vanished') })]);
    expect(await store.catalog.get('red')).toMatchObject({ title: 'Red', source: 'memory' });
    expect(await store.catalog.thumbnail('red')).toBeDefined();
    expect(await store.catalog.thumbnail('blue')).toBeUndefined();
    // A source can be read again: the same items, once more.
    const keys: string[] = [];
    for await (const item of source.items()) keys.push(item.key);
    expect(keys).toEqual(['red', 'gone', 'blue']);
    await store.close();
  });
});
