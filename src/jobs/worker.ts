/**
 * A sampler worker: takes generation jobs from the Redis queue (redis-queue.ts) and runs them —
 * `parasol worker`, one per GPU (DESIGN.md §6).
 *
 *   const worker = await startGenerationWorker({
 *     redisUrl: 'redis://127.0.0.1:6379',
 *     dir: '/shared/generated',               // the folder the API servers read results from
 *     generator: () => loadedGenerator,       // or run: a JobRunner<GenerationPayload> (tests)
 *     // optional: prefix, queueName (as the API servers), concurrency 1, lockDurationMs 30 000,
 *     // stalledIntervalMs 30 000, maxStalledCount 1, cancelPollMs 1000, name, logger
 *   });
 *   process.once('SIGTERM', () => void worker.close());   // finishes the running job first
 *
 * For each job: read and validate the envelope and the request (payload-codec.ts; nothing read
 * from Redis is trusted), run it with an AbortSignal and progress (coalesced: at most one progress
 * write in flight), write the images and then the record into the shared folder
 * (result-files.ts), and return the record as the job's value (completed ⇒ readable).
 *
 * Cancelling: the API server leaves a mark on the job and publishes its id. Either wakes the
 * worker (the channel at once; a poll of the marks of running jobs every cancelPollMs, in case
 * a message was missed), which aborts the run; the sampler stops within one UNet step, and the
 * job fails with CANCELLED_REASON as an UnrecoverableError, so BullMQ never retries it.
 *
 * Failures: a catalogued ParasolError is the user's (bad request, image too large) and final;
 * anything else is logged here and shows only as INTERNAL, retried while the job's attempts last.
 * (`attempts` is the queue's option, not the worker's: BullMQ reads it from each job as added.)
 *
 * Dying: BullMQ holds a lock per running job, renewed every lockDurationMs / 2. A worker that dies
 * stops renewing; the stalled checker of any live worker (every stalledIntervalMs) moves the job
 * back to waiting for another worker (or this one restarted), or fails it once it stalled more than
 * maxStalledCount times — never stuck as running. (Retries rewrite the same files atomically.)
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { createError, isParasolError } from '../errors.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { Generator } from '../parasol/generate.js';
import { generationRunner, type GenerationPayload } from './generation.js';
import { decodePayload, PayloadDecodeError } from './payload-codec.js';
import {
  CANCELLED_REASON,
  DEFAULT_PREFIX,
  DEFAULT_QUEUE_NAME,
  encodeFailure,
  envelopeSchema,
  redisQueueNames,
  type RedisQueueNames,
} from './redis-queue.js';
import { isJobId, type JobRunner, type JobView } from './queue.js';
import { ResultFiles } from './result-files.js';

const DURATIONS_KEPT = 20;

export interface GenerationWorkerOptions {
  /** redis://[user:password@]host:port[/db], the API servers' Redis. */
  redisUrl: string;
  /** As the API servers' queue (defaults "parasol" and "generate"). */
  prefix?: string;
  queueName?: string;
  /** The folder shared with the API servers, where results are written. */
  dir: string;
  /** Jobs run at once by this worker (default 1: one sampler per GPU). */
  concurrency?: number;
  /** Runs a job; defaults to generationRunner(generator). Give exactly one of run and generator. */
  run?: JobRunner<GenerationPayload>;
  generator?: () => Promise<Generator>;
  /** How long a job's lock lasts without renewal: a dead worker's job is retried after about this. */
  lockDurationMs?: number;
  /** How often this worker looks for other workers' stalled jobs. */
  stalledIntervalMs?: number;
  /** Stalls (its worker died or hung) a job survives before it fails; 0: fail at the first. */
  maxStalledCount?: number;
  /** How often the marks of running jobs are polled, in case a cancel message was missed. */
  cancelPollMs?: number;
  /** Shown in logs and on the jobs it runs; `-c<concurrency>` is appended (the queue counts slots by it). */
  name?: string;
  logger?: Logger;
}

export interface GenerationWorker {
  /** The worker's name, as BullMQ records it on the jobs it processed. */
  readonly name: string;
  /** Stops taking jobs, waits for the running ones to finish, and closes the connections. */
  close(): Promise<void>;
}

class JobCancelled extends Error {
  constructor() {
    super('the job was cancelled');
    this.name = 'JobCancelled';
  }
}

export async function startGenerationWorker(options: GenerationWorkerOptions): Promise<GenerationWorker> {
  const run = resolveRunner(options);
  const logger = options.logger ?? silentLogger;
  const concurrency = options.concurrency ?? 1;
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  const names = redisQueueNames(options.prefix ?? DEFAULT_PREFIX, options.queueName ?? DEFAULT_QUEUE_NAME);
  const name = `${options.name ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`}-c${concurrency}`;
  const files = new ResultFiles(options.dir, logger);
  const running = new Map<string, AbortController>();

  // BullMQ's blocking connection must retry forever (maxRetriesPerRequest: null).
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const subscriber = redis.duplicate();
  for (const connection of [redis, subscriber]) {
    connection.on('error', (error: Error) => logger.warn('redis connection error (generation worker)', { worker: name, error: error.message }));
  }

  const stop = (id: string) => running.get(id)?.abort(createError('BAD_REQUEST', 'the job was cancelled'));
  subscriber.on('message', (_channel: string, id: string) => stop(id));
  await subscriber.subscribe(names.cancelChannel);
  const poll = setInterval(() => {
    for (const id of running.keys()) {
      void redis
        .exists(names.mark(id))
        .then((marked) => marked && stop(id))
        .catch(() => undefined);
    }
  }, options.cancelPollMs ?? 1000);
  poll.unref();

  const processor = (job: Job) => processJob(job, { run, files, names, redis, running, logger, worker: name });
  const worker = new Worker(names.queueName, processor, {
    connection: redis,
    prefix: names.prefix,
    name,
    concurrency,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: options.maxStalledCount ?? 1,
  });
  worker.on('error', (error: Error) => logger.warn('generation worker error', { worker: name, error: error.message }));
  worker.on('stalled', (id: string) => logger.warn('a generation job stalled (its worker stopped): retried, or failed past maxStalledCount', { worker: name, job: id }));
  try {
    await worker.waitUntilReady();
  } catch (error) {
    clearInterval(poll);
    await worker.close(true).catch(() => undefined);
    subscriber.disconnect();
    redis.disconnect();
    throw error;
  }
  logger.info('generation worker started', { worker: name, queue: names.queueName, concurrency });

  let closing: Promise<void> | undefined;
  return {
    name,
    close() {
      closing ??= (async () => {
        await worker.close();
        clearInterval(poll);
        await subscriber.quit().catch(() => subscriber.disconnect());
        await redis.quit().catch(() => redis.disconnect());
        logger.info('generation worker stopped', { worker: name });
      })();
      return closing;
    },
  };
}

function resolveRunner(options: GenerationWorkerOptions): JobRunner<GenerationPayload> {
  if (options.run && options.generator) throw new TypeError('give run or generator, not both');
  if (options.run) return options.run;
  if (options.generator) return generationRunner(options.generator);
  throw new TypeError('a generation worker needs run or generator');
}

interface ProcessContext {
  run: JobRunner<GenerationPayload>;
  files: ResultFiles;
  names: RedisQueueNames;
  redis: Redis;
  running: Map<string, AbortController>;
  logger: Logger;
  worker: string;
}

async function processJob(job: Job, context: ProcessContext): Promise<JobView> {
  const { names, redis, logger, files } = context;
  const id = job.id ?? '';
  if (!isJobId(id)) throw final({ code: 'INTERNAL', message: createError('INTERNAL').message });
  const controller = new AbortController();
  context.running.set(id, controller);
  const progress = new ProgressReporter(job, logger);
  const started = Date.now();
  const marked = async () => (await redis.exists(names.mark(id))) === 1;
  try {
    const envelope = envelopeSchema.safeParse(job.data);
    if (!envelope.success) throw new PayloadDecodeError(`malformed job data: ${envelope.error.issues[0]?.message ?? ''}`);
    if (await marked()) throw new JobCancelled();
    const raw = await redis.get(names.payload(id));
    if (raw === null) {
      throw createError('GENERATION_UNAVAILABLE', "the job's request expired from the queue before a worker took it; submit it again");
    }
    let data: unknown;
    try {
      data = JSON.parse(raw);
    } catch {
      throw new PayloadDecodeError('the request is not JSON');
    }
    const payload = decodePayload(data);
    progress.report(0, envelope.data.total); // a retried job starts over
    let total = envelope.data.total;
    const output = await context.run(payload, {
      signal: controller.signal,
      onProgress(step, newTotal) {
        total = newTotal;
        if (!controller.signal.aborted) progress.report(step, newTotal);
      },
    });
    await progress.flush();
    if (controller.signal.aborted || (await marked())) throw new JobCancelled();

    const finished = Date.now();
    const processedOn = job.processedOn ?? started;
    const view: JobView = {
      id,
      kind: envelope.data.kind,
      state: 'succeeded',
      step: total,
      total,
      params: envelope.data.params,
      sources: envelope.data.sources,
      result: output.result,
      ...(output.cells ? { cells: output.cells.length } : {}),
      createdAt: new Date(job.timestamp).toISOString(),
      startedAt: new Date(processedOn).toISOString(),
      finishedAt: new Date(finished).toISOString(),
      timing: { queuedMs: Math.max(0, processedOn - job.timestamp), runMs: Math.max(0, finished - processedOn) },
    };
    await files.write(view, { png: output.png, cells: output.cells ?? [] });
    // Cancelled or removed while the files were written: take them away again.
    if (await marked()) {
      await files.delete(id);
      throw new JobCancelled();
    }
    await redis
      .multi()
      .lpush(names.durations, String((finished - processedOn) / 1000))
      .ltrim(names.durations, 0, DURATIONS_KEPT - 1)
      .del(names.payload(id))
      .exec();
    return view;
  } catch (error) {
    const failure = classify(error, controller.signal.aborted, job, context);
    if (failure instanceof UnrecoverableError) await redis.del(names.payload(id)).catch(() => 0);
    throw failure;
  } finally {
    progress.stop();
    context.running.delete(id);
  }
}

/** What BullMQ gets to see of a failure; UnrecoverableError where a retry cannot help. */
function classify(error: unknown, aborted: boolean, job: Job, context: ProcessContext): Error {
  if (error instanceof JobCancelled || aborted) return new UnrecoverableError(CANCELLED_REASON);
  if (isParasolError(error)) return final(error);
  const attemptsLeft = job.attemptsMade + 1 < (job.opts.attempts ?? 1);
  context.logger.error('generation job failed', {
    worker: context.worker,
    job: job.id,
    attempt: job.attemptsMade + 1,
    retried: attemptsLeft && !(error instanceof PayloadDecodeError),
    error: (error as Error)?.message,
    stack: (error as Error)?.stack,
  });
  const internal = createError('INTERNAL');
  // A request that does not decode will not decode on another worker either.
  if (error instanceof PayloadDecodeError || !attemptsLeft) return final(internal);
  return new Error(encodeFailure(internal));
}

function final(error: { code: string; message: string }): UnrecoverableError {
  return new UnrecoverableError(encodeFailure(error));
}

/**
 * Progress writes, coalesced: the sampler reports every UNet step (fast on small models), Redis
 * gets the latest value with at most one write in flight.
 */
class ProgressReporter {
  private latest?: { step: number; total: number };
  private sending?: Promise<void>;
  private stopped = false;
  private warned = false;

  constructor(
    private readonly job: Job,
    private readonly logger: Logger,
  ) {}

  report(step: number, total: number): void {
    if (this.stopped) return;
    this.latest = { step, total };
    this.sending ??= this.send();
  }

  async flush(): Promise<void> {
    while (this.sending) await this.sending;
  }

  stop(): void {
    this.stopped = true;
    this.latest = undefined;
  }

  private async send(): Promise<void> {
    try {
      while (this.latest) {
        const value = this.latest;
        this.latest = undefined;
        try {
          await this.job.updateProgress(value);
        } catch (error) {
          // Progress is advisory: the job may have been removed under us. The run itself decides.
          if (!this.warned) this.logger.warn('cannot report generation progress', { job: this.job.id, error: (error as Error).message });
          this.warned = true;
        }
      }
    } finally {
      this.sending = undefined;
    }
  }
}
