/**
 * The lexical signal fused with content and style, and facet counts over the candidate pool, on
 * the real embedded store (SQLite FTS5 + HNSW) with the fake encoders.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SearchEngine, type SearchResponse } from '../../src/search/engine.js';
import { compareFused } from '../../src/search/fusion.js';
import { lexicalPivot, saturate } from '../../src/search/lexical.js';
import type { SearchRequestInput } from '../../src/search/query.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import type { FacetValue, ItemInput } from '../../src/store/types.js';
import { dot, normalize } from '../../src/vectors.js';
import { corpusItems, FakeEncoders, SEMANTIC_DIM, STYLE_DIM, openCorpusStore, textVector, wordVector, type TestStore } from './helpers.js';

let t: TestStore;
let engine: SearchEngine;

/** A boat picture made orthogonal to the text "pizza": its content cosine with that query is 0. */
function unrelatedToPizza(): Float32Array {
  const boat = wordVector('semantic', 'boat');
  const pizza = textVector('semantic', 'pizza');
  const along = dot(boat, pizza);
  return normalize(boat.map((x, i) => x - along * pizza[i]));
}

/** Items titled "Pizza" whose pictures look like boats: only their words say pizza. */
function pizzaItems(): Array<ItemInput & { id: string }> {
  return [0, 1, 2].map((i) => ({
    id: `pizza-${i}`,
    contentHash: createHash('sha256').update(`pizza-${i}`).digest('hex'),
    source: 'kitchen',
    license: 'cc0',
    title: i === 0 ? 'Pizza' : `Pizza number ${i}`,
    tags: ['food'],
    width: 64,
    height: 64,
    semantic: unrelatedToPizza(),
    style: wordVector('style', 'oil'),
  }));
}

beforeAll(async () => {
  t = await openCorpusStore();
  await t.store.catalog.addBatch(pizzaItems());
  await t.store.sync();
  engine = new SearchEngine({ catalog: t.store.catalog, indices: t.store.indices, encoders: new FakeEncoders(), options: { oversample: 2, maxCandidates: 200 } });
});
afterAll(async () => {
  await t.cleanup();
});

const ids = (response: SearchResponse) => response.results.map((r) => r.id);

async function allPages(target: SearchEngine, request: SearchRequestInput): Promise<SearchResponse[]> {
  const pages: SearchResponse[] = [];
  let cursor: string | undefined;
  do {
    const page = await target.search({ ...request, cursor });
    pages.push(page);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && pages.length < 50);
  return pages;
}

describe('the lexical signal', () => {
  it('puts the items titled with the query word first, with scores.text set', async () => {
    const response = await engine.search({ q: 'pizza', k: 10, explain: true });
    expect(ids(response).slice(0, 3).sort()).toEqual(['pizza-0', 'pizza-1', 'pizza-2']);
    for (const r of response.results.slice(0, 3)) {
      expect(r.scores.text).toBeGreaterThan(0);
      expect(r.scores.text).toBeLessThan(1);
      expect(r.explanation?.terms).toEqual(['pizza']);
      expect(r.explanation?.parts.map((p) => p.modality)).toEqual(['content', 'text']);
    }
    // The rest matched no word: they take part with 0, not null.
    for (const r of response.results.slice(3)) {
      expect(r.scores.text).toBe(0);
      expect(r.explanation?.terms).toEqual([]);
    }
    // Without the words the same query finds no pizza at the top.
    const vectorOnly = await engine.search({ q: 'pizza', k: 3, weights: { content: 1, style: 1, text: 0 } });
    expect(ids(vectorOnly).some((id) => id.startsWith('pizza-'))).toBe(false);
    for (const r of vectorOnly.results) expect(r.scores.text).toBeNull();
  });

  it('weights the words as the weighted sum says, on the s / (s + median) scale', async () => {
    const response = await engine.search({ q: 'pizza', k: 5, weights: { content: 1, style: 1, text: 3 } });
    for (const r of response.results) {
      expect(r.score).toBeCloseTo(((r.scores.content as number) + 3 * (r.scores.text as number)) / 4, 12);
    }
    const hits = await t.store.catalog.lexicalSearch('pizza', { limit: 400 });
    const pivot = lexicalPivot(hits);
    const top = hits.find((h) => h.seq === response.results[0].seq);
    expect(response.results[0].scores.text).toBeCloseTo(saturate(top?.score ?? 0, pivot), 12);
  });

  it('stems and folds case: "Pizzas" finds "Pizza"', async () => {
    const response = await engine.search({ q: 'PIZZAS', k: 3 });
    expect(ids(response).sort()).toEqual(['pizza-0', 'pizza-1', 'pizza-2']);
    for (const r of response.results) expect(r.scores.text).toBeGreaterThan(0);
  });

  it('reads hostile text as plain words, never as query syntax', async () => {
    for (const q of ['"pizza', 'pizza OR NEAR(cat dog)', 'title:pizza*', '-pizza ^ { } [ ] \\ \' ; --', 'AND', '*', '()', '😀 ⛵ 日本']) {
      const response = await engine.search({ q, k: 5, explain: true });
      expect(response.results.length).toBeGreaterThan(0);
      for (const r of response.results) expect(r.scores.text === null || (r.scores.text >= 0 && r.scores.text < 1)).toBe(true);
    }
  });

  it('weights 0 turns the words off; a query without q never uses them', async () => {
    const styleOnly = await engine.search({ style: 'ink', k: 5 });
    for (const r of styleOnly.results) expect(r.scores.text).toBeNull();
    const items = await engine.search({ contentItemId: 'cat-ink-0', k: 5, explain: true });
    for (const r of items.results) {
      expect(r.scores.text).toBeNull();
      expect(r.explanation?.terms).toBeUndefined();
    }
  });

  it('combines with filters (the exact path and the graph path agree)', async () => {
    const graphOnly = new SearchEngine({
      catalog: t.store.catalog,
      indices: t.store.indices,
      encoders: new FakeEncoders(),
      options: { exactFilterLimit: 0, maxCandidates: 200 },
    });
    const request: SearchRequestInput = { q: 'pizza cat', filters: { licenses: ['cc0'] }, k: 20 };
    const exact = await engine.search(request);
    const graph = await graphOnly.search(request);
    expect(ids(graph)).toEqual(ids(exact));
    expect(exact.results.slice(0, 3).every((r) => r.scores.text !== null && r.scores.text > 0)).toBe(true);
  });

  it('content + style + words: the joint index gives the vector candidates, and the ranking is the two lists\' ranking', async () => {
    const searched: string[] = [];
    const { semantic, style, joint } = t.store.indices;
    const count = <I extends typeof semantic>(name: string, index: I): I =>
      Object.assign(Object.create(index) as I, {
        search: (...args: Parameters<I['search']>) => {
          searched.push(name);
          return index.search(...args);
        },
      });
    const options = { oversample: 1, maxCandidates: 200, maxDeepening: 8 };
    const withJoint = new SearchEngine({
      catalog: t.store.catalog,
      indices: { semantic: count('semantic', semantic), style: count('style', style), joint: count('joint', joint!) },
      encoders: new FakeEncoders(),
      options,
    });
    const twoLists = new SearchEngine({ catalog: t.store.catalog, indices: { semantic, style }, encoders: new FakeEncoders(), options });
    for (const request of [
      { q: 'pizza cat', style: 'oil', k: 10 },
      { q: 'dog', style: 'ink', weights: { content: 1, style: 3, text: 2 }, k: 15 },
    ] satisfies SearchRequestInput[]) {
      searched.length = 0;
      const viaJoint = await withJoint.search(request);
      expect(new Set(searched)).toEqual(new Set(['joint']));
      const expected = await twoLists.search(request);
      expect(ids(viaJoint)).toEqual(ids(expected));
      viaJoint.results.forEach((r, i) => expect(r.score).toBeCloseTo(expected.results[i].score, 12));
      expect(viaJoint.results.some((r) => (r.scores.text ?? 0) > 0)).toBe(true);
    }
  });

  it('words that match no item: the vectors\' ranking, each score keeping the words\' share of the weight, text 0', async () => {
    for (const request of [
      { q: 'xylophone quartz', k: 7 },
      { q: 'xylophone quartz', style: 'ink', k: 7 },
      { q: 'xylophone', style: 'oil', weights: { content: 2, style: 1, text: 1.5 }, k: 7 },
    ] satisfies SearchRequestInput[]) {
      const weights = { content: 1, style: 1, text: 1, ...request.weights };
      const vectorOnly = await allPages(engine, { ...request, weights: { ...weights, text: 0 } });
      const withWords = await allPages(engine, { ...request, explain: true });
      const vectorResults = vectorOnly.flatMap((page) => page.results);
      const wordResults = withWords.flatMap((page) => page.results);
      expect(wordResults.map((r) => r.id)).toEqual(vectorResults.map((r) => r.id));
      const share = (request.style ? weights.content + weights.style : weights.content) / (request.style ? weights.content + weights.style + weights.text : weights.content + weights.text);
      wordResults.forEach((r, i) => {
        expect(r.scores.text).toBe(0);
        expect(r.explanation?.terms).toEqual([]);
        expect(r.scores.content).toBe(vectorResults[i].scores.content);
        expect(r.score).toBeCloseTo(vectorResults[i].score * share, 12);
      });
      // The cursor's pages equal one deep page.
      const deep = await engine.search({ ...request, k: wordResults.length });
      expect(ids(deep)).toEqual(wordResults.map((r) => r.id));
    }
    // The same index searches, as deep, as the query without words: no pool of candidates to rescore.
    const asked: string[] = [];
    const { semantic, style, joint } = t.store.indices;
    const count = <I extends typeof semantic>(name: string, index: I): I =>
      Object.assign(Object.create(index) as I, {
        search: (...args: Parameters<I['search']>) => {
          asked.push(`${name}:${args[1]}`);
          return index.search(...args);
        },
      });
    const counted = new SearchEngine({
      catalog: t.store.catalog,
      indices: { semantic: count('semantic', semantic), style: count('style', style), ...(joint ? { joint: count('joint', joint) } : {}) },
      encoders: new FakeEncoders(),
      options: { oversample: 2, maxCandidates: 200 },
    });
    for (const request of [{ q: 'xylophone quartz', k: 7 }, { q: 'xylophone quartz', style: 'ink', k: 7 }] satisfies SearchRequestInput[]) {
      asked.length = 0;
      await counted.search({ ...request, weights: { content: 1, style: 1, text: 0 } });
      const without = [...asked];
      asked.length = 0;
      await counted.search(request);
      expect(asked).toEqual(without);
    }
  });

  describe('pagination stays exact with the words on', () => {
    // A small lexical window and shallow oversampling, so lists are cut short and pools deepen.
    // Oversampled, the words' list (never oversampled: it is exact) reaches less deep than the indices'.
    const shallow = (oversample: number) =>
      new SearchEngine({
        catalog: t.store.catalog,
        indices: t.store.indices,
        encoders: new FakeEncoders(),
        options: { oversample, maxCandidates: 200, rrfWindow: 20, maxDeepening: 8 },
      });
    for (const [fusion, oversample] of [['weighted', 1], ['weighted', 3], ['minmax', 1], ['rrf', 1]] as const) {
      it(`${fusion} (oversample ${oversample}): the cursor's pages equal one deep page`, async () => {
        const target = shallow(oversample);
        const request: SearchRequestInput = { q: 'cat pizza', style: 'ink', fusion, k: 6 };
        const pages = await allPages(target, request);
        const paged = pages.flatMap(ids);
        expect(new Set(paged).size).toBe(paged.length);
        const deep = await target.search({ ...request, k: paged.length });
        expect(paged).toEqual(ids(deep));
        expect(pages[0].results.some((r) => (r.scores.text ?? 0) > 0)).toBe(true);
        // The same cursor gives the same page.
        const again = await target.search({ ...request, cursor: pages[0].nextCursor ?? undefined });
        expect(ids(again)).toEqual(ids(pages[1]));
      });
    }
  });

  it('lists an image’s aliases in its result', async () => {
    const original = pizzaItems()[0];
    const outcome = await t.store.catalog.addBatch([{ ...original, id: 'pizza-0-sku2', title: 'Pizza, second SKU' }]);
    expect(outcome).toBeDefined();
    const response = await engine.search({ q: 'pizza', k: 3 });
    const pizza = response.results.find((r) => r.id === 'pizza-0');
    expect(pizza?.aliases).toEqual(['pizza-0-sku2']);
    expect(ids(response)).not.toContain('pizza-0-sku2');
  });
});

describe('a weighted query whose words match ranks one fixed window', () => {
  const windowed = (wordsWindow: number, wordsVectorDepth = wordsWindow) =>
    new SearchEngine({
      catalog: t.store.catalog,
      indices: t.store.indices,
      encoders: new FakeEncoders(),
      options: { wordsWindow, wordsVectorDepth, maxCandidates: 200 },
    });

  /** The fused ranking (content + words, weights 1:1) of the given seqs, from the catalog's own vectors and BM25. */
  async function fusedBySeq(q: string, seqs: number[]): Promise<Array<{ seq: number; score: number }>> {
    const content = await engine.descriptorFor({ text: q }, 'content');
    const pivot = lexicalPivot(await t.store.catalog.lexicalSearch(q, { limit: 400 }));
    const vectors = await t.store.catalog.getVectorsBySeq(seqs, 'semantic');
    const words = await t.store.catalog.lexicalScores(q, seqs);
    return seqs
      .map((seq) => ({ seq, score: (dot(content, vectors.get(seq) as Float32Array) + saturate(words.get(seq)?.score ?? 0, pivot)) / 2 }))
      .sort((a, b) => b.score - a.score || a.seq - b.seq);
  }

  it('ranks the vector index\'s top wordsVectorDepth and the words\' top window, each candidate scored exactly; the cursor ends with the window', async () => {
    const q = 'cat pizza';
    const target = windowed(6, 4);
    const pages = await allPages(target, { q, k: 4 });
    const walked = pages.flatMap((page) => page.results);
    const content = await engine.descriptorFor({ text: q }, 'content');
    const vectorTop = await t.store.indices.semantic.search(content, 4);
    // The words' top 6 and the rest of the BM25 tie at the 6th (every cat's words score the same).
    const words = await t.store.catalog.lexicalSearch(q, { limit: 400 });
    const wordsTop = words.filter((hit, i) => i < 6 || hit.score === words[5].score);
    expect(wordsTop.length).toBeGreaterThan(6);
    const window = [...new Set([...vectorTop, ...wordsTop].map((hit) => hit.seq))];
    expect(window.length).toBeGreaterThan(6);
    const expected = new Map((await fusedBySeq(q, window)).map((e) => [e.seq, e.score]));
    expect(walked.map((r) => r.seq).sort((a, b) => a - b)).toEqual([...expected.keys()].sort((a, b) => a - b));
    walked.forEach((r, i) => {
      // The index's own cosine for its hits (float32 sums) differs from ours in the last bits only.
      expect(r.score).toBeCloseTo(expected.get(r.seq) as number, 6);
      expect(r.score).toBeCloseTo(((r.scores.content as number) + (r.scores.text as number)) / 2, 12);
      if (i > 0) expect(compareFused(walked[i - 1], r)).toBeLessThan(0);
    });
    // Past the window's last candidate there is no next page; the lists were cut, so no total.
    expect(pages[pages.length - 1].nextCursor).toBeNull();
    expect(pages[0].total).toBeUndefined();
    // One deep page asks for more than the window holds: it is the walk, no more.
    const deep = await target.search({ q, k: 100 });
    expect(ids(deep)).toEqual(walked.map((r) => r.id));
    expect(deep.nextCursor).toBeNull();
  });

  it('with a window as large as the catalogue, the page is the exact fused top k over every item', async () => {
    const q = 'pizza dog';
    const everything: number[] = [];
    for await (const batch of t.store.catalog.scan(100)) everything.push(...batch.map((item) => item.seq));
    const exact = await fusedBySeq(q, everything);
    const response = await windowed(200).search({ q, k: 12 });
    expect(response.results.map((r) => r.seq)).toEqual(exact.slice(0, 12).map((e) => e.seq));
    expect(response.total).toBe(everything.length);
  });

  it('scores a repeated query\'s candidates from memory: no vector is read back from the catalog', async () => {
    let vectorReads = 0;
    const catalog = t.store.catalog;
    const counting = Object.assign(Object.create(catalog) as typeof catalog, {
      getVectorsBySeq: (seqs: number[], modality: 'semantic' | 'style') => {
        vectorReads += seqs.length;
        return catalog.getVectorsBySeq(seqs, modality);
      },
    });
    const target = new SearchEngine({ catalog: counting, indices: t.store.indices, encoders: new FakeEncoders(), options: { wordsWindow: 8 } });
    const first = await target.search({ q: 'dog pizza', style: 'oil', k: 5 });
    expect(vectorReads).toBeGreaterThan(0);
    vectorReads = 0;
    const again = await target.search({ q: 'dog pizza', style: 'oil', k: 5 });
    expect(vectorReads).toBe(0);
    expect(again.results.map((r) => [r.id, r.score])).toEqual(first.results.map((r) => [r.id, r.score]));
  });
});

describe('the words window\'s vector depth and a BM25 tie at the words\' cut', () => {
  const recordedIndices = (depths: number[]) => {
    const semantic = t.store.indices.semantic;
    const recording = Object.assign(Object.create(semantic) as typeof semantic, {
      search: (vector: Float32Array, k: number, constraint?: Parameters<typeof semantic.search>[2]) => {
        depths.push(k);
        return semantic.search(vector, k, constraint);
      },
    });
    return { ...t.store.indices, semantic: recording };
  };
  const ranked = (response: SearchResponse) => response.results.map((r) => [r.id, r.score, r.scores]);

  it('takes the rest of the tie as candidates: the same window as a list that was never cut, at wordsVectorDepth', async () => {
    const depths: number[] = [];
    const indices = recordedIndices(depths);
    const engineWith = (rrfWindow: number) =>
      new SearchEngine({ catalog: t.store.catalog, indices, encoders: new FakeEncoders(), options: { rrfWindow, wordsWindow: 8, wordsVectorDepth: 3 } });
    // Every dog (12) has the same words ("A dog in <style>", tags dog and the style, keyword dogs): one BM25.
    const whole = engineWith(400);
    const cut = engineWith(4);
    for (const request of [{ q: 'dog', k: 20 }, { q: 'dog', k: 5, weights: { content: 2, text: 1 } }]) {
      const expected = await whole.search(request);
      // More of them than the cut list's 4.
      expect(expected.results.filter((r) => (r.scores.text ?? 0) > 0).length).toBeGreaterThan(4);
      expect(ranked(await cut.search(request))).toEqual(ranked(expected));
      // Repeated: the tie's rest comes from the kept list, the same window again.
      expect(ranked(await cut.search(request))).toEqual(ranked(expected));
    }
    const cutWalk = await allPages(cut, { q: 'dog', k: 3 });
    expect(cutWalk.flatMap((page) => ids(page))).toEqual(ids(await whole.search({ q: 'dog', k: 100 })));
    expect(depths.every((depth) => depth === 3)).toBe(true);
    whole.dispose();
    cut.dispose();
  });

  it('is twice wordsVectorDepth when the tie is longer than wordsTieLimit and holds half of the list', async () => {
    const depths: number[] = [];
    const indices = recordedIndices(depths);
    const engineWith = (wordsTieLimit: number) =>
      new SearchEngine({ catalog: t.store.catalog, indices, encoders: new FakeEncoders(), options: { rrfWindow: 4, wordsWindow: 8, wordsVectorDepth: 3, wordsTieLimit } });
    const off = engineWith(0);
    const short = engineWith(7);
    const enough = engineWith(8);
    for (const target of [off, short, enough]) {
      const response = await target.search({ q: 'dog', k: 2 });
      expect(response.results[0].scores.text).toBeGreaterThan(0);
    }
    expect(depths).toEqual([6, 6, 3]);
    for (const target of [off, short, enough]) target.dispose();
  });

  it('reads the tie\'s rest once per text until the next write', async () => {
    const limits: number[] = [];
    const catalog = t.store.catalog;
    const counting = Object.assign(Object.create(catalog) as typeof catalog, {
      lexicalSearch: (text: string, options: Parameters<typeof catalog.lexicalSearch>[1]) => {
        limits.push(options.limit);
        return catalog.lexicalSearch(text, options);
      },
    });
    const target = new SearchEngine({ catalog: counting, indices: t.store.indices, encoders: new FakeEncoders(), options: { rrfWindow: 4, wordsWindow: 8, wordsVectorDepth: 3 } });
    const first = await target.search({ q: 'dog', k: 6 });
    // The list (4), then on past the tie's limit (4 + 1024 + 1).
    expect(limits).toEqual([4, 1029]);
    const again = await target.search({ q: 'dog', k: 6 });
    expect(limits).toHaveLength(2);
    expect(ranked(again)).toEqual(ranked(first));
    target.dispose();
  });

  it('stays inside a filter: the tie\'s rest is read with the same allowed set', async () => {
    const whole = new SearchEngine({ catalog: t.store.catalog, indices: t.store.indices, encoders: new FakeEncoders(), options: { rrfWindow: 400, wordsWindow: 8, wordsVectorDepth: 3 } });
    const cut = new SearchEngine({ catalog: t.store.catalog, indices: t.store.indices, encoders: new FakeEncoders(), options: { rrfWindow: 2, wordsWindow: 8, wordsVectorDepth: 3 } });
    const request = { q: 'dog', k: 20, filters: { licenses: ['cc0'] } };
    const expected = await whole.search(request);
    expect(expected.results.filter((r) => (r.scores.text ?? 0) > 0).length).toBeGreaterThan(2);
    expect(expected.results.every((r) => r.license === 'cc0')).toBe(true);
    expect(ranked(await cut.search(request))).toEqual(ranked(expected));
    whole.dispose();
    cut.dispose();
  });
});

describe('a repeated text in the words window', () => {
  it('reuses its words\' candidates\' cosines and BM25 for the same query vector, and computes them anew for another', async () => {
    const reads = { vectors: 0, scores: 0 };
    const catalog = t.store.catalog;
    const counting = Object.assign(Object.create(catalog) as typeof catalog, {
      getVectorsBySeq: (seqs: number[], modality: 'semantic' | 'style') => {
        reads.vectors += seqs.length;
        return catalog.getVectorsBySeq(seqs, modality);
      },
      lexicalScores: (text: string, seqs: number[]) => {
        reads.scores += seqs.length;
        return catalog.lexicalScores(text, seqs);
      },
    });
    const options = { wordsWindow: 12, wordsVectorDepth: 6, itemCacheSize: 0 };
    // The words point the vector elsewhere than at the pizzas: the index's hits need their BM25
    // asked for, the pizzas their vectors.
    const q = 'pizza zebra zebra zebra';
    const target = new SearchEngine({ catalog: counting, indices: t.store.indices, encoders: new FakeEncoders(), options });
    const first = await target.search({ q, k: 8 });
    expect(reads.vectors).toBeGreaterThan(0);
    expect(reads.scores).toBeGreaterThan(0);
    reads.vectors = 0;
    reads.scores = 0;
    const again = await target.search({ q, k: 8 });
    expect(reads).toEqual({ vectors: 0, scores: 0 });
    expect(again.results.map((r) => [r.id, r.score, r.scores])).toEqual(first.results.map((r) => [r.id, r.score, r.scores]));
    // The same text with another content vector (a session's moved descriptor): the window is the
    // one a fresh engine ranks, not the last vector's.
    const moved = normalize(Float32Array.from(textVector('semantic', q), (x, i) => x + (i % 3 === 0 ? 0.4 : 0)));
    const fresh = new SearchEngine({ catalog, indices: t.store.indices, encoders: new FakeEncoders(), options });
    const expected = await fresh.searchFromDescriptors({ content: moved }, { text: q, k: 8 });
    const got = await target.searchFromDescriptors({ content: moved }, { text: q, k: 8 });
    expect(got.results.map((r) => [r.id, r.score, r.scores])).toEqual(expected.results.map((r) => [r.id, r.score, r.scores]));
    fresh.dispose();
    target.dispose();
  });
});

describe('a repeated text\'s kept order of its words\' candidates', () => {
  const options = { wordsWindow: 12, wordsVectorDepth: 6, itemCacheSize: 0 };
  const fresh = () => new SearchEngine({ catalog: t.store.catalog, indices: t.store.indices, encoders: new FakeEncoders(), options });
  const ranked = (response: SearchResponse) => response.results.map((r) => [r.id, r.score, r.scores, r.explanation?.terms]);

  it('is used only for the same query vector and weights: other weights rank as a fresh engine does', async () => {
    const target = fresh();
    const q = 'pizza zebra zebra zebra';
    for (const weights of [{ text: 1 }, { text: 2 }, { content: 2, text: 1 }, { text: 1 }, { content: 0.5, text: 1 }]) {
      const once = fresh();
      const expected = await once.search({ q, weights, k: 8, explain: true });
      expect(ranked(await target.search({ q, weights, k: 8, explain: true }))).toEqual(ranked(expected));
      once.dispose();
    }
    target.dispose();
  });

  it('walks by cursor to one deep page, first-seen and repeated, with and without exclusions', async () => {
    const target = fresh();
    const reference = fresh();
    // The words point the vector elsewhere than at the pizzas: the index's hits have no word.
    const q = 'pizza zebra zebra zebra';
    const deep = await reference.search({ q, k: 100 });
    expect(deep.nextCursor).toBeNull();
    expect(deep.results.length).toBeGreaterThan(5);
    for (let round = 0; round < 2; round++) expect((await allPages(target, { q, k: 5 })).flatMap(ids)).toEqual(ids(deep));
    // An excluded item of the words' list: that query ranks a list of its own; one the index
    // found without the words: the kept list and order.
    const content = await target.descriptorFor({ text: q }, 'content');
    const listed = (await t.store.catalog.lexicalSearch(q, { limit: 400 }))[0].seq;
    const wordless = deep.results.find((r) => r.scores.text === 0)?.seq as number;
    expect(wordless).toBeDefined();
    for (const excluded of [listed, wordless]) {
      const expected = await reference.searchFromDescriptors({ content }, { text: q, k: 100, exclude: { seqs: [excluded] } });
      expect(expected.results.map((r) => r.seq)).not.toContain(excluded);
      const pages: SearchResponse[] = [];
      let cursor: string | undefined;
      do {
        const page = await target.searchFromDescriptors({ content }, { text: q, k: 7, cursor, exclude: { seqs: [excluded] } });
        pages.push(page);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(pages.flatMap((page) => page.results.map((r) => [r.id, r.score]))).toEqual(expected.results.map((r) => [r.id, r.score]));
    }
    target.dispose();
    reference.dispose();
  });

  it('is dropped at the next write: an item added with the words shows, and is gone once deleted', async () => {
    const target = fresh();
    const q = 'pizza zebra zebra zebra';
    const before = await target.search({ q, k: 8 });
    const item = {
      id: 'pizza-zebra',
      contentHash: createHash('sha256').update('pizza-zebra').digest('hex'),
      source: 'kitchen',
      license: 'cc0',
      title: 'Pizza zebra',
      tags: ['food'],
      width: 64,
      height: 64,
      semantic: textVector('semantic', q),
      style: wordVector('style', 'oil'),
    };
    await t.store.catalog.addBatch([item]);
    await t.store.sync();
    const added = await target.search({ q, k: 8 });
    expect(added.results[0].id).toBe('pizza-zebra');
    const reference = fresh();
    expect(ranked(added)).toEqual(ranked(await reference.search({ q, k: 8 })));
    reference.dispose();
    await t.store.catalog.delete('pizza-zebra');
    await t.store.sync();
    const deleted = await target.search({ q, k: 8 });
    expect(ids(deleted)).not.toContain('pizza-zebra');
    expect(ranked(deleted)).toEqual(ranked(before));
    target.dispose();
  });
});

describe('a catalogue without words', () => {
  it('answers exactly as the vector signals alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parasol-nowords-'));
    const store = await openEmbeddedStore({ dataDir: dir, dims: { semantic: SEMANTIC_DIM, style: STYLE_DIM }, hnsw: { M: 16, efConstruction: 200, efSearch: 200 } });
    try {
      await store.catalog.addBatch(corpusItems().map((item) => ({ ...item, title: item.id, tags: [], keywords: [] })));
      await store.sync();
      expect(await store.catalog.hasText()).toBe(false);
      const bare = new SearchEngine({ catalog: store.catalog, indices: store.indices, encoders: new FakeEncoders() });
      for (const fusion of ['weighted', 'minmax', 'rrf'] as const) {
        const request: SearchRequestInput = { q: 'cat', style: 'ink', fusion, k: 20, explain: true };
        const withDefault = await bare.search(request);
        const without = await bare.search({ ...request, weights: { content: 1, style: 1, text: 0 } });
        expect(withDefault.results.map((r) => [r.id, r.score, r.scores])).toEqual(without.results.map((r) => [r.id, r.score, r.scores]));
        for (const r of withDefault.results) {
          expect(r.scores.text).toBeNull();
          expect(r.explanation?.parts.map((p) => p.modality)).toEqual(['content', 'style']);
        }
      }
      // The first item with words: the same engine's next text query fuses them (it asks again after a write).
      await store.catalog.addBatch([{ ...pizzaItems()[0], id: 'first-words' }]);
      await store.sync();
      const worded = await bare.search({ q: 'pizza', k: 3 });
      expect(worded.results[0].id).toBe('first-words');
      expect(worded.results[0].scores.text).toBeGreaterThan(0);
      bare.dispose();
    } finally {
      await store.close({ save: false });
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('facets', () => {
  function directCount(values: string[][]): FacetValue[] {
    const counts = new Map<string, number>();
    for (const list of values) for (const value of new Set(list)) if (value !== '') counts.set(value, (counts.get(value) ?? 0) + 1);
    return [...counts]
      .map(([value, count]) => ({ value, count }))
      .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  }

  it('counts the whole candidate pool the page was ranked from, as a direct count does', async () => {
    const request: SearchRequestInput = { q: 'cat', style: 'ink', filters: { licenses: ['cc0'] }, k: 5, facets: ['source', 'license', 'tags'], facetLimit: 100 };
    const response = await engine.search(request);
    expect(response.facetScope).toBe('candidates');
    // The pool held every acceptable item (total is set): the direct count runs over all of them.
    expect(response.total).toBeDefined();
    const everything = (await engine.search({ ...request, k: 100, facets: undefined })).results;
    expect(everything).toHaveLength(response.total as number);
    expect(response.facets?.source).toEqual(directCount(everything.map((r) => [r.source])));
    expect(response.facets?.license).toEqual(directCount(everything.map((r) => [r.license])));
    expect(response.facets?.tags).toEqual(directCount(everything.map((r) => r.tags)));
    expect(response.facets?.license).toEqual([{ value: 'cc0', count: response.total }]);
  });

  it('bounds each facet to facetLimit values and never changes the ranking or the cursor', async () => {
    const plain = await engine.search({ q: 'cat', k: 4 });
    const faceted = await engine.search({ q: 'cat', k: 4, facets: ['tags'], facetLimit: 2 });
    expect(ids(faceted)).toEqual(ids(plain));
    expect(faceted.facets?.tags).toHaveLength(2);
    expect(faceted.facets?.source).toBeUndefined();
    // A cursor from a faceted page continues the plain query.
    const next = await engine.search({ q: 'cat', k: 4, cursor: faceted.nextCursor ?? undefined });
    expect(next.results).toHaveLength(4);
    expect(plain.facets).toBeUndefined();
  });

  it('refuses unknown fields and limits out of range', async () => {
    await expect(engine.search({ q: 'cat', facets: ['colour' as 'tags'] })).rejects.toMatchObject({ code: 'INVALID_QUERY' });
    await expect(engine.search({ q: 'cat', facets: ['tags'], facetLimit: 101 })).rejects.toMatchObject({ code: 'INVALID_QUERY' });
    await expect(engine.search({ q: 'cat', facets: ['tags'], facetLimit: 0 })).rejects.toMatchObject({ code: 'INVALID_QUERY' });
  });
});

describe('fusion with the text signal', () => {
  const candidates = [
    { seq: 1, scores: { content: 0.9, style: null, text: 0 }, terms: [] },
    { seq: 2, scores: { content: 0.5, style: null, text: 0.8 }, terms: ['pizza'] },
    { seq: 3, scores: { content: 0.4, style: null, text: 0.5 }, terms: ['pizza'] },
  ];

  it('rrf ranks only the items that matched a word in the words list', async () => {
    const { fuseRrf } = await import('../../src/search/fusion.js');
    const fused = fuseRrf(candidates, { content: 1, text: 1 });
    const bySeq = new Map(fused.map((c) => [c.seq, c]));
    expect(bySeq.get(1)?.explanation.parts.find((p) => p.modality === 'text')?.rank).toBeUndefined();
    expect(bySeq.get(2)?.explanation.parts.find((p) => p.modality === 'text')?.rank).toBe(1);
    expect(bySeq.get(2)?.score).toBeCloseTo(1 / 62 + 1 / 61, 12);
    expect(bySeq.get(2)?.explanation.terms).toEqual(['pizza']);
  });

  it('weighted and minmax fuse the words like any other signal', async () => {
    const { fuseMinMax, fuseWeighted } = await import('../../src/search/fusion.js');
    const weighted = fuseWeighted(candidates, { content: 1, text: 3 });
    expect(weighted.map((c) => c.seq)).toEqual([2, 3, 1]);
    expect(weighted[0].score).toBeCloseTo((0.5 + 3 * 0.8) / 4, 12);
    const minmax = fuseMinMax(candidates, { content: 1, text: 1 });
    expect(minmax.find((c) => c.seq === 2)?.score).toBeCloseTo((0.2 + 1) / 2, 12);
  });
});

describe('sessions keep their words', () => {
  it('searches the content text until a step sets the content anew; undo brings the words back', async () => {
    const { RefineSessions } = await import('../../src/search/refine.js');
    const sessions = new RefineSessions(engine);
    const session = await sessions.create({ q: 'pizza' });
    const first = await sessions.search(session.id, { k: 3, facets: ['source'] });
    expect(ids(first).sort()).toEqual(['pizza-0', 'pizza-1', 'pizza-2']);
    expect(first.facets?.source?.length).toBeGreaterThan(0);
    await sessions.step(session.id, { set: { contentItemId: 'cat-ink-0' } });
    const byItem = await sessions.search(session.id, { k: 3 });
    for (const r of byItem.results) expect(r.scores.text).toBeNull();
    await sessions.step(session.id, { set: { q: 'pizzas' } });
    expect((await sessions.search(session.id, { k: 3 })).results.every((r) => (r.scores.text ?? 0) > 0)).toBe(true);
    await sessions.undo(session.id);
    await sessions.undo(session.id);
    expect(ids(await sessions.search(session.id, { k: 3 }))).toEqual(ids(first));
  });
});
