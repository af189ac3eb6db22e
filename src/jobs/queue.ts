/**
 * The job queue contract (DESIGN.md §6, §7): what the routes, the services and the tests see of a
 * generation queue, whichever implements it — memory-queue.ts (one process) or redis-queue.ts
 * (BullMQ, many API servers and sampler workers). Types and the job-id rule only, so that every
 * module of the job system can import it without importing another's code.
 *
 *   submit → queued → running (progress step/total) → succeeded | failed | cancelled
 *
 * test/jobs/contract.ts holds the behaviour both queues share.
 */
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const FINISHED_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled']);

/** Lower-case RFC 4122 version-4 UUIDs, as randomUUID() makes them. */
export const JOB_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Job ids name files (result-files.ts), so every entry point refuses anything else. */
export function isJobId(id: unknown): id is string {
  return typeof id === 'string' && JOB_ID_PATTERN.test(id);
}

/** What a job produced: one PNG, and for a grid one PNG per cell (row-major). */
export interface JobOutput {
  png: Buffer;
  cells?: Buffer[];
  /** Written into the record: what the images were made with. */
  result: Record<string, unknown>;
}

/** What the outside sees of a job (GET /v1/jobs/:id). */
export interface JobView {
  id: string;
  kind: string;
  state: JobState;
  /** Units of work done and in all (UNet steps: inversion, then sampling). */
  step: number;
  total: number;
  /** The request's parameters, defaults filled in (from the submitter). */
  params: Record<string, unknown>;
  /** Where the content and style came from (ids and texts, never image bytes). */
  sources: Record<string, unknown>;
  /** Set when the job succeeded: the full parameters the images were made with. */
  result?: Record<string, unknown>;
  /** Number of grid cells, for a grid job that succeeded. */
  cells?: number;
  error?: { code: string; message: string };
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** Milliseconds waiting for a worker, and running (so far, while running). */
  timing: { queuedMs: number; runMs: number };
}

export interface JobSubmission<P> {
  kind: string;
  payload: P;
  params: Record<string, unknown>;
  sources: Record<string, unknown>;
  /** The expected total of progress units (the runner's reports replace it). */
  total: number;
  /** Whose allowance the job counts against (an API key id, or one bucket for requests without one). */
  owner?: string;
}

export interface QueueStats {
  workers: number;
  running: number;
  queued: number;
  queueLength: number;
  /** Mean seconds of recent successful jobs, or null before the first. */
  averageSeconds: number | null;
}

/** The queue as the routes see it: async throughout so that a networked queue fits. */
export interface JobQueue<P> {
  /**
   * True when submit() itself enforces a per-owner allowance of queued + running jobs (the Redis
   * queue, atomically across API servers); otherwise the caller does (per process).
   */
  readonly enforcesOwnerLimit?: boolean;
  /** Enqueues a job; QUEUE_FULL (with a Retry-After header) when the queue is full. */
  submit(job: JobSubmission<P>): Promise<JobView>;
  /** The job, or undefined when unknown, expired or not a job id. */
  get(id: string): Promise<JobView | undefined>;
  /**
   * The finished job's image (cell undefined) or one grid cell. JOB_NOT_FOUND for an unknown job or
   * cell, JOB_NOT_FINISHED while it has not succeeded.
   */
  image(id: string, cell?: number): Promise<Buffer>;
  /** Cancels a queued or running job; the job as it now stands, or undefined when unknown. */
  cancel(id: string): Promise<JobView | undefined>;
  /** Forgets a finished job and deletes its files; false when unknown or not finished. */
  remove(id: string): Promise<boolean>;
  stats(): Promise<QueueStats>;
  /** Cancels everything and waits for the running jobs to stop. */
  close(): Promise<void>;
}

export interface RunContext {
  signal: AbortSignal;
  onProgress(step: number, total: number): void;
}

export type JobRunner<P> = (payload: P, context: RunContext) => Promise<JobOutput>;
