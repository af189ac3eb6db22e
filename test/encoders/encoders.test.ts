import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/encoders/image.js';
import { loadEncoders, type LoadedEncoders } from '../../src/encoders/index.js';
import {
  expectClose,
  expectUnit,
  maxAbsDiff,
  readReference,
  rejectionOf,
  TINY_PACK,
  type Reference,
} from './helpers.js';

describe('loadEncoders on the tiny pack', () => {
  let encoders: LoadedEncoders;
  let reference: Reference;
  let images: Buffer[];

  beforeAll(async () => {
    encoders = await loadEncoders({ packDir: TINY_PACK, device: 'cpu', threads: 1 });
    reference = await readReference(TINY_PACK);
    images = await Promise.all(reference.images.map((entry) => readFile(path.join(TINY_PACK, entry.file))));
  });

  afterAll(async () => {
    await encoders.dispose();
  });

  it('describes the pack', () => {
    expect(encoders.packName).toBe('tiny');
    expect(encoders.semanticDim).toBe(32);
    expect(encoders.styleDim).toBe(16);
    expect(encoders.semanticImage.dim).toBe(32);
    expect(encoders.semanticText.dim).toBe(32);
    expect(encoders.styleImage.dim).toBe(16);
    expect(encoders.styleText.dim).toBe(16);
    expect(encoders.provider).toBe('cpu');
    expect(encoders.manifest.style.image.preprocess.resize).toBe('cover');
  });

  it('reproduces the reference image embeddings torch computed', async () => {
    const semantic = await encoders.semanticImage.embedImages(images);
    const style = await encoders.styleImage.embedImages(images);
    let compared = 0;
    reference.images.forEach((entry, i) => {
      if (entry.semantic) {
        expectClose(semantic[i], entry.semantic);
        compared++;
      }
      if (entry.style) {
        expectClose(style[i], entry.style);
        compared++;
      }
    });
    expect(compared).toBeGreaterThanOrEqual(6);
  });

  it('reproduces the reference text embeddings torch computed', async () => {
    const texts = reference.texts.map((entry) => entry.text);
    const semantic = await encoders.semanticText.embedTexts(texts);
    const style = await encoders.styleText.embedTexts(texts);
    reference.texts.forEach((entry, i) => {
      expectClose(semantic[i], entry.semantic);
      expectClose(style[i], entry.style);
    });
  });

  it('returns unit vectors of the declared dimension', async () => {
    for (const v of await encoders.semanticImage.embedImages(images)) expectUnit(v, 32);
    for (const v of await encoders.styleImage.embedImages(images)) expectUnit(v, 16);
    for (const v of await encoders.semanticText.embedTexts(['a cat', ''])) expectUnit(v, 32);
    for (const v of await encoders.styleText.embedTexts(['ink wash', ''])) expectUnit(v, 16);
  });

  it('is deterministic', async () => {
    const first = await encoders.semanticImage.embedImages(images);
    const second = await encoders.semanticImage.embedImages(images);
    first.forEach((v, i) => expect(Array.from(second[i])).toEqual(Array.from(v)));
  });

  it('describeImages returns both descriptors, equal to the separate towers', async () => {
    const described = await encoders.describeImages(images);
    const semantic = await encoders.semanticImage.embedImages(images);
    const style = await encoders.styleImage.embedImages(images);
    expect(described).toHaveLength(images.length);
    described.forEach((d, i) => {
      expect(maxAbsDiff(d.semantic, semantic[i])).toBeLessThan(1e-6);
      expect(maxAbsDiff(d.style, style[i])).toBeLessThan(1e-6);
    });
  });

  it('handles empty input lists', async () => {
    expect(await encoders.semanticImage.embedImages([])).toEqual([]);
    expect(await encoders.styleText.embedTexts([])).toEqual([]);
    expect(await encoders.describeImages([])).toEqual([]);
  });

  it('serves repeated text queries from the cache, keyed per tower', async () => {
    const before = encoders.textCacheStats();
    const [a] = await encoders.semanticText.embedTexts(['a blue dog']);
    const afterMiss = encoders.textCacheStats();
    expect(afterMiss.misses).toBe(before.misses + 1);
    const [b] = await encoders.semanticText.embedTexts(['a blue dog']);
    expect(encoders.textCacheStats().hits).toBe(afterMiss.hits + 1);
    expect(Array.from(b)).toEqual(Array.from(a));
    // Same text, other tower: its own entry, its own dimension.
    const [style] = await encoders.styleText.embedTexts(['a blue dog']);
    expect(style.length).toBe(16);
    expect(encoders.textCacheStats().misses).toBe(afterMiss.misses + 1);
  });

  it('hands out copies, so a caller mutating a vector cannot corrupt the cache', async () => {
    const [first] = await encoders.semanticText.embedTexts(['a green tree']);
    const expected = Array.from(first);
    first.fill(0);
    const [again] = await encoders.semanticText.embedTexts(['a green tree']);
    expect(Array.from(again)).toEqual(expected);
  });

  it('embeds duplicates within one call once and fills every position', async () => {
    const before = encoders.textCacheStats();
    const out = await encoders.styleText.embedTexts(['pixel art', 'sketch', 'pixel art']);
    expect(encoders.textCacheStats().size).toBe(before.size + 2);
    expect(Array.from(out[2])).toEqual(Array.from(out[0]));
    expect(out[0]).not.toBe(out[2]);
  });

  it('fails the whole call with the bad image’s error code', async () => {
    await rejectionOf(encoders.semanticImage.embedImages([images[0], Buffer.from('not an image')]), 'UNSUPPORTED_IMAGE');
    await rejectionOf(encoders.describeImages([Buffer.alloc(0)]), 'UNSUPPORTED_IMAGE');
  });
});

describe('batching', () => {
  it('gives the same vectors in batches of 2 as one by one', async () => {
    const reference = await readReference(TINY_PACK);
    const images = await Promise.all(reference.images.map((entry) => readFile(path.join(TINY_PACK, entry.file))));
    const texts = ['a red cat', 'ink wash', 'the sun', 'a house', 'pixel art', 'water colour', ''];
    const batched = await loadEncoders({ packDir: TINY_PACK, device: 'cpu', batchSize: 2, cacheSize: 0 });
    const single = await loadEncoders({ packDir: TINY_PACK, device: 'cpu', batchSize: 1, cacheSize: 0 });
    try {
      const oneByOne = async <T>(items: T[], embed: (batch: T[]) => Promise<Float32Array[]>) =>
        (await Promise.all(items.map((item) => embed([item])))).map(([v]) => v);
      const pairs: Array<[Float32Array[], Float32Array[]]> = [
        [await batched.semanticImage.embedImages(images), await oneByOne(images, (b) => single.semanticImage.embedImages(b))],
        [await batched.styleImage.embedImages(images), await oneByOne(images, (b) => single.styleImage.embedImages(b))],
        [await batched.semanticText.embedTexts(texts), await oneByOne(texts, (b) => single.semanticText.embedTexts(b))],
        [await batched.styleText.embedTexts(texts), await oneByOne(texts, (b) => single.styleText.embedTexts(b))],
      ];
      for (const [inBatches, alone] of pairs) {
        expect(inBatches).toHaveLength(alone.length);
        inBatches.forEach((v, i) => expect(maxAbsDiff(v, alone[i])).toBeLessThan(1e-6));
      }
      const described = await batched.describeImages(images);
      described.forEach((d, i) => expect(maxAbsDiff(d.semantic, pairs[0][1][i])).toBeLessThan(1e-6));
      // With the cache off, nothing is kept.
      expect(batched.textCacheStats().size).toBe(0);
    } finally {
      await batched.dispose();
      await single.dispose();
    }
  });

  it('rejects a batch size or cache size that makes no sense', async () => {
    await rejectionOf(loadEncoders({ packDir: TINY_PACK, batchSize: 0 }), 'CONFIG_INVALID');
    await rejectionOf(loadEncoders({ packDir: TINY_PACK, cacheSize: -1 }), 'CONFIG_INVALID');
    await rejectionOf(loadEncoders({ packDir: TINY_PACK, imageWorkers: 0 }), 'CONFIG_INVALID');
    await rejectionOf(loadEncoders({ packDir: TINY_PACK, imageRunSize: 1.5 }), 'CONFIG_INVALID');
  });

  it('describes prepared images on several workers in runs, in order, as the towers do one by one', async () => {
    const reference = await readReference(TINY_PACK);
    const files = await Promise.all(reference.images.map((entry) => readFile(path.join(TINY_PACK, entry.file))));
    // An odd count over runs of 2 on 3 workers: runs end unevenly and workers take turns.
    const images = [...files, ...files, files[0]];
    const pool = await loadEncoders({ packDir: TINY_PACK, device: 'cpu', imageWorkers: 3, imageRunSize: 2, cacheSize: 0 });
    const single = await loadEncoders({ packDir: TINY_PACK, device: 'cpu', imageWorkers: 1, imageRunSize: 64, cacheSize: 0 });
    try {
      expect(pool.imageSettings).toEqual({ workers: 3, threads: 1, runSize: 2 });
      const described = await pool.describePrepared(await Promise.all(images.map((image) => pool.prepareImage(image))));
      const semantic = await single.semanticImage.embedImages(images);
      const style = await single.styleImage.embedImages(images);
      expect(described).toHaveLength(images.length);
      described.forEach((d, i) => {
        expect(maxAbsDiff(d.semantic, semantic[i])).toBeLessThan(1e-6);
        expect(maxAbsDiff(d.style, style[i])).toBeLessThan(1e-6);
      });
      // A bad input fails the call, and the workers keep serving.
      const bad = { semantic: new Float32Array(5), style: new Float32Array(5) };
      await expect(pool.describePrepared([...(await Promise.all(files.map((f) => pool.prepareImage(f)))), bad])).rejects.toThrow();
      const again = await pool.describePrepared([await pool.prepareImage(images[0])]);
      expect(maxAbsDiff(again[0].semantic, semantic[0])).toBeLessThan(1e-6);
      // Calls at once share the workers (their runs queue in call order), each getting its own images'
      // descriptors; a call that fails meanwhile takes none of the others down.
      const prepare = () => Promise.all(images.map((image) => pool.prepareImage(image)));
      const [one, two, three] = [await prepare(), await prepare(), await prepare()];
      const [first, failing, second] = await Promise.allSettled([
        pool.describePrepared(one),
        pool.describePrepared([bad, ...two]),
        pool.describePrepared(three.reverse()),
      ]);
      expect(failing.status).toBe('rejected');
      if (first.status !== 'fulfilled' || second.status !== 'fulfilled') throw new Error('a concurrent call failed');
      first.value.forEach((d, i) => expect(maxAbsDiff(d.style, style[i])).toBeLessThan(1e-6));
      second.value.forEach((d, i) => expect(maxAbsDiff(d.semantic, semantic[images.length - 1 - i])).toBeLessThan(1e-6));
    } finally {
      await pool.dispose();
      await single.dispose();
    }
  });

  it('prepares decoded pixels as it prepares the encoded image', async () => {
    const reference = await readReference(TINY_PACK);
    const encoders = await loadEncoders({ packDir: TINY_PACK, device: 'cpu', cacheSize: 0 });
    try {
      for (const entry of reference.images) {
        const bytes = await readFile(path.join(TINY_PACK, entry.file));
        const fromBytes = await encoders.prepareImage(bytes);
        const fromPixels = await encoders.prepareDecoded(await decodeImage(bytes));
        expect(maxAbsDiff(fromPixels.semantic, fromBytes.semantic)).toBe(0);
        expect(maxAbsDiff(fromPixels.style, fromBytes.style)).toBe(0);
      }
    } finally {
      await encoders.dispose();
    }
  });
});

describe('dispose', () => {
  it('releases the sessions and refuses further work', async () => {
    const encoders = await loadEncoders({ packDir: TINY_PACK, device: 'cpu' });
    await encoders.dispose();
    await rejectionOf(encoders.semanticText.embedTexts(['a cat']), 'NOT_READY');
    await rejectionOf(encoders.describeImages([]), 'NOT_READY');
    await encoders.dispose(); // idempotent
  });
});
