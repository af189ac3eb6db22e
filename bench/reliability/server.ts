/**
 * The server under test: a real context on a temporary data dir (or an existing one), demo items
 * ingested, createApp listening on 127.0.0.1 at a random port. Loopback only, no keys.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp } from '../../src/api/app.js';
import { loadConfig, PACKAGE_ROOT, type Config } from '../../src/config.js';
import { openContext, type ParasolContext } from '../../src/context.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { buildDemoIndex } from '../../indexer/demo-index.js';

export const TINY_GENERATOR = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'tiny-generator');

export interface ServerOptions {
  /** Model pack (default: the tiny generator pack: encoders + generator, fast). */
  pack?: string;
  /** An existing data dir to serve (nothing is ingested); else a temporary one is made. */
  dataDir?: string;
  /** Demo items to ingest into a fresh data dir. */
  items: number;
  generate?: { workers?: number; queueLength?: number; maxSteps?: number; defaultSteps?: number };
  threads?: number;
}

export interface ServerUnderTest {
  url: string;
  context: ParasolContext;
  config: Config;
  itemIds: string[];
  close(): Promise<void>;
}

export async function startServerUnderTest(options: ServerOptions, logger: Logger = silentLogger): Promise<ServerUnderTest> {
  const pack = path.resolve(options.pack ?? TINY_GENERATOR);
  if (!existsSync(path.join(pack, 'pack.json'))) throw new Error(`no model pack at ${pack}`);
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'parasol-reliability-')));
  const config = loadConfig(
    {
      dataDir,
      packDir: pack,
      device: 'cpu',
      threads: options.threads ?? 1,
      generate: { workers: 1, queueLength: 4, maxSteps: 4, defaultSteps: 2, ...options.generate },
    },
    {},
  );
  const context = await openContext(config, logger);
  let server: Server | undefined;
  const cleanup = async () => {
    if (server) {
      const s = server;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    }
    await context.close();
    if (temporary) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    let itemIds: string[] = [];
    if (temporary && options.items > 0) {
      const summary = await buildDemoIndex(context, { limit: options.items, progress: null });
      itemIds = summary.addedIds;
    } else {
      const page = await context.store.catalog.scan(200)[Symbol.asyncIterator]().next();
      itemIds = page.done ? [] : page.value.map((item) => item.id);
    }
    const app = createApp({ config: context.config, logger: context.logger, services: context.services, ready: () => true });
    server = await new Promise<Server>((resolve, reject) => {
      const listening = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(listening)));
    });
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('the server has no port');
    return { url: `http://127.0.0.1:${address.port}`, context, config, itemIds, close: cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
