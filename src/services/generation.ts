/**
 * Generation: sources (item ids, texts, finished jobs, uploaded images) resolved before a job is
 * queued, so that an unknown item or a bad upload is an immediate error and never a failed job;
 * per-key allowances on the shared queue; jobs (status, images, cancel); and one image now,
 * outside the queue, for the command line.
 */
import { createError, ParasolError } from '../errors.js';
import type { Encoders, ImageInput } from '../encoders/types.js';
import type { PackManifest } from '../encoders/pack.js';
import type { Config } from '../config.js';
import type { ContentSource, GenerateRequest, GenerationResult, Generator, StyleInput, StyleSource, WeightedStyle } from '../parasol/generate.js';
import { expectedTotal, type GenerationPayload, type GenerationQueue } from '../jobs/generation.js';
import type { JobView, QueueStats } from '../jobs/queue.js';
import type { Catalog } from '../store/types.js';
import { slerp } from '../vectors.js';
import { invalidQuery } from '../search/query.js';
import { checkImage } from './images.js';
import {
  generateRequestSchema,
  paramLimits,
  resolveParams,
  toGenerateRequest,
  type GenerateParams,
  type GenerateRequestBody,
  type GridRequestBody,
  type ParamLimits,
  type SourceRef,
  type StyleSourceRef,
} from './generation-params.js';

export { FINISHED_STATES, isJobId, type JobView, type QueueStats } from '../jobs/queue.js';
export * from './generation-params.js';

export interface GenerationSourcesDeps {
  catalog: Catalog;
  encoders: Encoders;
  jobs: GenerationQueue;
  /** An item's picture (undefined: it has none, so only its stored descriptors are used). */
  itemImage(id: string): Promise<Buffer | undefined>;
}

/** Turns item ids, texts and job ids into the Generator's content and style sources. */
export class GenerationSources {
  constructor(private readonly deps: GenerationSourcesDeps) {}

  /** An item: its picture is inverted under its stored content vector; no picture: from noise. */
  async content(source: SourceRef | { image: ImageInput }): Promise<ContentSource> {
    if ('image' in source) return { image: source.image };
    if ('text' in source) return { semantic: await this.contentVector(source) };
    if ('jobId' in source) return { image: await this.deps.jobs.image(source.jobId), id: `job:${source.jobId}` };
    const item = await this.item(source.itemId);
    const image = await this.deps.itemImage(source.itemId);
    return image ? { image, semantic: item.semantic, id: item.id } : { semantic: item.semantic, id: item.id };
  }

  /** A content descriptor alone (grid rows interpolate these). */
  async contentVector(source: SourceRef): Promise<Float32Array> {
    if ('text' in source) return (await this.deps.encoders.semanticText.embedTexts([source.text]))[0];
    if ('jobId' in source) return (await this.deps.encoders.semanticImage.embedImages([await this.deps.jobs.image(source.jobId)]))[0];
    return (await this.item(source.itemId)).semantic;
  }

  /** An item with a picture gives the picture (its style is re-read from it, and colour transfer has pixels to match). */
  async style(source: StyleSourceRef | { image: ImageInput }): Promise<StyleSource> {
    if ('mix' in source) {
      const parts: WeightedStyle[] = [];
      for (const { weight, ...ref } of source.mix) parts.push({ ...(await this.styleInput(ref as SourceRef)), weight });
      return { mix: parts };
    }
    if ('image' in source) return { image: source.image };
    return this.styleInput(source);
  }

  async styleInput(source: SourceRef): Promise<StyleInput> {
    if ('text' in source) return { vector: (await this.deps.encoders.styleText.embedTexts([source.text]))[0] };
    if ('jobId' in source) return { image: await this.deps.jobs.image(source.jobId), id: `job:${source.jobId}` };
    const item = await this.item(source.itemId);
    const image = await this.deps.itemImage(source.itemId);
    return image ? { image, id: item.id } : { vector: item.style, id: item.id };
  }

  private async item(id: string) {
    const item = await this.deps.catalog.getWithVectors(id);
    if (!item) throw createError('ITEM_NOT_FOUND', id);
    return item;
  }
}

/** The grid's cells, row-major: rows slerp the content vectors, columns mix the two styles; one seed, from noise. */
export async function gridRequests(
  sources: GenerationSources,
  request: { contents: [SourceRef, SourceRef]; styles: [SourceRef, SourceRef]; rows: number; cols: number },
  params: GenerateParams,
): Promise<GenerateRequest[]> {
  const [c0, c1] = await Promise.all(request.contents.map((c) => sources.contentVector(c)));
  const [s0, s1] = await Promise.all(request.styles.map((s) => sources.styleInput(s)));
  const ids = request.contents.map((c) => ('itemId' in c ? c.itemId : 'jobId' in c ? `job:${c.jobId}` : undefined));
  const cells: GenerateRequest[] = [];
  for (let r = 0; r < request.rows; r++) {
    const t = r / (request.rows - 1);
    const id = r === 0 ? ids[0] : r === request.rows - 1 ? ids[1] : undefined;
    const content: ContentSource = { semantic: slerp(c0, c1, t), ...(id !== undefined ? { id } : {}) };
    for (let c = 0; c < request.cols; c++) {
      const u = c / (request.cols - 1);
      cells.push(toGenerateRequest(content, { mix: [{ ...s0, weight: 1 - u }, { ...s1, weight: u }] }, params));
    }
  }
  return cells;
}

/** The bucket of requests that present no key. */
export const ANONYMOUS = 'anonymous';

/**
 * At most `limit` queued + running jobs per API key (requests without a key share one bucket), so
 * that one client cannot fill the shared queue. A slot is reserved synchronously before the
 * sources are resolved, so concurrent requests cannot both take the last one. A queue that
 * enforces the allowance itself (the Redis queue, across every API server) is left to it.
 */
export class PerKeyJobs {
  private readonly buckets = new Map<string, { reserved: number; jobs: Set<string> }>();
  constructor(
    private readonly jobs: GenerationQueue,
    private readonly limit: number,
  ) {}

  /** Runs `submit` (given the owner to submit as) in one of the key's slots; QUEUE_FULL (with Retry-After) when it has none left. */
  async run(bucketId: string, submit: (owner: string) => Promise<JobView>): Promise<JobView> {
    if (this.jobs.enforcesOwnerLimit) return submit(bucketId);
    let bucket = this.buckets.get(bucketId);
    if (!bucket) this.buckets.set(bucketId, (bucket = { reserved: 0, jobs: new Set() }));
    for (const id of [...bucket.jobs]) {
      const view = await this.jobs.get(id);
      if (view?.state !== 'queued' && view?.state !== 'running') bucket.jobs.delete(id);
    }
    // No await between this check and the reservation.
    if (bucket.reserved + bucket.jobs.size >= this.limit) {
      const stats = await this.jobs.stats();
      const seconds = Math.max(1, Math.ceil(stats.averageSeconds ?? 5));
      throw new ParasolError('QUEUE_FULL', `This API key already has ${this.limit} generation jobs queued or running; retry after ${seconds} s`, {
        'Retry-After': String(seconds),
      });
    }
    bucket.reserved += 1;
    try {
      const view = await submit(bucketId);
      bucket.jobs.add(view.id);
      return view;
    } finally {
      bucket.reserved -= 1;
      if (bucket.reserved === 0 && bucket.jobs.size === 0) this.buckets.delete(bucketId);
    }
  }
}

/** A content or style source as the command line names one: a checked image file, an item, or a text. */
export type DirectSource = { image: Buffer } | { itemId: string } | { text: string };

/** An image to make now: raw parameters (validated by the service) and sources read on demand. */
export interface DirectGeneration {
  params: unknown;
  content(): Promise<DirectSource>;
  style(): Promise<DirectSource>;
}

export interface GenerateUploads {
  contentImage?: Buffer;
  styleImage?: Buffer;
}

export interface GenerateInput {
  request: GenerateRequestBody;
  uploads: GenerateUploads;
}

export interface GenerationServiceDeps {
  config: Pick<Config, 'generate' | 'limits'>;
  manifest: PackManifest;
  packName: string;
  catalog: Catalog;
  encoders: Encoders;
  jobs: GenerationQueue;
  /** Whether the pack has a generator (a `parasol` block in pack.json). */
  available: boolean;
  /** The generator, loaded on first use. */
  generator(): Promise<Generator>;
  /** An item's picture (undefined: it has none, so only its stored descriptors are used). */
  itemImage(id: string): Promise<Buffer | undefined>;
}

export class GenerationService {
  private readonly sources: GenerationSources;
  private readonly perKey: PerKeyJobs;

  constructor(private readonly deps: GenerationServiceDeps) {
    this.sources = new GenerationSources({ catalog: deps.catalog, encoders: deps.encoders, jobs: deps.jobs, itemImage: deps.itemImage });
    this.perKey = new PerKeyJobs(deps.jobs, deps.config.generate.perKeyQueue);
  }

  /** Loads the generator (first use) and answers the step bounds; GENERATION_UNAVAILABLE where the pack has none. */
  async ready(): Promise<ParamLimits> {
    if (!this.deps.available) {
      throw createError('GENERATION_UNAVAILABLE', `the model pack "${this.deps.packName}" has no generator`);
    }
    await this.deps.generator();
    return paramLimits(this.deps.config, this.deps.manifest);
  }

  /**
   * Queues one image in one of the key's slots. The request is read once the generator is ready
   * and a slot is reserved, so a full allowance answers before the body is looked at.
   */
  async submit(bucket: string, read: () => Promise<GenerateInput>): Promise<JobView> {
    const limits = await this.ready();
    return this.perKey.run(bucket, async (owner) => {
      const { request, uploads } = await read();
      const params = resolveParams(request, limits);
      const maxPixels = this.deps.config.limits.maxPixels;
      const contentImage = uploads.contentImage && (await checkImage(uploads.contentImage, maxPixels));
      const styleImage = uploads.styleImage && (await checkImage(uploads.styleImage, maxPixels));
      if (contentImage && request.content) throw createError('INVALID_QUERY', 'content: give a content source or a contentImage upload, not both');
      if (styleImage && request.style) throw createError('INVALID_QUERY', 'style: give a style source or a styleImage upload, not both');
      if (!contentImage && !request.content) {
        throw createError('INVALID_QUERY', 'content: required ({itemId}, {text}, {jobId} or a contentImage upload)');
      }
      if (!styleImage && !request.style) {
        throw createError('INVALID_QUERY', 'style: required ({itemId}, {text}, {jobId}, {mix} or a styleImage upload)');
      }
      const [content, style] = await Promise.all([
        this.sources.content(contentImage ? { image: contentImage } : request.content!),
        this.sources.style(styleImage ? { image: styleImage } : request.style!),
      ]);
      const payload: GenerationPayload = { kind: 'generate', request: toGenerateRequest(content, style, params) };
      return this.deps.jobs.submit({
        kind: 'generate',
        payload,
        params: { ...params },
        sources: {
          content: describeRef(request.content, contentImage && 'contentImage'),
          style: describeRef(request.style, styleImage && 'styleImage'),
        },
        total: expectedTotal(payload, params.steps),
        owner,
      });
    });
  }

  /** Queues an interpolation grid as one job in one of the key's slots (read once the generator is ready). */
  async submitGrid(bucket: string, read: () => GridRequestBody): Promise<JobView> {
    const limits = await this.ready();
    const request = read();
    const params = resolveParams(request, limits);
    return this.perKey.run(bucket, async (owner) => {
      const requests = await gridRequests(this.sources, request, params);
      const payload: GenerationPayload = { kind: 'grid', rows: request.rows, cols: request.cols, requests };
      return this.deps.jobs.submit({
        kind: 'grid',
        payload,
        params: { ...params, rows: request.rows, cols: request.cols },
        sources: { contents: request.contents, styles: request.styles },
        total: expectedTotal(payload, params.steps),
        owner,
      });
    });
  }

  /** A job's view; JOB_NOT_FOUND when it is unknown or expired. */
  async job(id: string): Promise<JobView> {
    const view = await this.deps.jobs.get(id);
    if (!view) throw createError('JOB_NOT_FOUND', id);
    return view;
  }

  /** A job's view, or undefined when it is unknown or expired. */
  findJob(id: string): Promise<JobView | undefined> {
    return this.deps.jobs.get(id);
  }

  /** A finished job's PNG (a grid: the grid, or one cell); JOB_NOT_FOUND / JOB_NOT_FINISHED otherwise. */
  image(id: string, cell?: number): Promise<Buffer> {
    return cell === undefined ? this.deps.jobs.image(id) : this.deps.jobs.image(id, cell);
  }

  /** Cancels a queued or running job (its view afterwards), or forgets a finished one (undefined). */
  async cancel(id: string): Promise<JobView | undefined> {
    const view = await this.job(id);
    if (view.state === 'queued' || view.state === 'running') return (await this.deps.jobs.cancel(id)) ?? view;
    await this.deps.jobs.remove(id);
    return undefined;
  }

  queueStats(): Promise<QueueStats> {
    return this.deps.jobs.stats();
  }

  /**
   * One image now, outside the queue (the command line): the generator first, then the raw
   * parameters, then the sources (read lazily, so their errors come last); the signal stops the
   * sampler within one step.
   */
  async generate(request: DirectGeneration, signal?: AbortSignal): Promise<GenerationResult> {
    if (!this.deps.available) {
      throw createError('GENERATION_UNAVAILABLE', `the model pack "${this.deps.packName}" has no generator (no "parasol" block)`);
    }
    const generator = await this.deps.generator();
    const parsed = generateRequestSchema.safeParse(request.params);
    if (!parsed.success) throw invalidQuery(parsed.error);
    const params = resolveParams(parsed.data, paramLimits(this.deps.config, this.deps.manifest));
    const [content, style] = await Promise.all([
      request.content().then((source) => this.sources.content(source)),
      request.style().then((source) => this.sources.style(source)),
    ]);
    return generator.generate(toGenerateRequest(content, style, params), { signal });
  }
}

function describeRef(ref: SourceRef | StyleSourceRef | undefined, upload: string | undefined): unknown {
  return upload ? { upload } : ref;
}
