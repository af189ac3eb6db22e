/**
 * Where a one-modality query's time goes beyond hnswlib (issue 12): each step the engine takes,
 * timed alone in a loop on a kept bench store, beside the raw hnswlib-node search.
 *
 *   node dist/bench/engine-profile.js --data DIR [--items 20000] [--queries 2000]
 *
 * DIR is a kept bench store (`npm run bench -- --keep`: its scale/ folder), or an empty folder
 * that is first filled with --items synthetic items (the mini pack's dimensions, 256 + 128).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import hnswlib from 'hnswlib-node';
import { loadConfig } from '../src/config.js';
import { fingerprintOf } from '../src/search/cursor.js';
import { SearchEngine } from '../src/search/engine.js';
import { parseSearchOptions } from '../src/search/query.js';
import { openEmbeddedStore } from '../src/store/embedded.js';
import type { Encoders } from '../src/encoders/types.js';
import { round } from './stats.js';
import { DEFAULT_GENERATOR, SyntheticCorpus } from './synthetic.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    items: { type: 'string', default: '20000' },
    queries: { type: 'string', default: '2000' },
    k: { type: 'string', default: '24' },
  },
});
if (!values.data) throw new Error('--data DIR (a kept bench store, or an empty folder to fill)');
const config = loadConfig({ dataDir: values.data });
if (!existsSync(join(values.data, 'semantic.json'))) {
  const dims = { semantic: 256, style: 128 };
  const fill = await openEmbeddedStore({ dataDir: values.data, dims, hnsw: config.hnsw, joint: config.hnsw.joint, jointM: config.hnsw.jointM, jointEfSearch: config.hnsw.jointEfSearch });
  await new SyntheticCorpus(dims, Number(values.items)).growTo(fill, Number(values.items));
  await fill.close();
}
const meta = JSON.parse(await readFile(join(values.data, 'semantic.json'), 'utf8')) as { dim: number; file: string };
const styleMeta = JSON.parse(await readFile(join(values.data, 'style.json'), 'utf8')) as { dim: number };
const dims = { semantic: meta.dim, style: styleMeta.dim };
const store = await openEmbeddedStore({ dataDir: values.data, dims, hnsw: config.hnsw, joint: config.hnsw.joint, jointM: config.hnsw.jointM, jointEfSearch: config.hnsw.jointEfSearch });
const engine = new SearchEngine({ catalog: store.catalog, indices: store.indices, encoders: {} as Encoders });
const raw = new hnswlib.HierarchicalNSW('cosine', dims.semantic);
await raw.readIndex(join(values.data, meta.file), true);
raw.setEf(config.hnsw.efSearch);

const n = Number(values.queries);
const k = Number(values.k);
const corpus = new SyntheticCorpus(dims, 1, DEFAULT_GENERATOR);
const queries = Array.from({ length: 200 }, () => corpus.query('semantic'));
const seqPages = queries.map((q) => raw.searchKnn(Array.from(q), k).neighbors);

async function time(name: string, fn: (i: number) => unknown): Promise<[string, number]> {
  for (let i = 0; i < 200; i++) await fn(i);
  const started = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return [name, round(((performance.now() - started) / n) * 1000, 1)];
}

const rows = [
  await time('raw searchKnn (k)', (i) => raw.searchKnn(Array.from(queries[i % 200]), k)),
  await time('HnswIndex.search (k + 1)', (i) => store.indices.semantic.search(queries[i % 200], k + 1)),
  await time('Array.from(query)', (i) => Array.from(queries[i % 200])),
  await time('parseSearchOptions', () => parseSearchOptions({ k })),
  await time('fingerprintOf', (i) => fingerprintOf({ kind: 'descriptors', content: queries[i % 200], style: null, weights: undefined, fusion: 'weighted', exclude: [] })),
  await time('catalog.getManyBySeq (page)', (i) => store.catalog.getManyBySeq(seqPages[i % 200])),
  await time('engine single (whole)', (i) => engine.searchFromDescriptors({ content: queries[i % 200] }, { k })),
];
const phases = { encodeMs: 0, retrieveMs: 0, fuseMs: 0, hydrateMs: 0, totalMs: 0 };
for (let i = 0; i < n; i++) {
  const { timing } = await engine.searchFromDescriptors({ content: queries[i % 200] }, { k });
  for (const key of Object.keys(phases) as Array<keyof typeof phases>) phases[key] += (timing[key] * 1000) / n;
}
const enginePhases = Object.fromEntries(Object.entries(phases).map(([key, value]) => [key, round(value, 1)]));
process.stdout.write(
  `${JSON.stringify({ items: await store.indices.semantic.size(), k, efSearch: config.hnsw.efSearch, loadAverage: loadavg(), meanMicroseconds: Object.fromEntries(rows), enginePhasesMicroseconds: enginePhases }, null, 2)}\n`,
);
await store.close({ save: false });
