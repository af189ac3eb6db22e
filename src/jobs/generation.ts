/**
 * What a generation job is and how it runs: the payload (one image or a grid of cells), its
 * expected progress total, the runner over the PARASOL generator (shared by the in-process queue
 * and the sampler workers), and the in-process generation queue.
 */
import type { Logger } from '../log.js';
import type { GenerateRequest, GenerationResult, Generator } from '../parasol/generate.js';
import { gridPng } from '../parasol/grid.js';
import { InMemoryJobQueue } from './memory-queue.js';
import type { JobQueue, JobRunner } from './queue.js';

/** One image, or an N×M grid of cells sampled in batches (row-major requests). */
export type GenerationPayload =
  | { kind: 'generate'; request: GenerateRequest }
  | { kind: 'grid'; rows: number; cols: number; requests: GenerateRequest[] };

export type GenerationQueue = JobQueue<GenerationPayload>;

/** Grid cells sampled together (one batched UNet call of 3 × this many rows per step). */
export const GRID_BATCH = 5;

/** The expected progress total of a payload, as the runner will count it. */
export function expectedTotal(payload: GenerationPayload, steps: number): number {
  if (payload.kind === 'generate') return steps * (payload.request.content.image !== undefined ? 2 : 1);
  const batches = Math.ceil(payload.requests.length / GRID_BATCH);
  const inverted = payload.requests.some((r) => r.content.image !== undefined);
  return batches * steps * (inverted ? 2 : 1);
}

export function generationRunner(generator: () => Promise<Generator>): JobRunner<GenerationPayload> {
  return async (payload, { signal, onProgress }) => {
    const g = await generator();
    if (payload.kind === 'generate') {
      const { png, params } = await g.generate(payload.request, { signal, onProgress });
      return { png, result: { ...params } };
    }
    const results: GenerationResult[] = [];
    const batches = Math.ceil(payload.requests.length / GRID_BATCH);
    for (let b = 0; b < batches; b++) {
      const chunk = payload.requests.slice(b * GRID_BATCH, (b + 1) * GRID_BATCH);
      results.push(
        ...(await g.generateBatch(chunk, {
          signal,
          onProgress: (step, total) => onProgress(b * total + step, batches * total),
        })),
      );
    }
    const png = await gridPng(results, payload.rows, payload.cols, payload.requests);
    return {
      png,
      cells: results.map((r) => r.png),
      result: { rows: payload.rows, cols: payload.cols, cells: results.map((r) => r.params) },
    };
  };
}

export interface GenerationQueueOptions {
  generator: () => Promise<Generator>;
  /** <dataDir>/generated */
  dir?: string;
  workers: number;
  queueLength: number;
  ttlMs: number;
  cacheBytes: number;
  logger?: Logger;
  now?: () => number;
}

export function createGenerationQueue(options: GenerationQueueOptions): GenerationQueue {
  const { generator, ...rest } = options;
  return new InMemoryJobQueue<GenerationPayload>({ ...rest, run: generationRunner(generator) });
}
