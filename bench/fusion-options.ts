/**
 * The measurement behind the fused-query design (issue 12): raw hnswlib-node on the synthetic
 * corpus, no engine, so that only the index layouts differ.
 *
 * - separate: one cosine index per modality (what the store had);
 * - joint: one inner-product index over [content, style] (each half unit-norm, so a stored point
 *   has norm √2); a weighted query [w_c·q_c, w_s·q_s]/(w_c + w_s) scores every point with exactly
 *   the weighted fusion of its two cosines, in one graph search.
 *
 * For each: build seconds and bytes, p50/p99 latency at the page size, recall@10 against exact
 * brute force (fused at several weight ratios; one modality through the joint graph with the other
 * half of the query zero), over efSearch.
 *
 *   node dist/bench/fusion-options.js --items 100000 --queries 200 --out bench/results/fusion-options.json
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import hnswlib from 'hnswlib-node';
import { Rng } from './rng.js';
import { round, summarize, type LatencySummary } from './stats.js';
import { ClusteredSpace, DEFAULT_GENERATOR } from './synthetic.js';

type Native = InstanceType<typeof hnswlib.HierarchicalNSW>;

const M = 16;
const EF_CONSTRUCTION = 200;
const K = 24;

function build(
  space: 'cosine' | 'ip',
  dim: number,
  rows: number,
  row: (i: number) => Float32Array,
  m = M,
  efConstruction = EF_CONSTRUCTION,
): { index: Native; seconds: number; cpuSeconds: number } {
  const index = new hnswlib.HierarchicalNSW(space, dim);
  index.initIndex({ maxElements: rows, m, efConstruction, randomSeed: 100 });
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < rows; i++) index.addPoint(Array.from(row(i)), i);
  const used = process.cpuUsage(cpu);
  // CPU time survives a loaded machine better than wall time.
  return { index, seconds: round((performance.now() - started) / 1000, 1), cpuSeconds: round((used.user + used.system) / 1e6, 2) };
}

/** The k best rows by score(row), best first. */
function exactTop(rows: number, k: number, score: (row: number) => number): number[] {
  const best: Array<{ row: number; score: number }> = [];
  for (let row = 0; row < rows; row++) {
    const s = score(row);
    if (best.length === k && s <= best[k - 1].score) continue;
    if (best.length === k) best.pop();
    let at = best.length;
    while (at > 0 && best[at - 1].score < s) at--;
    best.splice(at, 0, { row, score: s });
  }
  return best.map((b) => b.row);
}

function dotAt(data: Float32Array, dim: number, row: number, q: Float32Array): number {
  let sum = 0;
  const offset = row * dim;
  for (let i = 0; i < dim; i++) sum += data[offset + i] * q[i];
  return sum;
}

function timed(runs: number, fn: (i: number) => void): LatencySummary {
  for (let i = 0; i < Math.min(50, runs); i++) fn(i); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn(i);
    samples.push(performance.now() - t);
  }
  return summarize(samples);
}

async function bytesOf(index: Native, dir: string, name: string): Promise<number> {
  const path = join(dir, name);
  await index.writeIndex(path);
  return (await stat(path)).size;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      items: { type: 'string', default: '100000' },
      queries: { type: 'string', default: '200' },
      content: { type: 'string', default: '256' },
      style: { type: 'string', default: '128' },
      ef: { type: 'string', default: '64,128,256,512' },
      /** The joint index's graph degree (the separate ones keep M 16). */
      'joint-m': { type: 'string', default: String(M) },
      /** The joint index's efConstruction (the separate ones keep 200): its build cost against its recall. */
      'joint-ef-construction': { type: 'string', default: String(EF_CONSTRUCTION) },
      /** Build only the joint index (no separate figures). */
      'joint-only': { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  const rows = Number(values.items);
  const queryCount = Number(values.queries);
  const dc = Number(values.content);
  const ds = Number(values.style);
  const efs = String(values.ef).split(',').map(Number);
  const loadStart = loadavg();

  const rng = new Rng(DEFAULT_GENERATOR.seed);
  const spaces = { content: new ClusteredSpace(dc, DEFAULT_GENERATOR, rng), style: new ClusteredSpace(ds, DEFAULT_GENERATOR, rng) };
  const content = new Float32Array(rows * dc);
  const style = new Float32Array(rows * ds);
  for (let i = 0; i < rows; i++) {
    spaces.content.sample(content.subarray(i * dc, (i + 1) * dc), rng);
    spaces.style.sample(style.subarray(i * ds, (i + 1) * ds), rng);
  }
  const joint = (i: number): Float32Array => {
    const out = new Float32Array(dc + ds);
    out.set(content.subarray(i * dc, (i + 1) * dc), 0);
    out.set(style.subarray(i * ds, (i + 1) * ds), dc);
    return out;
  };
  const queryRng = new Rng(DEFAULT_GENERATOR.seed ^ 0x5eed);
  const queries = Array.from({ length: queryCount }, () => ({ content: spaces.content.fresh(queryRng), style: spaces.style.fresh(queryRng) }));

  process.stderr.write(`building the indices over ${rows} rows…\n`);
  const jointOnly = values['joint-only'] === true;
  const jointM = Number(values['joint-m']);
  const separateContent = jointOnly ? undefined : build('cosine', dc, rows, (i) => content.subarray(i * dc, (i + 1) * dc));
  const separateStyle = jointOnly ? undefined : build('cosine', ds, rows, (i) => style.subarray(i * ds, (i + 1) * ds));
  const jointEfConstruction = Number(values['joint-ef-construction']);
  const jointIndex = build('ip', dc + ds, rows, joint, jointM, jointEfConstruction);
  const dir = await mkdtemp(join(tmpdir(), 'parasol-fusion-options-'));
  const bytes = {
    content: separateContent ? await bytesOf(separateContent.index, dir, 'content.hnsw') : null,
    style: separateStyle ? await bytesOf(separateStyle.index, dir, 'style.hnsw') : null,
    joint: await bytesOf(jointIndex.index, dir, 'joint.hnsw'),
  };
  await rm(dir, { recursive: true, force: true });

  const jointQuery = (q: { content: Float32Array; style: Float32Array }, wc: number, ws: number): number[] => {
    const out = new Array<number>(dc + ds);
    const total = wc + ws;
    for (let i = 0; i < dc; i++) out[i] = (wc / total) * q.content[i];
    for (let i = 0; i < ds; i++) out[dc + i] = (ws / total) * q.style[i];
    return out;
  };
  const recall = (found: number[], truth: number[]): number => {
    const set = new Set(truth.slice(0, 10));
    return found.slice(0, 10).filter((r) => set.has(r)).length / 10;
  };

  const weightRatios: Array<[number, number]> = [[1, 1], [1, 0.5], [0.5, 1], [1, 0.25], [1, 0.1]];
  const truths = {
    content: queries.map((q) => exactTop(rows, 10, (r) => dotAt(content, dc, r, q.content))),
    style: queries.map((q) => exactTop(rows, 10, (r) => dotAt(style, ds, r, q.style))),
    fused: weightRatios.map(([wc, ws]) =>
      queries.map((q) => exactTop(rows, 10, (r) => (wc * dotAt(content, dc, r, q.content) + ws * dotAt(style, ds, r, q.style)) / (wc + ws))),
    ),
  };

  const perEf = efs.map((ef) => {
    for (const built of [separateContent, separateStyle, jointIndex]) built?.index.setEf(ef);
    const mean = (xs: number[]): number => round(xs.reduce((a, b) => a + b, 0) / xs.length, 4);
    const contentArrays = queries.map((q) => Array.from(q.content));
    const jointEqual = queries.map((q) => jointQuery(q, 1, 1));
    const jointContentOnly = queries.map((q) => jointQuery(q, 1, 0));
    const jointStyleOnly = queries.map((q) => jointQuery(q, 0, 1));
    return {
      efSearch: ef,
      latency: {
        separateContent: separateContent ? timed(queryCount, (i) => separateContent.index.searchKnn(contentArrays[i], K)) : null,
        jointFused: timed(queryCount, (i) => jointIndex.index.searchKnn(jointEqual[i], K)),
        jointContentOnly: timed(queryCount, (i) => jointIndex.index.searchKnn(jointContentOnly[i], K)),
      },
      recallAt10: {
        separateContent: separateContent ? mean(queries.map((q, i) => recall(separateContent.index.searchKnn(Array.from(q.content), 10).neighbors, truths.content[i]))) : null,
        separateStyle: separateStyle ? mean(queries.map((q, i) => recall(separateStyle.index.searchKnn(Array.from(q.style), 10).neighbors, truths.style[i]))) : null,
        jointContentOnly: mean(queries.map((_, i) => recall(jointIndex.index.searchKnn(jointContentOnly[i], 10).neighbors, truths.content[i]))),
        jointStyleOnly: mean(queries.map((_, i) => recall(jointIndex.index.searchKnn(jointStyleOnly[i], 10).neighbors, truths.style[i]))),
        jointFused: Object.fromEntries(
          weightRatios.map(([wc, ws], w) => [
            `${wc}:${ws}`,
            mean(queries.map((q, i) => recall(jointIndex.index.searchKnn(jointQuery(q, wc, ws), 10).neighbors, truths.fused[w][i]))),
          ]),
        ),
      },
    };
  });

  const report = {
    items: rows,
    dims: { content: dc, style: ds },
    hnsw: { M, efConstruction: EF_CONSTRUCTION },
    k: K,
    queries: queryCount,
    generator: DEFAULT_GENERATOR,
    jointM,
    jointEfConstruction,
    buildCpuSeconds: { content: separateContent?.cpuSeconds ?? null, style: separateStyle?.cpuSeconds ?? null, joint: jointIndex.cpuSeconds },
    buildSeconds: { content: separateContent?.seconds ?? null, style: separateStyle?.seconds ?? null, joint: jointIndex.seconds },
    indexBytes: bytes,
    perEf,
    loadAverage: { start: loadStart, end: loadavg() },
  };
  const text = `${JSON.stringify(report, null, 2)}\n`;
  if (values.out) await writeFile(values.out, text);
  process.stdout.write(text);
}

await main();
