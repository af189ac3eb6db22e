/**
 * Ingest throughput on the demo corpus with the real encoders: the first N icons are rendered,
 * hashed, probed, encoded (both towers) and committed into a fresh store, exactly as
 * `parasol index --demo` does.
 */
import { loadavg } from 'node:os';
import type { Config } from '../src/config.js';
import type { LoadedEncoders } from '../src/encoders/index.js';
import { openEmbeddedStore } from '../src/store/embedded.js';
import { demoIndexSource } from '../indexer/demo-index.js';
import { ingest } from '../indexer/ingest.js';
import { round } from './stats.js';

export interface IngestResult {
  source: string;
  /** Items asked for (the corpus may hold fewer). */
  limit: number;
  seen: number;
  added: number;
  skipped: number;
  seconds: number;
  /** Items through the whole pipeline per second (render + decode + encode + commit + index). */
  imagesPerSecond: number;
  /** Share of wall time inside the encoders' models (both image towers, batched). */
  encoderShare: number;
  /** Seconds inside the models: the encoders' own time. */
  encoderSeconds: number;
  /** Wall time ÷ encoder time: 1 when everything else (read, render, decode, commit) hides behind the models. */
  wallPerEncoder: number;
  /** Images per second of encoder time alone: what the models would sustain if the rest were free. */
  encoderImagesPerSecond: number;
  batchSize: number;
  /** Building the corpus (loading the emoji sets), before the clock starts. */
  sourceSetupSeconds: number;
  /** The machine's 1-minute load average before and after: other work on the cores shows here. */
  loadAverage: { before: number; after: number };
}

export async function benchIngest(config: Config, encoders: LoadedEncoders, dataDir: string, limit: number): Promise<IngestResult> {
  const setupStart = performance.now();
  const source = demoIndexSource(encoders, { limit });
  const sourceSetupSeconds = (performance.now() - setupStart) / 1000;
  const store = await openEmbeddedStore({
    dataDir,
    dims: { semantic: encoders.semanticDim, style: encoders.styleDim },
    hnsw: config.hnsw,
  });
  const loadBefore = loadavg()[0];
  try {
    const summary = await ingest(source, encoders, store, {
      batchSize: config.ingest.batchSize,
      thumbnailSize: config.ingest.thumbnailSize,
      maxPixels: config.limits.maxPixels,
      progress: { write: (line) => process.stderr.write(`  ${line}`) },
    });
    const encoderSeconds = summary.encoderShare * summary.seconds;
    return {
      source: source.label,
      limit,
      seen: summary.seen,
      added: summary.added,
      skipped: summary.skipped,
      seconds: round(summary.seconds, 2),
      imagesPerSecond: round(summary.itemsPerSecond, 1),
      encoderShare: round(summary.encoderShare, 3),
      encoderSeconds: round(encoderSeconds, 2),
      wallPerEncoder: round(encoderSeconds > 0 ? summary.seconds / encoderSeconds : 0, 2),
      encoderImagesPerSecond: round(encoderSeconds > 0 ? summary.added / encoderSeconds : 0, 1),
      batchSize: config.ingest.batchSize,
      sourceSetupSeconds: round(sourceSetupSeconds, 2),
      loadAverage: { before: round(loadBefore, 2), after: round(loadavg()[0], 2) },
    };
  } finally {
    await store.close();
  }
}
