/**
 * Opens everything a Parasol process serves from: the model pack, the store and the search
 * services, wired by plain constructors. The CLI and the HTTP server both start here.
 */
import path from 'node:path';
import type { Config } from './config.js';
import { loadGenerator, type GeneratorModels } from './encoders/generator.js';
import { loadEncoders } from './encoders/index.js';
import type { LoadedEncoders } from './encoders/index.js';
import { createError, isParasolError } from './errors.js';
import type { Logger } from './log.js';
import { silentLogger } from './log.js';
import { Generator } from './parasol/generate.js';
import { createGenerationQueue, type GenerationQueue } from './parasol/jobs.js';
import { SearchEngine } from './search/engine.js';
import { RefineSessions } from './search/refine.js';
import { InMemorySessionStore } from './search/session-store.js';
import { openEmbeddedStore } from './store/embedded.js';
import { KeyStore } from './store/keys.js';
import type { Store } from './store/types.js';

export interface ParasolContext {
  config: Config;
  logger: Logger;
  encoders: LoadedEncoders;
  /** The catalog and vector indices: embedded (SQLite + HNSW) or Elasticsearch, by `config.backend`. */
  store: Store;
  engine: SearchEngine;
  sessions: RefineSessions;
  /** Whether the pack has a generator (a `parasol` block in pack.json). */
  generatorAvailable: boolean;
  /** The generator, loaded on first use; GENERATION_UNAVAILABLE when the pack has none or it fails to load. */
  generator(): Promise<Generator>;
  /** Generation jobs (in-process queue; results under <dataDir>/generated). */
  jobs: GenerationQueue;
  /** API keys (<dataDir>/keys.sqlite). */
  keys: KeyStore;
  close(): Promise<void>;
}

/** The model pack's encoders, configured from `config` (step 1 of openContext; the bench times it alone). */
export function openEncoders(config: Config, logger: Logger = silentLogger): Promise<LoadedEncoders> {
  return loadEncoders({
    packDir: config.packDir,
    device: config.device,
    threads: config.threads || undefined,
    cacheSize: config.search.cacheSize,
    batchSize: config.ingest.batchSize,
    limitInputPixels: config.limits.maxPixels,
    logger: { info: (m, o) => logger.info(m, o as Record<string, unknown>), warn: (m, o) => logger.warn(m, o as Record<string, unknown>) },
  });
}

/** The configured store sized for the encoders' dimensions (step 2). */
export function openStore(config: Config, encoders: Pick<LoadedEncoders, 'semanticDim' | 'styleDim'>): Promise<Store> {
  return openEmbeddedStore({
    dataDir: config.dataDir,
    dims: { semantic: encoders.semanticDim, style: encoders.styleDim },
    hnsw: config.hnsw,
  });
}

/** The search engine over an opened store (step 3). */
export function createEngine(config: Config, store: Store, encoders: LoadedEncoders): SearchEngine {
  return new SearchEngine({
    catalog: store.catalog,
    indices: store.indices,
    encoders,
    options: {
      oversample: config.search.oversample,
      maxCandidates: config.search.maxCandidates,
      maxDeepening: config.search.maxDeepening,
      rrfWindow: config.search.rrfWindow,
    },
  });
}

export async function openContext(config: Config, logger: Logger = silentLogger): Promise<ParasolContext> {
  const encoders = await openEncoders(config, logger);
  let store: Store;
  try {
    store = await openStore(config, encoders);
  } catch (error) {
    await encoders.dispose();
    throw error;
  }
  let keys: KeyStore;
  try {
    keys = KeyStore.open(config.dataDir);
  } catch (error) {
    await store.close();
    await encoders.dispose();
    throw error;
  }
  const engine = createEngine(config, store, encoders);
  const sessions = new RefineSessions(engine, {
    store: new InMemorySessionStore({ ttlMs: config.sessions.ttlSeconds * 1000, maxSessions: config.sessions.max }),
  });
  const generatorAvailable = encoders.manifest.parasol !== undefined;
  let models: GeneratorModels | undefined;
  let loading: Promise<Generator> | undefined;
  let closed = false;
  const generator = (): Promise<Generator> =>
    (loading ??= (async () => {
      if (!generatorAvailable) throw createError('GENERATION_UNAVAILABLE', `the model pack "${encoders.packName}" has no generator (no "parasol" block)`);
      if (closed) throw createError('NOT_READY', 'the context is closed');
      try {
        models = await loadGenerator({ packDir: config.packDir, device: config.device, threads: config.threads || undefined });
        return new Generator({
          models,
          encoders,
          defaults: { steps: Math.min(config.generate.defaultSteps, models.dims.timesteps) },
          limitInputPixels: config.limits.maxPixels,
        });
      } catch (error) {
        logger.error('the generator failed to load', { error: (error as Error).message });
        await models?.dispose();
        models = undefined;
        throw createError('GENERATION_UNAVAILABLE', isParasolError(error) ? error.message : 'the generator failed to load');
      }
    })());
  const jobs = createGenerationQueue({
    generator,
    dir: path.join(config.dataDir, 'generated'),
    workers: config.generate.workers,
    queueLength: config.generate.queueLength,
    ttlMs: config.generate.resultTtlSeconds * 1000,
    cacheBytes: config.generate.resultCacheBytes,
    logger,
  });
  return {
    config,
    logger,
    encoders,
    store,
    engine,
    sessions,
    generatorAvailable,
    generator,
    jobs,
    keys,
    async close() {
      if (closed) return;
      closed = true;
      await jobs.close();
      await loading?.catch(() => undefined);
      await store.close();
      keys.close();
      await models?.dispose();
      await encoders.dispose();
    },
  };
}
