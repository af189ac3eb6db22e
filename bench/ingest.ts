/**
 * `node dist/bench/ingest.js [options]`: the ingest section alone, for a quiet window or a
 * comparison: where an image's CPU time goes (ingest-stages.ts), then whole ingests of the first
 * N demo items with the configured settings and their peers side by side, interleaved
 * (ingest-bench.ts). Writes one JSON file; measures, never asserts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, PACKAGE_ROOT } from '../src/config.js';
import { loadEncoders } from '../src/encoders/index.js';
import { benchIngest, configuredSettings, describeSettings, type IngestSettings } from './ingest-bench.js';
import { gitFacts, machineFacts } from './machine.js';

const USAGE = `usage: node dist/bench/ingest.js [options]
  --pack DIR        model pack (default models/mini)
  --limit N         demo items per run (default 3000)
  --repeat N        runs of each setting, interleaved (default 2)
  --workers 2,1     model workers of the settings compared (the first is the headline; default: configured, then 1)
  --threads 1       intra-op threads per worker (a list likewise)
  --run 8           images per model run (a list likewise)
  --batch 64        items per commit (a list likewise)
  --joint-ef-construction 100,200  the joint graph's efConstruction (a list likewise; default: the config's)
  --stages N        items for the per-step CPU breakdown (default 1000; 0 skips it)
  --out FILE        where the JSON goes (default bench/results/ingest-<date>.json)`;

function list(name: string, value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const out = value.split(',').map((part) => Number(part.trim()));
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--${name} takes positive integers, got "${value}"`);
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pack: { type: 'string' },
      limit: { type: 'string' },
      repeat: { type: 'string' },
      workers: { type: 'string' },
      threads: { type: 'string' },
      run: { type: 'string' },
      batch: { type: 'string' },
      'joint-ef-construction': { type: 'string' },
      stages: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const packDir = resolve(values.pack ?? join(PACKAGE_ROOT, 'models', 'mini'));
  const count = (name: string, value: string | undefined, fallback: number, min: number): number => {
    const n = value === undefined ? fallback : Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} takes an integer ≥ ${min}, got "${value}"`);
    return n;
  };
  const limit = count('limit', values.limit, 3000, 1);
  const repeat = count('repeat', values.repeat, 2, 1);
  const stagesLimit = count('stages', values.stages, 1000, 0);
  const tmp = await mkdtemp(join(os.tmpdir(), 'parasol-ingest-'));
  const config = loadConfig({ dataDir: join(tmp, 'data'), packDir });
  // The settings the product runs with: what the encoders choose under this config.
  const probe = await loadEncoders({ packDir, device: config.device, imageWorkers: config.ingest.imageWorkers, cacheSize: 0 });
  const { workers, threads, runSize } = configuredSettings(config, probe);
  await probe.dispose();
  const pick = (name: string, value: string | undefined, fallback: number[]) => list(name, value) ?? fallback;
  const joints: Array<number | undefined> = list('joint-ef-construction', values['joint-ef-construction']) ?? [undefined];
  const settings: IngestSettings[] = [];
  for (const w of pick('workers', values.workers, workers === 1 ? [1] : [workers, 1])) {
    for (const t of pick('threads', values.threads, [threads])) {
      for (const r of pick('run', values.run, [runSize])) {
        for (const b of pick('batch', values.batch, [config.ingest.batchSize])) {
          for (const j of joints) settings.push({ workers: w, threads: t, runSize: r, batchSize: b, ...(j === undefined ? {} : { jointEfConstruction: j }) });
        }
      }
    }
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = performance.now();
  const loadStart = os.loadavg();
  try {
    log(`ingest: ${settings.map(describeSettings).join(' | ')}; ${repeat} run(s) each, interleaved; steps over ${stagesLimit} items first`);
    const ingest = await benchIngest(config, join(tmp, 'ingest'), { limit, settings, repeat, stages: stagesLimit });
    const report = {
      createdAt: new Date().toISOString(),
      seconds: Math.round((performance.now() - started) / 100) / 10,
      command: `node dist/bench/ingest.js ${process.argv.slice(2).join(' ')}`.trim(),
      machine: { ...machineFacts(), loadAverageStart: loadStart, loadAverageEnd: os.loadavg() },
      git: gitFacts(PACKAGE_ROOT),
      config: { hnsw: config.hnsw, ingest: config.ingest },
      ingest,
    };
    const out = resolve(values.out ?? join(PACKAGE_ROOT, 'bench', 'results', `ingest-${report.createdAt.slice(0, 10)}.json`));
    await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${out}`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
