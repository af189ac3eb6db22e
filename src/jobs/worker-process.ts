/**
 * `parasol worker`: one sampler process (one per GPU) consuming the Redis generation queue.
 *
 * It loads the pack's encoders and generator — no catalog: everything a job needs travels in
 * the job — and runs `startGenerationWorker` until SIGINT/SIGTERM, then lets the running job
 * finish. While Redis answers its PING it touches `queue.heartbeatFile`, which `parasol worker
 * --check` reads: a container health check that fails when the worker is wedged or cut off from
 * Redis, not merely when the process is gone.
 */
import { mkdir, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { generatedDir, loadGeneratorFor, openEncoders } from '../context.js';
import type { Logger } from '../log.js';
import { startGenerationWorker } from './worker.js';

/** How often the heartbeat is renewed; --check accepts three missed beats. */
export const HEARTBEAT_MS = 10_000;

export async function runWorker(config: Config, logger: Logger, until: Promise<unknown> = stopSignal()): Promise<void> {
  const encoders = await openEncoders(config, logger);
  let models: Awaited<ReturnType<typeof loadGeneratorFor>>['models'] | undefined;
  try {
    const loaded = await loadGeneratorFor(config, encoders, logger);
    models = loaded.models;
    const worker = await startGenerationWorker({
      redisUrl: config.redis.url,
      prefix: config.redis.prefix,
      dir: generatedDir(config),
      concurrency: config.queue.workerConcurrency,
      generator: async () => loaded.generator,
      lockDurationMs: config.queue.lockMs,
      stalledIntervalMs: config.queue.stalledIntervalMs,
      maxStalledCount: config.queue.maxStalled,
      logger,
    });
    logger.info('sampler worker started', {
      worker: worker.name,
      pack: encoders.packName,
      provider: encoders.provider ?? 'unknown',
      concurrency: config.queue.workerConcurrency,
      redis: redactedUrl(config.redis.url),
      dir: generatedDir(config),
    });
    const heartbeat = startHeartbeat(config, logger);
    try {
      await until;
      logger.info('sampler worker stopping: the running jobs finish first', { worker: worker.name });
    } finally {
      heartbeat.stop();
      await worker.close();
    }
  } finally {
    await models?.dispose();
    await encoders.dispose();
  }
}

/** Undefined when a worker on this machine reached Redis within three heartbeats; else why not. */
export async function checkHeartbeat(config: Config, now = Date.now()): Promise<string | undefined> {
  const file = config.queue.heartbeatFile;
  const info = await stat(file).catch(() => undefined);
  if (!info) return `no worker heartbeat at ${file}`;
  const age = now - info.mtimeMs;
  if (age > 3 * HEARTBEAT_MS) return `the worker's last heartbeat is ${Math.round(age / 1000)} s old (${file})`;
  return undefined;
}

function startHeartbeat(config: Config, logger: Logger): { stop(): void } {
  const file = config.queue.heartbeatFile;
  // A connection of its own: it must not wait behind the worker's blocking commands.
  const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined); // reported by the failed beat below
  let warned = false;
  const beat = async () => {
    try {
      if (redis.status === 'wait') await redis.connect();
      await redis.ping();
      await mkdir(path.dirname(file), { recursive: true });
      const at = new Date();
      await utimes(file, at, at).catch(() => writeFile(file, `${process.pid}\n`));
      warned = false;
    } catch (error) {
      if (!warned) logger.warn('worker heartbeat: redis did not answer', { error: (error as Error).message });
      warned = true;
    }
  };
  void beat();
  const timer = setInterval(() => void beat(), HEARTBEAT_MS);
  return {
    stop() {
      clearInterval(timer);
      redis.disconnect();
    },
  };
}

function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable)';
  }
}
