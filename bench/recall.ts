/**
 * HNSW recall@10 against exact search: for fresh queries, the share of the true 10 nearest
 * neighbours (by brute-force cosine over every stored vector) that the index returns. Queries come
 * from the data's own mixture, or from off it (text queries do not look like image embeddings, and
 * HNSW is known to do worse on such queries). Measured at k = 10 (the index alone) and at the depth the engine really asks
 * for (k·oversample candidates, of which the top 10 are kept).
 */
import type { VectorIndex } from '../src/store/types.js';
import type { Modality } from '../src/store/types.js';
import { round } from './stats.js';
import type { QueryKind, SyntheticCorpus } from './synthetic.js';

export const RECALL_AT = 10;

export interface RecallResult {
  modality: Modality;
  /** 'data': queries from the data's own mixture; 'far': off-distribution queries (text-like). */
  queryKind: QueryKind;
  queries: number;
  /** Mean recall@10 when the index is asked for 10 neighbours. */
  recallAt10: number;
  /** Worst single query. */
  minRecallAt10: number;
  /** Mean recall@10 when the index is asked for `engineDepth` and the best 10 are kept. */
  recallAt10EngineDepth: number;
  engineDepth: number;
  /** Mean ms per exact (brute-force) query, for scale. */
  exactMsPerQuery: number;
}

/** The `k` best rows of `vectors` (flat, row-major) by dot product with `query`. */
export function exactTopK(vectors: Float32Array, dim: number, rows: number, query: Float32Array, k: number): number[] {
  const bestRows: number[] = [];
  const bestScores: number[] = [];
  for (let row = 0; row < rows; row++) {
    let score = 0;
    const offset = row * dim;
    for (let i = 0; i < dim; i++) score += vectors[offset + i] * query[i];
    if (bestRows.length === k && score <= bestScores[k - 1]) continue;
    // Insertion into a descending list of at most k: start at the end (dropping the last when full).
    let at = Math.min(bestRows.length, k - 1);
    while (at > 0 && bestScores[at - 1] < score) {
      bestScores[at] = bestScores[at - 1];
      bestRows[at] = bestRows[at - 1];
      at--;
    }
    bestScores[at] = score;
    bestRows[at] = row;
  }
  return bestRows;
}

/** Recall of `index` (holding exactly the corpus) for one modality. */
export async function measureRecall(
  corpus: SyntheticCorpus,
  modality: Modality,
  index: VectorIndex,
  options: { queries: number; engineDepth: number; kind: QueryKind },
): Promise<RecallResult> {
  const dim = corpus.dims[modality];
  const rows = corpus.count;
  let sum = 0;
  let sumDeep = 0;
  let worst = 1;
  let exactMs = 0;
  for (let q = 0; q < options.queries; q++) {
    const query = corpus.query(modality, options.kind);
    const t = performance.now();
    const truth = new Set(exactTopK(corpus.vectors[modality], dim, rows, query, RECALL_AT).map((row) => corpus.seqs[row]));
    exactMs += performance.now() - t;
    const hits = await index.search(query, RECALL_AT);
    const deep = (await index.search(query, Math.max(RECALL_AT, options.engineDepth))).slice(0, RECALL_AT);
    const found = hits.filter((hit) => truth.has(hit.seq)).length / RECALL_AT;
    sum += found;
    worst = Math.min(worst, found);
    sumDeep += deep.filter((hit) => truth.has(hit.seq)).length / RECALL_AT;
  }
  return {
    modality,
    queryKind: options.kind,
    queries: options.queries,
    recallAt10: round(sum / options.queries, 4),
    minRecallAt10: round(worst, 4),
    recallAt10EngineDepth: round(sumDeep / options.queries, 4),
    engineDepth: options.engineDepth,
    exactMsPerQuery: round(exactMs / options.queries, 2),
  };
}
