/**
 * Fused queries against one-modality queries, and the engine against raw hnswlib-node, side by
 * side in one loop (issue 12). For the same query vectors, interleaved so that load drifts hit
 * every figure alike:
 *
 * - raw: hnswlib-node's searchKnn for the page (k) on the content index's own snapshot, opened
 *   apart with the same efSearch: the floor any engine on that index pays;
 * - single: `searchFromDescriptors({content})`: the engine's whole one-modality query;
 * - rawJoint: searchKnn on the joint index's snapshot (when the store keeps one): the fused floor;
 * - fused: `searchFromDescriptors({content, style})`, equal weights;
 *
 * then the fused top 10's recall against an exact brute-force weighted fusion over every stored
 * vector, at several weight ratios.
 */
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import hnswlib from 'hnswlib-node';
import type { SearchEngine, SearchResponse } from '../src/search/engine.js';
import type { RunBudget } from './latency.js';
import { round, summarize, type LatencySummary } from './stats.js';
import type { SyntheticCorpus } from './synthetic.js';
import { jointArray, plainArray } from './raw-query.js';

type Native = InstanceType<typeof hnswlib.HierarchicalNSW>;

export interface PhaseMeansMs {
  encodeMs: number;
  retrieveMs: number;
  fuseMs: number;
  hydrateMs: number;
}

export interface FusionResult {
  items: number;
  k: number;
  efSearch: number;
  /** The joint index's efSearch (rawJoint and fused use it). */
  jointEfSearch: number;
  /** 'joint': content + style through the joint index; 'pooled': both indices, pooled and rescored. */
  fusedStrategy: 'joint' | 'pooled';
  raw: LatencySummary;
  single: LatencySummary;
  /** Absent when the store keeps no joint index. */
  rawJoint?: LatencySummary;
  fused: LatencySummary;
  /** single p50 ÷ raw p50: the engine's overhead over its index, one modality (target ≤ 1.3). */
  engineOverRaw: number;
  /** fused p50 ÷ single p50 (target ≤ 2). */
  fusedOverSingle: number;
  /** fused p50 ÷ rawJoint p50: the engine's overhead over the joint index. */
  fusedOverRawJoint?: number;
  /** Means of the engine's own timing breakdown. */
  phases: { single: PhaseMeansMs; fused: PhaseMeansMs };
  /** Mean share of the exact fused top 10 (equal weights, brute force) in the engine's top 10 (target ≥ 0.98). */
  fusedRecallAt10: number;
  /** The worst single query at equal weights. */
  fusedMinRecallAt10: number;
  /** The same mean recall at other content:style weights (key "c:s"). */
  fusedRecallAt10ByWeights: Record<string, number>;
  recallQueries: number;
  /** The page item cache over the timed loop (single and fused pages): hydration reads only its misses from the catalog. */
  itemCache: { hits: number; misses: number; hitRate: number };
  /** os.loadavg() before and after the loop: the figures are only comparable at similar load. */
  loadAverage: { start: number[]; end: number[] };
}

/** Opens an index's snapshot data file with hnswlib-node directly (the raw baseline). */
async function openRaw(dataDir: string, name: string, dim: number, efSearch: number): Promise<Native | undefined> {
  const meta = await readFile(join(dataDir, `${name}.json`), 'utf8')
    .then((text) => JSON.parse(text) as { file: string })
    .catch(() => undefined);
  if (!meta) return undefined;
  const native = new hnswlib.HierarchicalNSW('cosine', dim);
  await native.readIndex(join(dataDir, meta.file), true);
  native.setEf(efSearch);
  return native;
}

/** Exact weighted fused top k over the whole corpus, as seqs. */
function exactFusedTopK(corpus: SyntheticCorpus, content: Float32Array, style: Float32Array, weights: [number, number], k: number): number[] {
  const { semantic: dc, style: ds } = corpus.dims;
  const cv = corpus.vectors.semantic;
  const sv = corpus.vectors.style;
  const [wc, ws] = weights;
  const best: Array<{ row: number; score: number }> = [];
  for (let row = 0; row < corpus.count; row++) {
    let a = 0;
    for (let i = 0, o = row * dc; i < dc; i++) a += cv[o + i] * content[i];
    let b = 0;
    for (let i = 0, o = row * ds; i < ds; i++) b += sv[o + i] * style[i];
    const score = (wc * a + ws * b) / (wc + ws);
    if (best.length === k && score <= best[k - 1].score) continue;
    if (best.length === k) best.pop();
    let at = best.length;
    while (at > 0 && best[at - 1].score < score) at--;
    best.splice(at, 0, { row, score });
  }
  return best.map((b) => corpus.seqs[b.row]);
}

function phaseMeans(responses: SearchResponse['timing'][]): PhaseMeansMs {
  const mean = (pick: (t: SearchResponse['timing']) => number) => round(responses.reduce((s, t) => s + pick(t), 0) / Math.max(1, responses.length), 4);
  return { encodeMs: mean((t) => t.encodeMs), retrieveMs: mean((t) => t.retrieveMs), fuseMs: mean((t) => t.fuseMs), hydrateMs: mean((t) => t.hydrateMs) };
}

export const RECALL_WEIGHTS: Array<[number, number]> = [[1, 1], [1, 0.5], [0.5, 1], [1, 0.25]];

export async function measureFusion(
  engine: SearchEngine,
  corpus: SyntheticCorpus,
  options: { dataDir: string; efSearch: number; jointEfSearch: number; k: number; budget: RunBudget; recallQueries: number },
): Promise<FusionResult> {
  const { k, budget } = options;
  // The engine's item cache fills itself at start; the measurement waits until it holds the store.
  await engine.warmItemCache();
  const loadStart = loadavg();
  const raw = await openRaw(options.dataDir, 'semantic', corpus.dims.semantic, options.efSearch);
  if (!raw) throw new Error(`no semantic snapshot in ${options.dataDir} (save the store first)`);
  const rawJoint = await openRaw(options.dataDir, 'joint', corpus.dims.semantic + corpus.dims.style, options.jointEfSearch);
  const count = Math.min(budget.warmup + budget.maxQueries, 2000);
  const queries = Array.from({ length: count }, () => ({ content: corpus.query('semantic'), style: corpus.query('style') }));
  const samples = { raw: [] as number[], single: [] as number[], rawJoint: [] as number[], fused: [] as number[] };
  const timings = { single: [] as SearchResponse['timing'][], fused: [] as SearchResponse['timing'][] };
  const deadline = performance.now() + budget.durationMs * 4;
  const cacheBefore = engine.itemCacheStats();
  for (let i = 0; i < budget.warmup + budget.maxQueries && performance.now() < deadline; i++) {
    const q = queries[i % queries.length];
    const warm = i < budget.warmup;
    let t = performance.now();
    raw.searchKnn(plainArray(q.content), k);
    if (!warm) samples.raw.push(performance.now() - t);
    t = performance.now();
    const single = await engine.searchFromDescriptors({ content: q.content }, { k });
    if (!warm) {
      samples.single.push(performance.now() - t);
      timings.single.push(single.timing);
    }
    if (rawJoint) {
      t = performance.now();
      rawJoint.searchKnn(jointArray(q.content, q.style), k);
      if (!warm) samples.rawJoint.push(performance.now() - t);
    }
    t = performance.now();
    const fused = await engine.searchFromDescriptors(q, { k });
    if (!warm) {
      samples.fused.push(performance.now() - t);
      timings.fused.push(fused.timing);
    }
  }
  const loadEnd = loadavg();
  const cacheAfter = engine.itemCacheStats();
  const cacheHits = cacheAfter.hits - cacheBefore.hits;
  const cacheMisses = cacheAfter.misses - cacheBefore.misses;

  const recallQueries = Math.min(options.recallQueries, queries.length);
  const byWeights: Record<string, number> = {};
  let equalMin = 1;
  for (const weights of RECALL_WEIGHTS) {
    let sum = 0;
    for (let i = 0; i < recallQueries; i++) {
      const q = queries[i];
      const truth = new Set(exactFusedTopK(corpus, q.content, q.style, weights, 10));
      const response = await engine.searchFromDescriptors(q, { k: 10, weights: { content: weights[0], style: weights[1], text: 0 } });
      const recall = response.results.filter((r) => truth.has(r.seq)).length / truth.size;
      sum += recall;
      if (weights[0] === weights[1]) equalMin = Math.min(equalMin, recall);
    }
    byWeights[`${weights[0]}:${weights[1]}`] = round(sum / Math.max(1, recallQueries), 4);
  }

  const rawSummary = summarize(samples.raw);
  const single = summarize(samples.single);
  const fused = summarize(samples.fused);
  const rawJointSummary = rawJoint ? summarize(samples.rawJoint) : undefined;
  return {
    items: corpus.count,
    k,
    efSearch: options.efSearch,
    jointEfSearch: options.jointEfSearch,
    fusedStrategy: rawJoint ? 'joint' : 'pooled',
    raw: rawSummary,
    single,
    ...(rawJointSummary ? { rawJoint: rawJointSummary } : {}),
    fused,
    engineOverRaw: round(single.p50Ms / rawSummary.p50Ms, 2),
    fusedOverSingle: round(fused.p50Ms / single.p50Ms, 2),
    ...(rawJointSummary ? { fusedOverRawJoint: round(fused.p50Ms / rawJointSummary.p50Ms, 2) } : {}),
    phases: { single: phaseMeans(timings.single), fused: phaseMeans(timings.fused) },
    fusedRecallAt10: byWeights['1:1'],
    fusedMinRecallAt10: round(equalMin, 2),
    fusedRecallAt10ByWeights: byWeights,
    recallQueries,
    itemCache: { hits: cacheHits, misses: cacheMisses, hitRate: round(cacheHits / Math.max(1, cacheHits + cacheMisses), 3) },
    loadAverage: { start: loadStart.map((x) => round(x, 2)), end: loadEnd.map((x) => round(x, 2)) },
  };
}
