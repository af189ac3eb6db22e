/**
 * Search breadth at scale: recall@10 and latency against efSearch for image-like and text-like
 * queries on the bench's synthetic corpus, the breadth `parasol tune` would choose for each, and
 * the fixed default's figures beside it (the peer, measured in the same run):
 *
 *   node dist/bench/tune-bench.js --index DIR --size 1000000 [--modalities semantic] [--queries 200]
 *        [--ladder 64,128,…] [--target 0.98] [--out FILE] [--build-only]
 *
 * The vectors are exactly those `npm run bench` adds (same generator, seed and order), but only the
 * measured modality's HNSW index is built — no catalog, no other modality — because at a million
 * items that build is most of the cost and the rest does not change the graph: same class
 * (HnswIndex), same parameters, same insertion order and level seed as the store's index. The
 * index is saved under DIR (a snapshot every 250k items, copied to DIR-<n>; a later run resumes
 * from it or, when complete, reuses it; --size n --index DIR-<n> measures a checkpoint). The measurement is the one `parasol tune` runs (src/search/tune.ts):
 *
 * - image-like: stored vectors as queries, each held out of its own answer;
 * - text-like: the bench's off-distribution queries (a centre plus large isotropic noise, like a
 *   text-tower vector against image embeddings), since synthetic items have no text tower.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, PACKAGE_ROOT } from '../src/config.js';
import { readPack } from '../src/encoders/pack.js';
import { Progress } from '../src/progress.js';
import { chooseEf, DEFAULT_LADDER, DEFAULT_TARGET, ExactMatrix, exactTopK, measureCurve, RECALL_AT, type TuneQuery } from '../src/search/tune.js';
import { HnswIndex } from '../src/store/hnsw-index.js';
import type { CurvePoint, QueryKind } from '../src/store/tuning.js';
import type { Modality } from '../src/store/types.js';
import { gitFacts, machineFacts } from './machine.js';
import { Rng } from './rng.js';
import { DEFAULT_GENERATOR, SyntheticCorpus } from './synthetic.js';

/** Snapshot (and exact-answer) checkpoints every this many items; --checkpoint changes it (tests of the merge use small ones). */
let CHECKPOINT = 250_000;
const BATCH = 1000;

interface KindResult {
  modality: Modality;
  kind: QueryKind;
  queries: number;
  curve: CurvePoint[];
  /** The fixed default breadth (config hnsw.efSearch) and its figures: the "before". */
  before: CurvePoint;
  /** The breadth tune chooses and its figures: the "after". */
  after: CurvePoint & { reached: boolean };
}

const log = (line: string): void => {
  process.stderr.write(`[tune-bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      index: { type: 'string' },
      size: { type: 'string', default: '1000000' },
      modalities: { type: 'string', default: 'semantic' },
      queries: { type: 'string', default: '200' },
      ladder: { type: 'string' },
      target: { type: 'string' },
      out: { type: 'string' },
      truths: { type: 'string' },
      checkpoint: { type: 'string' },
      'truths-only': { type: 'boolean', default: false },
      dump: { type: 'string' },
      'build-only': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.checkpoint) CHECKPOINT = Number(values.checkpoint);
  if (!(Number.isInteger(CHECKPOINT) && CHECKPOINT >= 1)) throw new Error('--checkpoint must be a positive integer');
  if (!values.index && !values['truths-only'] && !values.dump) throw new Error('--index DIR is required (where the HNSW snapshot is kept and reused)');
  if (values['truths-only'] && !values.truths) throw new Error('--truths-only needs --truths FILE');
  const size = Number(values.size.replace(/_/g, ''));
  const queries = Number(values.queries);
  const ladder = values.ladder ? values.ladder.split(',').map(Number) : [...DEFAULT_LADDER];
  const target = values.target ? Number(values.target) : DEFAULT_TARGET;
  const modalities = values.modalities.split(',') as Modality[];
  if (!Number.isInteger(size) || size < RECALL_AT + 1) throw new Error('--size must be an integer > 10');
  if (!Number.isInteger(queries) || queries < 1) throw new Error('--queries must be a positive integer');
  if (!ladder.every((ef) => Number.isInteger(ef) && ef >= 1)) throw new Error('--ladder takes positive integers');
  if (!(target > 0 && target <= 1)) throw new Error('--target must be in (0, 1]');
  if (!modalities.every((m) => m === 'semantic' || m === 'style')) throw new Error('--modalities: semantic and/or style');

  const config = loadConfig({ packDir: join(PACKAGE_ROOT, 'models', 'mini') }, {});
  const { manifest } = await readPack(config.packDir);
  const dims = { semantic: manifest.semantic.dim, style: manifest.style.dim };
  const loadAverageStart = os.loadavg();
  const started = performance.now();

  log(`generating ${size} synthetic items (${dims.semantic}-d content, ${dims.style}-d style)`);
  const corpus = new SyntheticCorpus(dims, size);
  for (let done = 0; done < size; done = Math.min(size, done + 100_000)) corpus.generateTo(Math.min(size, done + 100_000));

  if (values.dump) {
    for (const modality of modalities) await dumpForExact(corpus, modality, size, queries, values.dump);
    return;
  }
  if (values['truths-only']) {
    for (const modality of modalities) await truthsFor(corpus, modality, size, queries, values.truths as string);
    return;
  }
  const indexDir = values.index as string;
  const builds: Record<string, { seconds: number; added: number; resumedFrom: number }> = {};
  const indices: Partial<Record<Modality, HnswIndex>> = {};
  for (const modality of modalities) {
    const dir = join(indexDir, modality);
    await mkdir(dir, { recursive: true });
    const { index, snapshot } = await HnswIndex.open({ modality, dim: dims[modality], dir, ...config.hnsw, capacity: size });
    const have = snapshot.status === 'loaded' ? snapshot.count : 0;
    if (have > size) throw new Error(`${dir} holds ${have} points, more than --size ${size}`);
    log(`${modality}: snapshot ${snapshot.status}${have ? ` with ${have} points` : ''}`);
    const buildStart = performance.now();
    const progress = new Progress(`  ${modality} HNSW`, size - have, undefined, 15_000);
    for (let row = have; row < size; row += BATCH) {
      const end = Math.min(size, row + BATCH);
      const points = [];
      for (let r = row; r < end; r++) points.push({ seq: corpus.seqs[r], vector: corpus.row(modality, r) });
      await index.add(points);
      progress.tick(end - row);
      if (end % CHECKPOINT === 0 && end < size) {
        index.setVersion(end);
        await index.save();
        // A copy per checkpoint: if the full size cannot finish, the largest finished size can still be measured.
        await cp(dir, join(`${indexDir}-${end}`, modality), { recursive: true });
        log(`${modality}: checkpoint saved at ${end} (copy in ${indexDir}-${end})`);
      }
    }
    if (have < size) {
      index.setVersion(size);
      await index.save();
      log(`${modality}: ${progress.finish()}; saved`);
    }
    builds[modality] = { seconds: Math.round((performance.now() - buildStart) / 100) / 10, added: size - have, resumedFrom: have };
    indices[modality] = index;
  }
  if (values['build-only']) return;

  const results: KindResult[] = [];
  for (const modality of modalities) {
    const index = indices[modality] as HnswIndex;
    const { sets, truths } = values.truths
      ? await truthsFor(corpus, modality, size, queries, values.truths)
      : await truthsFor(corpus, modality, size, queries, undefined);
    for (const kind of ['image', 'text'] as const) {
      const kindTruths = kind === 'image' ? truths.slice(0, sets.image.length) : truths.slice(sets.image.length);
      const sweep = new Progress(`  ${modality}/${kind} ladder`, sets[kind].length * ladder.length, undefined, 15_000);
      const curve = (await measureCurve(index, sets[kind], kindTruths, ladder, { tick: (n) => sweep.tick(n) })) as CurvePoint[];
      const chosen = chooseEf(curve, target);
      const at = (ef: number) => curve.find((point) => point.ef === ef) as CurvePoint;
      const before = curve.find((point) => point.ef === config.hnsw.efSearch);
      if (!before) throw new Error(`the ladder must include the default efSearch ${config.hnsw.efSearch}`);
      results.push({ modality, kind, queries: sets[kind].length, curve, before, after: { ...at(chosen.ef), reached: chosen.reached } });
      for (const point of curve) {
        process.stdout.write(
          `${modality.padEnd(8)} ${kind.padEnd(5)} ef ${String(point.ef).padStart(4)}  recall@10 ${point.recallAt10.toFixed(4)} (min ${point.minRecallAt10.toFixed(1)})  p50 ${point.p50Ms} ms  p95 ${point.p95Ms} ms` +
            `${point.ef === chosen.ef ? '  <- tuned' : ''}${point.ef === config.hnsw.efSearch ? '  (default)' : ''}\n`,
        );
      }
    }
  }

  const report = {
    schema: 'parasol-tune-bench/1',
    createdAt: new Date().toISOString(),
    command: `node dist/bench/tune-bench.js ${process.argv.slice(2).join(' ')}`,
    machine: { ...machineFacts(), loadAverageStart, loadAverageEnd: os.loadavg() },
    git: gitFacts(PACKAGE_ROOT),
    data: {
      items: size,
      dims,
      generator: DEFAULT_GENERATOR,
      textLike: 'far queries (farQueryNoise)',
      imageLike: `stored vectors among the first ${imageRowsOf(size)} rows, each held out of its own answer`,
    },
    hnsw: { ...config.hnsw, defaultEfSearch: config.hnsw.efSearch },
    target,
    recallAt: RECALL_AT,
    ladder,
    build: builds,
    seconds: Math.round((performance.now() - started) / 1000),
    results,
  };
  if (values.out) {
    await writeFile(values.out, `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${values.out}`);
  }
  for (const r of results) {
    log(
      `${r.modality}/${r.kind}: default ef ${r.before.ef} recall ${r.before.recallAt10} (p50 ${r.before.p50Ms} ms) -> tuned ef ${r.after.ef} recall ${r.after.recallAt10} (p50 ${r.after.p50Ms} ms)${r.after.reached ? '' : ' TARGET NOT REACHED'}`,
    );
  }
}

/** Image-like queries come from the first rows only, so one sample is valid at every checkpoint size. */
function imageRowsOf(size: number): number {
  return Math.min(size, 2 * CHECKPOINT);
}

/** The sizes whose exact answers one pass computes: the checkpoints from 500k up, and the full size. */
function truthSizes(size: number): number[] {
  const sizes = new Set<number>([size]);
  for (let n = 2 * CHECKPOINT; n < size; n += CHECKPOINT) sizes.add(n);
  return [...sizes].sort((a, b) => a - b);
}

interface TruthFile {
  generator: typeof DEFAULT_GENERATOR;
  queries: number;
  imageRows: number;
  /** modality → size → kind → exact top-10 seqs per query. */
  truths: Record<string, Record<string, Record<QueryKind, number[][]>>>;
}

/**
 * The measured queries of a modality and their exact answers at `size`: read from `file` when it
 * holds them, else computed (for every checkpoint size at once: one pass over the rows, the lists
 * merged segment by segment) and written there, so a second process can do this while the index builds.
 */
async function truthsFor(
  corpus: SyntheticCorpus,
  modality: Modality,
  size: number,
  queries: number,
  file: string | undefined,
): Promise<{ sets: Record<QueryKind, TuneQuery[]>; truths: number[][] }> {
  const dim = corpus.dims[modality];
  const imageRows = imageRowsOf(size);
  const sets = querySets(corpus, modality, size, queries);
  const all = [...sets.image, ...sets.text];
  const stored: TruthFile | undefined = file && existsSync(file) ? (JSON.parse(await readFile(file, 'utf8')) as TruthFile) : undefined;
  const cached = stored && stored.queries === queries && stored.imageRows === imageRows ? stored.truths[modality]?.[String(size)] : undefined;
  if (cached) {
    log(`${modality}: exact answers at ${size} read from ${file}`);
    return { sets, truths: [...cached.image, ...cached.text] };
  }
  const sizes = truthSizes(size);
  log(`${modality}: exact top-${RECALL_AT} of ${all.length} queries over ${size} vectors (kept at ${sizes.join(', ')})`);
  const progress = new Progress(`  exact ${modality}`, size, undefined, 15_000);
  const merged: Array<Array<{ seq: number; score: number }>> = all.map(() => []);
  const bySize: Record<string, Record<QueryKind, number[][]>> = {};
  let start = 0;
  for (const end of sizes) {
    const offset = start * dim;
    const segment = new ExactMatrix(dim, end - start, { data: corpus.vectors[modality].subarray(offset), seqs: corpus.seqs.subarray(start) });
    const found = (await exactTopK(segment, all, RECALL_AT, { tick: (n) => progress.tick(n) })) as number[][];
    found.forEach((seqs, q) => {
      const scored = seqs.map((seq) => ({ seq, score: dotRow(all[q].vector, corpus, modality, seq - 1) }));
      merged[q] = [...merged[q], ...scored].sort((a, b) => b.score - a.score).slice(0, RECALL_AT);
    });
    const lists = merged.map((list) => list.map((hit) => hit.seq));
    bySize[String(end)] = { image: lists.slice(0, sets.image.length), text: lists.slice(sets.image.length) };
    start = end;
  }
  log(progress.finish());
  if (file) {
    const next: TruthFile = stored && stored.queries === queries && stored.imageRows === imageRows ? stored : { generator: DEFAULT_GENERATOR, queries, imageRows, truths: {} };
    next.truths[modality] = { ...(next.truths[modality] ?? {}), ...bySize };
    await writeFile(file, JSON.stringify(next));
    log(`${modality}: exact answers at ${sizes.join(', ')} written to ${file}`);
  }
  const at = bySize[String(size)];
  return { sets, truths: [...at.image, ...at.text] };
}

/** The measured queries of a modality: the same for every process given the same size and count. */
function querySets(corpus: SyntheticCorpus, modality: Modality, size: number, queries: number): Record<QueryKind, TuneQuery[]> {
  const rng = new Rng(DEFAULT_GENERATOR.seed ^ 0x7e5e ^ (modality === 'style' ? 1 : 0));
  const imageRows = imageRowsOf(size);
  const picked = new Set<number>();
  while (picked.size < Math.min(queries, imageRows)) picked.add(rng.int(imageRows));
  return {
    image: [...picked].map((row) => ({ vector: corpus.row(modality, row), exclude: corpus.seqs[row] })),
    text: Array.from({ length: queries }, () => ({ vector: corpus.query(modality, 'far') })),
  };
}

/**
 * Writes what the exact search needs for `exact-topk.py` (numpy: a matrix product instead of
 * scalar JavaScript, which a loaded shared machine cannot afford at a million rows): the vectors,
 * the queries, their held-out seqs (row + 1; -1 for none) and the sizes to keep answers at.
 */
async function dumpForExact(corpus: SyntheticCorpus, modality: Modality, size: number, queries: number, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const dim = corpus.dims[modality];
  const sets = querySets(corpus, modality, size, queries);
  const all = [...sets.image, ...sets.text];
  const flat = new Float32Array(all.length * dim);
  all.forEach((query, i) => flat.set(query.vector, i * dim));
  const excludes = Int32Array.from(all, (query) => query.exclude ?? -1);
  const bytes = (array: Float32Array | Int32Array) => Buffer.from(array.buffer, array.byteOffset, array.byteLength);
  await writeFile(join(dir, `${modality}.vectors.f32`), bytes(corpus.vectors[modality].subarray(0, size * dim)));
  await writeFile(join(dir, `${modality}.queries.f32`), bytes(flat));
  await writeFile(join(dir, `${modality}.exclude.i32`), bytes(excludes));
  const meta = { modality, size, dim, queries, imageRows: imageRowsOf(size), image: sets.image.length, text: sets.text.length, sizes: truthSizes(size), generator: DEFAULT_GENERATOR, recallAt: RECALL_AT };
  await writeFile(join(dir, `${modality}.meta.json`), `${JSON.stringify(meta)}\n`);
  log(`${modality}: ${size} vectors and ${all.length} queries written to ${dir} (python3 bench/exact-topk.py ${dir} ${modality} TRUTHS)`);
}

function dotRow(query: Float32Array, corpus: SyntheticCorpus, modality: Modality, row: number): number {
  const vector = corpus.row(modality, row);
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += query[i] * vector[i];
  return sum;
}

main().catch((error: unknown) => {
  process.stderr.write(`tune-bench: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
