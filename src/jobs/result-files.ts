/**
 * Where finished generation jobs live on disk, for the in-process queue (one folder per process)
 * and the Redis-backed one (a folder every API server and sampler worker shares):
 *
 *   <dir>/<id>.png        the image (a grid's composite)
 *   <dir>/<id>.<i>.png    grid cell i (row-major)
 *   <dir>/<id>.json       the finished JobView, written LAST: the commit point
 *
 * Every file is written to a uniquely named temp file and renamed into place, so a reader never
 * sees half a file, and two writers of the same job (a retried job whose first worker was only
 * presumed dead) never interleave bytes. A record is believed only when its id, state and
 * finishedAt are sane. Ids are checked before any path is built: nothing else can name a file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { createError } from '../errors.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { isJobId, JOB_ID_PATTERN, type JobView } from './queue.js';

/**
 * A JobView as read back from a file or from Redis (written by another process): checked, never
 * trusted, before it is served.
 */
export const jobViewSchema = z.object({
  id: z.string().regex(JOB_ID_PATTERN),
  kind: z.string().max(64),
  state: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']),
  step: z.number(),
  total: z.number(),
  params: z.record(z.string(), z.unknown()),
  sources: z.record(z.string(), z.unknown()),
  result: z.record(z.string(), z.unknown()).optional(),
  cells: z.number().int().min(0).optional(),
  error: z.object({ code: z.string().max(64), message: z.string().max(2000) }).optional(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  timing: z.object({ queuedMs: z.number(), runMs: z.number() }),
});

/** A JobView from untrusted JSON text or data, or undefined when it is not one. */
export function parseJobView(data: unknown): JobView | undefined {
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      return undefined;
    }
  }
  const parsed = jobViewSchema.safeParse(data);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The number of grid cells of a job whose image is asked for, after the checks both queues make:
 * JOB_NOT_FOUND for no job, JOB_NOT_FINISHED until it succeeded, NOT_FOUND for a cell it lacks.
 */
export function imageCellsOf(id: string, view: JobView | undefined, cell: number | undefined): number {
  if (!view) throw createError('JOB_NOT_FOUND', String(id).slice(0, 64));
  if (view.state !== 'succeeded') throw createError('JOB_NOT_FINISHED', id, view.state);
  const cells = view.cells ?? 0;
  if (cell !== undefined && !(Number.isInteger(cell) && cell >= 0 && cell < cells)) {
    throw createError('NOT_FOUND', cells === 0 ? `Job "${id}" has no cells` : `Job "${id}" has cells 0..${cells - 1}`);
  }
  return cells;
}

export interface ResultImages {
  png: Buffer;
  cells: Buffer[];
}

export class ResultFiles {
  constructor(
    readonly dir: string,
    private readonly logger: Logger = silentLogger,
  ) {}

  /** The path of one of a job's files; throws for anything that is not a job id. */
  file(id: string, suffix: string): string {
    if (!isJobId(id)) throw new RangeError('not a job id');
    return path.join(this.dir, `${id}${suffix}`);
  }

  /** Images first, the record last (the commit point). Creates the folder when needed. */
  async write(view: JobView, images: ResultImages): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await this.replace(this.file(view.id, '.png'), images.png);
    for (const [i, cell] of images.cells.entries()) await this.replace(this.file(view.id, `.${i}.png`), cell);
    await this.replace(this.file(view.id, '.json'), JSON.stringify(view));
  }

  /**
   * A succeeded job's record, or undefined when there is none, it is unreadable, or it finished at
   * or before `expiredAt` (then its files are deleted).
   */
  async readRecord(id: string, expiredAt: number): Promise<JobView | undefined> {
    if (!isJobId(id)) return undefined;
    const view = parseJobView(await readFile(this.file(id, '.json'), 'utf8').catch(() => ''));
    if (!view) return undefined;
    const finished = Date.parse(view.finishedAt ?? '');
    if (view.id !== id || view.state !== 'succeeded' || !Number.isFinite(finished)) return undefined;
    if (finished <= expiredAt) {
      await this.delete(id);
      return undefined;
    }
    return view;
  }

  /** The image and `cells` grid cells, or undefined when any of them is missing. */
  async readImages(id: string, cells: number): Promise<ResultImages | undefined> {
    if (!isJobId(id)) return undefined;
    try {
      const png = await readFile(this.file(id, '.png'));
      const cellBytes: Buffer[] = [];
      for (let i = 0; i < cells; i++) cellBytes.push(await readFile(this.file(id, `.${i}.png`)));
      return { png, cells: cellBytes };
    } catch {
      return undefined;
    }
  }

  /** Deletes every file of a job (temp files included); quiet when there is nothing to delete. */
  async delete(id: string): Promise<void> {
    if (!isJobId(id)) return;
    try {
      const names = (await readdir(this.dir)).filter((name) => name.startsWith(id));
      await Promise.all(names.map((name) => rm(path.join(this.dir, name), { force: true })));
    } catch {
      // The folder is gone or unreadable: nothing left to delete.
    }
  }

  /**
   * Deletes the files of jobs last written at or before `expiredAt`: what expired while no process
   * was serving the folder. Only names that start with a job id are touched.
   */
  async sweep(expiredAt: number): Promise<void> {
    try {
      const names = await readdir(this.dir).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return [];
        throw error;
      });
      for (const name of names) {
        if (!isJobId(name.slice(0, 36))) continue;
        const info = await stat(path.join(this.dir, name)).catch(() => undefined);
        if (info && info.mtimeMs <= expiredAt) await rm(path.join(this.dir, name), { force: true });
      }
    } catch (error) {
      this.logger.warn('cannot sweep the generated-images folder', { dir: this.dir, error: (error as Error).message });
    }
  }

  private async replace(target: string, data: Buffer | string): Promise<void> {
    const temp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(temp, data);
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }
}
