/**
 * The words window's merged ranking (src/search/ranking.ts): the index's hits and the words'
 * candidates, each list ranked on its own and merged as a page is read, must be the ranking of
 * sorting them all together, page by page and cursor by cursor, ties included.
 */
import { describe, expect, it } from 'vitest';
import { compareFused, type RankedCandidate } from '../../src/search/fusion.js';
import { saturate } from '../../src/search/lexical.js';
import { arrayRanking, mergedWindow, wordsOrder, type IndexSide } from '../../src/search/ranking.js';
import type { LexicalHit } from '../../src/store/types.js';
import { seededRandom } from '../store/helpers.js';

/** A coarse value, so that fused scores tie often. */
const coarse = (random: () => number, steps: number): number => Math.floor(random() * steps) / steps;

function windowCase(seed: number) {
  const random = seededRandom(seed);
  const vectorShare = 0.5;
  const textShare = 0.5;
  // The words' list: seqs 0..39 shuffled, BM25 descending with ties; its first `depth` are candidates.
  const seqs = Array.from({ length: 40 }, (_, i) => i).sort(() => random() - 0.5);
  const hits: LexicalHit[] = seqs
    .map((seq) => ({ seq, score: 1 + coarse(random, 4) * 3, terms: [`t${seq % 3}`] }))
    .sort((a, b) => b.score - a.score || a.seq - b.seq);
  const pivot = 2.5;
  const depth = 30;
  // Some candidates have no vector (deleted since listed): NaN leaves them out.
  const cosines = Float64Array.from({ length: depth }, () => (random() < 0.1 ? Number.NaN : coarse(random, 5)));
  const query = Float32Array.from([1, 0]);
  const order = wordsOrder(hits, pivot, cosines, { modality: 'content', query, vectorShare, textShare, depth });
  // The index's hits: some in the words' list (within its depth or past it), some outside it (seqs 100+).
  const index: IndexSide = { seq: [], cosine: [], hit: [], score: [] };
  const taken: number[] = [];
  const picked = new Set<number>();
  for (let i = 0; i < 15; i++) {
    const inList = random() < 0.6;
    const position = Math.floor(random() * hits.length);
    const seq = inList ? hits[position].seq : 100 + i;
    if (picked.has(seq)) continue;
    picked.add(seq);
    const hit = inList ? hits[position] : random() < 0.5 ? { seq, score: 0.5, terms: ['t0'] } : null;
    const cosine = coarse(random, 5);
    index.seq.push(seq);
    index.cosine.push(cosine);
    index.hit.push(hit);
    index.score.push(vectorShare * cosine + textShare * (hit ? saturate(hit.score, pivot) : 0));
    if (inList && position < depth && order.rankOf[position] >= 0) taken.push(order.rankOf[position]);
  }
  // What sorting everything together gives: the index's hits as they are, the other words' candidates with their cosines.
  const all: RankedCandidate[] = index.seq.map((seq, i) => {
    const hit = index.hit[i];
    return { seq, scores: { content: index.cosine[i], style: null, text: hit ? saturate(hit.score, pivot) : 0 }, terms: hit?.terms ?? [], score: index.score[i] };
  });
  for (let p = 0; p < depth; p++) {
    if (picked.has(hits[p].seq) || Number.isNaN(cosines[p])) continue;
    const text = saturate(hits[p].score, pivot);
    all.push({ seq: hits[p].seq, scores: { content: cosines[p], style: null, text }, terms: hits[p].terms, score: vectorShare * cosines[p] + textShare * text });
  }
  all.sort(compareFused);
  const leftOut = cosines.filter((c) => Number.isNaN(c)).length;
  return { merged: mergedWindow(index, order, taken, { hits, pivot }), all, taken: taken.length, leftOut };
}

describe('the words window\'s merged ranking', () => {
  for (const seed of [1, 2, 4, 5, 6, 7]) {
    it(`is the ranking of every candidate sorted together, from any cursor (seed ${seed})`, () => {
      const { merged, all, taken, leftOut } = windowCase(seed);
      // Ties in the fused score are there to be broken by seq; the index found some words' candidates; some have no vector.
      expect(new Set(all.map((c) => c.score)).size).toBeLessThan(all.length);
      expect(taken).toBeGreaterThan(0);
      expect(leftOut).toBeGreaterThan(0);
      expect(merged.size).toBe(all.length);
      expect(merged.seqs().sort((a, b) => a - b)).toEqual(all.map((c) => c.seq).sort((a, b) => a - b));
      expect(merged.after(null, all.length + 5)).toEqual({ candidates: all, remaining: all.length });
      for (let p = 0; p < all.length; p++) {
        const { candidates, remaining } = merged.after(all[p], 4);
        expect(candidates).toEqual(all.slice(p + 1, p + 5));
        expect(remaining).toBe(all.length - p - 1);
      }
    });
  }

  it('reads as an array ranking of the same candidates does', () => {
    const { merged, all } = windowCase(9);
    const array = arrayRanking(all);
    for (const last of [null, all[0], all[7], all[all.length - 1]]) expect(merged.after(last, 6)).toEqual(array.after(last, 6));
    expect(array.seqs()).toEqual(all.map((c) => c.seq));
  });
});
