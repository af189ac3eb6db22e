/**
 * The embedded catalog's lexical signal, held word by word.
 *
 * FTS5's bm25() of an OR query is a sum over its phrases: Σᵢ idfᵢ·fᵢ(row), where idfᵢ depends
 * only on phrase i and the table, and fᵢ on the row's weighted frequency of phrase i and its length.
 * So one word's contribution to every row it matches is that word's own bm25() — the same double
 * FTS5 adds into any query holding the word — and a query's score is those contributions added in
 * word order, exactly as FTS5 adds them. A word's contributions are read once (one pass over its
 * matches) and kept until the table changes.
 *
 * That turns the cost per query from "score and sort every match of every word, then again for
 * the rescoring, then once per word for the matched terms" (0.7 s at 100k items for a word in half
 * of them) into an accumulation over the cached lists, and a prefix for a one-word query.
 */

/** One word's matches: seqs ascending, each with the word's bm25 contribution (> 0). */
export interface WordPostings {
  readonly seqs: Int32Array;
  readonly scores: Float64Array;
  /** Indices into seqs/scores, best contribution first, ties by seq: a one-word query's ranking. */
  readonly order: Int32Array;
}

/** A row of a query's lexical answer: its BM25 and which of the query's words it matched (bit i: word i). */
export interface WordHit {
  seq: number;
  score: number;
  matched: number;
}

/** Builds one word's postings from its matches in any order (seqs must be distinct). */
export function wordPostings(seqs: ArrayLike<number>, scores: ArrayLike<number>): WordPostings {
  const n = seqs.length;
  const bySeq = Array.from({ length: n }, (_, i) => i).sort((a, b) => seqs[a] - seqs[b]);
  const sortedSeqs = new Int32Array(n);
  const sortedScores = new Float64Array(n);
  bySeq.forEach((from, to) => {
    sortedSeqs[to] = seqs[from];
    sortedScores[to] = scores[from];
  });
  const order = Int32Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => sortedScores[b] - sortedScores[a] || sortedSeqs[a] - sortedSeqs[b],
  );
  return { seqs: sortedSeqs, scores: sortedScores, order };
}

/** The word's contribution to a seq (0 when it does not match). */
export function contributionOf(postings: WordPostings, seq: number): number {
  let lo = 0;
  let hi = postings.seqs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const at = postings.seqs[mid];
    if (at === seq) return postings.scores[mid];
    if (at < seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return 0;
}

/** Best first, ties by seq: the order every lexical list is in. */
function better(a: WordHit, b: WordHit): boolean {
  return a.score > b.score || (a.score === b.score && a.seq < b.seq);
}

/**
 * The query's best `limit` rows (BM25 = the words' contributions summed in word order), best
 * first, ties by seq, among those `accept` lets through. One word: a prefix of its ranking. More:
 * one pass adding up the words' postings and one over the rows they touch, into a bounded heap,
 * so the cost grows with the matches' count, not with their sort, and a row is only built when
 * it would be kept.
 */
export function topHits(lists: readonly WordPostings[], limit: number, accept?: (seq: number) => boolean): WordHit[] {
  if (limit <= 0) return [];
  if (lists.length === 1) {
    const [only] = lists;
    const out: WordHit[] = [];
    for (let i = 0; i < only.order.length && out.length < limit; i++) {
      const at = only.order[i];
      const seq = only.seqs[at];
      if (!accept || accept(seq)) out.push({ seq, score: only.scores[at], matched: 1 });
    }
    return out;
  }
  // Sums by seq in a dense scratch, word after word: each row's contributions are added in word
  // order starting from 0, as FTS5 adds them, so the double is the same. Then each touched row
  // is visited once (its mark cleared, so the scratch is clean for the next query).
  let top = 0;
  for (const list of lists) if (list.seqs.length > 0) top = Math.max(top, list.seqs[list.seqs.length - 1]);
  const { sums, marks } = scratchFor(top);
  lists.forEach((list, word) => {
    const bit = 2 ** word;
    for (let i = 0; i < list.seqs.length; i++) {
      const seq = list.seqs[i];
      sums[seq] += list.scores[i];
      marks[seq] += bit;
    }
  });
  const best = new BestHits(limit);
  for (const list of lists) {
    for (let i = 0; i < list.seqs.length; i++) {
      const seq = list.seqs[i];
      const matched = marks[seq];
      if (matched === 0) continue;
      const score = sums[seq];
      sums[seq] = 0;
      marks[seq] = 0;
      if (best.admits(score, seq) && (!accept || accept(seq))) best.add({ seq, score, matched });
    }
  }
  return best.sorted();
}

/** The accumulator's arrays, kept between queries (all zero between calls) and grown with the largest seq. */
let scratch = { sums: new Float64Array(0), marks: new Uint32Array(0) };

function scratchFor(top: number): typeof scratch {
  if (scratch.sums.length <= top) {
    const size = Math.max(top + 1, scratch.sums.length * 2);
    scratch = { sums: new Float64Array(size), marks: new Uint32Array(size) };
  }
  return scratch;
}

/** The best `limit` hits seen so far: a min-heap, the worst of them on top. */
class BestHits {
  private readonly heap: WordHit[] = [];

  constructor(private readonly limit: number) {}

  /** Whether a hit with this score and seq would be kept (checked before building it). */
  admits(score: number, seq: number): boolean {
    if (this.heap.length < this.limit) return true;
    const worst = this.heap[0];
    return score > worst.score || (score === worst.score && seq < worst.seq);
  }

  add(hit: WordHit): void {
    const heap = this.heap;
    if (heap.length < this.limit) {
      heap.push(hit);
      for (let i = heap.length - 1; i > 0; ) {
        const parent = (i - 1) >> 1;
        if (!better(heap[parent], heap[i])) break;
        [heap[i], heap[parent]] = [heap[parent], heap[i]];
        i = parent;
      }
      return;
    }
    heap[0] = hit;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let w = i;
      if (l < heap.length && better(heap[w], heap[l])) w = l;
      if (r < heap.length && better(heap[w], heap[r])) w = r;
      if (w === i) return;
      [heap[i], heap[w]] = [heap[w], heap[i]];
      i = w;
    }
  }

  sorted(): WordHit[] {
    return [...this.heap].sort((a, b) => (better(a, b) ? -1 : 1));
  }
}

/** The query's BM25 for given seqs, and the words each matched; seqs matching no word are absent. */
export function hitsFor(lists: readonly WordPostings[], seqs: readonly number[]): WordHit[] {
  const out: WordHit[] = [];
  for (const seq of seqs) {
    let score = 0;
    let matched = 0;
    lists.forEach((list, word) => {
      const contribution = contributionOf(list, seq);
      if (contribution !== 0) {
        score += contribution;
        matched += 2 ** word;
      }
    });
    if (matched !== 0) out.push({ seq, score, matched });
  }
  return out;
}

/**
 * Postings per word, valid for one state of the table (`key`): a new key drops them all. Bounded
 * by the number of postings held (least recently used words go first); a word larger than the
 * whole budget is still held alone, since reading it again would cost the most.
 */
export class WordPostingsCache {
  private key: string | null = null;
  private readonly words = new Map<string, WordPostings>();
  private held = 0;

  constructor(private readonly budget: number = 2_000_000) {}

  get(key: string, word: string, load: () => WordPostings): WordPostings {
    if (key !== this.key) {
      this.words.clear();
      this.held = 0;
      this.key = key;
    }
    const cached = this.words.get(word);
    if (cached) {
      // Re-inserted: Map order is the recency order.
      this.words.delete(word);
      this.words.set(word, cached);
      return cached;
    }
    const postings = load();
    for (const [old, list] of this.words) {
      if (this.held + postings.seqs.length <= this.budget) break;
      this.words.delete(old);
      this.held -= list.seqs.length;
    }
    this.words.set(word, postings);
    this.held += postings.seqs.length;
    return postings;
  }

  /** Postings held now (for tests and stats). */
  get size(): number {
    return this.held;
  }
}
