/**
 * The lexical (words) signal's scale. BM25 is unbounded and its range depends on the query (how
 * many terms, how rare) and the catalogue (field lengths), so it cannot be added to cosines as
 * is. Each query maps it onto [0, 1) with s / (s + pivot), the pivot being the median BM25 of the
 * query's own lexical candidates: a typical match lands at 0.5, the best matches approach 1, and
 * the map is monotone (BM25's order is kept) and saturating (one very long or repetitive title
 * cannot outweigh the image signals, as a max-normalisation by the top hit would let it). The
 * pivot depends only on the query and the catalogue, never on the page, so cursors stay exact.
 */
import type { LexicalHit } from '../store/types.js';

/** The median score of the lexical candidates (1 when there are none, so the map stays defined). */
export function lexicalPivot(hits: readonly LexicalHit[]): number {
  if (hits.length === 0) return 1;
  const scores = hits.map((hit) => hit.score).sort((a, b) => a - b);
  const mid = scores.length >> 1;
  const median = scores.length % 2 === 1 ? scores[mid] : (scores[mid - 1] + scores[mid]) / 2;
  return median > 0 ? median : 1;
}

/** BM25 → [0, 1): 0 for no match, 0.5 at the pivot. */
export function saturate(bm25: number, pivot: number): number {
  return bm25 > 0 ? bm25 / (bm25 + pivot) : 0;
}
