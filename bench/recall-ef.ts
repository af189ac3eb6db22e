/**
 * Recall@10 against exact search as a function of HNSW efSearch, on an existing embedded store
 * (typically one `npm run bench -- --keep` grew): how far efSearch must rise for a store of this size.
 *
 *   node dist/bench/recall-ef.js --data DIR [--ef 64,128,256,512] [--queries 100] [--out FILE]
 *
 * Queries are the bench's synthetic ones (the same seeded mixtures, data-like and off-distribution);
 * the truth is a brute-force scan over every stored vector. Prints a table; --out writes JSON.
 */
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { readPack } from '../src/encoders/pack.js';
import { openEmbeddedStore } from '../src/store/embedded.js';
import type { Modality } from '../src/store/types.js';
import { exactTopK, RECALL_AT } from './recall.js';
import { percentile, round } from './stats.js';
import { SyntheticCorpus, type QueryKind } from './synthetic.js';

interface Row {
  modality: Modality;
  queryKind: QueryKind;
  efSearch: number;
  recallAt10: number;
  minRecallAt10: number;
  p50Ms: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { data: { type: 'string' }, ef: { type: 'string', default: '64,128,256,512' }, queries: { type: 'string', default: '100' }, out: { type: 'string' } },
  });
  if (!values.data) throw new Error('--data DIR is required (a store grown by npm run bench -- --keep)');
  const efs = values.ef.split(',').map(Number);
  const queries = Number(values.queries);
  if (!efs.every((ef) => Number.isInteger(ef) && ef >= 1) || !(Number.isInteger(queries) && queries >= 1)) throw new Error('--ef and --queries take positive integers');
  const config = loadConfig({ dataDir: values.data }, {});
  const { manifest } = await readPack(config.packDir);
  const dims = { semantic: manifest.semantic.dim, style: manifest.style.dim };
  const store = await openEmbeddedStore({ dataDir: values.data, dims, hnsw: config.hnsw, joint: config.hnsw.joint, jointM: config.hnsw.jointM, jointEfSearch: config.hnsw.jointEfSearch });
  try {
    const items = (await store.catalog.stats()).items;
    process.stderr.write(`reading ${items} vectors for the exact search…\n`);
    const flat = { semantic: new Float32Array(items * dims.semantic), style: new Float32Array(items * dims.style) };
    const seqs = new Int32Array(items);
    let row = 0;
    for await (const page of store.catalog.scan(4096)) {
      for (const item of page) {
        flat.semantic.set(item.semantic, row * dims.semantic);
        flat.style.set(item.style, row * dims.style);
        seqs[row++] = item.seq;
      }
    }
    const corpus = new SyntheticCorpus(dims, 1);
    const rows: Row[] = [];
    for (const modality of ['semantic', 'style'] as const) {
      for (const kind of ['data', 'far'] as const) {
        const asked = Array.from({ length: queries }, () => corpus.query(modality, kind));
        const truths = asked.map((query) => new Set(exactTopK(flat[modality], dims[modality], row, query, RECALL_AT).map((r) => seqs[r])));
        for (const efSearch of efs) {
          store.indices[modality].setEfSearch(efSearch);
          const recalls: number[] = [];
          const times: number[] = [];
          for (const [i, query] of asked.entries()) {
            const started = performance.now();
            const hits = await store.indices[modality].search(query, RECALL_AT);
            times.push(performance.now() - started);
            recalls.push(hits.filter((hit) => truths[i].has(hit.seq)).length / RECALL_AT);
          }
          const result: Row = {
            modality,
            queryKind: kind,
            efSearch,
            recallAt10: round(recalls.reduce((a, b) => a + b, 0) / recalls.length, 3),
            minRecallAt10: Math.min(...recalls),
            p50Ms: round(percentile([...times].sort((a, b) => a - b), 50), 3),
          };
          rows.push(result);
          process.stdout.write(`${modality.padEnd(8)} ${kind.padEnd(4)} ef ${String(efSearch).padStart(4)}  recall@10 ${result.recallAt10.toFixed(3)} (min ${result.minRecallAt10.toFixed(1)})  p50 ${result.p50Ms} ms\n`);
        }
      }
    }
    if (values.out) await writeFile(values.out, `${JSON.stringify({ items, dims, hnsw: config.hnsw, queries, rows }, null, 2)}\n`);
  } finally {
    await store.close({ save: false });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`recall-ef: ${(error as Error).message}\n`);
  process.exit(1);
});
