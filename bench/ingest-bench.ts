/**
 * Ingest throughput on the demo corpus with the real encoders: the first N icons are rendered,
 * hashed, probed, decoded, encoded (both towers) and committed into a fresh store, exactly as
 * `parasol index --demo` does.
 *
 * The configured settings (model workers, intra-op threads, batch size) run side by side with
 * their peers, interleaved (A B A B …), each run on fresh encoders and a fresh store: on a shared
 * machine the load moves between runs, so the ratios are the figures to trust.
 */
import { mkdir, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../src/config.js';
import { loadEncoders, type LoadedEncoders } from '../src/encoders/index.js';
import { readPack } from '../src/encoders/pack.js';
import { openStore } from '../src/context.js';
import { demoIndexSource } from '../indexer/demo-index.js';
import { ingest } from '../indexer/ingest.js';
import type { IngestSource } from '../indexer/sources/types.js';
import { measureIngestStages, type IngestStages } from './ingest-stages.js';
import { round } from './stats.js';

/** How ingestion runs: model worker threads, intra-op threads each, images per model run, items per batch (one commit each). */
export interface IngestSettings {
  workers: number;
  threads: number;
  runSize: number;
  batchSize: number;
  /** The joint graph's efConstruction, when a run overrides the config's (its inserts are most of the graph time). */
  jointEfConstruction?: number;
}

export interface IngestRun {
  settings: IngestSettings;
  seen: number;
  added: number;
  skipped: number;
  seconds: number;
  /** Items through the whole pipeline per second (render + decode + encode + commit + index). */
  imagesPerSecond: number;
  /** Seconds the models were running (both image towers, on every worker): the encoders' own time. */
  encoderSeconds: number;
  /** Wall time ÷ encoder time: 1 when everything else (read, render, decode, commit) hides behind the models. */
  wallPerEncoder: number;
  /** Share of wall time with the models running (the inverse). */
  encoderShare: number;
  /** Images per second of encoder time alone: what the models would sustain if the rest were free. */
  encoderImagesPerSecond: number;
  /**
   * CPU time the whole process spent per item (every thread: JS, sharp's, the model workers').
   * Other work on the machine barely moves it, unlike img/s: on a loaded machine compare this.
   */
  cpuMsPerImage: number;
  /** CPU seconds ÷ wall seconds: the cores kept busy (at most the core count; less when others take them). */
  coresBusy: number;
  /** The process's largest resident set during the run (sampled every 200 ms). */
  peakRssBytes: number;
  /** That peak less the resident set at the start of the run (the corpus, the models and the workers are loaded by then). */
  peakRssGrowthBytes: number;
  /** The machine's 1-minute load average before and after the run: other work on the cores shows here. */
  loadAverage: { before: number; after: number };
}

export interface IngestComparison {
  settings: IngestSettings;
  runs: number;
  /** Medians over this setting's runs (the mean of the middle two for an even count). */
  imagesPerSecond: number;
  wallPerEncoder: number;
  cpuMsPerImage: number;
  /** This setting's median img/s ÷ the configured setting's (the configured one is 1). */
  relativeToConfigured: number;
}

/**
 * The headline keys are the medians of the configured setting's runs (peak RSS: the largest; load:
 * before the first, after the last); `runs` and `comparison` hold every run and each peer.
 */
export interface IngestResult extends Omit<IngestRun, 'settings'> {
  source: string;
  /** Items asked for (the corpus may hold fewer). */
  limit: number;
  /** The settings the product runs with (config and defaults): the headline figures are theirs. */
  settings: IngestSettings;
  batchSize: number;
  /** Building the corpus (loading the emoji sets), before the clock starts. */
  sourceSetupSeconds: number;
  /** Every run in the order it ran (settings interleaved). */
  runs: IngestRun[];
  comparison: IngestComparison[];
  /** Where an image's CPU time goes, step by step (the configured settings; absent when not asked for). */
  stages?: IngestStages;
}

export interface IngestBenchOptions {
  limit: number;
  /** Settings to compare; the first is the configured one. */
  settings: IngestSettings[];
  /** Runs of each setting, interleaved. */
  repeat: number;
  /** Items for the step-by-step CPU breakdown, measured before the runs (0 or absent: none). */
  stages?: number;
}

/** The settings the encoders run with under `config` (what `openContext` gives them). */
export function configuredSettings(config: Config, encoders: Pick<LoadedEncoders, 'imageSettings'>): IngestSettings {
  const { workers, threads, runSize } = encoders.imageSettings;
  return { workers, threads, runSize, batchSize: config.ingest.batchSize };
}

export async function benchIngest(config: Config, dataDir: string, options: IngestBenchOptions): Promise<IngestResult> {
  if (options.settings.length === 0) throw new Error('benchIngest: no settings to run');
  const setupStart = performance.now();
  const source = demoIndexSource(await readPack(config.packDir), { limit: options.limit });
  const sourceSetupSeconds = (performance.now() - setupStart) / 1000;
  const stages = options.stages ? await breakdown(config, dataDir, options.settings[0], options.stages) : undefined;
  const runs: IngestRun[] = [];
  for (let pass = 0; pass < options.repeat; pass++) {
    for (const [i, settings] of options.settings.entries()) {
      const encoders = await encodersFor(config, settings);
      try {
        const run = await oneRun(config, encoders, source, join(dataDir, `run-${pass}-${i}`), settings);
        runs.push(run);
        process.stderr.write(
          `  ingest ${describeSettings(settings)}: ${run.imagesPerSecond} img/s, wall ÷ encoder ${run.wallPerEncoder}, ` +
            `${run.cpuMsPerImage} CPU ms/img on ${run.coresBusy} cores, ` +
            `peak RSS ${(run.peakRssBytes / 2 ** 20).toFixed(0)} MiB (+${(run.peakRssGrowthBytes / 2 ** 20).toFixed(0)} in the run), ` +
            `load ${run.loadAverage.before}\n`,
        );
      } finally {
        await encoders.dispose();
      }
    }
  }
  const comparison = options.settings.map((settings) => {
    const own = runs.filter((r) => r.settings === settings);
    return {
      settings,
      runs: own.length,
      imagesPerSecond: round(midpoint(own.map((r) => r.imagesPerSecond)), 1),
      wallPerEncoder: round(midpoint(own.map((r) => r.wallPerEncoder)), 2),
      cpuMsPerImage: round(midpoint(own.map((r) => r.cpuMsPerImage)), 2),
      relativeToConfigured: 0,
    };
  });
  for (const c of comparison) c.relativeToConfigured = round(c.imagesPerSecond / comparison[0].imagesPerSecond, 2);
  const settings = options.settings[0];
  const configured = runs.filter((r) => r.settings === settings);
  const mid = (key: NumericKey, digits: number) => round(midpoint(configured.map((r) => r[key])), digits);
  return {
    source: source.label,
    limit: options.limit,
    settings,
    seen: configured[0].seen,
    added: configured[0].added,
    skipped: configured[0].skipped,
    seconds: mid('seconds', 2),
    imagesPerSecond: mid('imagesPerSecond', 1),
    encoderSeconds: mid('encoderSeconds', 2),
    wallPerEncoder: mid('wallPerEncoder', 2),
    encoderShare: mid('encoderShare', 3),
    encoderImagesPerSecond: mid('encoderImagesPerSecond', 1),
    cpuMsPerImage: mid('cpuMsPerImage', 2),
    coresBusy: mid('coresBusy', 2),
    peakRssBytes: Math.max(...configured.map((r) => r.peakRssBytes)),
    peakRssGrowthBytes: Math.max(...configured.map((r) => r.peakRssGrowthBytes)),
    loadAverage: { before: configured[0].loadAverage.before, after: configured[configured.length - 1].loadAverage.after },
    batchSize: settings.batchSize,
    sourceSetupSeconds: round(sourceSetupSeconds, 2),
    runs,
    comparison,
    ...(stages ? { stages } : {}),
  };
}

function encodersFor(config: Config, settings: IngestSettings): Promise<LoadedEncoders> {
  return loadEncoders({
    packDir: config.packDir,
    device: config.device,
    imageThreads: settings.threads,
    imageWorkers: Math.max(1, settings.workers),
    imageRunSize: settings.runSize,
    batchSize: settings.batchSize,
    cacheSize: 0,
    limitInputPixels: config.limits.maxPixels,
  });
}

async function breakdown(config: Config, dataDir: string, settings: IngestSettings, limit: number): Promise<IngestStages> {
  const encoders = await encodersFor(config, settings);
  try {
    const source = demoIndexSource(encoders, { limit });
    const stages = await measureIngestStages(config, encoders, source, join(dataDir, 'stages'), { batchSize: settings.batchSize });
    process.stderr.write(
      `  ingest steps (${stages.images} items, CPU ms/img): ` +
        `${Object.entries(stages.stages).map(([name, cost]) => `${name} ${cost.cpuMsPerImage}`).join(', ')}; ` +
        `pipeline ${stages.pipelineCpuMsPerImage}, not the towers ${stages.notEncoderCpuMsPerImage}\n`,
    );
    return stages;
  } finally {
    await encoders.dispose();
  }
}

type NumericKey = 'seconds' | 'imagesPerSecond' | 'encoderSeconds' | 'wallPerEncoder' | 'encoderShare' | 'encoderImagesPerSecond' | 'cpuMsPerImage' | 'coresBusy';

/** The median, the mean of the middle two for an even count (with two runs: their mean). */
function midpoint(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const half = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2;
}

export function describeSettings(s: IngestSettings): string {
  const joint = s.jointEfConstruction === undefined ? '' : `, joint efConstruction ${s.jointEfConstruction}`;
  return `${s.workers} worker${s.workers === 1 ? '' : 's'} × ${s.threads} thread${s.threads === 1 ? '' : 's'}, runs of ${s.runSize}, batch ${s.batchSize}${joint}`;
}

async function oneRun(config: Config, encoders: LoadedEncoders, source: IngestSource, dir: string, settings: IngestSettings): Promise<IngestRun> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const dataDir = dir;
  // The store the product opens (openStore): the joint graph with its own degree included.
  const hnsw = { ...config.hnsw, jointEfConstruction: settings.jointEfConstruction ?? config.hnsw.jointEfConstruction };
  const store = await openStore({ ...config, hnsw, backend: 'sqlite', dataDir }, encoders);
  // Start every model worker before the clock: a long-running ingest pays that once.
  const blank = new Float32Array(3 * encoders.manifest.semantic.image.preprocess.size ** 2);
  const styleBlank = new Float32Array(3 * encoders.manifest.style.image.preprocess.size ** 2);
  await encoders.describePrepared(Array.from({ length: Math.max(1, settings.workers) }, () => ({ semantic: blank, style: styleBlank })));
  const rssBefore = process.memoryUsage.rss();
  let peakRss = rssBefore;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 200);
  const loadBefore = loadavg()[0];
  const cpuBefore = process.cpuUsage();
  try {
    const summary = await ingest(source, encoders, store, {
      batchSize: settings.batchSize,
      thumbnailSize: config.ingest.thumbnailSize,
      maxPixels: config.limits.maxPixels,
      progress: null,
    });
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const encoderSeconds = summary.encoderShare * summary.seconds;
    return {
      settings,
      seen: summary.seen,
      added: summary.added,
      skipped: summary.skipped,
      seconds: round(summary.seconds, 2),
      imagesPerSecond: round(summary.itemsPerSecond, 1),
      encoderSeconds: round(encoderSeconds, 2),
      wallPerEncoder: round(encoderSeconds > 0 ? summary.seconds / encoderSeconds : 0, 2),
      encoderShare: round(summary.encoderShare, 3),
      encoderImagesPerSecond: round(encoderSeconds > 0 ? summary.added / encoderSeconds : 0, 1),
      cpuMsPerImage: round((cpuSeconds * 1000) / Math.max(1, summary.seen), 2),
      coresBusy: round(cpuSeconds / Math.max(summary.seconds, 1e-9), 2),
      peakRssBytes: peakRss,
      peakRssGrowthBytes: peakRss - rssBefore,
      loadAverage: { before: round(loadBefore, 2), after: round(loadavg()[0], 2) },
    };
  } finally {
    clearInterval(sampler);
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
