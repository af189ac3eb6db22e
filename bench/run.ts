/**
 * `npm run bench [-- --quick] [-- --sizes 10000,100000]`: measures Parasol and writes
 * bench/results/<YYYY-MM-DD>.json and bench/results/latest.json (quick runs: *-quick.json), then
 * prints a summary. It measures; it never asserts a timing. It exits non-zero only when a section
 * could not run at all (an error, not a slow number). See bench/README.md.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { loadConfig, PACKAGE_ROOT, type Config } from '../src/config.js';
import { openContext, type ParasolContext } from '../src/context.js';
import { Progress, formatDuration } from '../src/progress.js';
import type { ColdStartChildResult, MemoryChildResult } from './child.js';
import { measureFusion } from './fusion.js';
import { httpScenarios, runHttpScenario, startHttp, type HttpBudget } from './http.js';
import { benchIngest, configuredSettings, describeSettings, type IngestSettings } from './ingest-bench.js';
import { benchSampler } from './sampler-bench.js';
import { inProcessScenarios, runInProcess, type RunBudget } from './latency.js';
import { gitFacts, machineFacts } from './machine.js';
import { QueryTexts } from './queries.js';
import { measureRecall } from './recall.js';
import {
  formatSummary,
  REPORT_SCHEMA,
  writeReport,
  type BenchReport,
  type ColdStartResult,
  type ScaleResult,
  type TargetCheck,
} from './report.js';
import { benchScript, runChild } from './spawn.js';
import { median, round } from './stats.js';
import { DEFAULT_GENERATOR, SyntheticCorpus } from './synthetic.js';

interface Plan {
  mode: 'full' | 'quick';
  sizes: number[];
  ingestLimit: number;
  /** Peer settings run beside the configured ones, interleaved (the lists' combinations). */
  ingestPeers: { workers: number[]; threads: number[]; run: number[]; batch: number[] };
  ingestRepeat: number;
  /** Items for the ingest's step-by-step CPU breakdown (0: none). */
  ingestStages: number;
  samplerBatch: number;
  samplerSteps: number[];
  recallQueries: number;
  inProcess: RunBudget;
  http: HttpBudget;
  coldStartRuns: number;
  fillBatchSize: number;
}

const USAGE = `usage: npm run bench [-- options]
  --quick               1k and 10k items, short runs (a smoke test; writes *-quick.json)
  --sizes 10000,100000  store sizes to measure at, ascending (the store grows from one to the next)
  --pack DIR            model pack (default: PARASOL_PACK, else models/mini, else the tiny test pack)
  --ingest N            demo items to ingest (default 3000; quick 300; 0 skips)
  --ingest-workers 1,2  model workers of the peer ingest runs (default 1: the configured settings run
                        beside one worker); --ingest-threads 1, --ingest-run 16 (images per model
                        run) and --ingest-batch 64 (items per commit) likewise (default: the
                        configured value); every combination is a peer
  --ingest-repeat N     runs of each ingest setting, interleaved (default 2; quick 1)
  --ingest-stages N     demo items for the ingest's CPU breakdown by step (default 1000; quick 300; 0 skips)
  --sampler-batch N     images per batch in the sampler section (default 4; quick 2; 0 skips the sampler)
  --duration S          seconds per HTTP run (default 4; quick 2)
  --connections N       HTTP connections (default 10)
  --out DIR             where reports go (default bench/results)
  --keep                keep the temporary data directory (its path is printed)`;

const started = performance.now();
const log = (message: string): void => {
  process.stderr.write(`[bench ${formatDuration((performance.now() - started) / 1000).padStart(5)}] ${message}\n`);
};

function parsePlan(argv: string[]): { plan: Plan; pack?: string; out: string; keep: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      sizes: { type: 'string' },
      pack: { type: 'string' },
      ingest: { type: 'string' },
      'ingest-workers': { type: 'string' },
      'ingest-threads': { type: 'string' },
      'ingest-batch': { type: 'string' },
      'ingest-run': { type: 'string' },
      'ingest-repeat': { type: 'string' },
      'ingest-stages': { type: 'string' },
      'sampler-batch': { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const quick = values.quick;
  const int = (name: string, value: string | undefined, fallback: number, min = 1): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got "${value}"`);
    return n;
  };
  const list = (name: string, value: string | undefined, min: number): number[] | undefined =>
    value === undefined ? undefined : value.split(',').map((part) => int(name, part.trim(), 0, min));
  const sizes = values.sizes
    ? values.sizes.split(',').map((s) => int('sizes', s.trim().replace(/_/g, ''), 0))
    : quick
      ? [1000, 10_000]
      : [10_000, 100_000];
  sizes.sort((a, b) => a - b);
  const plan: Plan = {
    mode: quick ? 'quick' : 'full',
    sizes: [...new Set(sizes)],
    ingestLimit: int('ingest', values.ingest, quick ? 300 : 3000, 0),
    ingestPeers: {
      workers: list('ingest-workers', values['ingest-workers'], 1) ?? [1],
      threads: list('ingest-threads', values['ingest-threads'], 0) ?? [],
      run: list('ingest-run', values['ingest-run'], 1) ?? [],
      batch: list('ingest-batch', values['ingest-batch'], 1) ?? [],
    },
    ingestRepeat: int('ingest-repeat', values['ingest-repeat'], quick ? 1 : 2),
    ingestStages: int('ingest-stages', values['ingest-stages'], quick ? 300 : 1000, 0),
    samplerBatch: int('sampler-batch', values['sampler-batch'], quick ? 2 : 4, 0),
    samplerSteps: quick ? [8] : [25, 50],
    recallQueries: quick ? 50 : 100,
    inProcess: quick ? { warmup: 20, durationMs: 1000, maxQueries: 1000 } : { warmup: 50, durationMs: 2500, maxQueries: 3000 },
    http: {
      connections: int('connections', values.connections, 10),
      durationS: int('duration', values.duration, quick ? 2 : 4),
      warmupS: quick ? 0.5 : 1,
    },
    coldStartRuns: quick ? 1 : 3,
    fillBatchSize: 1000,
  };
  return { plan, pack: values.pack, out: resolve(values.out ?? join(PACKAGE_ROOT, 'bench', 'results')), keep: values.keep };
}

/** The configured ingest settings first, then every combination of the peer lists that differs from them. */
function ingestSettings(configured: IngestSettings, peers: Plan['ingestPeers']): IngestSettings[] {
  const out = [configured];
  for (const workers of peers.workers.length > 0 ? peers.workers : [configured.workers]) {
    for (const threads of peers.threads.length > 0 ? peers.threads : [configured.threads]) {
      for (const runSize of peers.run.length > 0 ? peers.run : [configured.runSize]) {
        for (const batchSize of peers.batch.length > 0 ? peers.batch : [configured.batchSize]) {
          const peer = { workers, threads, runSize, batchSize };
          if (!out.some((s) => s.workers === workers && s.threads === threads && s.runSize === runSize && s.batchSize === batchSize)) out.push(peer);
        }
      }
    }
  }
  return out;
}

/** The pack to measure: explicit, else the bundled mini pack, else (while it is being trained) the tiny test pack. */
function resolvePack(explicit: string | undefined): { dir: string; fallback: boolean } {
  const chosen = explicit ?? process.env.PARASOL_PACK;
  if (chosen) return { dir: resolve(chosen), fallback: false };
  const mini = join(PACKAGE_ROOT, 'models', 'mini');
  if (existsSync(join(mini, 'pack.json'))) return { dir: mini, fallback: false };
  return { dir: join(PACKAGE_ROOT, 'test', 'fixtures', 'tiny-pack'), fallback: true };
}

/** A gc() even when node was not started with --expose-gc (memory numbers are steadier after one). */
function gcFunction(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

async function dirBytes(dir: string): Promise<Record<string, number>> {
  const files: Record<string, number> = {};
  for (const name of await readdir(dir)) {
    const info = await stat(join(dir, name));
    if (info.isFile()) files[name] = info.size;
  }
  return files;
}

async function main(): Promise<void> {
  const { plan, pack: packOption, out, keep } = parsePlan(process.argv.slice(2));
  const pack = resolvePack(packOption);
  if (pack.fallback) log(`WARNING: models/mini/pack.json not found; measuring the tiny random test pack (${pack.dir})`);
  const gc = gcFunction();
  const settle = () => {
    if (gc) for (let i = 0; i < 3; i++) gc();
  };
  const tmp = await mkdtemp(join(os.tmpdir(), 'parasol-bench-'));
  const scaleDir = join(tmp, 'scale');
  log(`plan: ${plan.mode}, sizes ${plan.sizes.join(', ')}, ingest ${plan.ingestLimit}; data in ${tmp}`);

  const config: Config = loadConfig({ dataDir: scaleDir, packDir: pack.dir });
  const errors: BenchReport['errors'] = [];
  const section = async <T>(name: string, work: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await work();
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      log(`${name} FAILED: ${message}`);
      if (process.env.PARASOL_BENCH_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
      errors.push({ section: name, message });
      return undefined;
    }
  };

  const machine = machineFacts();
  const git = gitFacts(PACKAGE_ROOT);
  const k = config.search.defaultK;
  const engineDepth = Math.min(config.search.maxCandidates, Math.ceil(k * config.search.oversample));

  log('opening the context (models + empty store)');
  const context: ParasolContext = await openContext(config);
  const { encoders } = context;
  const report: BenchReport = {
    schema: REPORT_SCHEMA,
    createdAt: new Date().toISOString(),
    mode: plan.mode,
    seconds: 0,
    machine,
    git,
    pack: {
      name: encoders.packName,
      dir: pack.dir,
      fallback: pack.fallback,
      semanticDim: encoders.semanticDim,
      styleDim: encoders.styleDim,
      provider: encoders.provider,
    },
    config: {
      hnsw: { M: config.hnsw.M, efConstruction: config.hnsw.efConstruction, efSearch: config.hnsw.efSearch, joint: config.hnsw.joint, jointM: config.hnsw.jointM, jointEfConstruction: config.hnsw.jointEfConstruction, jointEfSearch: config.hnsw.jointEfSearch },
      search: { k, oversample: config.search.oversample, maxCandidates: config.search.maxCandidates, cacheSize: config.search.cacheSize },
      ingest: { batchSize: config.ingest.batchSize, ...encoders.imageSettings },
      device: config.device,
      threads: config.threads,
    },
    data: { generator: DEFAULT_GENERATOR, fillBatchSize: plan.fillBatchSize },
    budgets: { sizes: plan.sizes, ingestLimit: plan.ingestLimit, recallQueries: plan.recallQueries, inProcess: plan.inProcess, http: plan.http, coldStartRuns: plan.coldStartRuns },
    scale: [],
    targets: [],
    errors,
  };

  let contextOpen = true;
  try {
    // 3. Ingest first, while the process is small: the real encoders on real images.
    if (plan.ingestLimit > 0) {
      log(`ingest: first ${plan.ingestLimit} demo items with the ${encoders.packName} pack`);
      const settings = ingestSettings(configuredSettings(config, encoders), plan.ingestPeers);
      log(`ingest: ${settings.map(describeSettings).join(' | ')}; ${plan.ingestRepeat} run(s) each, interleaved`);
      report.ingest = await section('ingest', () =>
        benchIngest(config, join(tmp, 'ingest'), { limit: plan.ingestLimit, settings, repeat: plan.ingestRepeat, stages: plan.ingestStages }),
      );
      if (report.ingest) log(`ingest: ${report.ingest.imagesPerSecond} img/s, wall ÷ encoder ${report.ingest.wallPerEncoder}`);
      await rm(join(tmp, 'ingest'), { recursive: true, force: true });
    }

    if (plan.samplerBatch > 0 && context.generatorAvailable) {
      log(`sampler: ${plan.samplerSteps.join(' and ')} steps, batch 1 and ${plan.samplerBatch}`);
      report.sampler = await section('sampler', () =>
        benchSampler(pack.dir, encoders, { steps: plan.samplerSteps, batch: plan.samplerBatch }),
      );
      for (const r of report.sampler?.runs ?? []) log(`sampler: ${r.steps} steps × ${r.batch}: ${r.secondsPerImage} s/image, wall/UNet ${r.wallOverUnet}`);
    } else if (plan.samplerBatch > 0) {
      log(`sampler: skipped (the ${encoders.packName} pack has no generator)`);
    }

    const largest = plan.sizes[plan.sizes.length - 1];
    const corpus = new SyntheticCorpus({ semantic: encoders.semanticDim, style: encoders.styleDim }, largest);
    const texts = new QueryTexts();
    settle();
    const rssBefore = process.memoryUsage().rss;

    const server = await section('http server', () => startHttp(context));
    if (server) log(`http: app listening at ${server.url}`);
    try {
      for (const size of plan.sizes) {
        // 1.–2. Grow the store, then measure at this size.
        const growStart = performance.now();
        const progress = new Progress(`fill to ${size.toLocaleString('en-US')}`, size - corpus.count, { write: (line) => process.stderr.write(`  ${line}`) }, 2000);
        let last = corpus.count;
        await corpus.growTo(context.store, size, {
          batchSize: plan.fillBatchSize,
          onProgress: (done) => {
            progress.tick(done - last);
            last = done;
          },
        });
        const growSeconds = (performance.now() - growStart) / 1000;
        log(`store holds ${size} items (${progress.finish()})`);
        const scale: ScaleResult = {
          items: size,
          growSeconds: round(growSeconds, 1),
          growItemsPerSecond: round((size - (report.scale.at(-1)?.items ?? 0)) / growSeconds, 0),
          recall: [],
          inProcess: [],
          http: [],
        };
        report.scale.push(scale);
        if (size === largest) {
          settle();
          const rssAfter = process.memoryUsage().rss;
          const held = corpus.count * (corpus.dims.semantic + corpus.dims.style) * 4;
          report.memory = {
            items: size,
            rssPer100kBytes: null,
            inProcess: {
              rssBeforeBytes: rssBefore,
              rssAfterBytes: rssAfter,
              heldSyntheticBytes: held,
              deltaPer100kBytes: Math.round(((rssAfter - rssBefore - held) * 100_000) / size),
              gc: gc !== undefined,
            },
          };
        }

        await section(`recall@${size}`, async () => {
          for (const kind of ['data', 'far'] as const) {
            for (const modality of ['semantic', 'style'] as const) {
              const index = context.store.indices[modality];
              const result = await measureRecall(corpus, modality, index, { queries: plan.recallQueries, engineDepth, kind });
              scale.recall.push(result);
              log(`recall@10 ${modality} (${kind} queries) at ${size}: ${result.recallAt10} (depth ${engineDepth}: ${result.recallAt10EngineDepth})`);
            }
          }
        });

        await section(`in-process@${size}`, async () => {
          for (const scenario of inProcessScenarios(context.engine, corpus, texts, k, plan.inProcess)) {
            const result = await runInProcess(scenario, plan.inProcess);
            scale.inProcess.push(result);
            log(`in-process ${scenario.name} at ${size}: p50 ${result.latency.p50Ms} ms, p99 ${result.latency.p99Ms} ms, ${result.qps} q/s`);
          }
        });

        await section(`fusion@${size}`, async () => {
          // The raw baselines read the snapshots: write them first.
          await context.store.save();
          const fusion = await measureFusion(context.engine, corpus, {
            dataDir: scaleDir,
            efSearch: config.hnsw.efSearch,
            jointEfSearch: config.hnsw.jointEfSearch,
            k,
            budget: plan.inProcess,
            recallQueries: plan.recallQueries,
          });
          scale.fusion = fusion;
          log(
            `fusion at ${size} (${fusion.fusedStrategy}): raw ${fusion.raw.p50Ms} ms, single ${fusion.single.p50Ms} ms (×${fusion.engineOverRaw}), ` +
              `fused ${fusion.fused.p50Ms} ms (×${fusion.fusedOverSingle} single), fused recall@10 ${fusion.fusedRecallAt10}, load ${fusion.loadAverage.start[0]}`,
          );
        });

        if (server) {
          await section(`http@${size}`, async () => {
            for (const connections of [...new Set([1, plan.http.connections])]) {
              for (const scenario of httpScenarios(texts, k, plan.http)) {
                const result = await runHttpScenario(server.url, scenario, connections, plan.http, tmp);
                scale.http.push(result);
                log(`http ${scenario.name} ×${connections} at ${size}: p50 ${result.latency.p50Ms} ms, p99 ${result.latency.p99Ms} ms, ${result.qps} req/s` +
                  `${result.errors || result.non2xx ? ` (${result.errors} errors, ${result.non2xx} non-2xx)` : ''}`);
              }
            }
          });
        }
      }
    } finally {
      await server?.close();
    }

    // 4.–5. On the largest store, closed and saved: disk, then fresh processes for memory and cold start.
    log('closing the store (saving snapshots)');
    await context.close();
    contextOpen = false;
    await section('disk', async () => {
      const files = await dirBytes(scaleDir);
      const sum = (match: (name: string) => boolean) => Object.entries(files).filter(([name]) => match(name)).reduce((s, [, b]) => s + b, 0);
      const catalogBytes = sum((name) => name.startsWith('catalog.sqlite'));
      const snapshotBytes = sum((name) => /\.(hnsw|json)$/.test(name));
      const items = corpus.count;
      report.disk = {
        items,
        files,
        catalogBytes,
        snapshotBytes,
        totalBytes: catalogBytes + snapshotBytes,
        bytesPer100k: Math.round(((catalogBytes + snapshotBytes) * 100_000) / Math.max(1, items)),
      };
    });
    await section('memory', async () => {
      log('memory: a fresh process opens the store');
      const { result } = await runChild<MemoryChildResult>(
        benchScript('child.js'),
        ['memory', scaleDir, pack.dir, `${encoders.semanticDim},${encoders.styleDim}`],
        { execArgv: ['--expose-gc'], label: 'memory', timeoutMs: 300_000 },
      );
      if (!report.memory) throw new Error('no fill measurement');
      report.memory.child = result;
      report.memory.rssPer100kBytes = Math.round(((result.rssAfterBytes - result.rssBeforeBytes) * 100_000) / Math.max(1, result.items));
    });
    await section('cold start', async () => {
      const query = 'a red apple';
      const coldStart: ColdStartResult = { items: corpus.count, query, spawnToAnswerMs: 0, runs: [] };
      for (let run = 0; run < plan.coldStartRuns; run++) {
        log(`cold start: run ${run + 1}/${plan.coldStartRuns}`);
        const { result, resultAtMs, answerAtMs } = await runChild<ColdStartChildResult>(benchScript('child.js'), ['cold-start', scaleDir, pack.dir, query], {
          label: 'cold start',
          timeoutMs: 300_000,
        });
        coldStart.runs.push({ ...roundTimes(result), spawnToAnswerMs: round(answerAtMs ?? resultAtMs, 1) });
      }
      log('cold start: models and indices timed apart');
      const split = await runChild<ColdStartChildResult>(benchScript('child.js'), ['cold-start-split', scaleDir, pack.dir, query], {
        label: 'cold start (split)',
        timeoutMs: 300_000,
      });
      coldStart.split = { ...roundTimes(split.result), spawnToAnswerMs: round(split.answerAtMs ?? split.resultAtMs, 1) };
      coldStart.spawnToAnswerMs = round(median(coldStart.runs.map((r) => r.spawnToAnswerMs)), 1);
      report.coldStart = coldStart;
    });
  } finally {
    if (contextOpen) await context.close().catch(() => undefined);
    if (keep) log(`kept the data directory ${tmp}`);
    else await rm(tmp, { recursive: true, force: true });
  }

  report.targets = targets(report);
  report.machine.loadAverageEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  report.seconds = round((performance.now() - started) / 1000, 1);
  const paths = await writeReport(report, out);
  process.stdout.write(`${formatSummary(report)}\n\nwrote ${paths.join(', ')}\n`);
  if (errors.length > 0) process.exitCode = 1;
}

function roundTimes(result: ColdStartChildResult): ColdStartChildResult {
  const r = (x: number | undefined) => (x === undefined ? undefined : round(x, 1));
  return { ...result, bootMs: round(result.bootMs, 1), openMs: round(result.openMs, 1), modelsMs: r(result.modelsMs), indicesMs: r(result.indicesMs), queryMs: round(result.queryMs, 1), answerAtMs: round(result.answerAtMs, 1) };
}

/** The project's targets, compared (never asserted). */
function targets(report: BenchReport): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const at100k = report.scale.find((s) => s.items === 100_000);
  const httpText = at100k?.http.find((r) => r.scenario === 'text:cold' && r.connections === 1);
  const httpWarm = at100k?.http.find((r) => r.scenario === 'text:warm' && r.connections === 1);
  checks.push({
    name: 'HTTP text query p50 at 100k (distinct texts, 1 connection)',
    target: '≤ 5 ms',
    measured: httpText?.latency.p50Ms ?? null,
    unit: 'ms',
    met: httpText ? httpText.latency.p50Ms <= 5 : null,
    note: httpText ? `cached texts: ${httpWarm?.latency.p50Ms ?? '—'} ms` : 'no 100k run',
  });
  const fusion = at100k?.fusion;
  const loadNote = fusion ? `, load ${fusion.loadAverage.start[0]} → ${fusion.loadAverage.end[0]}` : '';
  checks.push({
    name: 'fused (content + style) p50 ÷ one-modality p50 in process at 100k',
    target: '≤ 2',
    measured: fusion?.fusedOverSingle ?? null,
    unit: '×',
    met: fusion ? fusion.fusedOverSingle <= 2 : null,
    note: fusion ? `fused ${fusion.fused.p50Ms} ms, single ${fusion.single.p50Ms} ms (${fusion.fusedStrategy})${loadNote}` : 'no 100k run',
  });
  checks.push({
    name: 'fused recall@10 against exact brute-force fusion at 100k (equal weights)',
    target: '≥ 0.98',
    measured: fusion?.fusedRecallAt10 ?? null,
    unit: '',
    met: fusion ? fusion.fusedRecallAt10 >= 0.98 : null,
    note: fusion ? `by weights ${JSON.stringify(fusion.fusedRecallAt10ByWeights)}` : undefined,
  });
  checks.push({
    name: 'engine one-modality p50 ÷ raw hnswlib-node p50 (same index and efSearch) at 100k',
    target: '≤ 1.3',
    measured: fusion?.engineOverRaw ?? null,
    unit: '×',
    met: fusion ? fusion.engineOverRaw <= 1.3 : null,
    note: fusion ? `engine ${fusion.single.p50Ms} ms, raw ${fusion.raw.p50Ms} ms${loadNote}` : undefined,
  });
  const hybrid = at100k?.inProcess.find((r) => r.scenario === 'text:warm');
  const vectorOnly = at100k?.inProcess.find((r) => r.scenario === 'text:warm:no-words');
  checks.push({
    name: 'hybrid text query p50 ÷ vector-only text query p50 at 100k (in process, cached texts)',
    target: '≤ 1.3',
    measured: hybrid && vectorOnly ? round(hybrid.latency.p50Ms / vectorOnly.latency.p50Ms, 2) : null,
    unit: '',
    met: hybrid && vectorOnly ? hybrid.latency.p50Ms / vectorOnly.latency.p50Ms <= 1.3 : null,
    note: hybrid && vectorOnly ? `${hybrid.latency.p50Ms} ms with the words, ${vectorOnly.latency.p50Ms} ms without` : 'no 100k run',
  });
  for (const scale of report.scale) {
    for (const r of scale.recall) {
      checks.push({
        name: `recall@10 ${r.modality} at ${scale.items} (${r.queryKind === 'data' ? 'data-like' : 'off-distribution'} queries)`,
        target: '≥ 0.98',
        measured: r.recallAt10,
        unit: '',
        met: r.recallAt10 >= 0.98,
      });
    }
  }
  const ingest = report.ingest;
  checks.push({
    name: `ingest images/s (${report.pack.name} pack)`,
    target: '≥ 250',
    measured: ingest?.imagesPerSecond ?? null,
    unit: 'img/s',
    met: ingest ? ingest.imagesPerSecond >= 250 : null,
    note: report.pack.name === 'mini' ? undefined : 'the target is for the mini pack',
  });
  checks.push({
    name: 'ingest wall time / encoder time',
    target: '≤ 1.2',
    measured: ingest?.wallPerEncoder ?? null,
    unit: '',
    met: ingest ? ingest.wallPerEncoder <= 1.2 : null,
    note: ingest ? `load average ${ingest.loadAverage.before} → ${ingest.loadAverage.after}` : undefined,
  });
  const one25 = report.sampler?.runs.find((r) => r.steps === 25 && r.batch === 1);
  checks.push({
    name: 'sampler seconds per image at 25 steps (batch 1)',
    target: '≤ 1 s',
    measured: one25?.secondsPerImage ?? null,
    unit: 's',
    met: one25 ? one25.secondsPerImage <= 1 : null,
  });
  checks.push({
    name: 'sampler wall time / UNet time (25 steps, batch 1)',
    target: '≤ 1.15',
    measured: one25?.wallOverUnet ?? null,
    unit: '×',
    met: one25 ? one25.wallOverUnet <= 1.15 : null,
  });
  const cold = report.coldStart;
  checks.push({
    name: `cold start to first answer (${cold?.items ?? '?'} items)`,
    target: '≤ 2000 ms',
    measured: cold?.spawnToAnswerMs ?? null,
    unit: 'ms',
    met: cold ? cold.spawnToAnswerMs <= 2000 : null,
    note: cold && cold.items !== 100_000 ? 'the target is for 100k items' : undefined,
  });
  return checks;
}

main().catch((error: unknown) => {
  log(`failed: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
