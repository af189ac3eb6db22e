/**
 * `parasol tune` on a real store: SQLite catalog + HNSW indices, the tiny test pack's text towers
 * for the text-like queries. The graph is built deliberately sparse (M 8, efConstruction 24) so that
 * narrow searches miss neighbours and the choice of breadth matters.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { openContext, type ParasolContext } from '../../src/context.js';
import { SearchBreadth } from '../../src/search/breadth.js';
import { SearchEngine } from '../../src/search/engine.js';
import type { TuneReport } from '../../src/services/tune.js';
import type { ItemInput, VectorIndex, VectorSearchConstraint } from '../../src/store/types.js';
import { normalize } from '../../src/vectors.js';
import { hashOf, randomUnitVector, seededRandom, tempDir } from '../store/helpers.js';

const TINY_PACK = path.resolve('test/fixtures/tiny-pack');
const LADDER = [10, 20, 40, 80, 160, 640];
const ITEMS = 1500;
const WORDS = ['red', 'cat', 'tree', 'moon', 'boat', 'bird', 'fish', 'star', 'house', 'sun'];

let dir: string;
let cleanupDir: () => void;
let config: Config;
let context: ParasolContext;
let report: TuneReport;

/** Clustered unit vectors (centre + noise), like embeddings: HNSW's recall then depends on the breadth. */
function clustered(dim: number, clusters: number, random: () => number): () => Float32Array {
  const centres = Array.from({ length: clusters }, () => randomUnitVector(dim, random));
  return () => {
    const centre = centres[Math.floor(random() * clusters)];
    const noise = randomUnitVector(dim, random);
    return normalize(centre.map((x, i) => x + 0.6 * noise[i]));
  };
}

function items(): ItemInput[] {
  const random = seededRandom(7);
  const semantic = clustered(32, 12, random);
  const style = clustered(16, 8, random);
  return Array.from({ length: ITEMS }, (_, i) => ({
    contentHash: hashOf(`tune-${i}`),
    source: 'test',
    title: `${WORDS[i % WORDS.length]} ${WORDS[(i * 3 + 1) % WORDS.length]} ${i}`,
    tags: [WORDS[(i * 7) % WORDS.length]],
    width: 64,
    height: 64,
    semantic: semantic(),
    style: style(),
  }));
}

/** An index that records the constraint of every search and passes it on. */
function recording(index: VectorIndex, seen: Array<VectorSearchConstraint | undefined>): VectorIndex {
  return new Proxy(index, {
    get(target, prop, receiver) {
      if (prop === 'search') {
        return (vector: Float32Array, k: number, constraint?: VectorSearchConstraint) => {
          seen.push(constraint);
          return target.search(vector, k, constraint);
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function openAt(): Promise<ParasolContext> {
  return openContext(config);
}

beforeAll(async () => {
  ({ dir, cleanup: cleanupDir } = tempDir('parasol-tune-'));
  // No environment: a developer's PARASOL_* must not change the test.
  config = loadConfig({ dataDir: dir, packDir: TINY_PACK, device: 'cpu', threads: 1, hnsw: { M: 8, efConstruction: 24, efSearch: 16 } }, {});
  context = await openAt();
  const all = items();
  for (let i = 0; i < all.length; i += 500) await context.store.catalog.addBatch(all.slice(i, i + 500));
  await context.store.sync();
  report = await context.services.tune.tune({ ladder: LADDER, queries: 60, target: 0.98 });
}, 120_000);

afterAll(async () => {
  await context?.close();
  cleanupDir?.();
});

describe('parasol tune on a real store', () => {
  it('measures every modality and query kind and chooses the smallest breadth reaching the target', () => {
    expect(report.stopped).toBe(false);
    expect(report.written).toBe(true);
    expect(report.measured.map((e) => `${e.modality}/${e.kind}`).sort()).toEqual(['semantic/image', 'semantic/text', 'style/image', 'style/text']);
    for (const entry of report.measured) {
      expect(entry.curve.map((p) => p.ef)).toEqual(LADDER);
      const reaching = entry.curve.filter((p) => p.recallAt10 >= 0.98).map((p) => p.ef);
      expect(entry.reached).toBe(reaching.length > 0);
      expect(entry.ef).toBe(reaching.length > 0 ? Math.min(...reaching) : Math.max(...LADDER));
      for (const point of entry.curve) {
        expect(point.recallAt10).toBeGreaterThanOrEqual(0);
        expect(point.recallAt10).toBeLessThanOrEqual(1);
        expect(point.p95Ms).toBeGreaterThanOrEqual(point.p50Ms);
      }
    }
    // The sparse graph makes narrow searches miss neighbours of off-distribution (text) queries
    // while image-like ones need little: the two kinds get different breadths.
    const ef = (modality: string, kind: string) => report.measured.find((e) => e.modality === modality && e.kind === kind)?.ef ?? 0;
    expect(ef('semantic', 'text')).toBeGreaterThan(ef('semantic', 'image'));
    expect(report.measured.some((e) => e.ef > LADDER[0] && e.reached)).toBe(true);
    // Text queries of the tiny pack came from the catalogue's own titles.
    const text = report.measured.find((e) => e.modality === 'semantic' && e.kind === 'text');
    expect(text?.queries).toBe(60);
    expect(text?.source).toMatch(/titles/);
  });

  it('persists the choice and the curve in the store, and a reopened context searches with it', async () => {
    const stored = await context.store.catalog.searchTuning();
    expect(stored).toEqual(report.tuning);
    expect(stored?.items).toBe(ITEMS);
    expect(stored?.knob).toBe('efSearch');
    await context.close();
    context = await openAt();
    expect(context.breadth.tuning).toEqual(report.tuning);

    const efOf = (modality: 'semantic' | 'style', kind: 'image' | 'text') =>
      report.tuning.entries.find((e) => e.modality === modality && e.kind === kind)?.ef;
    const seen = { semantic: [] as Array<VectorSearchConstraint | undefined>, style: [] as Array<VectorSearchConstraint | undefined> };
    const engine = new SearchEngine({
      catalog: context.store.catalog,
      indices: { semantic: recording(context.store.indices.semantic, seen.semantic), style: recording(context.store.indices.style, seen.style) },
      encoders: context.encoders,
      breadth: context.breadth,
    });
    await engine.search({ q: 'red cat', weights: { content: 1, style: 0, text: 0 } });
    expect(seen.semantic.at(-1)?.ef).toBe(efOf('semantic', 'text'));
    const first = (await context.store.catalog.getManyBySeq([1])).get(1);
    expect(first).toBeDefined();
    await engine.moreLike(first!.id, 'both');
    expect(seen.semantic.at(-1)?.ef).toBe(efOf('semantic', 'image'));
    expect(seen.style.at(-1)?.ef).toBe(efOf('style', 'image'));
    await engine.search({ style: 'ink wash', weights: { content: 0, style: 1 } });
    expect(seen.style.at(-1)?.ef).toBe(efOf('style', 'text'));
  });

  it('leaves an untuned store exactly as before: no breadth passed, the same results', async () => {
    const untuned = new SearchBreadth(null, config.hnsw.efSearch);
    const seen: Array<VectorSearchConstraint | undefined> = [];
    // The same indices as `without` (the joint one too), each recording what it was asked.
    const { joint } = context.store.indices;
    const indices = {
      semantic: recording(context.store.indices.semantic, seen),
      style: recording(context.store.indices.style, seen),
      ...(joint ? { joint: recording(joint, seen) } : {}),
    };
    const withBreadth = new SearchEngine({ catalog: context.store.catalog, indices, encoders: context.encoders, breadth: untuned });
    const without = new SearchEngine({ catalog: context.store.catalog, indices: context.store.indices, encoders: context.encoders });
    const request = { q: 'moon boat', style: 'moon', weights: { content: 1, style: 1, text: 0 } };
    const a = await withBreadth.search(request);
    const b = await without.search(request);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((constraint) => constraint?.ef === undefined)).toBe(true);
    expect(a.results.map((r) => [r.id, r.score])).toEqual(b.results.map((r) => [r.id, r.score]));
  });

  it('a dry run stores nothing; an interrupted run stores only what it finished', async () => {
    const before = await context.store.catalog.searchTuning();
    const dry = await context.services.tune.tune({ ladder: [10, 640], queries: 20, dryRun: true, modalities: ['style'] });
    expect(dry.written).toBe(false);
    expect(dry.measured).toHaveLength(2);
    expect(await context.store.catalog.searchTuning()).toEqual(before);

    let ticks = 0;
    const stopped = await context.services.tune.tune({
      ladder: [10, 640],
      queries: 20,
      progress: { begin: () => undefined, tick: () => void ticks++ },
      shouldStop: () => ticks > 0,
    });
    expect(stopped.stopped).toBe(true);
    expect(stopped.measured).toHaveLength(0);
    expect(stopped.written).toBe(false);
    expect(await context.store.catalog.searchTuning()).toEqual(before);
  });

  it('re-tuning one modality keeps the others; reset makes the store untuned again', async () => {
    const before = await context.store.catalog.searchTuning();
    const again = await context.services.tune.tune({ ladder: [10, 20, 40, 80, 160, 640], queries: 30, modalities: ['style'], kinds: ['image'], target: 0.9 });
    expect(again.written).toBe(true);
    const stored = await context.store.catalog.searchTuning();
    expect(stored?.target).toBe(0.9);
    expect(stored?.entries.filter((e) => e.modality === 'semantic')).toEqual(before?.entries.filter((e) => e.modality === 'semantic'));
    expect(stored?.entries.find((e) => e.modality === 'style' && e.kind === 'image')?.queries).toBe(30);
    expect(context.breadth.tuning).toEqual(stored);

    await context.services.tune.reset();
    expect(await context.store.catalog.searchTuning()).toBeNull();
    expect(context.breadth.ef('content', ['text'])).toBeUndefined();
  });

  it('refuses bad options with a clear error', async () => {
    await expect(context.services.tune.tune({ target: 1.5 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(context.services.tune.tune({ ladder: [0, 10] })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(context.services.tune.tune({ texts: ['  ', ''] })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

describe('SearchBreadth', () => {
  const tuning = (entries: Array<{ modality: 'semantic' | 'style'; kind: 'image' | 'text'; ef: number }>) => ({
    format: 1 as const,
    tunedAt: '2026-12-03T00:00:00Z',
    items: 100,
    catalogVersion: 1,
    target: 0.98,
    knob: 'efSearch' as const,
    entries: entries.map((e) => ({ ...e, reached: true, queries: 10, source: 'test', curve: [{ ef: e.ef, recallAt10: 1, minRecallAt10: 1, p50Ms: 0.1, p95Ms: 0.2 }] })),
  });

  it('answers per modality and kind, the widest for mixed or unknown kinds, and nothing when untuned', () => {
    const breadth = new SearchBreadth(tuning([{ modality: 'semantic', kind: 'image', ef: 64 }, { modality: 'semantic', kind: 'text', ef: 512 }]), 128);
    expect(breadth.ef('content', ['image'])).toBe(64);
    expect(breadth.ef('content', ['text'])).toBe(512);
    expect(breadth.ef('content', ['image', 'text'])).toBe(512);
    expect(breadth.ef('content', undefined)).toBe(512);
    // Style is untuned: the index's default, as before.
    expect(breadth.ef('style', ['text'])).toBeUndefined();
    const partial = new SearchBreadth(tuning([{ modality: 'style', kind: 'image', ef: 32 }]), 128);
    // A mixed query whose text part is untuned keeps at least the configured default.
    expect(partial.ef('style', ['image', 'text'])).toBe(128);
    expect(partial.ef('style', ['image'])).toBe(32);
    expect(new SearchBreadth(null, 128).ef('content', ['text'])).toBeUndefined();
  });
});
