/**
 * The in-process job queue (DESIGN.md §6, §7): a bounded queue in front of the PARASOL sampler.
 *
 *   submit → queued → running (progress step/total) → succeeded | failed | cancelled
 *
 * - Concurrency is the number of sampler workers; at most `queueLength` jobs wait for one, past
 *   that submit() throws QUEUE_FULL with a Retry-After estimated from the average job time.
 * - Cancelling a queued job removes it at once; a running job gets its AbortSignal aborted, which
 *   the sampler checks before every UNet call, so it stops within one step.
 * - A finished job's record and image live `ttlMs`. Images are kept in memory up to a byte bound
 *   (least recently used out first) and written under `dir` in the layout of result-files.ts
 *   (`<id>.png`, grid cells `<id>.<i>.png`, the record `<id>.json` last as the commit point), so a
 *   restarted process still serves them until they expire.
 * - Ids are random UUIDs; every method refuses anything else before it can name a file.
 *
 * `JobQueue` (queue.ts) is the contract the routes use. redis-queue.ts implements it over BullMQ for
 * many GPU workers (worker.ts), with payloads serialised by payload-codec.ts and results in a shared
 * folder.
 */
import { randomUUID } from 'node:crypto';
import { createError, isParasolError, ParasolError } from '../errors.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { FINISHED_STATES, isJobId, type JobQueue, type JobRunner, type JobState, type JobSubmission, type JobView, type QueueStats } from './queue.js';
import { imageCellsOf, ResultFiles } from './result-files.js';

export interface InMemoryJobQueueOptions<P> {
  run: JobRunner<P>;
  workers: number;
  queueLength: number;
  ttlMs: number;
  /** In-memory images, in bytes. */
  cacheBytes: number;
  /** Where finished images are written; none: memory only. */
  dir?: string;
  /** Finished records kept in memory at most (oldest out first); default 10 000. */
  maxRecords?: number;
  logger?: Logger;
  now?: () => number;
}

/** Before any job has finished, the Retry-After estimate assumes this long a job. */
const DEFAULT_JOB_SECONDS = 10;
/** The average job time follows the recent ones: an exponential moving average with this weight. */
const AVERAGE_WEIGHT = 0.3;

interface JobRecord {
  view: JobView;
  payload?: unknown;
  controller?: AbortController;
  /** Settles when a running job's runner has returned or thrown. */
  settled?: Promise<void>;
  created: number;
  started?: number;
  finished?: number;
}

interface CachedImages {
  png: Buffer;
  cells: Buffer[];
  bytes: number;
}

export class InMemoryJobQueue<P> implements JobQueue<P> {
  private readonly options: Required<Omit<InMemoryJobQueueOptions<P>, 'dir'>> & { dir?: string };
  private readonly records = new Map<string, JobRecord>();
  private readonly waiting: string[] = [];
  private readonly running = new Set<string>();
  private readonly images = new Map<string, CachedImages>();
  private imageBytes = 0;
  private averageSeconds: number | null = null;
  private closed = false;
  private readonly ready: Promise<void>;
  private readonly files?: ResultFiles;

  constructor(options: InMemoryJobQueueOptions<P>) {
    this.options = { maxRecords: 10_000, logger: silentLogger, now: Date.now, ...options };
    const { workers, queueLength, ttlMs, cacheBytes } = this.options;
    if (!(Number.isInteger(workers) && workers >= 1)) throw new RangeError(`workers must be a positive integer, got ${workers}`);
    if (!(Number.isInteger(queueLength) && queueLength >= 0)) throw new RangeError(`queueLength must be an integer ≥ 0, got ${queueLength}`);
    if (!(ttlMs > 0) || !(cacheBytes >= 0)) throw new RangeError('ttlMs must be positive and cacheBytes ≥ 0');
    if (this.options.dir) this.files = new ResultFiles(this.options.dir, this.options.logger);
    this.ready = this.prepareDir();
  }

  async submit(job: JobSubmission<P>): Promise<JobView> {
    if (this.closed) throw createError('NOT_READY', 'the generation queue is closed');
    this.sweep();
    if (this.waiting.length >= this.options.queueLength && this.running.size >= this.options.workers) {
      const seconds = this.retryAfterSeconds();
      const error = createError('QUEUE_FULL', seconds);
      throw new ParasolError(error.code, error.message, { 'Retry-After': String(seconds) });
    }
    const now = this.options.now();
    const id = randomUUID();
    const view: JobView = {
      id,
      kind: job.kind,
      state: 'queued',
      step: 0,
      total: job.total,
      params: job.params,
      sources: job.sources,
      createdAt: new Date(now).toISOString(),
      timing: { queuedMs: 0, runMs: 0 },
    };
    this.records.set(id, { view, payload: job.payload, created: now });
    this.waiting.push(id);
    this.pump();
    return this.snapshot(this.records.get(id)!);
  }

  async get(id: string): Promise<JobView | undefined> {
    if (!isJobId(id)) return undefined;
    this.sweep();
    const record = this.records.get(id) ?? (await this.loadRecord(id));
    return record ? this.snapshot(record) : undefined;
  }

  async image(id: string, cell?: number): Promise<Buffer> {
    const view = await this.get(id);
    const cells = imageCellsOf(id, view, cell);
    let images = this.images.get(id);
    if (images) {
      // Re-inserting marks it as recently used.
      this.images.delete(id);
      this.images.set(id, images);
    } else {
      images = await this.readImages(id, cells);
      if (!images) throw createError('JOB_NOT_FOUND', id);
      this.cacheImages(id, images);
    }
    return cell === undefined ? images.png : images.cells[cell];
  }

  async cancel(id: string): Promise<JobView | undefined> {
    if (!isJobId(id)) return undefined;
    const record = this.records.get(id);
    if (!record) return this.get(id);
    if (record.view.state === 'queued') {
      const at = this.waiting.indexOf(id);
      if (at >= 0) this.waiting.splice(at, 1);
      this.finish(record, 'cancelled');
    } else if (record.view.state === 'running') {
      record.controller?.abort(createError('BAD_REQUEST', 'the job was cancelled'));
      // The worker stays busy until the sampler notices (within one step); the state says cancelled now.
      this.finish(record, 'cancelled');
    }
    return this.snapshot(record);
  }

  async remove(id: string): Promise<boolean> {
    const view = await this.get(id);
    if (!view || !FINISHED_STATES.has(view.state)) return false;
    await this.forget(id);
    return true;
  }

  async stats(): Promise<QueueStats> {
    return {
      workers: this.options.workers,
      running: this.running.size,
      queued: this.waiting.length,
      queueLength: this.options.queueLength,
      averageSeconds: this.averageSeconds,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.waiting]) await this.cancel(id);
    // Every run still settling, including a succeeded one whose files are still being written.
    const settling = [...this.records.values()].map((record) => record.settled);
    for (const id of [...this.running]) await this.cancel(id);
    await Promise.all(settling);
    await this.ready;
  }

  /** Seconds until a queue place is likely free: when the oldest running job should end. */
  private retryAfterSeconds(): number {
    const average = this.averageSeconds ?? DEFAULT_JOB_SECONDS;
    const now = this.options.now();
    let longest = 0;
    for (const id of this.running) {
      const started = this.records.get(id)?.started;
      if (started !== undefined) longest = Math.max(longest, (now - started) / 1000);
    }
    return Math.min(3600, Math.max(1, Math.ceil(average - longest)));
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.options.workers && this.waiting.length > 0) {
      const id = this.waiting.shift()!;
      const record = this.records.get(id);
      if (record && record.view.state === 'queued') this.start(record);
    }
  }

  private start(record: JobRecord): void {
    const { view } = record;
    const now = this.options.now();
    record.started = now;
    record.controller = new AbortController();
    view.state = 'running';
    view.startedAt = new Date(now).toISOString();
    this.running.add(view.id);
    const payload = record.payload as P;
    record.payload = undefined; // the request's bytes are not needed past this point
    const signal = record.controller.signal;
    record.settled = (async () => {
      try {
        const output = await this.options.run(payload, {
          signal,
          onProgress: (step, total) => {
            if (view.state !== 'running') return;
            view.step = step;
            view.total = total;
          },
        });
        if (view.state !== 'running') return; // cancelled while the last step ran
        const seconds = (this.options.now() - now) / 1000;
        this.averageSeconds = this.averageSeconds === null ? seconds : (1 - AVERAGE_WEIGHT) * this.averageSeconds + AVERAGE_WEIGHT * seconds;
        view.step = view.total;
        view.result = output.result;
        if (output.cells) view.cells = output.cells.length;
        const images = { png: output.png, cells: output.cells ?? [], bytes: 0 };
        this.finish(record, 'succeeded');
        this.cacheImages(view.id, images);
        // The worker is free as soon as the job shows as succeeded; the disk copy follows.
        this.running.delete(view.id);
        this.pump();
        await this.writeFinished(view, images);
      } catch (error) {
        if (view.state !== 'running') return;
        if (signal.aborted) {
          this.finish(record, 'cancelled');
          return;
        }
        const known = isParasolError(error) ? error : undefined;
        if (!known) this.options.logger.error('generation job failed', { job: view.id, error: (error as Error)?.message, stack: (error as Error)?.stack });
        const failure = known ?? createError('INTERNAL');
        view.error = { code: failure.code, message: failure.message };
        this.finish(record, 'failed');
      } finally {
        this.running.delete(view.id);
        record.controller = undefined;
        this.pump();
      }
    })();
  }

  private finish(record: JobRecord, state: JobState): void {
    const now = this.options.now();
    record.finished = now;
    record.payload = undefined;
    const { view } = record;
    view.state = state;
    view.finishedAt = new Date(now).toISOString();
    view.timing = this.timing(record, now);
    // Finished records past the bound go oldest first (Map order is creation order).
    let excess = this.records.size - this.options.maxRecords;
    for (const [id, other] of this.records) {
      if (excess <= 0) break;
      if (other.finished !== undefined && id !== view.id) {
        void this.forget(id);
        excess--;
      }
    }
  }

  private timing(record: JobRecord, now: number): JobView['timing'] {
    const queuedMs = (record.started ?? record.finished ?? now) - record.created;
    const runMs = record.started === undefined ? 0 : (record.finished ?? now) - record.started;
    return { queuedMs, runMs };
  }

  private snapshot(record: JobRecord): JobView {
    const view = { ...record.view };
    if (record.finished === undefined) view.timing = this.timing(record, this.options.now());
    return structuredClone(view);
  }

  /** Drops finished jobs past their TTL (records, cached images and files). */
  private sweep(): void {
    const cutoff = this.options.now() - this.options.ttlMs;
    for (const [id, record] of this.records) {
      if (record.finished !== undefined && record.finished <= cutoff) void this.forget(id);
    }
  }

  private async forget(id: string): Promise<void> {
    this.records.delete(id);
    const cached = this.images.get(id);
    if (cached) {
      this.imageBytes -= cached.bytes;
      this.images.delete(id);
    }
    await this.deleteFiles(id);
  }

  private cacheImages(id: string, images: CachedImages): void {
    images.bytes = images.png.length + images.cells.reduce((sum, cell) => sum + cell.length, 0);
    if (images.bytes > this.options.cacheBytes) return;
    this.images.set(id, images);
    this.imageBytes += images.bytes;
    for (const [oldest, cached] of this.images) {
      if (this.imageBytes <= this.options.cacheBytes) break;
      this.images.delete(oldest);
      this.imageBytes -= cached.bytes;
    }
  }

  // ---- files (result-files.ts): <dir>/<id>.png, <id>.<i>.png, <id>.json (the commit point) ----

  /** Deletes what expired while no process was serving the folder (created on the first write). */
  private async prepareDir(): Promise<void> {
    await this.files?.sweep(this.options.now() - this.options.ttlMs);
  }

  private async writeFinished(view: JobView, images: CachedImages): Promise<void> {
    if (!this.files) return;
    try {
      await this.ready;
      await this.files.write(view, images);
      // Removed (or expired) while the files were being written: take them away again.
      if (!this.records.has(view.id)) await this.files.delete(view.id);
    } catch (error) {
      this.options.logger.warn('cannot write a generated image (kept in memory only)', { job: view.id, error: (error as Error).message });
    }
  }

  /** A finished job written by this or an earlier process, unless it has expired. */
  private async loadRecord(id: string): Promise<JobRecord | undefined> {
    if (!this.files) return undefined;
    await this.ready;
    const view = await this.files.readRecord(id, this.options.now() - this.options.ttlMs);
    if (!view) return undefined;
    const record: JobRecord = { view, created: Date.parse(view.createdAt), finished: Date.parse(view.finishedAt!) };
    this.records.set(id, record);
    return record;
  }

  private async readImages(id: string, cells: number): Promise<CachedImages | undefined> {
    const images = await this.files?.readImages(id, cells);
    return images ? { ...images, bytes: 0 } : undefined;
  }

  private async deleteFiles(id: string): Promise<void> {
    await this.files?.delete(id);
  }
}
