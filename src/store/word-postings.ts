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
 * MaxScore over the cached postings (Turtle & Flood 1995), rows visited in ascending seq order:
 *
 * - each word's best contribution bounds what it can add; once `limit` rows are held, the words
 *   whose bounds together cannot lift a row past the worst held score are "non-essential": only
 *   rows in an essential word's postings are visited, and a non-essential word is looked up
 *   (galloping forward in its postings) for a row that could still make it;
 * - a row is skipped as soon as its bound cannot beat the worst held row. Rows come in ascending
 *   seq order, so every held row has a smaller seq and a later row must score strictly more to
 *   enter: a bound equal to the worst held score is enough to skip, and once every word is
 *   non-essential no later row can enter at all.
 *
 * Exactness: a row's score is its contributions added in word order from 0, as FTS5 adds them,
 * and every bound is summed in that same order with each unknown contribution replaced by the
 * word's best. Floating-point addition is monotone in each operand, so a bound is never below the
 * score it stands for, and the result is exactly the exhaustive ranking (word-postings.test.ts
 * checks it against scoring every row).
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
  const words = lists.length;
  const bestOf = new Float64Array(words);
  lists.forEach((list, word) => {
    bestOf[word] = list.order.length > 0 ? list.scores[list.order[0]] : 0;
  });
  // The words with matches, least best contribution first: the order in which they turn non-essential.
  const byBest = Array.from({ length: words }, (_, word) => word)
    .filter((word) => lists[word].seqs.length > 0)
    .sort((a, b) => bestOf[a] - bestOf[b] || a - b);
  const n = byBest.length;
  if (n === 0) return [];
  const rankOf = new Int32Array(words).fill(-1);
  byBest.forEach((word, rank) => {
    rankOf[word] = rank;
  });
  // reach[j]: the most a row matching only the words byBest[0..j) can score, summed in word order.
  const reach = new Float64Array(n + 1);
  for (let j = 1; j <= n; j++) {
    let sum = 0;
    for (let word = 0; word < words; word++) if (rankOf[word] >= 0 && rankOf[word] < j) sum += bestOf[word];
    reach[j] = sum;
  }
  const cursor = new Int32Array(words);
  const contribution = new Float64Array(words);
  const best = new BestHits(limit);
  let floor = Number.NEGATIVE_INFINITY;
  // byBest[0..essentialFrom) are non-essential.
  let essentialFrom = 0;
  for (;;) {
    // The next row: the smallest seq under an essential word's cursor.
    let seq = Number.POSITIVE_INFINITY;
    for (let j = essentialFrom; j < n; j++) {
      const word = byBest[j];
      const at = cursor[word];
      const seqs = lists[word].seqs;
      if (at < seqs.length && seqs[at] < seq) seq = seqs[at];
    }
    if (seq === Number.POSITIVE_INFINITY) break;
    // The essential words' contributions are known (0 where the row is not under a word's
    // cursor); the cursors at the row move on.
    for (let j = essentialFrom; j < n; j++) {
      const word = byBest[j];
      const list = lists[word];
      const at = cursor[word];
      if (at < list.seqs.length && list.seqs[at] === seq) {
        contribution[word] = list.scores[at];
        cursor[word] = at + 1;
      } else {
        contribution[word] = 0;
      }
    }
    if (accept && !accept(seq)) continue;
    if (essentialFrom > 0) {
      let bound = 0;
      for (let word = 0; word < words; word++) {
        const rank = rankOf[word];
        if (rank >= 0) bound += rank < essentialFrom ? bestOf[word] : contribution[word];
      }
      if (bound <= floor) continue;
      for (let j = 0; j < essentialFrom; j++) {
        const word = byBest[j];
        const list = lists[word];
        const at = seek(list.seqs, cursor[word], seq);
        cursor[word] = at;
        contribution[word] = at < list.seqs.length && list.seqs[at] === seq ? list.scores[at] : 0;
      }
    }
    let score = 0;
    let matched = 0;
    for (let word = 0; word < words; word++) {
      if (rankOf[word] < 0 || contribution[word] === 0) continue;
      score += contribution[word];
      matched += 2 ** word;
    }
    if (matched === 0 || !best.admits(score, seq)) continue;
    best.add({ seq, score, matched });
    if (!best.full) continue;
    floor = best.worstScore;
    while (essentialFrom < n && reach[essentialFrom + 1] <= floor) essentialFrom++;
    if (essentialFrom === n) break;
  }
  return best.sorted();
}

/** The first index at or after `from` whose seq is ≥ `seq`: galloping, then a binary search. */
function seek(seqs: Int32Array, from: number, seq: number): number {
  if (from >= seqs.length || seqs[from] >= seq) return from;
  // seqs[lo] < seq throughout; the answer is in (lo, hi].
  let lo = from;
  let step = 1;
  let hi = from + 1;
  while (hi < seqs.length && seqs[hi] < seq) {
    lo = hi;
    step *= 2;
    hi = from + step;
  }
  if (hi > seqs.length) hi = seqs.length;
  while (lo + 1 < hi) {
    const mid = (lo + hi) >> 1;
    if (seqs[mid] < seq) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** The best `limit` hits seen so far: a min-heap, the worst of them on top. */
class BestHits {
  private readonly heap: WordHit[] = [];

  constructor(private readonly limit: number) {}

  get full(): boolean {
    return this.heap.length >= this.limit;
  }

  /** The worst held score (only meaningful when full). */
  get worstScore(): number {
    return this.heap[0].score;
  }

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
    for (let word = 0; word < lists.length; word++) {
      const contribution = contributionOf(lists[word], seq);
      if (contribution !== 0) {
        score += contribution;
        matched += 2 ** word;
      }
    }
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
