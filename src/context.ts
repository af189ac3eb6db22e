/**
 * The composition root: opens everything a Parasol process serves from (the model pack, the
 * store, the engine, the queue) and builds the services over them, wired by plain constructors.
 * The CLI and the HTTP server both start here; nothing else opens a store.
 */
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import { loadGenerator, type GeneratorModels } from './encoders/generator.js';
import { loadEncoders } from './encoders/index.js';
import type { LoadedEncoders } from './encoders/index.js';
import { createError, isParasolError } from './errors.js';
import type { Logger } from './log.js';
import { silentLogger } from './log.js';
import { Generator } from './parasol/generate.js';
import { createGenerationQueue, type GenerationQueue } from './jobs/generation.js';
import { SearchBreadth } from './search/breadth.js';
import { SearchEngine } from './search/engine.js';
import { RefineSessions } from './search/refine.js';
import { InMemorySessionStore, type SessionStore } from './search/session-store.js';
import { openEmbeddedStore } from './store/embedded.js';
import { openKeyStore, type KeyStore } from './store/keys/index.js';
import type { Store, StoreRecord } from './store/types.js';
import type { Reencoder } from './services/reindex.js';
import { AdminService } from './services/admin.js';
import { GenerationService } from './services/generation.js';
import type { ParasolServices } from './services/index.js';
import { ItemService } from './services/items.js';
import { KeyService } from './services/keys.js';
import type { Backend, StoreOpener } from './services/migration.js';
import { SearchService } from './services/search.js';
import { SessionService } from './services/sessions.js';
import { TuneService } from './services/tune.js';

export interface ParasolContext {
  config: Config;
  logger: Logger;
  encoders: LoadedEncoders;
  /** The catalog and vector indices: embedded (SQLite + HNSW) or Elasticsearch, by `config.backend`. */
  store: Store;
  engine: SearchEngine;
  /** The engine's per-modality, per-query-kind search breadth, from the store's tuning (`parasol tune`). */
  breadth: SearchBreadth;
  sessions: RefineSessions;
  /** Whether the pack has a generator (a `parasol` block in pack.json). */
  generatorAvailable: boolean;
  /** The generator, loaded on first use; GENERATION_UNAVAILABLE when the pack has none or it fails to load. */
  generator(): Promise<Generator>;
  /** Generation jobs (in-process queue; results under <dataDir>/generated). */
  jobs: GenerationQueue;
  /** API keys: <dataDir>/keys.sqlite, or shared in Redis (`keys.store`). */
  keys: KeyStore;
  /** What a user can do, over the parts above: the routes and the CLI commands call these. */
  services: ParasolServices;
  close(): Promise<void>;
}

/** The parts the services are built over. */
export type ServiceParts = Omit<ParasolContext, 'services' | 'close'>;

/** The services over opened parts (openContext calls it; tests call it over parts they changed). */
export function createServices(parts: ServiceParts): ParasolServices {
  const { config, encoders, store, engine, jobs } = parts;
  const items = new ItemService({ config, encoders, store });
  return {
    items,
    search: new SearchService(engine),
    sessions: new SessionService(parts.sessions),
    generation: new GenerationService({
      config,
      manifest: encoders.manifest,
      packName: encoders.packName,
      catalog: store.catalog,
      encoders,
      jobs,
      available: parts.generatorAvailable,
      generator: () => parts.generator(),
      itemImage: async (id) => (await items.thumbnail(id)) ?? undefined,
    }),
    keys: new KeyService(parts.keys),
    admin: new AdminService({ store, encoders }),
    tune: new TuneService({ store, encoders, breadth: parts.breadth }),
  };
}

/** The API keys alone, without the models or the store (`parasol keys`, the bind check before a server starts). */
export async function openKeys(config: Config, logger?: Logger): Promise<KeyService> {
  return new KeyService(await openKeyStore(config, logger));
}

/**
 * Opens the configured store of either backend with the pack's dimensions read from its manifest,
 * without loading any model (`parasol migrate` copies vectors, it never re-encodes them).
 */
export async function storeOpener(config: Config): Promise<StoreOpener> {
  const { readPack } = await import('./encoders/pack.js');
  const { manifest } = await readPack(config.packDir);
  const dims = { semanticDim: manifest.semantic.dim, styleDim: manifest.style.dim };
  return (backend: Backend) => openStore({ ...config, backend }, dims);
}

/** The model pack's encoders, configured from `config` (step 1 of openContext; the bench times it alone). */
export function openEncoders(config: Config, logger: Logger = silentLogger): Promise<LoadedEncoders> {
  return loadEncoders({
    packDir: config.packDir,
    device: config.device,
    threads: config.threads || undefined,
    cacheSize: config.search.cacheSize,
    batchSize: config.ingest.batchSize,
    imageWorkers: config.ingest.imageWorkers,
    limitInputPixels: config.limits.maxPixels,
    logger,
  });
}

/** The configured store (`config.backend`) sized for the encoders' dimensions (step 2). */
export async function openStore(
  config: Config,
  encoders: Pick<LoadedEncoders, 'semanticDim' | 'styleDim'> & Partial<Pick<LoadedEncoders, 'stamp'>>,
  logger: Logger = silentLogger,
): Promise<Store> {
  const dims = { semantic: encoders.semanticDim, style: encoders.styleDim };
  // With the pack's stamp, a store built by another pack is refused (`parasol reindex` moves it).
  const pack = encoders.stamp;
  if (config.backend === 'sqlite') {
    const { joint, jointM, jointEfConstruction, jointEfSearch, ...hnsw } = config.hnsw;
    return openEmbeddedStore({ dataDir: config.dataDir, dims, hnsw, joint, jointM, jointEfConstruction, jointEfSearch, pack });
  }
  // Loaded only when chosen: the embedded default never pays for the client.
  const { openElasticStore } = await import('./store/elastic.js');
  return openElasticStore({ ...elasticSettings(config, logger), dims, pack });
}

/** The Elasticsearch connection and index settings from the config (dimensions and pack aside). */
function elasticSettings(config: Config, logger: Logger) {
  const { elastic } = config;
  return {
    node: elastic.url,
    auth: elastic.apiKey
      ? { apiKey: elastic.apiKey }
      : elastic.username && elastic.password
        ? { username: elastic.username, password: elastic.password }
        : undefined,
    tls: elastic.caFile ? { caFile: elastic.caFile } : undefined,
    requestTimeoutMs: elastic.requestTimeoutMs,
    index: elastic.index,
    shards: elastic.shards,
    replicas: elastic.replicas,
    quantization: elastic.quantization,
    hnsw: { m: elastic.m, efConstruction: elastic.efConstruction },
    numCandidatesFactor: elastic.numCandidatesFactor,
    refresh: elastic.refresh,
    bulk: { flushBytes: elastic.bulkFlushBytes, concurrency: elastic.bulkConcurrency, retries: elastic.bulkRetries },
    logger: { info: (m: string, o?: Record<string, unknown>) => logger.info(m, o), warn: (m: string, o?: Record<string, unknown>) => logger.warn(m, o) },
  };
}

/**
 * The configured store's record of the pack that built it, and its re-encode with the current pack
 * (`parasol reindex`), both without opening it for serving (another pack's store refuses that).
 */
export async function storeReencoder(config: Config, logger: Logger = silentLogger): Promise<{ record(): Promise<StoreRecord>; reencode: Reencoder }> {
  if (config.backend === 'sqlite') {
    const { readEmbeddedRecord, reencodeEmbedded } = await import('./store/embedded-reencode.js');
    return { record: () => readEmbeddedRecord(config.dataDir), reencode: (options) => reencodeEmbedded(config.dataDir, options) };
  }
  const { readElasticRecord, reencodeElastic } = await import('./store/elastic.js');
  const settings = elasticSettings(config, logger);
  return { record: () => readElasticRecord(settings), reencode: (options) => reencodeElastic(settings, options) };
}

/** Where finished generated images live: shared with the workers when the queue is in Redis. */
export function generatedDir(config: Config): string {
  return config.generate.sharedDir ?? path.join(config.dataDir, 'generated');
}

/** The search engine over an opened store (step 3); `breadth`: the store's tuning (untuned without it). */
export function createEngine(config: Config, store: Store, encoders: LoadedEncoders, breadth?: SearchBreadth): SearchEngine {
  return new SearchEngine({
    catalog: store.catalog,
    indices: store.indices,
    encoders,
    breadth,
    options: {
      oversample: config.search.oversample,
      maxCandidates: config.search.maxCandidates,
      maxDeepening: config.search.maxDeepening,
      rrfWindow: config.search.rrfWindow,
      itemCacheSize: config.search.itemCacheSize,
      itemCacheVectors: config.search.itemCacheVectors,
      // The words window's vector list as deep as the graph search is broad (see wordsVectorDepth).
      wordsVectorDepth: config.hnsw.efSearch,
    },
  });
}

/**
 * The PARASOL generator of the configured pack over loaded encoders (the API server loads it on
 * first use; `parasol worker` at start). GENERATION_UNAVAILABLE when the pack has none or it fails to load.
 */
export async function loadGeneratorFor(
  config: Config,
  encoders: LoadedEncoders,
  logger: Logger = silentLogger,
): Promise<{ generator: Generator; models: GeneratorModels }> {
  if (encoders.manifest.parasol === undefined) {
    throw createError('GENERATION_UNAVAILABLE', `the model pack "${encoders.packName}" has no generator (no "parasol" block)`);
  }
  let models: GeneratorModels | undefined;
  try {
    models = await loadGenerator({ packDir: config.packDir, device: config.device, threads: config.threads || undefined });
    const generator = new Generator({
      models,
      encoders,
      defaults: { steps: Math.min(config.generate.defaultSteps, models.dims.timesteps) },
      limitInputPixels: config.limits.maxPixels,
    });
    return { generator, models };
  } catch (error) {
    logger.error('the generator failed to load', { error: (error as Error).message });
    await models?.dispose();
    throw createError('GENERATION_UNAVAILABLE', isParasolError(error) ? error.message : 'the generator failed to load');
  }
}

/**
 * The store's search tuning as the engine reads it. A record that cannot be read is logged and
 * ignored (searches run untuned, as before any tune) rather than keeping the server down;
 * `parasol tune` replaces it, `parasol tune --reset` removes it.
 */
async function openBreadth(config: Config, store: Store, logger: Logger): Promise<SearchBreadth> {
  const fallbackEf = store.backend === 'sqlite' ? config.hnsw.efSearch : undefined;
  try {
    return new SearchBreadth(await store.catalog.searchTuning(), fallbackEf);
  } catch (error) {
    if (!isParasolError(error) || error.code !== 'STORE_CORRUPT') throw error;
    logger.warn('ignoring the stored search tuning', { error: error.message });
    return new SearchBreadth(null, fallbackEf);
  }
}

export interface OpenContextOptions {
  /** An opened store to serve from instead of the configured one (the context closes it). */
  store?: Store;
}

export async function openContext(config: Config, logger: Logger = silentLogger, options: OpenContextOptions = {}): Promise<ParasolContext> {
  const encoders = await openEncoders(config, logger);
  let store: Store;
  try {
    store = options.store ?? (await openStore(config, encoders, logger));
  } catch (error) {
    await encoders.dispose();
    throw error;
  }
  let keys: KeyStore;
  try {
    keys = await openKeyStore(config, logger);
  } catch (error) {
    await store.close();
    await encoders.dispose();
    throw error;
  }
  let breadth: SearchBreadth;
  try {
    breadth = await openBreadth(config, store, logger);
  } catch (error) {
    await keys.close();
    await store.close();
    await encoders.dispose();
    throw error;
  }
  const engine = createEngine(config, store, encoders, breadth);
  let sessionRedis: Redis | undefined;
  let sessionStore: SessionStore;
  if (config.sessions.store === 'redis') {
    // Loaded only when chosen, like the Redis queue below: the embedded default never pays for them.
    const [{ Redis: RedisClient }, { RedisSessionStore }] = await Promise.all([import('ioredis'), import('./search/redis-session-store.js')]);
    // A request fails after one reconnection attempt instead of hanging while Redis is down.
    sessionRedis = new RedisClient(config.redis.url, { maxRetriesPerRequest: 1 });
    sessionRedis.on('error', (error: Error) => logger.warn('redis connection error (sessions)', { error: error.message }));
    sessionStore = new RedisSessionStore({ redis: sessionRedis, prefix: config.redis.prefix, ttlMs: config.sessions.ttlSeconds * 1000 });
  } else {
    sessionStore = new InMemorySessionStore({ ttlMs: config.sessions.ttlSeconds * 1000, maxSessions: config.sessions.max });
  }
  const sessions = new RefineSessions(engine, { store: sessionStore });
  const generatorAvailable = encoders.manifest.parasol !== undefined;
  let models: GeneratorModels | undefined;
  let loading: Promise<Generator> | undefined;
  let closed = false;
  const generator = (): Promise<Generator> =>
    (loading ??= (async () => {
      if (closed) throw createError('NOT_READY', 'the context is closed');
      const loaded = await loadGeneratorFor(config, encoders, logger);
      models = loaded.models;
      return loaded.generator;
    })());
  let jobs: GenerationQueue;
  try {
    jobs =
      config.queue.backend === 'redis'
        ? (await import('./jobs/redis-queue.js')).createRedisGenerationQueue({
            redisUrl: config.redis.url,
            prefix: config.redis.prefix,
            dir: generatedDir(config),
            queueLength: config.generate.queueLength,
            // Enforced in Redis, where the queue lives: one allowance per key across every API server.
            perOwnerLimit: config.generate.perKeyQueue,
            ttlMs: config.generate.resultTtlSeconds * 1000,
            logger,
          })
        : createGenerationQueue({
            generator,
            dir: generatedDir(config),
            workers: config.generate.workers,
            queueLength: config.generate.queueLength,
            ttlMs: config.generate.resultTtlSeconds * 1000,
            cacheBytes: config.generate.resultCacheBytes,
            logger,
          });
  } catch (error) {
    sessionRedis?.disconnect();
    await keys.close();
    await store.close();
    await encoders.dispose();
    throw error;
  }
  const parts: ServiceParts = { config, logger, encoders, store, engine, breadth, sessions, generatorAvailable, generator, jobs, keys };
  return {
    ...parts,
    services: createServices(parts),
    async close() {
      if (closed) return;
      closed = true;
      await jobs.close();
      sessionRedis?.disconnect();
      await loading?.catch(() => undefined);
      await store.close();
      await keys.close();
      await models?.dispose();
      await encoders.dispose();
    },
  };
}
