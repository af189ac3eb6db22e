/**
 * The generation job queue over Redis (BullMQ), for many API servers and many sampler workers
 * (worker.ts, one `parasol worker` per GPU) — DESIGN.md §6. It implements the same JobQueue
 * contract (queue.ts) as the in-process InMemoryJobQueue: the same JobView shapes and error codes.
 *
 *   const jobs = createRedisGenerationQueue({
 *     redisUrl: 'redis://127.0.0.1:6379',   // the same Redis, prefix and queueName as the workers
 *     dir: '/shared/generated',              // the folder the workers write results into
 *     queueLength: 32, ttlMs: 3_600_000,
 *     // optional: prefix 'parasol', queueName 'generate', attempts 1, payloadTtlMs, sweepIntervalMs,
 *     // redisTimeoutMs 5000, logger, now
 *   });
 *
 * What lives where (all keys under `<prefix>:<queueName>:`, so obliterating the queue drops them):
 * - The BullMQ job: id = randomUUID(), name = kind, data = the small envelope {kind, params,
 *   sources, total}; progress {step,total}; return value = the finished JobView.
 * - `x:payload:<id>`: the encoded request (payload-codec.ts), kept apart from the job so that
 *   polling GET /v1/jobs/:id does not haul megabytes of uploaded images out of Redis each time.
 *   The worker deletes it once the job is final; it expires after `payloadTtlMs` regardless.
 * - `x:mark:<id>`: the job's JobView as it was cancelled, or REMOVED once removed. Any mark makes
 *   a worker stop the job; get() answers the mark first. It lives as long as the payload could
 *   (a cancelled job held by a dead worker is failed by the next worker that takes it).
 * - `x:durations`: recent run times in seconds, for averageSeconds and Retry-After.
 * - `x:reservations`: a sorted set of job ids admitted but maybe not yet added (by expiry time);
 *   `x:owner:<owner>`: the ids of one owner's (API key's) jobs. Both are kept by the admission
 *   script below.
 * - A job failed because its workers kept dying leaves its payload to expire (payloadTtlMs).
 * - The images: files in the shared `dir`, in result-files.ts's layout, written by the worker
 *   BEFORE it marks the job completed, so "succeeded" always means "readable".
 *
 * State mapping (BullMQ → JobView), after the mark (a cancelled mark wins: a cancelled running
 * job shows 'cancelled' at once, as in-process, while its worker stops within a step):
 *   waiting / prioritized / delayed / waiting-children → queued (also a job back in waiting after
 *   its worker died); active → running (step/total from the progress); completed → succeeded (the
 *   worker's record); failed → cancelled when failedReason is CANCELLED_REASON, else failed with
 *   the worker's catalogued error, GENERATION_UNAVAILABLE when its workers kept dying, or INTERNAL.
 * A job whose BullMQ record is gone is answered from its `<id>.json` in the shared folder until
 * the TTL; finished jobs past the TTL are answered as unknown (and cleaned up) whatever Redis holds.
 *
 * Differences from the in-process queue, by necessity:
 * - submit() answers 'queued' even when a worker is idle (a worker takes it a moment later).
 * - Admission is one Lua script (ADMIT), so that API servers submitting at once can overrun
 *   neither bound: QUEUE_FULL when the queued jobs (with those admitted and not yet added) reach
 *   queueLength plus the idle worker slots (read from the live workers' names: see worker.ts), or
 *   when the job's owner already has `perOwnerLimit` jobs queued or running. The script reserves
 *   the job's place before BullMQ adds it; the reservation ends once the job exists.
 * - close() only closes this server's connections. It does NOT cancel anything: queued and
 *   running jobs belong to the shared queue, and other API servers and the workers carry on.
 *   After close() every method answers NOT_READY.
 * - Redis being unreachable is GENERATION_UNAVAILABLE (503), not an internal error.
 * - No in-memory image cache: images are read from the shared folder each time (the OS caches).
 */
import { randomUUID } from 'node:crypto';
import { Queue, type Job, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { createError, isParasolError, ParasolError } from '../errors.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { GenerationPayload } from './generation.js';
import { FINISHED_STATES, isJobId, type JobQueue, type JobSubmission, type JobView, type QueueStats } from './queue.js';
import { encodePayload } from './payload-codec.js';
import { imageCellsOf, parseJobView, ResultFiles } from './result-files.js';

// ---- what the queue and the workers agree on ----

export const DEFAULT_PREFIX = 'parasol';
export const DEFAULT_QUEUE_NAME = 'generate';

/** The failedReason of a job its worker stopped because it was cancelled (never retried). */
export const CANCELLED_REASON = 'parasol:cancelled';
/** failedReason prefix of a failure the user may see: JSON {code, message} follows. */
const FAILURE_PREFIX = 'parasol:error:';
/** BullMQ's failedReasons when workers died holding the job more often than allowed. */
const STALLED_REASONS = new Set(['job stalled more than allowable limit', 'job started more than allowable limit']);
/** The mark value of a removed job: get() answers nothing for it until the mark expires. */
export const REMOVED_MARK = 'removed';
/** Run times kept for the average (newest first). */
const DURATIONS_KEPT = 20;
/** How long an API request waits for Redis (to connect, or to answer one command), by default. */
const REDIS_TIMEOUT_MS = 5000;
/** Before any job has finished, the Retry-After estimate assumes this long a job. */
const DEFAULT_JOB_SECONDS = 10;
/** The average job time follows the recent ones: an exponential moving average with this weight. */
const AVERAGE_WEIGHT = 0.3;

export interface RedisQueueNames {
  prefix: string;
  queueName: string;
  payload(id: string): string;
  mark(id: string): string;
  durations: string;
  reservations: string;
  owner(owner: string): string;
  /** Pub/sub channel: a job id per message, "stop it if you hold it". */
  cancelChannel: string;
}

export function redisQueueNames(prefix = DEFAULT_PREFIX, queueName = DEFAULT_QUEUE_NAME): RedisQueueNames {
  const base = `${prefix}:${queueName}:x`;
  const checked = (id: string) => {
    if (!isJobId(id)) throw new RangeError('not a job id');
    return id;
  };
  return {
    prefix,
    queueName,
    payload: (id) => `${base}:payload:${checked(id)}`,
    mark: (id) => `${base}:mark:${checked(id)}`,
    durations: `${base}:durations`,
    reservations: `${base}:reservations`,
    owner: (owner) => {
      if (!OWNER_PATTERN.test(owner)) throw new RangeError('not an owner id');
      return `${base}:owner:${owner}`;
    },
    cancelChannel: `${base}:cancel`,
  };
}

/** The BullMQ job's data: what get() needs, without the (large) payload. */
export const envelopeSchema = z.object({
  kind: z.string().min(1).max(64),
  params: z.record(z.string(), z.unknown()),
  sources: z.record(z.string(), z.unknown()),
  total: z.number().min(0),
});
export type JobEnvelope = z.infer<typeof envelopeSchema>;

/** The progress a worker reports with job.updateProgress(). */
export const progressSchema = z.object({ step: z.number().min(0), total: z.number().min(0) });

export function encodeFailure(error: { code: string; message: string }): string {
  return FAILURE_PREFIX + JSON.stringify({ code: error.code, message: error.message });
}

const failureSchema = z.object({ code: z.string().regex(/^[A-Z_]{1,64}$/), message: z.string().max(2000) });

/** What a failed job shows: its catalogued error, or a generic one (never BullMQ's own text). */
export function decodeFailure(reason: string | undefined): { code: string; message: string } {
  if (reason?.startsWith(FAILURE_PREFIX)) {
    try {
      const parsed = failureSchema.safeParse(JSON.parse(reason.slice(FAILURE_PREFIX.length)));
      if (parsed.success) return parsed.data;
    } catch {
      // Not ours after all: fall through to the generic error.
    }
  }
  const error = STALLED_REASONS.has(reason ?? '')
    ? createError('GENERATION_UNAVAILABLE', 'the sampler workers running this job stopped before it finished')
    : createError('INTERNAL');
  return { code: error.code, message: error.message };
}

/** Recent run times (newest first) → their exponential moving average, oldest folded in first. */
export function averageOf(secondsNewestFirst: readonly number[]): number | null {
  let average: number | null = null;
  for (const seconds of [...secondsNewestFirst].reverse()) {
    if (!(Number.isFinite(seconds) && seconds >= 0)) continue;
    average = average === null ? seconds : (1 - AVERAGE_WEIGHT) * average + AVERAGE_WEIGHT * seconds;
  }
  return average;
}

/** Worker names end in `-c<concurrency>` (worker.ts), so the queue can count job slots. */
export function slotsOfWorkerName(name: string | undefined): number {
  const match = /-c(\d{1,4})$/.exec(name ?? '');
  return match ? Math.max(1, Number(match[1])) : 1;
}

/**
 * Admits one job, or refuses it. Redis runs a script alone, so the counts it reads cannot change
 * under it. A reserved id counts as queued until its BullMQ job exists (then the job's list
 * counts it) and as its owner's while reserved or while its job is neither completed nor failed.
 *   KEYS: wait, paused, prioritized, delayed, waiting-children, active, completed, failed,
 *         reservations, the owner's set (any key when there is no owner)
 *   ARGV: now (ms), job id, reservation expiry (ms), queueLength, worker slots,
 *         owner limit ('' for none), job key prefix, owner set TTL (ms)
 * Answers 'ok', 'queue' (the queue is full) or 'owner' (the owner's allowance is spent).
 */
const ADMIT = `
local now = tonumber(ARGV[1])
local reservations = KEYS[9]
local jobPrefix = ARGV[7]
redis.call('ZREMRANGEBYSCORE', reservations, '-inf', now)
if ARGV[6] ~= '' then
  local mine = 0
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[10])) do
    local live = false
    if redis.call('ZSCORE', reservations, id) then
      live = true
    elseif redis.call('EXISTS', jobPrefix .. id) == 1 then
      live = not redis.call('ZSCORE', KEYS[7], id) and not redis.call('ZSCORE', KEYS[8], id)
    end
    if live then mine = mine + 1 else redis.call('SREM', KEYS[10], id) end
  end
  if mine >= tonumber(ARGV[6]) then return 'owner' end
end
local pending = 0
for _, id in ipairs(redis.call('ZRANGE', reservations, 0, -1)) do
  if redis.call('EXISTS', jobPrefix .. id) == 0 then pending = pending + 1 end
end
local queued = redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]) + redis.call('ZCARD', KEYS[3])
  + redis.call('ZCARD', KEYS[4]) + redis.call('ZCARD', KEYS[5]) + pending
local idle = math.max(0, tonumber(ARGV[5]) - redis.call('LLEN', KEYS[6]))
if queued >= tonumber(ARGV[4]) + idle then return 'queue' end
redis.call('ZADD', reservations, tonumber(ARGV[3]), ARGV[2])
if ARGV[6] ~= '' then
  redis.call('SADD', KEYS[10], ARGV[2])
  redis.call('PEXPIRE', KEYS[10], tonumber(ARGV[8]))
end
return 'ok'
`;

/** How long an admitted job's place is held for it to be added (then the job itself counts). */
const RESERVATION_MS = 60_000;
const OWNER_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

interface QueueScripts {
  parasolAdmit(...keysThenArgs: Array<string | number>): Promise<'ok' | 'queue' | 'owner'>;
}

// ---- the queue ----

export interface RedisGenerationQueueOptions {
  /** redis://[user:password@]host:port[/db] (or rediss:// for TLS). */
  redisUrl: string;
  /** Key prefix; the workers must use the same (default "parasol"). */
  prefix?: string;
  /** BullMQ queue name; the workers must use the same (default "generate"). */
  queueName?: string;
  /** The folder shared with the workers, where finished images are read from. */
  dir: string;
  /** At most this many jobs wait for a worker slot (QUEUE_FULL past it). */
  queueLength: number;
  /**
   * At most this many queued + running jobs per submission `owner` (QUEUE_FULL past it), across
   * every API server; none: no per-owner bound here.
   */
  perOwnerLimit?: number;
  /** How long a finished job (state, images, cancel marks) is kept. */
  ttlMs: number;
  /**
   * Tries per job for failures that are not catalogued errors (default 1: none retried). Set on
   * each job, because BullMQ reads it from the job. Workers dying mid-job are counted apart, by
   * the workers' maxStalledCount.
   */
  attempts?: number;
  /** How long a queued job's request is kept in Redis (default the larger of ttlMs and 24 h). */
  payloadTtlMs?: number;
  /** How often expired files are swept from `dir` (default min(ttlMs, 10 min)). */
  sweepIntervalMs?: number;
  /** How long a request waits for Redis to connect or answer before GENERATION_UNAVAILABLE (default 5000). */
  redisTimeoutMs?: number;
  logger?: Logger;
  /** The clock for timings and the TTL (BullMQ's own timestamps come from Date.now()). */
  now?: () => number;
}

type ResolvedOptions = Required<Omit<RedisGenerationQueueOptions, 'redisUrl' | 'perOwnerLimit'>> & { perOwnerLimit: number | undefined };

const QUEUED_TYPES = ['wait', 'prioritized', 'delayed', 'waiting-children'] as const;

export class RedisGenerationQueue implements JobQueue<GenerationPayload> {
  private readonly options: ResolvedOptions;
  private readonly names: RedisQueueNames;
  private readonly redis: Redis & QueueScripts;
  private readonly queue: Queue;
  readonly enforcesOwnerLimit: boolean;
  private readonly files: ResultFiles;
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(options: RedisGenerationQueueOptions) {
    const { queueLength, ttlMs } = options;
    if (!(Number.isInteger(queueLength) && queueLength >= 0)) throw new RangeError(`queueLength must be an integer ≥ 0, got ${queueLength}`);
    if (!(ttlMs > 0)) throw new RangeError('ttlMs must be positive');
    const attempts = options.attempts ?? 1;
    const perOwnerLimit = options.perOwnerLimit;
    if (perOwnerLimit !== undefined && !(Number.isInteger(perOwnerLimit) && perOwnerLimit >= 1)) {
      throw new RangeError(`perOwnerLimit must be a positive integer, got ${perOwnerLimit}`);
    }
    this.enforcesOwnerLimit = perOwnerLimit !== undefined;
    if (!(Number.isInteger(attempts) && attempts >= 1)) throw new RangeError(`attempts must be a positive integer, got ${attempts}`);
    this.options = {
      prefix: options.prefix ?? DEFAULT_PREFIX,
      queueName: options.queueName ?? DEFAULT_QUEUE_NAME,
      dir: options.dir,
      queueLength,
      perOwnerLimit,
      ttlMs,
      attempts,
      payloadTtlMs: options.payloadTtlMs ?? Math.max(ttlMs, 24 * 3600_000),
      sweepIntervalMs: options.sweepIntervalMs ?? Math.min(ttlMs, 10 * 60_000),
      redisTimeoutMs: options.redisTimeoutMs ?? REDIS_TIMEOUT_MS,
      logger: options.logger ?? silentLogger,
      now: options.now ?? Date.now,
    };
    this.names = redisQueueNames(this.options.prefix, this.options.queueName);
    // Few retries per command and a deadline: an API request should fail fast (503) when Redis is
    // away or stuck, not hang.
    const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 2, commandTimeout: this.options.redisTimeoutMs });
    redis.defineCommand('parasolAdmit', { numberOfKeys: 10, lua: ADMIT });
    this.redis = redis as Redis & QueueScripts;
    this.redis.on('error', (error: Error) => this.options.logger.warn('redis connection error (generation queue)', { error: error.message }));
    this.queue = new Queue(this.options.queueName, { connection: this.redis, prefix: this.options.prefix });
    this.queue.on('error', (error: Error) => this.options.logger.warn('generation queue error', { error: error.message }));
    this.files = new ResultFiles(this.options.dir, this.options.logger);
    const sweep = () => void this.files.sweep(this.options.now() - this.options.ttlMs);
    sweep();
    this.sweeper = setInterval(sweep, this.options.sweepIntervalMs);
    this.sweeper.unref();
  }

  async submit(job: JobSubmission<GenerationPayload>): Promise<JobView> {
    return this.guard('submit', async () => {
      const envelope: JobEnvelope = { kind: job.kind, params: job.params, sources: job.sources, total: job.total };
      const encoded = JSON.stringify(encodePayload(job.payload));
      const id = randomUUID();
      await this.admit(id, job.owner);
      const ttlSeconds = Math.ceil(this.options.ttlMs / 1000);
      const opts: JobsOptions = {
        jobId: id,
        attempts: this.options.attempts,
        removeOnComplete: { age: ttlSeconds },
        removeOnFail: { age: ttlSeconds },
      };
      let added: Job;
      try {
        await this.redis.set(this.names.payload(id), encoded, 'PX', this.options.payloadTtlMs);
        added = await this.queue.add(envelope.kind, envelope, opts);
      } catch (error) {
        await this.redis.del(this.names.payload(id)).catch(() => 0);
        if (job.owner !== undefined && this.enforcesOwnerLimit) await this.redis.srem(this.names.owner(job.owner), id).catch(() => 0);
        throw error;
      } finally {
        // The job exists now (and counts itself), or never will.
        await this.redis.zrem(this.names.reservations, id).catch(() => 0);
      }
      return this.queuedView(id, envelope, added.timestamp);
    });
  }

  async get(id: string): Promise<JobView | undefined> {
    return this.guard('get', async () => {
      if (!isJobId(id)) return undefined;
      const view = await this.read(id);
      if (view && FINISHED_STATES.has(view.state) && this.expired(view)) {
        void this.forget(id).catch(() => undefined);
        return undefined;
      }
      return view;
    });
  }

  async image(id: string, cell?: number): Promise<Buffer> {
    const view = await this.get(id);
    const cells = imageCellsOf(id, view, cell);
    const images = await this.files.readImages(id, cells);
    if (!images) {
      this.options.logger.warn('a succeeded job has no images in the shared folder (is it shared with the workers?)', { job: id, dir: this.options.dir });
      throw createError('JOB_NOT_FOUND', id);
    }
    return cell === undefined ? images.png : images.cells[cell];
  }

  async cancel(id: string): Promise<JobView | undefined> {
    return this.guard('cancel', async () => {
      if (!isJobId(id)) return undefined;
      const view = await this.get(id);
      if (!view || (view.state !== 'queued' && view.state !== 'running')) return view;
      const now = this.options.now();
      const cancelled: JobView = { ...view, state: 'cancelled', finishedAt: new Date(now).toISOString() };
      const started = Date.parse(view.startedAt ?? '');
      cancelled.timing = Number.isFinite(started)
        ? { queuedMs: view.timing.queuedMs, runMs: now - started }
        : { queuedMs: now - Date.parse(view.createdAt), runMs: 0 };
      // The mark first: a worker that takes the job from here on sees it before it starts.
      await this.redis.set(this.names.mark(id), JSON.stringify(cancelled), 'PX', this.markTtlMs());
      if (view.state === 'queued' && (await this.queue.remove(id)) === 1) {
        await this.redis.del(this.names.payload(id));
      } else {
        await this.redis.publish(this.names.cancelChannel, id);
      }
      // It may have finished on its own just before the mark: then the cancel came too late.
      const job = await this.queue.getJob(id);
      const state = job ? await job.getState() : 'unknown';
      if (job && (state === 'completed' || (state === 'failed' && job.failedReason !== CANCELLED_REASON))) {
        await this.redis.del(this.names.mark(id));
        return this.get(id);
      }
      return cancelled;
    });
  }

  async remove(id: string): Promise<boolean> {
    return this.guard('remove', async () => {
      const view = await this.get(id);
      if (!view || !FINISHED_STATES.has(view.state)) return false;
      await this.forget(id);
      return true;
    });
  }

  async stats(): Promise<QueueStats> {
    return this.guard('stats', async () => {
      const [counts, workers, averageSeconds] = await Promise.all([
        this.queue.getJobCounts(...QUEUED_TYPES, 'active'),
        this.workerSlots(),
        this.averageSeconds(),
      ]);
      return {
        workers,
        running: counts.active ?? 0,
        queued: QUEUED_TYPES.reduce((sum, type) => sum + (counts[type] ?? 0), 0),
        queueLength: this.options.queueLength,
        averageSeconds,
      };
    });
  }

  /** Closes this server's connections; the shared queue's jobs carry on (see the module comment). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    await this.queue.close().catch(() => undefined);
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Reserves the job's place (see ADMIT), or throws QUEUE_FULL with a Retry-After. */
  private async admit(id: string, owner: string | undefined): Promise<void> {
    const limit = owner !== undefined ? this.options.perOwnerLimit : undefined;
    const keys = this.queue.keys;
    const slots = await this.workerSlots();
    const now = this.options.now();
    const answer = await this.redis.parasolAdmit(
      keys.wait,
      keys.paused,
      keys.prioritized,
      keys.delayed,
      keys['waiting-children'],
      keys.active,
      keys.completed,
      keys.failed,
      this.names.reservations,
      limit !== undefined ? this.names.owner(owner!) : this.names.reservations,
      now,
      id,
      now + RESERVATION_MS,
      this.options.queueLength,
      slots,
      limit ?? '',
      this.queue.toKey(''),
      this.options.payloadTtlMs,
    );
    if (answer === 'ok') return;
    if (answer === 'owner') {
      const seconds = Math.max(1, Math.ceil((await this.averageSeconds()) ?? DEFAULT_JOB_SECONDS));
      throw new ParasolError('QUEUE_FULL', `This API key already has ${limit} generation jobs queued or running; retry after ${seconds} s`, {
        'Retry-After': String(seconds),
      });
    }
    const seconds = await this.retryAfterSeconds();
    const error = createError('QUEUE_FULL', seconds);
    throw new ParasolError(error.code, error.message, { 'Retry-After': String(seconds) });
  }

  // ---- reading a job ----

  private async read(id: string): Promise<JobView | undefined> {
    const mark = await this.redis.get(this.names.mark(id));
    if (mark === REMOVED_MARK) return undefined;
    if (mark !== null) {
      const view = parseJobView(mark);
      if (view?.id === id) return view;
    }
    // The job can move between fetching it and asking its state; one more look settles that.
    for (let attempt = 0; attempt < 2; attempt++) {
      const job = await this.queue.getJob(id);
      if (!job) break;
      const state = await job.getState();
      if (state === 'unknown') break;
      const view = this.viewOf(id, job, state);
      if (view !== 'retry') return view;
    }
    return this.files.readRecord(id, this.options.now() - this.options.ttlMs);
  }

  private viewOf(id: string, job: Job, state: string): JobView | undefined | 'retry' {
    const envelope = envelopeSchema.safeParse(job.data);
    if (!envelope.success) {
      this.options.logger.warn('a generation job in Redis has malformed data', { job: id });
      return undefined;
    }
    const { kind, params, sources, total } = envelope.data;
    const now = this.options.now();
    if (state === 'completed') {
      const view = parseJobView(job.returnvalue);
      if (view?.id === id && view.state === 'succeeded') return view;
      // Not yet visible with its value, or written by something else: the shared folder decides.
      return job.returnvalue === undefined || job.returnvalue === null ? 'retry' : undefined;
    }
    const progress = progressSchema.safeParse(job.progress);
    const base: JobView = {
      id,
      kind,
      state: 'queued',
      step: 0,
      total: progress.success ? progress.data.total : total,
      params,
      sources,
      createdAt: new Date(job.timestamp).toISOString(),
      timing: { queuedMs: Math.max(0, now - job.timestamp), runMs: 0 },
    };
    if (state === 'active') {
      const started = job.processedOn ?? now;
      return {
        ...base,
        state: 'running',
        step: progress.success ? progress.data.step : 0,
        startedAt: new Date(started).toISOString(),
        timing: { queuedMs: Math.max(0, started - job.timestamp), runMs: Math.max(0, now - started) },
      };
    }
    if (state === 'failed') {
      if (!job.failedReason) return 'retry';
      const finished = job.finishedOn ?? now;
      const started = job.processedOn;
      const ended: JobView = {
        ...base,
        state: job.failedReason === CANCELLED_REASON ? 'cancelled' : 'failed',
        step: progress.success ? progress.data.step : 0,
        ...(started !== undefined ? { startedAt: new Date(started).toISOString() } : {}),
        finishedAt: new Date(finished).toISOString(),
        timing: {
          queuedMs: Math.max(0, (started ?? finished) - job.timestamp),
          runMs: started === undefined ? 0 : Math.max(0, finished - started),
        },
      };
      if (ended.state === 'failed') ended.error = decodeFailure(job.failedReason);
      return ended;
    }
    return base; // waiting, prioritized, delayed, waiting-children (and back in wait after a stall)
  }

  private queuedView(id: string, envelope: JobEnvelope, timestamp: number): JobView {
    return {
      id,
      kind: envelope.kind,
      state: 'queued',
      step: 0,
      total: envelope.total,
      params: envelope.params,
      sources: envelope.sources,
      createdAt: new Date(timestamp).toISOString(),
      timing: { queuedMs: Math.max(0, this.options.now() - timestamp), runMs: 0 },
    };
  }

  private expired(view: JobView): boolean {
    const finished = Date.parse(view.finishedAt ?? '');
    return Number.isFinite(finished) && finished <= this.options.now() - this.options.ttlMs;
  }

  /**
   * Deletes a finished job's files, BullMQ record and request, and leaves a REMOVED mark: a
   * cancelled job may still be active until its worker notices, and must not reappear.
   */
  private async forget(id: string): Promise<void> {
    await this.redis.set(this.names.mark(id), REMOVED_MARK, 'PX', this.markTtlMs());
    await this.files.delete(id);
    await this.queue.remove(id);
    await this.redis.del(this.names.payload(id));
  }

  private markTtlMs(): number {
    return Math.max(this.options.ttlMs, this.options.payloadTtlMs);
  }

  // ---- estimates ----

  /** Job slots of the live workers (their blocking connections, named by worker.ts). */
  private async workerSlots(): Promise<number> {
    const workers = await this.queue.getWorkers();
    return workers.reduce((sum, worker) => sum + slotsOfWorkerName(worker.rawname), 0);
  }

  private async averageSeconds(): Promise<number | null> {
    const values = await this.redis.lrange(this.names.durations, 0, DURATIONS_KEPT - 1);
    return averageOf(values.map(Number));
  }

  /** Seconds until a queue place is likely free: when the oldest running job should end. */
  private async retryAfterSeconds(): Promise<number> {
    const [average, active] = await Promise.all([this.averageSeconds(), this.queue.getActive(0, 99)]);
    const now = this.options.now();
    let longest = 0;
    for (const job of active) {
      if (job.processedOn !== undefined) longest = Math.max(longest, (now - job.processedOn) / 1000);
    }
    return Math.min(3600, Math.max(1, Math.ceil((average ?? DEFAULT_JOB_SECONDS) - longest)));
  }

  /**
   * Waits (a little) for the connection: BullMQ's calls would otherwise wait for Redis forever,
   * where an API request should rather be told to come back later.
   */
  private async connected(): Promise<void> {
    if (this.redis.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.redis.off('ready', ready);
        reject(new Error(`redis is not connected (${this.redis.status})`));
      }, this.options.redisTimeoutMs);
      const ready = () => {
        clearTimeout(timer);
        resolve();
      };
      this.redis.once('ready', ready);
    });
  }

  /** NOT_READY after close(); Redis failures become GENERATION_UNAVAILABLE (logged), not a 500. */
  private async guard<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw createError('NOT_READY', 'the generation queue is closed');
    try {
      await this.connected();
      return await fn();
    } catch (error) {
      if (isParasolError(error)) throw error;
      if (this.closed) throw createError('NOT_READY', 'the generation queue is closed');
      this.options.logger.error('generation queue operation failed', { operation, error: (error as Error)?.message });
      throw createError('GENERATION_UNAVAILABLE', 'the job queue cannot be reached; retry later');
    }
  }
}

export function createRedisGenerationQueue(options: RedisGenerationQueueOptions): RedisGenerationQueue {
  return new RedisGenerationQueue(options);
}
