/**
 * The words' (lexical signal's) cost, side by side with the same text query without them:
 *
 *   npm run build && node dist/bench/words.js [--items 100000] [--data DIR] [--seconds 6] [--out DIR]
 *     [--scenarios worst,realistic] [--name FILE-STEM] [--windows 64,256]
 *
 * Two corpora, the same items and vectors, different words:
 *
 * - `worst`: the main bench's synthetic store (bench/synthetic.ts: each item titled and tagged with
 *   two of 14 words, so "dog" and "car" are each in about half of the items and every other bench
 *   word in 1/14 of them, with the same BM25 for every match of a word). Filled once; `--data DIR`
 *   keeps it for the next run (a run with the same --items reuses it).
 * - `realistic`: a copy of it (`DIR.realistic`) whose titles and tags are rewritten from a Zipf
 *   vocabulary (RealisticWords): a query noun is in 0.05–6% of the items, "a" in about 40% of titles.
 *
 * In each, on the mini pack's text tower with its cache warm, each query text is searched twice in
 * a row — with the words and with `weights.text` 0 — alternating which goes first, so both see the
 * same load. The sets of texts:
 *
 * - `typical`: the main bench's 50 warm texts (its `text:warm` scenario); `matching`: those of them
 *   that match at least one catalogue word (the others have no word to fuse);
 * - `common`: texts made of the corpus's most frequent query words;
 * - `firstAfterWrite`: a common-word query right after one item is added, when the per-word
 *   postings are read again (their cost once per change of the catalogue).
 *
 * Each pair is timed twice: wall time, and CPU time (`cpu`: process.cpuUsage around the query).
 * With other jobs keeping the cores busy, a niced query mostly waits for a core, and one that
 * needs a little more CPU waits disproportionately longer: read `cpu` ratios beside wall ones.
 *
 * `phases`: each store call the engine makes, timed inside the hybrid and the vector-only query
 * (where the difference goes), and how many pool rounds (index searches) a query took.
 * `pageRecall`: how much of the exact weighted-fusion top k (content cosine and the words' score
 * computed for every item) the engine's first page holds, for the typical texts that match a
 * word — what the engine's fixed window of candidates gives up (SearchEngineOptions.wordsWindow,
 * and the index's depth in it, wordsVectorDepth); `commonPageRecall` the same for the common texts.
 * `windows` (with `--windows`): the matching and common texts' CPU ratios and the page recall again
 * on engines with other words windows, over the same store: the trade-off between cost and recall.
 *
 * Writes `<out>/<date>-<name>.json` (default name `words-<items>`) with os.loadavg() at start and
 * end. Measures, never asserts.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, PACKAGE_ROOT } from '../src/config.js';
import Database from 'better-sqlite3';
import { openContext, type ParasolContext } from '../src/context.js';
import { DEFAULT_ENGINE_OPTIONS, SearchEngine } from '../src/search/engine.js';
import { lexicalPivot, saturate } from '../src/search/lexical.js';
import type { Catalog, Store } from '../src/store/types.js';
import { dot } from '../src/vectors.js';
import { gitFacts, machineFacts } from './machine.js';
import { ADJECTIVES, NOUNS, QueryTexts } from './queries.js';
import { Rng } from './rng.js';
import { round, summarize, type LatencySummary } from './stats.js';
import { SyntheticCorpus } from './synthetic.js';

const K = 24;
const COMMON_TEXTS = ['dog', 'car', 'dog car', 'a red dog with a car', 'blue car', 'dog in a house', 'car and a boat', 'sleepy dog'];

interface Pair {
  hybrid: LatencySummary;
  vectorOnly: LatencySummary;
  /** hybrid p50 ÷ vector-only p50: the issue's target is ≤ 1.3 for `typical`. */
  p50Ratio: number;
  p99Ratio: number;
  /**
   * The same queries' CPU time (process.cpuUsage, user + system, all threads) rather than wall
   * time: on a machine whose cores other jobs keep busy, a niced query's wall time is mostly
   * waiting for a core, which a query that needs a little more CPU pays more than in proportion.
   */
  cpu: { hybrid: LatencySummary; vectorOnly: LatencySummary; p50Ratio: number; meanRatio: number };
  /** Each text's own CPU p50s and their ratio (a set's p50 mixes texts of different cost). */
  byText: Record<string, { hybridCpuP50Ms: number; vectorOnlyCpuP50Ms: number; cpuP50Ratio: number }>;
}

const log = (message: string) => process.stderr.write(`[words] ${message}\n`);

async function paired(engine: SearchEngine, texts: string[], seconds: number): Promise<Pair> {
  const hybrid: number[] = [];
  const vectorOnly: number[] = [];
  const cpu = { hybrid: [] as number[], vectorOnly: [] as number[] };
  const perText = new Map<string, { hybrid: number[]; vectorOnly: number[] }>(texts.map((q) => [q, { hybrid: [], vectorOnly: [] }]));
  const timed = async (q: string, words: boolean, into: number[]) => {
    const cpuStarted = process.cpuUsage();
    const started = performance.now();
    await engine.search({ q, k: K, ...(words ? {} : { weights: { text: 0 } }) });
    into.push(performance.now() - started);
    const used = process.cpuUsage(cpuStarted);
    const ms = (used.user + used.system) / 1000;
    cpu[words ? 'hybrid' : 'vectorOnly'].push(ms);
    perText.get(q)?.[words ? 'hybrid' : 'vectorOnly'].push(ms);
  };
  // Warm both: the encoders' cache and the words' postings.
  for (const q of texts) {
    await engine.search({ q, k: K });
    await engine.search({ q, k: K, weights: { text: 0 } });
  }
  const deadline = performance.now() + seconds * 1000;
  for (let i = 0; performance.now() < deadline || i < texts.length; i++) {
    const q = texts[i % texts.length];
    if (i % 2 === 0) {
      await timed(q, true, hybrid);
      await timed(q, false, vectorOnly);
    } else {
      await timed(q, false, vectorOnly);
      await timed(q, true, hybrid);
    }
  }
  const a = summarize(hybrid);
  const b = summarize(vectorOnly);
  const ca = summarize(cpu.hybrid);
  const cb = summarize(cpu.vectorOnly);
  return {
    hybrid: a,
    vectorOnly: b,
    p50Ratio: round(a.p50Ms / b.p50Ms, 2),
    p99Ratio: round(a.p99Ms / b.p99Ms, 2),
    cpu: { hybrid: ca, vectorOnly: cb, p50Ratio: round(ca.p50Ms / cb.p50Ms, 2), meanRatio: round(ca.meanMs / cb.meanMs, 2) },
    byText: Object.fromEntries(
      [...perText].map(([q, times]) => {
        const h = summarize(times.hybrid).p50Ms;
        const v = summarize(times.vectorOnly).p50Ms;
        return [q, { hybridCpuP50Ms: h, vectorOnlyCpuP50Ms: v, cpuP50Ratio: round(h / v, 2) }];
      }),
    ),
  };
}

/** Where a hybrid query's time goes: each store call the engine makes, timed per query (mean ms), and the pool's rounds. */
interface Phases {
  queries: number;
  meanTotalMs: number;
  /** Mean ms per query spent in each store call, and how many calls per query. */
  calls: Record<string, { meanMs: number; perQuery: number }>;
  /** The engine's own breakdown (SearchTiming), mean ms. */
  engine: { encodeMs: number; retrieveMs: number; fuseMs: number; hydrateMs: number };
  /** How many vector-index searches (pool rounds) a query took: count of queries per number of rounds. */
  rounds: Record<string, number>;
  /** The vector-index depths asked for, summed over all queries: count per depth. */
  depths: Record<string, number>;
}

/**
 * Wraps the store calls the engine makes with timers (the methods are replaced on the instances,
 * for this section only, and put back after), then runs the hybrid query over the texts.
 */
async function phases(engine: SearchEngine, store: Store, texts: string[], seconds: number, words: boolean): Promise<Phases> {
  const spent = new Map<string, { ms: number; calls: number }>();
  let searchesThisQuery = 0;
  const depths: Record<string, number> = {};
  const restore: Array<() => void> = [];
  const wrap = <T extends object>(target: T, name: string, label: string, onCall?: (args: unknown[]) => void) => {
    const own = Object.prototype.hasOwnProperty.call(target, name);
    const original = (target as Record<string, unknown>)[name] as (...args: unknown[]) => unknown;
    const record = (started: number) => {
      const entry = spent.get(label) ?? { ms: 0, calls: 0 };
      entry.ms += performance.now() - started;
      entry.calls++;
      spent.set(label, entry);
    };
    // A synchronous method stays synchronous (writeStamp: the caches compare its value, and a
    // promise in its place would empty them on every query).
    (target as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
      onCall?.(args);
      const started = performance.now();
      const result = original.apply(this, args);
      if (result instanceof Promise) return result.finally(() => record(started));
      record(started);
      return result;
    };
    restore.push(() => {
      if (own) (target as Record<string, unknown>)[name] = original;
      else delete (target as Record<string, unknown>)[name];
    });
  };
  const { catalog, indices } = store;
  for (const name of ['lexicalSearch', 'lexicalScores', 'getVectorsBySeq', 'getManyBySeq', 'version', 'hasText', 'writeStamp'] as const) {
    if (typeof (catalog as unknown as Record<string, unknown>)[name] === 'function') wrap(catalog, name, `catalog.${name}`);
  }
  for (const [label, index] of Object.entries(indices)) {
    if (!index) continue;
    wrap(index as object, 'search', `index.${label}.search`, (args) => {
      searchesThisQuery++;
      const depth = String(args[1]);
      depths[depth] = (depths[depth] ?? 0) + 1;
    });
  }
  const rounds: Record<string, number> = {};
  const totals: number[] = [];
  const engineTimes = { encodeMs: 0, retrieveMs: 0, fuseMs: 0, hydrateMs: 0 };
  try {
    const deadline = performance.now() + seconds * 1000;
    for (let i = 0; performance.now() < deadline || i < texts.length; i++) {
      searchesThisQuery = 0;
      const started = performance.now();
      const response = await engine.search({ q: texts[i % texts.length], k: K, ...(words ? {} : { weights: { text: 0 } }) });
      totals.push(performance.now() - started);
      for (const key of Object.keys(engineTimes) as Array<keyof typeof engineTimes>) engineTimes[key] += response.timing[key];
      rounds[String(searchesThisQuery)] = (rounds[String(searchesThisQuery)] ?? 0) + 1;
    }
  } finally {
    for (const undo of restore.reverse()) undo();
  }
  const n = totals.length;
  const calls: Phases['calls'] = {};
  for (const [label, entry] of [...spent].sort((a, b) => b[1].ms - a[1].ms)) calls[label] = { meanMs: round(entry.ms / n), perQuery: round(entry.calls / n, 2) };
  const engineMeans = Object.fromEntries(Object.entries(engineTimes).map(([key, ms]) => [key, round(ms / n)])) as Phases['engine'];
  return { queries: n, meanTotalMs: round(totals.reduce((a, b) => a + b, 0) / n), calls, engine: engineMeans, rounds, depths };
}

/** The exact weighted-fusion top k (content cosine and the words' score, computed for every item) of each text that matches a word. */
async function exactTopK(engine: SearchEngine, catalog: Catalog, texts: string[]): Promise<Map<string, Set<number>>> {
  const items: Array<{ seq: number; vector: Float32Array }> = [];
  for await (const batch of catalog.scan(5000)) for (const item of batch) items.push({ seq: item.seq, vector: item.semantic });
  const truth = new Map<string, Set<number>>();
  for (const q of texts) {
    const hits = await catalog.lexicalSearch(q, { limit: 400 });
    if (hits.length === 0) continue;
    const pivot = lexicalPivot(hits);
    // Every match with its BM25 (the same doubles lexicalScores gives), in one pass over the postings.
    const matches = await catalog.lexicalSearch(q, { limit: items.length });
    const words = new Map(matches.map((hit) => [hit.seq, hit]));
    const content = await engine.descriptorFor({ text: q }, 'content');
    const exact = items
      .map((item) => ({ seq: item.seq, score: (dot(content, item.vector) + saturate(words.get(item.seq)?.score ?? 0, pivot)) / 2 }))
      .sort((a, b) => b.score - a.score || a.seq - b.seq);
    truth.set(q, new Set(exact.slice(0, K).map((hit) => hit.seq)));
  }
  return truth;
}

/** Mean share of the exact top k on the engine's first page, over the texts that match a word. */
async function pageRecall(engine: SearchEngine, truth: Map<string, Set<number>>): Promise<{ texts: number; recallAtK: number; min: number }> {
  const recalls: number[] = [];
  for (const [q, exact] of truth) {
    const page = await engine.search({ q, k: K });
    recalls.push(page.results.filter((r) => exact.has(r.seq)).length / K);
  }
  return { texts: recalls.length, recallAtK: round(recalls.reduce((a, b) => a + b, 0) / Math.max(1, recalls.length)), min: round(Math.min(...recalls)) };
}

/** The engine with another words window (SearchEngineOptions.wordsWindow) over the same store and encoders. */
function withWindow(context: ParasolContext, wordsWindow: number): SearchEngine {
  return new SearchEngine({ catalog: context.store.catalog, indices: context.store.indices, encoders: context.encoders, options: { wordsWindow } });
}

/** One words window's trade-off: the matching texts' cost beside the vector-only query, and the page recall. */
interface WindowReport {
  wordsWindow: number;
  matching: Pair;
  common: Pair;
  pageRecall: { texts: number; recallAtK: number; min: number };
}

/**
 * The realistic vocabulary: words drawn from a Zipf law (s = 1) over a vocabulary of 5000 filler
 * words, the query texts' adjectives and nouns, and the function words of English titles. The
 * function words take the top ranks (in titles only: "a cat with a hat"); the query words are
 * spread log-uniformly over ranks 10–2000, so each is in about 0.05–6% of the items, as a
 * concrete noun is in a stock catalogue; the rest are filler words nobody searches for.
 */
class RealisticWords {
  private readonly titleWords: string[];
  private readonly titleCdf: Float64Array;
  private readonly tagWords: string[];
  private readonly tagCdf: Float64Array;
  /** The query words, most frequent first. */
  readonly byFrequency: string[];

  constructor(seed = 11) {
    const rng = new Rng(seed);
    const queryWords = [...new Set([...ADJECTIVES, ...NOUNS])].sort(() => rng.next() - 0.5);
    const FILLER = 5000;
    const ranked: string[] = Array.from({ length: FILLER }, (_, i) => `w${i}`);
    // Log-uniform ranks in [10, 2000] for the query words (a later one may push an earlier one down one place).
    const placed = queryWords.map((word) => ({ word, rank: Math.round(10 * 200 ** rng.next()) })).sort((a, b) => a.rank - b.rank);
    for (const { word, rank } of placed) ranked.splice(rank, 0, word);
    this.byFrequency = ranked.filter((word) => !/^w\d+$/.test(word));
    this.tagWords = ranked;
    this.tagCdf = zipfCdf(ranked.length);
    this.titleWords = [...FUNCTION_WORDS, ...ranked];
    this.titleCdf = zipfCdf(this.titleWords.length);
  }

  /** Row r's title (4–6 words) and tags (3 distinct words): the same on every run. */
  of(row: number): { title: string; tags: string[] } {
    const rng = new Rng(0x9e3779b1 ^ row);
    const title = Array.from({ length: 4 + rng.int(3) }, () => this.titleWords[draw(this.titleCdf, rng)]).join(' ');
    const tags = new Set<string>();
    while (tags.size < 3) tags.add(this.tagWords[draw(this.tagCdf, rng)]);
    return { title, tags: [...tags] };
  }
}

const FUNCTION_WORDS = ['a', 'with', 'and', 'the', 'on', 'in', 'of', 'under', 'next', 'to', 'holding'];

function zipfCdf(n: number): Float64Array {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let r = 0; r < n; r++) cdf[r] = sum += 1 / (r + 1);
  for (let r = 0; r < n; r++) cdf[r] /= sum;
  return cdf;
}

function draw(cdf: Float64Array, rng: Rng): number {
  const u = rng.next();
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The realistic store: a copy of the worst-case store (the same vectors, graphs and items) whose
 * titles and tags are rewritten in the realistic vocabulary, through the catalog's own triggers
 * (its full-text rows are replaced in the same statement). So the two scenarios differ only in
 * their words.
 */
async function realisticCopy(from: string, to: string, vocabulary: RealisticWords): Promise<void> {
  const partial = `${to}.partial`;
  await rm(partial, { recursive: true, force: true });
  await cp(from, partial, { recursive: true });
  const db = new Database(join(partial, 'catalog.sqlite'));
  try {
    const update = db.prepare('UPDATE items SET title = ?, tags = ? WHERE seq = ?');
    const seqs = db.prepare('SELECT seq FROM items WHERE deleted = 0 ORDER BY seq').pluck().all() as number[];
    db.transaction(() => {
      seqs.forEach((seq, row) => {
        const words = vocabulary.of(row);
        update.run(words.title, JSON.stringify(words.tags), seq);
      });
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  await rename(partial, to);
}

interface ScenarioReport {
  /** Texts of the typical set that match at least one catalogue word (the rest fuse nothing: no word to score). */
  typicalMatching: { texts: number; share: number };
  typical: Pair & { texts: number };
  /** The typical texts that match a word, alone: what the words cost where they take part. */
  matching: Pair & { texts: number };
  common: Pair & { texts: string[] };
  firstAfterWrite: LatencySummary;
  phases: { typicalHybrid: Phases; typicalVectorOnly: Phases; matchingHybrid: Phases | null };
  pageRecall: { texts: number; recallAtK: number; min: number };
  /** The same for the common texts (their words' lists cut inside BM25 ties; see SearchEngineOptions.wordsTieLimit). */
  commonPageRecall: { texts: number; recallAtK: number; min: number };
  /** The same measures at other words windows (--windows), each on its own engine over the same store. */
  windows: WindowReport[];
  /** How many items the common texts' words are in (share of all items), the most frequent first. */
  wordShares: Record<string, number>;
}

async function measure(
  context: ParasolContext,
  items: number,
  seconds: number,
  commonTexts: string[],
  typicalTexts: string[],
  label: string,
  windows: number[],
): Promise<ScenarioReport> {
  const { engine } = context;
  const catalog = context.store.catalog;
  const say = (message: string) => log(`${label}: ${message}`);
  const matchingTexts: string[] = [];
  for (const q of typicalTexts) if ((await catalog.lexicalSearch(q, { limit: 1 })).length > 0) matchingTexts.push(q);
  const wordShares: Record<string, number> = {};
  for (const word of [...new Set(commonTexts.flatMap((text) => text.split(' ')))]) {
    wordShares[word] = round((await catalog.lexicalSearch(word, { limit: items })).length / items, 4);
  }
  say(`${matchingTexts.length} of ${typicalTexts.length} typical texts match a word; common words' shares ${JSON.stringify(wordShares)}`);
  const typical = await paired(engine, typicalTexts, seconds);
  say(`typical: hybrid p50 ${typical.hybrid.p50Ms} ms, vector-only ${typical.vectorOnly.p50Ms} ms (×${typical.p50Ratio}); p99 ${typical.hybrid.p99Ms} vs ${typical.vectorOnly.p99Ms} ms; CPU p50 ×${typical.cpu.p50Ratio}, mean ×${typical.cpu.meanRatio}`);
  const matching = matchingTexts.length > 0 ? await paired(engine, matchingTexts, seconds / 2) : null;
  if (matching) say(`matching: hybrid p50 ${matching.hybrid.p50Ms} ms, vector-only ${matching.vectorOnly.p50Ms} ms (×${matching.p50Ratio}); CPU p50 ×${matching.cpu.p50Ratio}, mean ×${matching.cpu.meanRatio}`);
  const common = await paired(engine, commonTexts, seconds / 2);
  say(`common: hybrid p50 ${common.hybrid.p50Ms} ms, vector-only ${common.vectorOnly.p50Ms} ms (×${common.p50Ratio}); p99 ${common.hybrid.p99Ms} vs ${common.vectorOnly.p99Ms} ms; CPU p50 ×${common.cpu.p50Ratio}, mean ×${common.cpu.meanRatio}`);
  say(`common, each text (CPU p50 ratio): ${Object.entries(common.byText).map(([q, t]) => `"${q}" ×${t.cpuP50Ratio}`).join(", ")}`);

  // Before the write below, which makes every word's postings be read again.
  say('phases: where a query spends its time (store calls timed)');
  const phasesHybrid = await phases(engine, context.store, typicalTexts, seconds / 2, true);
  const phasesVectorOnly = await phases(engine, context.store, typicalTexts, seconds / 2, false);
  const phasesMatching = matchingTexts.length > 0 ? await phases(engine, context.store, matchingTexts, seconds / 2, true) : null;
  say(`phases (typical, hybrid): ${JSON.stringify(phasesHybrid)}`);
  say(`phases (typical, vector-only): ${JSON.stringify(phasesVectorOnly)}`);
  if (phasesMatching) say(`phases (matching, hybrid): ${JSON.stringify(phasesMatching)}`);

  // One item added, then one common-word query: the postings are read again.
  const afterWrite: number[] = [];
  const dims = { semantic: context.encoders.semanticDim, style: context.encoders.styleDim };
  const unit = (n: number, seed: number) => {
    const v = Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 131 + i * 17));
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  };
  const runId = Date.now();
  for (let i = 0; i < 8; i++) {
    const contentHash = createHash('sha256').update(`words-bench-${runId}-${i}`).digest('hex');
    await catalog.addBatch([
      { contentHash, source: 'words-bench', title: `written ${commonTexts[0]} ${i}`, tags: ['car'], width: 8, height: 8, semantic: unit(dims.semantic, i), style: unit(dims.style, i) },
    ]);
    await context.store.sync();
    const started = performance.now();
    await engine.search({ q: commonTexts[i % commonTexts.length], k: K });
    afterWrite.push(performance.now() - started);
    await catalog.delete(contentHash.slice(0, 16));
    await context.store.sync();
  }
  const firstAfterWrite = summarize(afterWrite);
  say(`first common-word query after a write: p50 ${firstAfterWrite.p50Ms} ms, max ${firstAfterWrite.maxMs} ms`);

  say('page recall against the exact fusion');
  const truth = await exactTopK(engine, catalog, typicalTexts);
  const recall = await pageRecall(engine, truth);
  say(`page recall@${K}: ${recall.recallAtK} (min ${recall.min}) over ${recall.texts} texts with a matching word`);
  const commonRecall = await pageRecall(engine, await exactTopK(engine, catalog, commonTexts));
  say(`common texts' page recall@${K}: ${commonRecall.recallAtK} (min ${commonRecall.min})`);
  const windowReports: WindowReport[] = [];
  for (const wordsWindow of windows) {
    const other = withWindow(context, wordsWindow);
    const report: WindowReport = {
      wordsWindow,
      matching: await paired(other, matchingTexts.length > 0 ? matchingTexts : commonTexts, seconds / 2),
      common: await paired(other, commonTexts, seconds / 2),
      pageRecall: await pageRecall(other, truth),
    };
    say(`words window ${wordsWindow}: matching CPU p50 ×${report.matching.cpu.p50Ratio}, common ×${report.common.cpu.p50Ratio}, page recall ${report.pageRecall.recallAtK} (min ${report.pageRecall.min})`);
    windowReports.push(report);
  }
  const none = {
    hybrid: summarize([]),
    vectorOnly: summarize([]),
    p50Ratio: Number.NaN,
    p99Ratio: Number.NaN,
    cpu: { hybrid: summarize([]), vectorOnly: summarize([]), p50Ratio: Number.NaN, meanRatio: Number.NaN },
    byText: {},
  };
  return {
    typicalMatching: { texts: matchingTexts.length, share: round(matchingTexts.length / typicalTexts.length, 2) },
    typical: { texts: typicalTexts.length, ...typical },
    matching: { texts: matchingTexts.length, ...(matching ?? none) },
    common: { texts: commonTexts, ...common },
    firstAfterWrite,
    phases: { typicalHybrid: phasesHybrid, typicalVectorOnly: phasesVectorOnly, matchingHybrid: phasesMatching },
    pageRecall: recall,
    commonPageRecall: commonRecall,
    windows: windowReports,
    wordShares,
  };
}

async function withContext<T>(dataDir: string, use: (context: ParasolContext) => Promise<T>): Promise<T> {
  const context = await openContext(loadConfig({ dataDir, packDir: join(PACKAGE_ROOT, 'models', 'mini') }));
  try {
    return await use(context);
  } finally {
    await context.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      items: { type: 'string', default: '100000' },
      data: { type: 'string' },
      seconds: { type: 'string', default: '6' },
      out: { type: 'string' },
      scenarios: { type: 'string', default: 'worst,realistic' },
      name: { type: 'string' },
      windows: { type: 'string', default: '' },
    },
    strict: true,
  });
  const items = Number(values.items);
  const seconds = Number(values.seconds);
  if (!Number.isInteger(items) || items < 1000) throw new Error(`--items must be an integer ≥ 1000, got "${values.items}"`);
  if (!(seconds > 0)) throw new Error(`--seconds must be positive, got "${values.seconds}"`);
  const scenarios = values.scenarios.split(',').map((name) => name.trim());
  const windows = values.windows === '' ? [] : values.windows.split(',').map(Number);
  for (const w of windows) if (!Number.isInteger(w) || w < 1) throw new Error(`--windows takes positive integers, got "${values.windows}"`);
  for (const name of scenarios) if (name !== 'worst' && name !== 'realistic') throw new Error(`--scenarios takes worst and realistic, got "${name}"`);
  const dataDir = values.data ? resolve(values.data) : await mkdtemp(join(os.tmpdir(), 'parasol-words-'));
  const realisticDir = `${dataDir}.realistic`;
  const machine = machineFacts();
  const git = gitFacts(PACKAGE_ROOT);
  const vocabulary = new RealisticWords();
  const typicalTexts = new QueryTexts().content(50);
  const reports: Partial<Record<'worst' | 'realistic', ScenarioReport>> = {};
  let pack = '';
  try {
    await withContext(dataDir, async (context) => {
      pack = context.encoders.packName;
      const held = (await context.store.catalog.stats()).items;
      if (held === 0) {
        log(`filling ${items} synthetic items into ${dataDir}`);
        const corpus = new SyntheticCorpus({ semantic: context.encoders.semanticDim, style: context.encoders.styleDim }, items);
        await corpus.growTo(context.store, items, { batchSize: 1000, onProgress: (done) => done % 20_000 === 0 && log(`${done} items`) });
      } else if (held < items) {
        throw new Error(`${dataDir} holds ${held} items, fewer than --items ${items}: give a new --data dir`);
      }
      if (scenarios.includes('worst')) reports.worst = await measure(context, items, seconds, COMMON_TEXTS, typicalTexts, 'worst', windows);
    });
    if (scenarios.includes('realistic')) {
      if (!existsSync(realisticDir)) {
        log(`copying the store to ${realisticDir} and rewriting its words in the realistic vocabulary`);
        await realisticCopy(dataDir, realisticDir, vocabulary);
      }
      const [first, second, third] = vocabulary.byFrequency;
      const common = [first, `a ${first}`, `${first} ${second}`, `a ${second} with a ${third}`, second, `${third} and ${first}`];
      reports.realistic = await withContext(realisticDir, (context) => measure(context, items, seconds, common, typicalTexts, 'realistic', windows));
    }

    const report = {
      kind: 'words',
      createdAt: new Date().toISOString(),
      command: `node dist/bench/words.js --items ${items}${values.data ? ` --data ${values.data}` : ''} --seconds ${seconds} --scenarios ${scenarios.join(',')}${windows.length > 0 ? ` --windows ${windows.join(',')}` : ''}`,
      machine: { ...machine, loadAverageEnd: os.loadavg().map((x) => round(x, 2)) },
      git,
      items,
      k: K,
      pack,
      corpora: {
        worst: 'the main bench\'s synthetic words: each item titled and tagged with 2 of 14 words ("dog" and "car" in about half of the items each, the others in 1/14)',
        realistic: 'the same store with its titles (4-6 words) and tags (3) drawn from a Zipf law over 5000 filler words, the query texts\' adjectives and nouns (each in about 0.05-6% of the items) and title function words (a, with, and, ...)',
      },
      typicalTexts: typicalTexts.length,
      wordsWindow: DEFAULT_ENGINE_OPTIONS.wordsWindow,
      // The engine's default; the context's engine takes hnsw.efSearch (128 unless configured).
      wordsVectorDepth: DEFAULT_ENGINE_OPTIONS.wordsVectorDepth,
      ...reports,
    };
    const out = resolve(values.out ?? join(PACKAGE_ROOT, 'bench', 'results'));
    await mkdir(out, { recursive: true });
    const size = items >= 1000 ? `${items / 1000}k` : String(items);
    const file = join(out, `${report.createdAt.slice(0, 10)}-${values.name ?? `words-${size}`}.json`);
    await writeFile(file, `${JSON.stringify(report, null, 1)}\n`);
    log(`wrote ${file}; load ${machine.loadAverageStart.join(' ')} → ${report.machine.loadAverageEnd.join(' ')}`);
  } finally {
    if (!values.data) {
      await rm(dataDir, { recursive: true, force: true });
      await rm(realisticDir, { recursive: true, force: true });
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
