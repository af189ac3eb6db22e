/**
 * Opens everything a Parasol process serves from: the model pack, the store and the search
 * services, wired by plain constructors. The CLI and the HTTP server both start here.
 */
import type { Config } from './config.js';
import { loadEncoders } from './encoders/index.js';
import type { LoadedEncoders } from './encoders/index.js';
import type { Logger } from './log.js';
import { silentLogger } from './log.js';
import { SearchEngine } from './search/engine.js';
import { RefineSessions } from './search/refine.js';
import { InMemorySessionStore } from './search/session-store.js';
import { openEmbeddedStore } from './store/embedded.js';
import type { EmbeddedStore } from './store/embedded.js';

export interface ParasolContext {
  config: Config;
  logger: Logger;
  encoders: LoadedEncoders;
  store: EmbeddedStore;
  engine: SearchEngine;
  sessions: RefineSessions;
  close(): Promise<void>;
}

export async function openContext(config: Config, logger: Logger = silentLogger): Promise<ParasolContext> {
  const encoders = await loadEncoders({
    packDir: config.packDir,
    device: config.device,
    threads: config.threads || undefined,
    cacheSize: config.search.cacheSize,
    batchSize: config.ingest.batchSize,
    limitInputPixels: config.limits.maxPixels,
    logger: { info: (m, o) => logger.info(m, o as Record<string, unknown>), warn: (m, o) => logger.warn(m, o as Record<string, unknown>) },
  });
  let store: EmbeddedStore;
  try {
    store = await openEmbeddedStore({
      dataDir: config.dataDir,
      dims: { semantic: encoders.semanticDim, style: encoders.styleDim },
      hnsw: config.hnsw,
    });
  } catch (error) {
    await encoders.dispose();
    throw error;
  }
  const engine = new SearchEngine({
    catalog: store.catalog,
    indices: store.indices,
    encoders,
    options: { oversample: config.search.oversample, maxCandidates: config.search.maxCandidates },
  });
  const sessions = new RefineSessions(engine, {
    store: new InMemorySessionStore({ ttlMs: config.sessions.ttlSeconds * 1000, maxSessions: config.sessions.max }),
  });
  let closed = false;
  return {
    config,
    logger,
    encoders,
    store,
    engine,
    sessions,
    async close() {
      if (closed) return;
      closed = true;
      await store.close();
      await encoders.dispose();
    },
  };
}
