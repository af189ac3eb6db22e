/**
 * A small labelled corpus over the real embedded store (SQLite + HNSW in a temp dir) and
 * deterministic fake encoders: every word hashes to a fixed random direction, so "cat" as text,
 * as a picture of a cat and as a stored cat item all point the same way. Item vectors are their
 * label's direction plus seeded noise, so neighbours are predictable but not tied.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Encoders, ImageDescriptors, ImageInput } from '../../src/encoders/types.js';
import { openEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.js';
import type { ItemInput } from '../../src/store/types.js';
import { normalize } from '../../src/vectors.js';

export const SEMANTIC_DIM = 32;
export const STYLE_DIM = 16;
export const CONTENTS = ['cat', 'dog', 'tree', 'house', 'boat', 'bird'] as const;
export const STYLES = ['ink', 'oil', 'pixel', 'watercolor'] as const;
export const VARIANTS = 3;

/** mulberry32: a tiny seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedOf(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32LE(0);
}

/** A fixed pseudo-random (unnormalised) direction per word. */
export function wordVector(space: 'semantic' | 'style', word: string): Float32Array {
  const dim = space === 'semantic' ? SEMANTIC_DIM : STYLE_DIM;
  const next = prng(seedOf(`${space}:${word}`));
  const v = new Float32Array(dim);
  for (let i = 0; i < dim; i++) v[i] = next() * 2 - 1;
  return normalize(v);
}

export function textVector(space: 'semantic' | 'style', text: string): Float32Array {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  const sum = new Float32Array(space === 'semantic' ? SEMANTIC_DIM : STYLE_DIM);
  for (const word of words) wordVector(space, word).forEach((x, i) => (sum[i] += x));
  return normalize(sum);
}

function noisy(base: Float32Array, seed: string, amount: number): Float32Array {
  const next = prng(seedOf(seed));
  return normalize(base.map((x) => x + amount * (next() * 2 - 1)));
}

/** A fake picture: its bytes spell "content|style". */
export function fakeImage(content: string, style: string): Buffer {
  return Buffer.from(`${content}|${style}`);
}

function readFakeImage(image: ImageInput): { content: string; style: string } {
  const [content = '', style = ''] = Buffer.from(image).toString('utf8').split('|');
  return { content, style };
}

export class FakeEncoders implements Encoders {
  readonly packName = 'fake';
  readonly semanticDim = SEMANTIC_DIM;
  readonly styleDim = STYLE_DIM;
  readonly provider = 'cpu' as const;
  /** How many times each tower ran, so tests can see what a query spared. */
  readonly calls = { semanticText: 0, styleText: 0, semanticImage: 0, styleImage: 0, describeImages: 0 };

  readonly semanticText = {
    dim: SEMANTIC_DIM,
    embedTexts: async (texts: string[]) => {
      this.calls.semanticText++;
      return texts.map((t) => textVector('semantic', t));
    },
  };
  readonly styleText = {
    dim: STYLE_DIM,
    embedTexts: async (texts: string[]) => {
      this.calls.styleText++;
      return texts.map((t) => textVector('style', t));
    },
  };
  readonly semanticImage = {
    dim: SEMANTIC_DIM,
    embedImages: async (images: ImageInput[]) => {
      this.calls.semanticImage++;
      return images.map((image) => textVector('semantic', readFakeImage(image).content));
    },
  };
  readonly styleImage = {
    dim: STYLE_DIM,
    embedImages: async (images: ImageInput[]) => {
      this.calls.styleImage++;
      return images.map((image) => textVector('style', readFakeImage(image).style));
    },
  };

  async describeImages(images: ImageInput[]): Promise<ImageDescriptors[]> {
    this.calls.describeImages++;
    return images.map((image) => {
      const { content, style } = readFakeImage(image);
      return { semantic: textVector('semantic', content), style: textVector('style', style) };
    });
  }

  async dispose(): Promise<void> {}
}

export interface CorpusItem {
  id: string;
  content: string;
  style: string;
  variant: number;
  source: string;
  license: string;
}

/** Every content × style × variant; sources and licenses alternate so filters cut across labels. */
export function corpusItems(): Array<ItemInput & { id: string }> {
  const items: Array<ItemInput & { id: string }> = [];
  for (const content of CONTENTS) {
    for (const style of STYLES) {
      for (let variant = 0; variant < VARIANTS; variant++) {
        const id = `${content}-${style}-${variant}`;
        items.push({
          id,
          contentHash: createHash('sha256').update(id).digest('hex'),
          source: variant === 0 ? 'museum' : 'demo',
          license: variant === 2 ? 'cc-by' : 'cc0',
          title: `A ${content} in ${style}`,
          tags: [content, style],
          keywords: [`${content}s`],
          attribution: 'Parasol tests',
          width: 64,
          height: 64,
          extra: { variant },
          semantic: noisy(wordVector('semantic', content), `${id}:semantic`, 0.25),
          style: noisy(wordVector('style', style), `${id}:style`, 0.25),
        });
      }
    }
  }
  return items;
}

export function labelsOf(id: string): { content: string; style: string } {
  const [content, style] = id.split('-');
  return { content, style };
}

export interface TestStore {
  store: EmbeddedStore;
  dir: string;
  cleanup(): Promise<void>;
}

export async function openCorpusStore(): Promise<TestStore> {
  const dir = await mkdtemp(join(tmpdir(), 'parasol-search-'));
  const store = await openEmbeddedStore({
    dataDir: dir,
    dims: { semantic: SEMANTIC_DIM, style: STYLE_DIM },
    // Generous graph parameters: at this size HNSW is exact, so tests can compare against brute force.
    hnsw: { M: 16, efConstruction: 200, efSearch: 200 },
  });
  await store.catalog.addBatch(corpusItems());
  await store.sync();
  return {
    store,
    dir,
    cleanup: async () => {
      await store.close({ save: false });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
