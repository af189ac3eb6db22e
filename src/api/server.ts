/**
 * `parasol serve`: opens the context; on an empty data dir indexes the first slice of the demo
 * corpus, listens, and indexes the rest in the background (progress in /v1/stats); on
 * SIGINT/SIGTERM stops taking requests, lets the current ingest batch finish, saves index
 * snapshots and releases the models.
 */
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import path from 'node:path';
import { PACKAGE_ROOT, type Config } from '../config.js';
import { openContext, openKeys, type ParasolContext } from '../context.js';
import { jsonLogger } from '../log.js';
import { createApp } from './app.js';
import { assertSafeBind, authRequired, isLoopback } from './auth.js';
import type { DemoIndexing } from './deps.js';

export interface StartOptions {
  /** Build the demo index first when the catalog is empty. */
  demo: boolean;
}

export interface RunningServer {
  /** Empty when a signal stopped the process before it listened. */
  url: string;
  context: ParasolContext;
  /** Stops listening, saves snapshots and disposes of everything (idempotent). */
  stop(): Promise<void>;
}

export const WEB_DIST = path.join(PACKAGE_ROOT, 'web', 'dist');

/**
 * Present while a demo build is unfinished, so that the next start resumes it (ingestion skips
 * what is stored) instead of serving a partial corpus because the catalog is no longer empty.
 */
const DEMO_MARKER = 'demo-index.incomplete';

/** Open connections get this long to finish before they are cut. */
const DRAIN_MS = 10_000;

export async function startServer(config: Config, options: StartOptions): Promise<RunningServer> {
  const logger = jsonLogger();
  // Before anything is loaded: never serve the network without keys by accident.
  const keys = await openKeys(config, logger);
  try {
    await assertSafeBind(config, keys);
  } finally {
    await keys.close();
  }
  const context = await openContext(config, logger);
  const { services } = context;
  let stopRequested = false;
  let server: Server | undefined;
  let stopped: Promise<void> | undefined;
  /** The rest of a first-start demo build, running while the server already answers. */
  let background: Promise<void> = Promise.resolve();
  let indexing: DemoIndexing | null = null;

  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      // Never close the store under a running ingest batch: the build sees the flag, finishes
      // its batch and returns; only then does the shutdown go on.
      stopRequested = true;
      await background;
      if (server) await closeServer(server);
      try {
        await services.admin.save();
      } finally {
        await context.close();
      }
      logger.info('stopped');
    })());

  let startupSettled: Promise<unknown> = Promise.resolve();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopRequested) process.exit(130); // a second signal: the user means it
    stopRequested = true;
    logger.info('stopping', { signal });
    startupSettled.then(stop).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('stop failed', { error: (error as Error).message });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const startup = (async (): Promise<string> => {
    const marker = path.join(config.dataDir, DEMO_MARKER);
    if (options.demo && ((await services.admin.itemCount()) === 0 || existsSync(marker))) {
      const serveAfter = config.ingest.demoServeAfter;
      logger.info('building the demo index (first start on an empty data dir); serving once the first items are in', { serveAfter });
      await writeFile(marker, new Date().toISOString());
      let firstSliceIndexed!: () => void;
      const firstSlice = new Promise<void>((resolve) => (firstSliceIndexed = resolve));
      indexing = { done: 0, total: 0, finished: false };
      background = services.items.indexDemo({
        shouldStop: () => stopRequested,
        onBatch: (done, total) => {
          indexing = { done, total, finished: false };
          if (done >= serveAfter) firstSliceIndexed();
        },
      })
        .then(async (summary) => {
          indexing = { done: summary.seen, total: indexing?.total ?? summary.seen, finished: !summary.stopped };
          if (!summary.stopped) {
            await rm(marker, { force: true });
            await services.admin.save();
          }
          logger.info(summary.stopped ? 'demo index interrupted (the next start resumes it)' : 'demo index built', {
            added: summary.added,
            skipped: summary.skipped,
            seconds: Math.round(summary.seconds),
          });
        })
        .catch((error: unknown) => logger.error('the demo index build failed', { error: (error as Error).message }))
        .finally(() => firstSliceIndexed());
      await firstSlice;
    }
    if (stopRequested) return '';
    const webDir = existsSync(path.join(WEB_DIST, 'index.html')) ? WEB_DIST : undefined;
    const app = createApp({ config, logger, services, ready: () => !stopRequested, webDir, indexing: () => indexing });
    server = await listen(app, config.server.host, config.server.port);
    applyTimeouts(server, config.server.requestTimeoutMs);
    const url = `http://${formatHost(config.server.host)}:${addressPort(server)}`;
    // Only for the log line: a shared key store that is down right now must not stop the start
    // (requests fail closed until it answers).
    const required = await authRequired(config, services.keys).catch(() => undefined);
    const auth =
      required === undefined
        ? 'unknown: the key store cannot be reached (requests that need a key answer 503 until it can)'
        : required
          ? 'keys required'
          : config.auth.required === false
            ? 'open (auth.required is false)'
            : 'open (no key yet; keys are required once one exists)';
    logger.info('listening', { url, openapi: `${url}/v1/openapi.yaml`, web: webDir !== undefined, auth, keyStore: config.keys.store });
    if (!isLoopback(config.server.host) && required === false) {
      logger.warn('serving a non-loopback address without API keys (--open)', { host: config.server.host });
    }
    return url;
  })();
  startupSettled = startup.catch(() => undefined);

  try {
    return { url: await startup, context, stop };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

function listen(app: ReturnType<typeof createApp>, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (error?: Error) => (error ? reject(error) : resolve(server)));
  });
}

/**
 * A client gets `ms` to send a whole request (and at most 60 s of it for the headers), so that
 * slow or stalled connections do not hold sockets open; node answers 408 and closes them.
 */
export function applyTimeouts(server: Server, ms: number): void {
  server.requestTimeout = ms;
  server.headersTimeout = Math.min(ms, 60_000);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), DRAIN_MS);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

function addressPort(server: Server): number {
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
