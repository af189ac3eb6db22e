/**
 * Where a vector query's time goes beyond hnswlib (issue 12), on a kept bench store, in one process:
 *
 * - `steps`: each step the engine takes, timed alone in a loop, beside the raw hnswlib-node search;
 * - `paired`: raw searchKnn, the engine's one-modality query, raw searchKnn on the joint index and
 *   the engine's fused (content + style) query, interleaved for the same query vectors, so load
 *   drifts hit every figure alike; the ratios are the (engine ÷ raw, fused ÷ single);
 * - `jointCurve`: per joint efSearch, the fused query's latency (paired with single again) and its
 *   recall@10 against exact brute-force weighted fusion over every stored vector, by weight ratio.
 *
 * Each latency comes as wall-clock p50 and as mean CPU time of the process per query (user +
 * system): on a machine shared with other work the CPU figure moves far less than the wall one.
 *
 *   node dist/bench/engine-profile.js --data DIR [--items 100000] [--queries 2000] [--joint-ef 64,96,128]
 *     [--recall-queries 200] [--item-cache-vectors true|false] [--queries-from synthetic|store] [--out FILE.json]
 *
 * DIR is a kept bench store (`npm run bench -- --keep`: its scale/ folder), or an empty folder
 * that is first filled with --items synthetic items (the mini pack's dimensions, 256 + 128), or
 * any store, e.g. the demo index a pack built. Queries are drawn from the synthetic generator, or
 * (`--queries-from store`, for a store of real vectors) as one stored item's content with another's
 * style, seeded: the "this content in that style" query of the product, on the pack's own vectors.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import hnswlib from 'hnswlib-node';
import { loadConfig } from '../src/config.js';
import { fingerprintOf } from '../src/search/cursor.js';
import { SearchEngine } from '../src/search/engine.js';
import { parseSearchOptions } from '../src/search/query.js';
import { openEmbeddedStore } from '../src/store/embedded.js';
import type { HnswIndex } from '../src/store/hnsw-index.js';
import type { Encoders } from '../src/encoders/types.js';
import { RECALL_WEIGHTS } from './fusion.js';
import { round, summarize, type LatencySummary } from './stats.js';
import { Rng } from './rng.js';
import { DEFAULT_GENERATOR, SyntheticCorpus } from './synthetic.js';
import { jointArray, plainArray } from './raw-query.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    items: { type: 'string', default: '100000' },
    queries: { type: 'string', default: '2000' },
    k: { type: 'string', default: '24' },
    'joint-ef': { type: 'string' },
    'recall-queries': { type: 'string', default: '200' },
    'item-cache-vectors': { type: 'string', default: 'true' },
    'queries-from': { type: 'string', default: 'synthetic' },
    out: { type: 'string' },
  },
});
if (!values.data) throw new Error('--data DIR (a kept bench store, or an empty folder to fill)');
const queriesFrom = values['queries-from'];
if (queriesFrom !== 'synthetic' && queriesFrom !== 'store') throw new Error(`--queries-from is synthetic or store, got "${queriesFrom}"`);
const config = loadConfig({ dataDir: values.data });
// As src/context.ts opens it: a snapshot built with other parameters than these is rebuilt at open.
const storeOptions = {
  hnsw: config.hnsw,
  joint: config.hnsw.joint,
  jointM: config.hnsw.jointM,
  jointEfConstruction: config.hnsw.jointEfConstruction,
  jointEfSearch: config.hnsw.jointEfSearch,
};
if (!existsSync(join(values.data, 'semantic.json'))) {
  const dims = { semantic: 256, style: 128 };
  const fill = await openEmbeddedStore({ dataDir: values.data, dims, ...storeOptions });
  await new SyntheticCorpus(dims, Number(values.items)).growTo(fill, Number(values.items), {
    onProgress: (done, total) => {
      if (done % 10_000 === 0) process.stderr.write(`filled ${done}/${total}\n`);
    },
  });
  await fill.close();
}
const readMeta = async (name: string) =>
  JSON.parse(await readFile(join(values.data as string, `${name}.json`), 'utf8')) as { dim: number; file: string; M: number; efConstruction: number };
const meta = await readMeta('semantic');
const dims = { semantic: meta.dim, style: (await readMeta('style')).dim };
const store = await openEmbeddedStore({ dataDir: values.data, dims, ...storeOptions });
const itemCacheVectors = values['item-cache-vectors'] !== 'false';
const mib = (bytes: number): number => round(bytes / 2 ** 20, 1);
// With --expose-gc the memory figures leave out garbage not yet collected.
const collect = (): void => (globalThis as { gc?: () => void }).gc?.();
collect();
const memoryBefore = process.memoryUsage();
const engine = new SearchEngine({ catalog: store.catalog, indices: store.indices, encoders: {} as Encoders, options: { itemCacheVectors, itemCacheSize: config.search.itemCacheSize } });
// The item cache fills itself in the background at start; here the measurement waits for it.
const warmStarted = performance.now();
await engine.warmItemCache();
collect();
const memoryAfter = process.memoryUsage();
const itemCacheWarm = {
  seconds: round((performance.now() - warmStarted) / 1000, 2),
  vectors: itemCacheVectors,
  items: engine.itemCacheStats().size,
  rssMiB: mib(memoryAfter.rss - memoryBefore.rss),
  heapUsedMiB: mib(memoryAfter.heapUsed - memoryBefore.heapUsed),
  externalMiB: mib(memoryAfter.external - memoryBefore.external),
};
process.stderr.write(`item cache warm: ${JSON.stringify(itemCacheWarm)}\n`);
const joint = store.indices.joint as HnswIndex | undefined;

async function openRaw(name: string, dim: number, ef: number): Promise<InstanceType<typeof hnswlib.HierarchicalNSW>> {
  const native = new hnswlib.HierarchicalNSW('cosine', dim);
  await native.readIndex(join(values.data as string, (await readMeta(name)).file), true);
  native.setEf(ef);
  return native;
}
const raw = await openRaw('semantic', dims.semantic, config.hnsw.efSearch);
const rawJoint = joint ? await openRaw('joint', dims.semantic + dims.style, config.hnsw.jointEfSearch) : undefined;

/** Every stored vector (for the exact fused ranking and, with --queries-from store, the queries). */
async function storedVectors(): Promise<{ rows: number; seqs: Int32Array; semantic: Float32Array; style: Float32Array }> {
  const count = await store.indices.semantic.size();
  const all = { rows: 0, seqs: new Int32Array(count), semantic: new Float32Array(count * dims.semantic), style: new Float32Array(count * dims.style) };
  for await (const batch of store.catalog.scan(2000)) {
    for (const item of batch) {
      all.seqs[all.rows] = item.seq;
      all.semantic.set(item.semantic, all.rows * dims.semantic);
      all.style.set(item.style, all.rows * dims.style);
      all.rows++;
    }
  }
  return all;
}
const n = Number(values.queries);
const k = Number(values.k);
const fromStore = queriesFrom === 'store' ? await storedVectors() : undefined;
const queryCount = Math.max(n, 200);
let queries: Array<{ content: Float32Array; style: Float32Array }>;
if (fromStore) {
  if (fromStore.rows < 2) throw new Error('--queries-from store needs a store of at least 2 items');
  const rng = new Rng(20261204);
  queries = Array.from({ length: queryCount }, () => {
    const i = rng.int(fromStore.rows);
    let j = rng.int(fromStore.rows - 1);
    if (j >= i) j++;
    return {
      content: fromStore.semantic.slice(i * dims.semantic, (i + 1) * dims.semantic),
      style: fromStore.style.slice(j * dims.style, (j + 1) * dims.style),
    };
  });
} else {
  const corpus = new SyntheticCorpus(dims, 1, DEFAULT_GENERATOR);
  queries = Array.from({ length: queryCount }, () => ({ content: corpus.query('semantic'), style: corpus.query('style') }));
}
const seqPages = queries.slice(0, 200).map((q) => raw.searchKnn(plainArray(q.content), k).neighbors);
const cpuMicros = (): number => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/** Mean wall and CPU microseconds of one call, over n calls after 200 unmeasured ones. */
async function step(fn: (i: number) => unknown): Promise<{ wallUs: number; cpuUs: number }> {
  for (let i = 0; i < 200; i++) await fn(i);
  const cpu = cpuMicros();
  const started = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return { wallUs: round(((performance.now() - started) / n) * 1000, 1), cpuUs: round((cpuMicros() - cpu) / n, 1) };
}

const loadStart = loadavg();
const steps = {
  rawSearchKnn: await step((i) => raw.searchKnn(plainArray(queries[i % 200].content), k)),
  indexSearch: await step((i) => store.indices.semantic.search(queries[i % 200].content, k + 1)),
  parseSearchOptions: await step(() => parseSearchOptions({ k })),
  fingerprintOf: await step((i) =>
    fingerprintOf({ kind: 'descriptors', content: queries[i % 200].content, style: null, weights: undefined, fusion: 'weighted', exclude: [] }),
  ),
  catalogWriteStamp: await step(() => store.catalog.writeStamp?.()),
  catalogGetManyBySeq: await step((i) => store.catalog.getManyBySeq(seqPages[i % 200])),
  catalogGetVectorsBySeq: await step((i) => store.catalog.getVectorsBySeq(seqPages[i % 200], 'semantic')),
  engineSingle: await step((i) => engine.searchFromDescriptors({ content: queries[i % 200].content }, { k })),
  engineFused: await step((i) => engine.searchFromDescriptors(queries[i % 200], { k })),
};

interface Paired {
  raw: LatencySummary;
  single: LatencySummary;
  rawJoint?: LatencySummary;
  fused: LatencySummary;
  cpuMeanUs: Record<string, number>;
  phasesUs: Record<'single' | 'fused', Record<string, number>>;
  engineOverRaw: number;
  fusedOverSingle: number;
  fusedOverRawJoint?: number;
  /** Share of the page items the loop found in the engine's page cache (hydration reads the rest). */
  itemCacheHitRate: number;
  /** The same ratios from mean CPU time per query (user + system): what survives a loaded machine. */
  cpuRatios: Record<string, number>;
}

/** The interleaved loop: every query runs raw, single, raw joint and fused in turn. */
async function paired(count: number, withRaw: boolean): Promise<Paired> {
  const wall = { raw: [] as number[], single: [] as number[], rawJoint: [] as number[], fused: [] as number[] };
  const cpu = { raw: 0, single: 0, rawJoint: 0, fused: 0 };
  const phases = { single: {} as Record<string, number>, fused: {} as Record<string, number> };
  const measure = async (name: keyof typeof wall, warm: boolean, fn: () => unknown): Promise<unknown> => {
    const c = cpuMicros();
    const t = performance.now();
    const result = await fn();
    if (!warm) {
      wall[name].push(performance.now() - t);
      cpu[name] += cpuMicros() - c;
    }
    return result;
  };
  const addPhases = (into: Record<string, number>, timing: Record<string, number>) => {
    for (const [key, value] of Object.entries(timing)) into[key] = (into[key] ?? 0) + value * 1000;
  };
  const warmup = 200;
  let cacheBefore = engine.itemCacheStats();
  for (let i = 0; i < warmup + count; i++) {
    if (i === warmup) cacheBefore = engine.itemCacheStats();
    const q = queries[(i + 200) % queries.length];
    const warm = i < warmup;
    if (withRaw) await measure('raw', warm, () => raw.searchKnn(plainArray(q.content), k));
    const single = (await measure('single', warm, () => engine.searchFromDescriptors({ content: q.content }, { k }))) as { timing: Record<string, number> };
    if (withRaw && rawJoint) await measure('rawJoint', warm, () => rawJoint.searchKnn(jointArray(q.content, q.style), k));
    const fused = (await measure('fused', warm, () => engine.searchFromDescriptors(q, { k }))) as { timing: Record<string, number> };
    if (!warm) {
      addPhases(phases.single, single.timing);
      addPhases(phases.fused, fused.timing);
    }
  }
  const cacheAfter = engine.itemCacheStats();
  const cacheHits = cacheAfter.hits - cacheBefore.hits;
  const perQuery = (total: number) => round(total / count, 1);
  const summaries = { raw: summarize(wall.raw), single: summarize(wall.single), rawJoint: summarize(wall.rawJoint), fused: summarize(wall.fused) };
  const result: Paired = {
    raw: summaries.raw,
    single: summaries.single,
    fused: summaries.fused,
    cpuMeanUs: Object.fromEntries(Object.entries(cpu).filter(([name]) => wall[name as keyof typeof wall].length > 0).map(([name, total]) => [name, perQuery(total)])),
    phasesUs: {
      single: Object.fromEntries(Object.entries(phases.single).map(([key, total]) => [key, perQuery(total)])),
      fused: Object.fromEntries(Object.entries(phases.fused).map(([key, total]) => [key, perQuery(total)])),
    },
    engineOverRaw: round(summaries.single.p50Ms / summaries.raw.p50Ms, 2),
    fusedOverSingle: round(summaries.fused.p50Ms / summaries.single.p50Ms, 2),
    itemCacheHitRate: round(cacheHits / Math.max(1, cacheHits + cacheAfter.misses - cacheBefore.misses), 3),
    cpuRatios: { fusedOverSingle: round(cpu.fused / Math.max(1, cpu.single), 2) },
  };
  if (withRaw) result.cpuRatios.engineOverRaw = round(cpu.single / Math.max(1, cpu.raw), 2);
  if (withRaw && rawJoint) {
    result.cpuRatios.rawJointOverRaw = round(cpu.rawJoint / Math.max(1, cpu.raw), 2);
    result.cpuRatios.fusedOverRawJoint = round(cpu.fused / Math.max(1, cpu.rawJoint), 2);
  }
  if (withRaw && rawJoint) {
    result.rawJoint = summaries.rawJoint;
    result.fusedOverRawJoint = round(summaries.fused.p50Ms / summaries.rawJoint.p50Ms, 2);
  }
  return result;
}

const main = await paired(n, true);

// Every stored vector, for the exact fused ranking (read after the timed loop unless the queries needed it).
const all = fromStore ?? (await storedVectors());
const row = all.rows;

/**
 * The exact fused top 10 (as seqs) and its 10th score at every weight ratio, from one pass over the stored
 * vectors. The 10th score lets recall count ties: a real catalogue holds near-identical drawings (one icon at
 * several sizes, a theme's light and dark variants) whose vectors tie, and which of the tied items the index
 * returns is arbitrary.
 */
function exactTop10s(content: Float32Array, style: Float32Array): Array<{ seqs: Set<number>; tenth: number }> {
  const best = RECALL_WEIGHTS.map(() => [] as Array<{ seq: number; score: number }>);
  for (let r = 0; r < row; r++) {
    let a = 0;
    for (let i = 0, o = r * dims.semantic; i < dims.semantic; i++) a += all.semantic[o + i] * content[i];
    let b = 0;
    for (let i = 0, o = r * dims.style; i < dims.style; i++) b += all.style[o + i] * style[i];
    RECALL_WEIGHTS.forEach(([wc, ws], w) => {
      const list = best[w];
      const score = (wc * a + ws * b) / (wc + ws);
      if (list.length === 10 && score <= list[9].score) return;
      if (list.length === 10) list.pop();
      let at = list.length;
      while (at > 0 && list[at - 1].score < score) at--;
      list.splice(at, 0, { seq: all.seqs[r], score });
    });
  }
  return best.map((list) => ({ seqs: new Set(list.map((b) => b.seq)), tenth: list[list.length - 1]?.score ?? -Infinity }));
}

const rowOfSeq = new Map<number, number>();
for (let r = 0; r < row; r++) rowOfSeq.set(all.seqs[r], r);
/** A stored item's exact fused score for a query at content:style weights. */
function exactScore(seq: number, content: Float32Array, style: Float32Array, [wc, ws]: readonly [number, number]): number {
  const r = rowOfSeq.get(seq);
  if (r === undefined) return -Infinity;
  let a = 0;
  for (let i = 0, o = r * dims.semantic; i < dims.semantic; i++) a += all.semantic[o + i] * content[i];
  let b = 0;
  for (let i = 0, o = r * dims.style; i < dims.style; i++) b += all.style[o + i] * style[i];
  return (wc * a + ws * b) / (wc + ws);
}
/** Float32 vectors summed in float64: equal items score equal to well within this. */
const TIE_TOLERANCE = 1e-6;

const recallQueries = Math.min(Number(values['recall-queries']), queries.length);
const perQuery = queries.slice(0, recallQueries).map((q) => exactTop10s(q.content, q.style));
const truths = RECALL_WEIGHTS.map((weights, w) => ({ weights, sets: perQuery.map((sets) => sets[w]) }));

interface FusedRecall {
  byWeights: Record<string, number>;
  equalMin: number;
  /** The same, an engine result tied with the exact 10th (within TIE_TOLERANCE) counting as a hit. */
  byWeightsTies: Record<string, number>;
  equalMinTies: number;
}

async function fusedRecall(): Promise<FusedRecall> {
  const byWeights: Record<string, number> = {};
  const byWeightsTies: Record<string, number> = {};
  let equalMin = 1;
  let equalMinTies = 1;
  for (const { weights, sets } of truths) {
    let sum = 0;
    let sumTies = 0;
    for (let i = 0; i < recallQueries; i++) {
      const response = await engine.searchFromDescriptors(queries[i], { k: 10, weights: { content: weights[0], style: weights[1], text: 0 } });
      const { seqs, tenth } = sets[i];
      const recall = response.results.filter((r) => seqs.has(r.seq)).length / seqs.size;
      const hitsTies = response.results.filter(
        (r) => seqs.has(r.seq) || exactScore(r.seq, queries[i].content, queries[i].style, weights) >= tenth - TIE_TOLERANCE,
      ).length;
      const recallTies = Math.min(hitsTies, seqs.size) / seqs.size;
      sum += recall;
      sumTies += recallTies;
      if (weights[0] === weights[1]) {
        equalMin = Math.min(equalMin, recall);
        equalMinTies = Math.min(equalMinTies, recallTies);
      }
    }
    byWeights[`${weights[0]}:${weights[1]}`] = round(sum / Math.max(1, recallQueries), 4);
    byWeightsTies[`${weights[0]}:${weights[1]}`] = round(sumTies / Math.max(1, recallQueries), 4);
  }
  return { byWeights, equalMin, byWeightsTies, equalMinTies };
}

const jointCurve = [];
const efs = values['joint-ef'] ? values['joint-ef'].split(',').map(Number) : [config.hnsw.jointEfSearch];
for (const ef of joint ? efs : []) {
  joint?.setEfSearch(ef);
  const recall = await fusedRecall();
  const latency = await paired(Math.min(n, 1000), false);
  jointCurve.push({
    jointEfSearch: ef,
    fusedRecallAt10: recall.byWeights['1:1'],
    fusedMinRecallAt10: round(recall.equalMin, 2),
    fusedRecallAt10ByWeights: recall.byWeights,
    fusedRecallAt10Ties: recall.byWeightsTies['1:1'],
    fusedMinRecallAt10Ties: round(recall.equalMinTies, 2),
    fusedRecallAt10ByWeightsTies: recall.byWeightsTies,
    single: latency.single,
    fused: latency.fused,
    cpuMeanUs: latency.cpuMeanUs,
    fusedOverSingle: latency.fusedOverSingle,
    cpuFusedOverSingle: latency.cpuRatios.fusedOverSingle,
    itemCacheHitRate: latency.itemCacheHitRate,
  });
  process.stderr.write(`jointEfSearch ${ef}: recall ${recall.byWeights['1:1']} (ties counted ${recall.byWeightsTies['1:1']}), fused ÷ single ${latency.fusedOverSingle} (CPU ${latency.cpuRatios.fusedOverSingle})\n`);
}

const report = {
  items: row,
  dims,
  queriesFrom,
  k,
  efSearch: config.hnsw.efSearch,
  jointEfSearch: config.hnsw.jointEfSearch,
  jointM: config.hnsw.jointM,
  /** The kept store's joint graph as built (its snapshot's parameters, whatever the config says now). */
  jointGraph: joint ? await readMeta('joint').then(({ M, efConstruction }) => ({ M, efConstruction })) : null,
  queries: n,
  recallQueries,
  stepsMicroseconds: steps,
  paired: main,
  jointCurve,
  itemCache: engine.itemCacheStats(),
  itemCacheWarm,
  loadAverage: { start: loadStart.map((x) => round(x, 2)), end: loadavg().map((x) => round(x, 2)) },
};
const text = `${JSON.stringify(report, null, 2)}\n`;
if (values.out) await writeFile(values.out, text);
process.stdout.write(text);
engine.dispose();
await store.close({ save: false });
