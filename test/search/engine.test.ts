import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isParasolError } from '../../src/errors.js';
import { SearchEngine, type SearchResponse } from '../../src/search/engine.js';
import type { VectorIndex, VectorSearchConstraint } from '../../src/store/types.js';
import { dot, normalize } from '../../src/vectors.js';
import {
  corpusItems,
  fakeImage,
  FakeEncoders,
  labelsOf,
  openCorpusStore,
  textVector,
  type TestStore,
} from './helpers.js';

let t: TestStore;
let encoders: FakeEncoders;
let engine: SearchEngine;

beforeAll(async () => {
  t = await openCorpusStore();
  encoders = new FakeEncoders();
  engine = new SearchEngine({ catalog: t.store.catalog, indices: t.store.indices, encoders, options: { oversample: 2, maxCandidates: 200 } });
});
afterAll(async () => {
  await t.cleanup();
});

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return isParasolError(error) ? error.code : `not a ParasolError: ${String(error)}`;
  }
  return undefined;
}

const ids = (response: SearchResponse) => response.results.map((r) => r.id);
const contents = (response: SearchResponse) => response.results.map((r) => labelsOf(r.id).content);
const styles = (response: SearchResponse) => response.results.map((r) => labelsOf(r.id).style);

/** Every page of a query, following cursors. */
async function allPages(request: Parameters<SearchEngine['search']>[0]): Promise<SearchResponse[]> {
  const pages: SearchResponse[] = [];
  let cursor: string | undefined;
  do {
    const page = await engine.search({ ...request, cursor });
    pages.push(page);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && pages.length < 50);
  return pages;
}

describe('weights', () => {
  it('content only: ranks by content, style takes no part', async () => {
    const response = await engine.search({ q: 'cat', weights: { content: 1, style: 0, text: 0 }, k: 12 });
    expect(contents(response)).toEqual(Array(12).fill('cat'));
    for (const r of response.results) {
      expect(r.scores.style).toBeNull();
      expect(r.score).toBe(r.scores.content);
    }
    // the style text tower was never asked
    expect(encoders.calls.styleText).toBe(0);
  });

  it('style only: ranks by style, content takes no part', async () => {
    const response = await engine.search({ style: 'ink', k: 18 });
    expect(styles(response)).toEqual(Array(18).fill('ink'));
    for (const r of response.results) expect(r.scores.content).toBeNull();
  });

  it('both: every result has both cosines, and the weights move the ranking', async () => {
    const both = await engine.search({ q: 'cat', style: 'ink', weights: { content: 1, style: 1, text: 0 }, k: 3 });
    expect(ids(both).every((id) => id.startsWith('cat-ink-'))).toBe(true);
    for (const r of both.results) {
      expect(r.scores.content).not.toBeNull();
      expect(r.scores.style).not.toBeNull();
      expect(r.score).toBeCloseTo(((r.scores.content as number) + (r.scores.style as number)) / 2, 12);
    }
    const contentHeavy = await engine.search({ q: 'cat', style: 'ink', weights: { content: 1, style: 0.05, text: 0 }, k: 12 });
    const styleHeavy = await engine.search({ q: 'cat', style: 'ink', weights: { content: 0.05, style: 1, text: 0 }, k: 18 });
    expect(contents(contentHeavy)).toEqual(Array(12).fill('cat'));
    expect(styles(styleHeavy)).toEqual(Array(18).fill('ink'));
    expect(contentHeavy.results[0].scores.style).not.toBeNull();
  });

  it('matches a brute-force ranking of the whole corpus', async () => {
    const response = await engine.search({ q: 'dog', style: 'oil', weights: { content: 2, style: 1, text: 0 }, k: 30 });
    const qc = textVector('semantic', 'dog');
    const qs = textVector('style', 'oil');
    const expected = corpusItems()
      .map((item) => ({ id: item.id, score: (2 * dot(qc, item.semantic) + dot(qs, item.style)) / 3 }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 30)
      .map((x) => x.id);
    expect(ids(response)).toEqual(expected);
  });

  it('searches by image, decoding a shared picture once', async () => {
    const before = encoders.calls.describeImages;
    const image = fakeImage('boat', 'pixel');
    const response = await engine.search({ contentImage: image, styleImage: image, k: 3 });
    expect(ids(response).every((id) => id.startsWith('boat-pixel-'))).toBe(true);
    expect(encoders.calls.describeImages).toBe(before + 1);
    const styleOnly = await engine.search({ styleImage: fakeImage('boat', 'pixel'), k: 18 });
    expect(styles(styleOnly)).toEqual(Array(18).fill('pixel'));
  });
});

describe('fusion methods', () => {
  it('RRF scores are sums of 1/(60 + rank), with cosines kept', async () => {
    const rrf = await engine.search({ q: 'cat', style: 'ink', fusion: 'rrf', weights: { content: 1, style: 1, text: 0 }, k: 5, explain: true });
    const weighted = await engine.search({ q: 'cat', style: 'ink', weights: { content: 1, style: 1, text: 0 }, k: 5 });
    expect(ids(rrf).slice(0, 3).every((id) => id.startsWith('cat-ink-'))).toBe(true);
    for (const r of rrf.results) {
      const parts = r.explanation?.parts ?? [];
      expect(parts.map((p) => p.modality)).toEqual(['content', 'style']);
      const expected = parts.reduce((sum, p) => sum + 1 / (60 + (p.rank as number)), 0);
      expect(r.score).toBeCloseTo(expected, 12);
      expect(r.scores.content).not.toBeNull();
      expect(r.score).toBeLessThan(2 / 61 + 1e-12);
    }
    expect(rrf.results[0].score).not.toBeCloseTo(weighted.results[0].score, 3);
    expect(weighted.results[0].explanation).toBeUndefined();
  });

  it('RRF weights favour their modality', async () => {
    // RRF is flat: a tenfold weight still lets a style-rank-1 item pass a content-rank-7 one.
    const contentHeavy = await engine.search({ q: 'cat', style: 'ink', fusion: 'rrf', weights: { content: 1, style: 0.1, text: 0 }, k: 6 });
    expect(contents(contentHeavy)).toEqual(Array(6).fill('cat'));
    const styleHeavy = await engine.search({ q: 'cat', style: 'ink', fusion: 'rrf', weights: { content: 0.1, style: 1, text: 0 }, k: 6 });
    expect(styles(styleHeavy)).toEqual(Array(6).fill('ink'));
  });
});

describe('filters', () => {
  it('answer the same through the exact path and through HNSW', async () => {
    const viaGraph = new SearchEngine({
      catalog: t.store.catalog,
      indices: t.store.indices,
      encoders,
      options: { oversample: 2, maxCandidates: 200, exactFilterLimit: 0 },
    });
    for (const request of [
      { q: 'cat', filters: { sources: ['museum'] }, k: 10 },
      { style: 'ink', q: 'dog', filters: { licenses: ['cc-by'] }, k: 8 },
    ]) {
      const exact = await engine.search(request);
      const graph = await viaGraph.search(request);
      expect(exact.results.map((r) => r.id)).toEqual(graph.results.map((r) => r.id));
      expect(exact.total).toBeDefined();
    }
  });

  it('still return k results (the filter is pushed into the index search)', async () => {
    // only a third of the corpus is from the museum, and few of those are cats
    const response = await engine.search({ q: 'cat', filters: { sources: ['museum'] }, k: 20 });
    expect(response.results).toHaveLength(20);
    expect(response.results.every((r) => r.source === 'museum')).toBe(true);
    expect(contents(response).slice(0, 4)).toEqual(['cat', 'cat', 'cat', 'cat']);
    expect(response.total).toBe(24);
  });

  it('combine sources, licenses, tags and keywords', async () => {
    const response = await engine.search({ style: 'ink', filters: { licenses: ['cc-by'], tags: ['dog'] }, k: 10 });
    expect(response.results.every((r) => r.license === 'cc-by' && r.tags.includes('dog'))).toBe(true);
    expect(response.results).toHaveLength(4);
    expect(response.results[0].id).toBe('dog-ink-2');
    const keyword = await engine.search({ q: 'cat', filters: { keywords: 'boats' }, k: 24 });
    expect(contents(keyword)).toEqual(Array(12).fill('boat'));
    const empty = await engine.search({ q: 'cat', filters: { sources: ['nowhere'] } });
    expect(empty.results).toEqual([]);
    expect(empty.nextCursor).toBeNull();
  });

  it('treats empty lists as no constraint', async () => {
    const response = await engine.search({ q: 'cat', filters: { sources: [], tags: [] }, k: 5 });
    expect(response.results).toHaveLength(5);
  });
});

describe('feedback', () => {
  it('drops unlike items and the query items themselves', async () => {
    const plain = await engine.search({ contentItemId: 'cat-ink-0', weights: { content: 1, style: 0 }, k: 5 });
    expect(ids(plain)).not.toContain('cat-ink-0');
    const [first, second] = ids(plain);
    const refined = await engine.search({ contentItemId: 'cat-ink-0', weights: { content: 1, style: 0 }, unlike: { content: [first] }, k: 5 });
    expect(ids(refined)).not.toContain(first);
    expect(ids(refined)).not.toContain('cat-ink-0');
    expect(ids(refined)).toContain(second);
    expect(refined.results).toHaveLength(5);
  });

  it('like items pull the query towards them (Rocchio)', async () => {
    const plain = await engine.search({ q: 'cat', weights: { content: 1, style: 0 }, k: 24 });
    const liked = await engine.search({ q: 'cat', weights: { content: 1, style: 0 }, like: { content: ['dog-oil-0', 'dog-ink-1'] }, k: 24 });
    const dogs = (r: SearchResponse) => contents(r).filter((c) => c === 'dog').length;
    expect(dogs(liked)).toBeGreaterThan(dogs(plain));
    expect(ids(liked)).not.toContain('dog-oil-0');
    // like items alone: their mean
    const likeOnly = await engine.search({ like: { style: ['tree-watercolor-0', 'house-watercolor-1'] }, weights: { content: 1, style: 1 }, k: 10 });
    expect(styles(likeOnly)).toEqual(Array(10).fill('watercolor'));
    expect(likeOnly.results[0].scores.content).toBeNull();
  });

  it('refuses unknown ids with ITEM_NOT_FOUND', async () => {
    expect(await codeOf(engine.search({ contentItemId: 'no-such-item' }))).toBe('ITEM_NOT_FOUND');
    expect(await codeOf(engine.search({ q: 'cat', unlike: { style: ['cat-ink-0', 'ghost'] } }))).toBe('ITEM_NOT_FOUND');
    // even for a modality weighted 0
    expect(await codeOf(engine.search({ q: 'cat', styleItemId: 'ghost', weights: { content: 1, style: 0 } }))).toBe('ITEM_NOT_FOUND');
  });

  it('refuses a query whose only sources are weighted 0 with EMPTY_QUERY', async () => {
    expect(await codeOf(engine.search({ q: 'cat', weights: { content: 0, style: 1 } }))).toBe('EMPTY_QUERY');
  });
});

describe('pagination', () => {
  for (const fusion of ['weighted', 'rrf'] as const) {
    it(`${fusion}: pages are disjoint and their union is the top N`, async () => {
      const request = { q: 'house', style: 'oil', fusion, k: 7 };
      const pages = await allPages(request);
      const paged = pages.flatMap(ids);
      expect(new Set(paged).size).toBe(paged.length);
      expect(paged).toHaveLength(72);
      const top = await engine.search({ ...request, k: 35 });
      expect(paged.slice(0, 35)).toEqual(ids(top));
      expect(pages.at(-1)?.nextCursor).toBeNull();
      // the same cursor gives the same page
      const again = await engine.search({ ...request, cursor: pages[0].nextCursor ?? undefined });
      expect(ids(again)).toEqual(ids(pages[1]));
    });
  }

  it('keeps working when k changes between pages', async () => {
    const first = await engine.search({ q: 'bird', k: 10 });
    const second = await engine.search({ q: 'bird', k: 5, cursor: first.nextCursor ?? undefined });
    const top = await engine.search({ q: 'bird', k: 15 });
    expect([...ids(first), ...ids(second)]).toEqual(ids(top));
  });

  it('pages filtered searches too', async () => {
    const pages = await allPages({ style: 'pixel', filters: { licenses: ['cc-by'] }, k: 5 });
    const paged = pages.flatMap(ids);
    expect(paged).toHaveLength(24);
    expect(new Set(paged).size).toBe(24);
  });

  it('refuses a cursor from another query, or a forged one, with INVALID_CURSOR', async () => {
    const page = await engine.search({ q: 'cat', k: 5 });
    const cursor = page.nextCursor as string;
    expect(cursor).toBeTruthy();
    expect(await codeOf(engine.search({ q: 'dog', k: 5, cursor }))).toBe('INVALID_CURSOR');
    expect(await codeOf(engine.search({ q: 'cat', weights: { content: 1, style: 2 }, k: 5, cursor }))).toBe('INVALID_CURSOR');
    expect(await codeOf(engine.search({ q: 'cat', k: 5, cursor: 'garbage' }))).toBe('INVALID_CURSOR');
    const payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...payload, o: -3 })).toString('base64url');
    expect(await codeOf(engine.search({ q: 'cat', k: 5, cursor: forged }))).toBe('INVALID_CURSOR');
  });

  it('never looks deeper than maxCandidates', async () => {
    const capped = new SearchEngine({ catalog: t.store.catalog, indices: t.store.indices, encoders, options: { oversample: 4, maxCandidates: 10 } });
    for (const fusion of ['weighted', 'rrf'] as const) {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const response = await capped.search({ q: 'cat', style: 'ink', fusion, k: 6, cursor });
        if (page === 0) expect(response.total).toBeUndefined();
        seen.push(...ids(response));
        cursor = response.nextCursor ?? undefined;
        if (!cursor) break;
      }
      expect(cursor).toBeUndefined();
      // at most the union of two top-10 lists, each item once
      expect(seen.length).toBeGreaterThanOrEqual(10);
      expect(seen.length).toBeLessThanOrEqual(20);
      expect(new Set(seen).size).toBe(seen.length);
    }
  });

  it('doubles its pool at most maxDeepening times', async () => {
    const depths: number[] = [];
    const counting = (index: VectorIndex): VectorIndex =>
      Object.assign(Object.create(index) as VectorIndex, {
        search: (vector: Float32Array, k: number, constraint?: VectorSearchConstraint) => {
          depths.push(k);
          return index.search(vector, k, constraint);
        },
      });
    const indices = { semantic: counting(t.store.indices.semantic), style: counting(t.store.indices.style) };
    for (const maxDeepening of [0, 1]) {
      depths.length = 0;
      const shallow = new SearchEngine({ catalog: t.store.catalog, indices, encoders, options: { oversample: 1, maxCandidates: 1000, maxDeepening } });
      // Without the words (a words query ranks one fixed window, see hybrid.test.ts).
      await shallow.search({ q: 'cat', style: 'pixel', k: 3, weights: { content: 1, style: 1, text: 0 } });
      // one search per index and round; each extra round doubles the depth
      expect(depths.length / 2).toBeLessThanOrEqual(maxDeepening + 1);
      expect(Math.max(...depths)).toBeLessThanOrEqual(3 * 2 ** maxDeepening);
    }
  });

  it('reports timing', async () => {
    const { timing } = await engine.search({ q: 'cat', k: 5 });
    expect(timing.totalMs).toBeGreaterThanOrEqual(timing.retrieveMs);
    expect(Object.values(timing).every((x) => Number.isFinite(x) && x >= 0)).toBe(true);
  });
});

describe('one index per weighted vector query', () => {
  /** The store's indices, each counting the searches it answers, and a catalog counting vector reads. */
  function counted() {
    const searches: Record<string, number[]> = { semantic: [], style: [], joint: [] };
    const wrap = (name: string, index: VectorIndex): VectorIndex =>
      Object.assign(Object.create(index) as VectorIndex, {
        search: (vector: Float32Array, k: number, constraint?: VectorSearchConstraint) => {
          searches[name].push(k);
          return index.search(vector, k, constraint);
        },
      });
    const vectorReads: number[] = [];
    const catalog = Object.assign(Object.create(t.store.catalog) as typeof t.store.catalog, {
      getVectorsBySeq: (seqs: number[], modality: 'semantic' | 'style') => {
        vectorReads.push(seqs.length);
        return t.store.catalog.getVectorsBySeq(seqs, modality);
      },
    });
    const { semantic, style, joint } = t.store.indices;
    const indices = { semantic: wrap('semantic', semantic), style: wrap('style', style), joint: wrap('joint', joint!) };
    return { engine: new SearchEngine({ catalog, indices, encoders, options: { oversample: 2, maxCandidates: 200 } }), searches, vectorReads };
  }

  it('content + style: one joint search as deep as the page (+1), scores exact from the page’s vectors', async () => {
    const { engine: counting, searches } = counted();
    const qc = textVector('semantic', 'dog');
    const qs = textVector('style', 'watercolor');
    for (const [wc, ws] of [[1, 1], [3, 1], [1, 5]]) {
      searches.joint.length = 0;
      const response = await counting.searchFromDescriptors({ content: qc, style: qs }, { weights: { content: wc, style: ws, text: 0 }, k: 9 });
      expect(searches).toEqual({ semantic: [], style: [], joint: [10] });
      const expected = corpusItems()
        .map((item) => ({ id: item.id, score: (wc * dot(qc, item.semantic) + ws * dot(qs, item.style)) / (wc + ws) }))
        .sort((a, b) => b.score - a.score)
        .slice(0, 9);
      expect(ids(response)).toEqual(expected.map((x) => x.id));
      response.results.forEach((r, i) => {
        expect(r.score).toBeCloseTo(expected[i].score, 12);
        expect(r.scores.content).toBeCloseTo(dot(qc, corpusItems().find((item) => item.id === r.id)!.semantic), 12);
        expect(r.scores.style).not.toBeNull();
      });
    }
  });

  it('one modality: one search of its index, ranked by the index’s cosines, no vectors read back', async () => {
    const { engine: counting, searches, vectorReads } = counted();
    const qs = textVector('style', 'ink');
    const response = await counting.searchFromDescriptors({ style: qs }, { k: 12 });
    expect(searches).toEqual({ semantic: [], style: [13], joint: [] });
    expect(vectorReads).toEqual([]);
    expect(styles(response)).toEqual(Array(12).fill('ink'));
    for (const r of response.results) {
      expect(r.scores.content).toBeNull();
      expect(r.score).toBe(r.scores.style);
      // float32 sums in the index, so a few ulps from the double-precision cosine
      expect(r.score).toBeCloseTo(dot(qs, corpusItems().find((item) => item.id === r.id)!.style), 5);
    }
  });

  it('pages through the joint index with cursors: the pages are one deep page', async () => {
    const { engine: counting } = counted();
    const descriptors = { content: textVector('semantic', 'house'), style: textVector('style', 'oil') };
    const options = { weights: { content: 2, style: 1, text: 0 }, k: 7 };
    const pages: SearchResponse[] = [];
    let cursor: string | undefined;
    do {
      const page = await counting.searchFromDescriptors(descriptors, { ...options, cursor });
      pages.push(page);
      cursor = page.nextCursor ?? undefined;
    } while (cursor && pages.length < 6);
    const deep = await counting.searchFromDescriptors(descriptors, { ...options, k: 42 });
    expect(pages.flatMap(ids)).toEqual(ids(deep));
    expect(new Set(pages.flatMap(ids)).size).toBe(42);
  });

  it('explains a directly ranked page like the fused one', async () => {
    const response = await engine.searchFromDescriptors(
      { content: textVector('semantic', 'cat'), style: textVector('style', 'ink') },
      { weights: { content: 1, style: 3, text: 0 }, k: 2, explain: true },
    );
    const [first] = response.results;
    expect(first.explanation?.method).toBe('weighted');
    expect(first.explanation?.parts.map((p) => [p.modality, p.weight])).toEqual([['content', 1], ['style', 3]]);
    expect(first.explanation?.summary).toMatch(/^0\.2500×[-0-9.]+ \(content\) \+ 0\.7500×[-0-9.]+ \(style\) = /);
  });

  it('shows an item as it is after a write, on the pages the cache held it for (one modality and joint)', async () => {
    const own = await openCorpusStore();
    try {
      const qc = textVector('semantic', 'boat');
      const qs = textVector('style', 'pixel');
      const local = new SearchEngine({ catalog: own.store.catalog, indices: own.store.indices, encoders });
      const single = () => local.searchFromDescriptors({ content: qc }, { k: 5 });
      const joint = () => local.searchFromDescriptors({ content: qc, style: qs }, { k: 5 });
      const [top] = (await joint()).results;
      await single();
      // An alias of the top item's image, then the item's own id deleted: the alias takes the seq over.
      const input = corpusItems().find((item) => item.id === top.id)!;
      await own.store.catalog.addBatch([{ ...input, id: `${top.id}-renamed`, title: 'Renamed' }]);
      await own.store.catalog.delete(top.id);
      for (const response of [await joint(), await single()]) {
        const shown = response.results.find((r) => r.seq === top.seq);
        if (shown) expect(shown).toMatchObject({ id: `${top.id}-renamed`, title: 'Renamed' });
        expect(ids(response)).not.toContain(top.id);
      }
      expect((await joint()).results[0]).toMatchObject({ seq: top.seq, id: `${top.id}-renamed`, title: 'Renamed' });
    } finally {
      await own.cleanup();
    }
  });

  it('leaves out items deleted from the catalog but not yet from the joint index', async () => {
    const own = await openCorpusStore();
    try {
      const qc = textVector('semantic', 'boat');
      const qs = textVector('style', 'pixel');
      const local = new SearchEngine({ catalog: own.store.catalog, indices: own.store.indices, encoders });
      const before = await local.searchFromDescriptors({ content: qc, style: qs }, { k: 5 });
      await own.store.catalog.delete(before.results[0].id); // not synced: the indices still hold it
      const after = await local.searchFromDescriptors({ content: qc, style: qs }, { k: 5 });
      expect(ids(after)).not.toContain(before.results[0].id);
      expect(ids(after).slice(0, 4)).toEqual(ids(before).slice(1, 5));
    } finally {
      await own.cleanup();
    }
  });
});

describe('moreLike', () => {
  it('style: neighbours share the style, content takes no part', async () => {
    const response = await engine.moreLike('tree-pixel-0', 'style', { k: 17 });
    expect(styles(response)).toEqual(Array(17).fill('pixel'));
    expect(ids(response)).not.toContain('tree-pixel-0');
    expect(response.results.every((r) => r.scores.content === null)).toBe(true);
  });

  it('content: neighbours share the content', async () => {
    const response = await engine.moreLike('tree-pixel-0', 'content', { k: 11 });
    expect(contents(response)).toEqual(Array(11).fill('tree'));
    expect(response.results.every((r) => r.scores.style === null)).toBe(true);
  });

  it('both: the closest share content and style', async () => {
    const response = await engine.moreLike('tree-pixel-0', 'both', { k: 2 });
    expect(ids(response).sort()).toEqual(['tree-pixel-1', 'tree-pixel-2']);
    expect(response.results.every((r) => r.scores.content !== null && r.scores.style !== null)).toBe(true);
  });

  it('refuses an unknown item', async () => {
    expect(await codeOf(engine.moreLike('ghost', 'both'))).toBe('ITEM_NOT_FOUND');
  });
});

describe('interpolate', () => {
  it("t = 0 gives a's neighbours and t = 1 gives b's", async () => {
    for (const method of ['lerp', 'slerp'] as const) {
      const pair = { a: { text: 'cat' }, b: { text: 'boat' } };
      const atA = await engine.interpolate({ content: pair, t: 0, method, k: 10 });
      const atB = await engine.interpolate({ content: pair, t: 1, method, k: 10 });
      expect(ids(atA)).toEqual(ids(await engine.search({ q: 'cat', weights: { content: 1, style: 0 }, k: 10 })));
      expect(ids(atB)).toEqual(ids(await engine.search({ q: 'boat', weights: { content: 1, style: 0 }, k: 10 })));
    }
  });

  it('leaves item endpoints out and interpolates each modality on its own', async () => {
    const response = await engine.interpolate({
      content: { a: { itemId: 'cat-ink-0' }, b: { itemId: 'dog-ink-0' } },
      style: { a: { itemId: 'cat-ink-0' }, b: { itemId: 'cat-oil-0' } },
      t: 1,
      k: 5,
    });
    expect(ids(response)).not.toContain('dog-ink-0');
    expect(ids(response)).not.toContain('cat-oil-0');
    expect(contents(response)[0]).toBe('dog');
    expect(styles(response)[0]).toBe('oil');
    expect(ids(response)[0]).toMatch(/^dog-oil-/);
  });

  it('slerp moves at constant angle; lerp lags near the ends and agrees at the midpoint', async () => {
    const a = textVector('semantic', 'cat');
    const b = textVector('semantic', 'tree');
    const omega = Math.acos(dot(a, b));
    const at = async (t: number, method: 'lerp' | 'slerp') =>
      (await engine.interpolate({ content: { a: { vector: a }, b: { vector: Array.from(b) } }, t, method, k: 3 })).descriptors.content as Float32Array;
    const slerped = await at(0.25, 'slerp');
    const lerped = await at(0.25, 'lerp');
    expect(Math.acos(Math.min(1, dot(slerped, a)))).toBeCloseTo(0.25 * omega, 4);
    expect(Math.acos(Math.min(1, dot(lerped, a)))).toBeLessThan(0.25 * omega - 1e-3);
    expect(dot(await at(0.5, 'slerp'), await at(0.5, 'lerp'))).toBeCloseTo(1, 5);
    expect(dot(slerped, slerped)).toBeCloseTo(1, 5);
  });

  it('mixes sources: image, text and vector', async () => {
    const response = await engine.interpolate({
      style: { a: { image: fakeImage('cat', 'ink') }, b: { vector: Array.from(textVector('style', 'oil')) } },
      t: 0,
      k: 6,
    });
    expect(styles(response)).toEqual(Array(6).fill('ink'));
    expect(response.descriptors.content).toBeNull();
  });

  it('rejects a vector of the wrong size, and t outside [0, 1]', async () => {
    expect(await codeOf(engine.interpolate({ content: { a: { vector: [1, 2, 3] }, b: { text: 'cat' } }, t: 0.5 }))).toBe('INVALID_QUERY');
    expect(await codeOf(engine.interpolate({ content: { a: { text: 'dog' }, b: { text: 'cat' } }, t: -0.1 }))).toBe('INVALID_QUERY');
  });

  it('pages with cursors of its own', async () => {
    const request = { style: { a: { text: 'ink' }, b: { text: 'oil' } }, t: 0.5, k: 10 };
    const first = await engine.interpolate(request);
    const second = await engine.interpolate({ ...request, cursor: first.nextCursor ?? undefined });
    const top = await engine.interpolate({ ...request, k: 20 });
    expect([...ids(first), ...ids(second)]).toEqual(ids(top));
    expect(await codeOf(engine.interpolate({ ...request, t: 0.6, cursor: first.nextCursor ?? undefined }))).toBe('INVALID_CURSOR');
  });
});

describe('descriptors', () => {
  it('descriptorsFor: an item gives its stored pair, a text both readings, an image both towers', async () => {
    const item = corpusItems().find((i) => i.id === 'bird-oil-1');
    const stored = await engine.descriptorsFor({ itemId: 'bird-oil-1' });
    expect(Array.from(stored.content)).toEqual(Array.from(item?.semantic ?? []));
    expect(Array.from(stored.style)).toEqual(Array.from(item?.style ?? []));
    const text = await engine.descriptorsFor({ text: 'bird' });
    expect(dot(text.content, textVector('semantic', 'bird'))).toBeCloseTo(1, 6);
    expect(dot(text.style, textVector('style', 'bird'))).toBeCloseTo(1, 6);
    const image = await engine.descriptorsFor({ image: fakeImage('bird', 'ink') });
    expect(dot(image.style, textVector('style', 'ink'))).toBeCloseTo(1, 6);
    expect(await codeOf(engine.descriptorsFor({ itemId: 'ghost' }))).toBe('ITEM_NOT_FOUND');
  });

  it('searchFromDescriptors searches from raw vectors and honours exclusions', async () => {
    const content = textVector('semantic', 'house');
    const response = await engine.searchFromDescriptors({ content }, { k: 5, exclude: { ids: ['house-ink-0'] } });
    expect(contents(response)).toEqual(Array(5).fill('house'));
    expect(ids(response)).not.toContain('house-ink-0');
    const unnormalised = await engine.searchFromDescriptors({ content: content.map((x) => x * 3) }, { k: 5, exclude: { ids: ['house-ink-0'] } });
    expect(ids(unnormalised)).toEqual(ids(response));
    expect(dot(normalize(content), content)).toBeCloseTo(1, 6);
    expect(await codeOf(engine.searchFromDescriptors({}, {}))).toBe('EMPTY_QUERY');
  });
});
