/**
 * Measuring search breadth against recall: exact top-10 by brute force over every stored vector,
 * then recall@10 and latency of the vector index over a ladder of breadths, and the smallest breadth
 * that reaches a target. `parasol tune` (services/tune.ts) and the 1M benchmark both run this.
 *
 * Long loops yield to the event loop between blocks, so a progress line can be printed and a
 * Ctrl-C honoured while the brute force runs.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import type { VectorIndex } from '../store/types.js';
import type { CurvePoint } from '../store/tuning.js';

/** recall@K: the engine's first page is judged by its top 10. */
export const RECALL_AT = 10;
/** Breadths tried by default: fine steps where small stores land, coarser ones up to what 1M text queries need. */
export const DEFAULT_LADDER: readonly number[] = [16, 32, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048];
export const DEFAULT_TARGET = 0.98;

export interface TuneQuery {
  vector: Float32Array;
  /** A stored item's own seq: held out of the exact answer and of the index's (a query is never its own neighbour). */
  exclude?: number;
}

/** Reports work done (units of the current phase); return value ignored. */
export type Tick = (units: number) => void;

/** Every live vector of one modality, row-major, with each row's seq: the oracle for exact search. */
export class ExactMatrix {
  readonly data: Float32Array;
  readonly seqs: Int32Array;
  readonly capacity: number;
  private filled: number;

  /** An empty matrix for `capacity` rows, or (with `held`) a full one over vectors held elsewhere, not copied. */
  constructor(
    readonly dim: number,
    capacity: number,
    held?: { data: Float32Array; seqs: Int32Array },
  ) {
    this.capacity = capacity;
    this.data = held ? held.data.subarray(0, capacity * dim) : new Float32Array(capacity * dim);
    this.seqs = held ? held.seqs.subarray(0, capacity) : new Int32Array(capacity);
    this.filled = held ? capacity : 0;
  }

  get rows(): number {
    return this.filled;
  }

  push(seq: number, vector: Float32Array): void {
    if (this.filled >= this.capacity) throw new RangeError(`the exact matrix holds ${this.capacity} rows; the catalog grew while it was read`);
    this.data.set(vector, this.filled * this.dim);
    this.seqs[this.filled++] = seq;
  }

  row(index: number): Float32Array {
    return this.data.subarray(index * this.dim, (index + 1) * this.dim);
  }
}

const ROW_BLOCK = 4096;

/**
 * The exact top-k seqs of every query, best first, in one pass over the matrix (each row is read
 * once for all queries). Null when `shouldStop` said so before the end.
 */
export async function exactTopK(
  matrix: ExactMatrix,
  queries: readonly TuneQuery[],
  k: number,
  options: { tick?: Tick; shouldStop?: () => boolean } = {},
): Promise<number[][] | null> {
  const { dim, data, seqs } = matrix;
  const q = queries.length;
  const vectors = queries.map((query) => query.vector);
  const excluded = queries.map((query) => query.exclude ?? -1);
  // Per query: a descending list of at most k (scores and seqs), kept by insertion.
  const scores = Array.from({ length: q }, () => new Float64Array(k).fill(Number.NEGATIVE_INFINITY));
  const found = Array.from({ length: q }, () => new Int32Array(k).fill(-1));
  for (let start = 0; start < matrix.rows; start += ROW_BLOCK) {
    if (options.shouldStop?.()) return null;
    const end = Math.min(matrix.rows, start + ROW_BLOCK);
    for (let row = start; row < end; row++) {
      const offset = row * dim;
      const seq = seqs[row];
      for (let j = 0; j < q; j++) {
        const query = vectors[j];
        let score = 0;
        for (let i = 0; i < dim; i++) score += data[offset + i] * query[i];
        const best = scores[j];
        if (score <= best[k - 1] || seq === excluded[j]) continue;
        const ids = found[j];
        let at = k - 1;
        while (at > 0 && best[at - 1] < score) {
          best[at] = best[at - 1];
          ids[at] = ids[at - 1];
          at--;
        }
        best[at] = score;
        ids[at] = seq;
      }
    }
    options.tick?.(end - start);
    await yieldToLoop();
  }
  return found.map((ids) => [...ids].filter((seq) => seq >= 0));
}

/**
 * recall@10 and latency of `index` at each breadth of the ladder, for queries whose exact answers
 * are `truths`. Null when stopped before the ladder was done.
 */
export async function measureCurve(
  index: VectorIndex,
  queries: readonly TuneQuery[],
  truths: readonly number[][],
  ladder: readonly number[],
  options: { tick?: Tick; shouldStop?: () => boolean } = {},
): Promise<CurvePoint[] | null> {
  // A few untimed searches first: the first ones pay for page faults, not for the breadth.
  for (const query of queries.slice(0, 20)) await index.search(query.vector, RECALL_AT, constraintOf(query, ladder[0]));
  const curve: CurvePoint[] = [];
  for (const ef of ladder) {
    const recalls: number[] = [];
    const times: number[] = [];
    for (const [i, query] of queries.entries()) {
      if (i % 50 === 0) {
        if (options.shouldStop?.()) return null;
        await yieldToLoop();
      }
      const started = performance.now();
      const hits = await index.search(query.vector, RECALL_AT, constraintOf(query, ef));
      times.push(performance.now() - started);
      const truth = new Set(truths[i]);
      recalls.push(truth.size === 0 ? 1 : hits.filter((hit) => truth.has(hit.seq)).length / truth.size);
      options.tick?.(1);
    }
    times.sort((a, b) => a - b);
    curve.push({
      ef,
      recallAt10: round(recalls.reduce((a, b) => a + b, 0) / recalls.length, 4),
      minRecallAt10: round(Math.min(...recalls), 4),
      p50Ms: round(percentile(times, 50), 3),
      p95Ms: round(percentile(times, 95), 3),
    });
  }
  return curve;
}

/** The smallest breadth whose recall reaches the target; else the best-measured largest one, marked unreached. */
export function chooseEf(curve: readonly CurvePoint[], target: number): { ef: number; reached: boolean } {
  const sorted = [...curve].sort((a, b) => a.ef - b.ef);
  const first = sorted.find((point) => point.recallAt10 >= target);
  if (first) return { ef: first.ef, reached: true };
  return { ef: sorted[sorted.length - 1].ef, reached: false };
}

function constraintOf(query: TuneQuery, ef: number) {
  return query.exclude === undefined ? { ef } : { ef, exclude: new Set([query.exclude]) };
}

/** Nearest-rank percentile of an ascending list. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
