/**
 * A pool's ranking as pagination reads it: best first by compareFused (score, then seq), and read
 * only as far as a page needs. Most pools are an array of ranked candidates. The words window of
 * one modality's index is two lists already in that order, the index's hits and the words'
 * candidates, merged as a page is read (see mergedWindow): a repeated text keeps its words'
 * candidates ranked (WordsOrder) and a query then ranks only the index's hits, instead of building
 * and sorting an object for each of ~500 candidates when a page shows 24 of them.
 */
import type { LexicalHit } from '../store/types.js';
import { compareFused, type ModalityScores, type RankedCandidate, type SearchModality } from './fusion.js';
import { saturate } from './lexical.js';

/** A candidate's place in a ranking: the cursor's last item. */
export interface RankKey {
  score: number;
  seq: number;
}

export interface Ranking {
  /** How many candidates the pool ranked. */
  readonly size: number;
  /**
   * Up to `count` candidates ranked after `last` (from the first when null), best first, and how
   * many candidates there are after it in all.
   */
  after(last: RankKey | null, count: number): { candidates: RankedCandidate[]; remaining: number };
  /** Every candidate's seq (facets count the pool). */
  seqs(): number[];
}

/** A ranking held as an array already sorted by compareFused. */
export function arrayRanking(ranked: readonly RankedCandidate[]): Ranking {
  return {
    size: ranked.length,
    after(last, count) {
      let from = 0;
      if (last) {
        from = ranked.findIndex((c) => compareFused(c, last) > 0);
        if (from === -1) from = ranked.length;
      }
      return { candidates: ranked.slice(from, from + count), remaining: ranked.length - from };
    },
    seqs: () => ranked.map((c) => c.seq),
  };
}

/** Whether (score, seq) a ranks after b: compareFused(a, b) > 0. */
function ranksAfter(aScore: number, aSeq: number, bScore: number, bSeq: number): boolean {
  return aScore !== bScore ? aScore < bScore : aSeq > bSeq;
}

/**
 * The words' candidates of one list (its first `depth`), ranked for one query vector and one pair
 * of weights: their fused scores vectorShare·cosine + textShare·saturate(BM25), the floats the
 * index's hits are scored with, best first. It depends only on the list (so on the catalogue and
 * the text), the vector and the weights: a cached words' list keeps it (see the engine's
 * ownIndexWindow). A candidate whose vector is gone (deleted since the words were listed) is left out.
 */
export interface WordsOrder {
  modality: SearchModality;
  query: Float32Array;
  vectorShare: number;
  textShare: number;
  depth: number;
  /** Each list position's cosine with the query vector (NaN: no vector). */
  cosines: Float64Array;
  /** Positions in the words' list, best fused first. */
  order: Int32Array;
  /** The fused score of each, in that order. */
  score: Float64Array;
  /** Each list position's rank in `order`; −1 where left out. */
  rankOf: Int32Array;
}

/**
 * Ranks a words' list's first `depth` candidates by their fused score. `cosines`: each list
 * position's cosine with the query vector (NaN: no vector, left out).
 */
export function wordsOrder(
  hits: readonly LexicalHit[],
  pivot: number,
  cosines: Float64Array,
  key: Pick<WordsOrder, 'modality' | 'query' | 'vectorShare' | 'textShare' | 'depth'>,
): WordsOrder {
  if (cosines.length < key.depth) throw new RangeError(`${cosines.length} cosines for a depth of ${key.depth}`);
  const { depth, vectorShare, textShare } = key;
  const byPosition = new Float64Array(depth);
  const positions: number[] = [];
  for (let p = 0; p < depth; p++) {
    const cosine = cosines[p];
    if (Number.isNaN(cosine)) continue;
    byPosition[p] = vectorShare * cosine + textShare * saturate(hits[p].score, pivot);
    positions.push(p);
  }
  positions.sort((a, b) => (byPosition[a] !== byPosition[b] ? byPosition[b] - byPosition[a] : hits[a].seq - hits[b].seq));
  const order = Int32Array.from(positions);
  const score = new Float64Array(order.length);
  const rankOf = new Int32Array(depth).fill(-1);
  for (let r = 0; r < order.length; r++) {
    score[r] = byPosition[order[r]];
    rankOf[order[r]] = r;
  }
  return { ...key, cosines, order, score, rankOf };
}

/** The index's side of a words window: its acceptable hits, each with its cosine, its words' hit (or none) and fused score. */
export interface IndexSide {
  seq: number[];
  cosine: number[];
  hit: Array<LexicalHit | null>;
  score: number[];
}

/** The index's hits best first: their positions sorted by their fused keys (≤ the index's depth of them). */
export function indexOrder(index: IndexSide): number[] {
  const n = index.seq.length;
  const byIndex = new Array<number>(n);
  for (let i = 0; i < n; i++) byIndex[i] = i;
  return byIndex.sort((a, b) => (index.score[a] !== index.score[b] ? index.score[b] - index.score[a] : index.seq[a] - index.seq[b]));
}

/**
 * The words window of one modality's index as one ranking: the index's hits (in any order) and
 * the words' candidates (`words`, ranked) merged by compareFused, the words' candidates that the
 * index also found (`taken`, ranks in `words.order`) left to the index's side, which scores them
 * with the index's own cosine. The same candidates and floats as sorting them all together, so
 * every page (and so the cursor) is the same; objects are built only for the candidates a page reads.
 * `byIndex`: the index side's order (indexOrder), when the caller kept it from an identical side.
 */
export function mergedWindow(
  index: IndexSide,
  words: WordsOrder,
  taken: readonly number[],
  lexical: { hits: readonly LexicalHit[]; pivot: number },
  byIndex: readonly number[] = indexOrder(index),
): Ranking {
  const n = index.seq.length;
  const skip = new Uint8Array(words.order.length);
  for (const rank of taken) skip[rank] = 1;
  const wordsCount = words.order.length;
  const content = words.modality === 'content';
  const candidate = (seq: number, cosine: number, hit: LexicalHit | null, score: number): RankedCandidate => {
    const scores: ModalityScores = { content: content ? cosine : null, style: content ? null : cosine, text: hit ? saturate(hit.score, lexical.pivot) : 0 };
    return { seq, scores, terms: hit?.terms ?? [], score };
  };
  const wordSeq = (rank: number): number => lexical.hits[words.order[rank]].seq;
  return {
    size: n + wordsCount - taken.length,
    after(last, count) {
      let i = 0;
      let j = 0;
      if (last) {
        // Both lists are sorted: the first of each after `last` (a binary search in the words' ranks).
        while (i < n && !ranksAfter(index.score[byIndex[i]], index.seq[byIndex[i]], last.score, last.seq)) i++;
        let lo = 0;
        let hi = wordsCount;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (ranksAfter(words.score[mid], wordSeq(mid), last.score, last.seq)) hi = mid;
          else lo = mid + 1;
        }
        j = lo;
      }
      let takenAfter = 0;
      for (const rank of taken) if (rank >= j) takenAfter++;
      const remaining = n - i + (wordsCount - j - takenAfter);
      const candidates: RankedCandidate[] = [];
      while (candidates.length < count) {
        while (j < wordsCount && skip[j] === 1) j++;
        const fromIndex = i < n;
        const fromWords = j < wordsCount;
        if (!fromIndex && !fromWords) break;
        const x = fromIndex ? byIndex[i] : -1;
        if (fromIndex && (!fromWords || ranksAfter(words.score[j], wordSeq(j), index.score[x], index.seq[x]))) {
          candidates.push(candidate(index.seq[x], index.cosine[x], index.hit[x], index.score[x]));
          i++;
        } else {
          const p = words.order[j];
          candidates.push(candidate(lexical.hits[p].seq, words.cosines[p], lexical.hits[p], words.score[j]));
          j++;
        }
      }
      return { candidates, remaining };
    },
    seqs() {
      const out = byIndex.map((x) => index.seq[x]);
      for (let r = 0; r < wordsCount; r++) if (skip[r] === 0) out.push(wordSeq(r));
      return out;
    },
  };
}
