/**
 * Generation: asynchronous jobs in front of the PARASOL sampler (src/parasol/jobs.ts).
 *
 *   POST   /v1/generate            JSON, or multipart (contentImage, styleImage files + `params` JSON) → 202 {jobId, state, params}
 *   POST   /v1/generate/grid       an N×M interpolation grid (2..5 each) as ONE job: a grid PNG + one PNG per cell
 *   GET    /v1/jobs/:id            state, step/total, params, sources, error, timing
 *   GET    /v1/jobs/:id/image      image/png with provenance text chunks (409 until the job succeeded)
 *   GET    /v1/jobs/:id/cells/:i   one grid cell (row-major)
 *   DELETE /v1/jobs/:id            cancels a queued/running job (200 with the job), forgets a finished one (204)
 *
 * Sources are resolved here, before the job is queued, so that an unknown item or a bad upload is
 * an immediate 4xx and never a failed job: items become their picture (for inversion and colour)
 * plus their stored descriptors, texts go through the text towers, a `jobId` names a finished
 * job's image. The CLI reuses GenerationSources.
 */
import { randomInt } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Encoders, ImageInput } from '../../encoders/types.js';
import { parseParasolSpec } from '../../encoders/generator-pack.js';
import { createError, ParasolError } from '../../errors.js';
import type { ParasolContext } from '../../context.js';
import { DEFAULT_GENERATOR_DEFAULTS, type ContentSource, type GenerateRequest, type StyleInput, type StyleSource, type WeightedStyle } from '../../parasol/generate.js';
import { expectedTotal, type GenerationPayload, type GenerationQueue } from '../../jobs/generation.js';
import { isJobId, JOB_ID_PATTERN, type JobView } from '../../jobs/queue.js';
import { MAX_SEED } from '../../parasol/rng.js';
import type { Catalog } from '../../store/types.js';
import { slerp } from '../../vectors.js';
import type { RequestAuth } from '../auth.js';
import type { RouteDeps } from '../deps.js';
import { filesOf, multipart, sniffImage } from '../uploads.js';
import { jsonField, jsonObject, requireBodyType } from '../validate.js';

// ---- request schemas ----

const itemId = z.string().trim().min(1).max(200);
const text = z.string().trim().min(1).max(500);
const jobId = z.string().regex(JOB_ID_PATTERN, 'expected a job id (a UUID)');
const weight = z.number().min(0).max(1000);
/** g_s and g_y; zod's number() already refuses NaN and ±Infinity. */
const guidance = z.number().min(-20).max(20);

/** A source named in JSON: a stored item, a text, or a finished job's image. */
export const sourceRefSchema = z.union([z.strictObject({ itemId }), z.strictObject({ text }), z.strictObject({ jobId })]);
export type SourceRef = z.output<typeof sourceRefSchema>;

const weightedRefSchema = z.union([
  z.strictObject({ itemId, weight }),
  z.strictObject({ text, weight }),
  z.strictObject({ jobId, weight }),
]);
export const styleSourceSchema = z.union([
  sourceRefSchema,
  z.strictObject({
    mix: z
      .array(weightedRefSchema)
      .min(1)
      .max(8)
      .refine((parts) => parts.some((p) => p.weight > 0), { message: 'the weights cannot all be 0' }),
  }),
]);
export type StyleSourceRef = z.output<typeof styleSourceSchema>;

const paramsShape = {
  /** λ: reverse steps conditioned on the content image's own style before switching to the target. */
  lambda: z.number().int().min(0).optional(),
  gs: guidance.optional(),
  gy: guidance.optional(),
  steps: z.number().int().min(1).optional(),
  seed: z.number().int().min(0).max(MAX_SEED).optional(),
  colour: z.boolean().optional(),
  /** The web app's name for `colour`. */
  colorTransfer: z.boolean().optional(),
};

export const generateRequestSchema = z.strictObject({
  content: sourceRefSchema.optional(),
  style: styleSourceSchema.optional(),
  ...paramsShape,
});

export const gridRequestSchema = z.strictObject({
  /** Rows go from contents[0] to contents[1], columns from styles[0] to styles[1]. */
  contents: z.tuple([sourceRefSchema, sourceRefSchema]),
  styles: z.tuple([sourceRefSchema, sourceRefSchema]),
  rows: z.number().int().min(2).max(5).default(3),
  cols: z.number().int().min(2).max(5).default(3),
  ...paramsShape,
});

type ParamsInput = z.output<z.ZodObject<typeof paramsShape>>;

/** The parameters a job runs with, defaults filled in (echoed in the 202 and in GET /v1/jobs/:id). */
export interface GenerateParams {
  steps: number;
  lambda: number;
  gs: number;
  gy: number;
  seed: number;
  colour: boolean;
}

export interface ParamLimits {
  maxSteps: number;
  defaultSteps: number;
}

/** Fills defaults and checks the bounds that depend on the deployment and on each other. */
export function resolveParams(input: ParamsInput, limits: ParamLimits): GenerateParams {
  const steps = input.steps ?? Math.min(limits.defaultSteps, limits.maxSteps);
  if (steps > limits.maxSteps) throw createError('INVALID_QUERY', `steps: must be at most ${limits.maxSteps}`);
  const lambda = input.lambda ?? Math.round(DEFAULT_GENERATOR_DEFAULTS.lambdaFraction * steps);
  if (lambda > steps) throw createError('INVALID_QUERY', `lambda: must be at most steps (${steps})`);
  if (input.colour !== undefined && input.colorTransfer !== undefined && input.colour !== input.colorTransfer) {
    throw createError('INVALID_QUERY', 'colour and colorTransfer disagree (give one)');
  }
  return {
    steps,
    lambda,
    gs: input.gs ?? DEFAULT_GENERATOR_DEFAULTS.guidance.style,
    gy: input.gy ?? DEFAULT_GENERATOR_DEFAULTS.guidance.content,
    seed: input.seed ?? randomInt(0, MAX_SEED + 1),
    colour: input.colour ?? input.colorTransfer ?? true,
  };
}

export function toGenerateRequest(content: ContentSource, style: StyleSource, params: GenerateParams): GenerateRequest {
  return {
    content,
    style,
    steps: params.steps,
    lambda: params.lambda,
    guidance: { style: params.gs, content: params.gy },
    seed: params.seed,
    colour: params.colour,
  };
}

/** The step bounds of this deployment: the config's, and never more than the pack's T. */
export function paramLimits(context: Pick<ParasolContext, 'config' | 'encoders'>): ParamLimits {
  const { maxSteps, defaultSteps } = context.config.generate;
  const timesteps = parseParasolSpec(context.encoders.manifest).timesteps;
  return { maxSteps: Math.min(maxSteps, timesteps), defaultSteps };
}

// ---- sources ----

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

// ---- per-key allowance ----

/** The bucket of requests that present no key. */
export const ANONYMOUS = 'anonymous';

/**
 * At most `limit` queued + running jobs per API key (requests without a key share one bucket), so
 * that one client cannot fill the shared queue. A slot is reserved synchronously before the
 * sources are resolved, so concurrent requests cannot both take the last one.
 */
export class PerKeyJobs {
  private readonly buckets = new Map<string, { reserved: number; jobs: Set<string> }>();
  constructor(
    private readonly jobs: GenerationQueue,
    private readonly limit: number,
  ) {}

  /** Runs `submit` in one of the key's slots; QUEUE_FULL (with Retry-After) when it has none left. */
  async run(bucketId: string, submit: () => Promise<JobView>): Promise<JobView> {
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
      const view = await submit();
      bucket.jobs.add(view.id);
      return view;
    } finally {
      bucket.reserved -= 1;
      if (bucket.reserved === 0 && bucket.jobs.size === 0) this.buckets.delete(bucketId);
    }
  }
}

function bucketOf(res: Response): string {
  return (res.locals.auth as RequestAuth | undefined)?.key?.id ?? ANONYMOUS;
}

// ---- routes ----

const IMAGE_FIELDS = ['contentImage', 'styleImage'] as const;

function jobIdParam(req: Request): string {
  const id = req.params.id;
  if (!isJobId(id)) throw createError('JOB_NOT_FOUND', String(id ?? '').slice(0, 64));
  return id;
}

/** What GET /v1/jobs/:id answers: the job and where its images are. */
export function presentJob(view: JobView): Record<string, unknown> {
  const out: Record<string, unknown> = { ...view, jobId: view.id };
  if (view.state === 'succeeded') {
    out.image = `/v1/jobs/${view.id}/image`;
    if (view.cells) out.cellImages = Array.from({ length: view.cells }, (_, i) => `/v1/jobs/${view.id}/cells/${i}`);
  }
  return out;
}

function describeRef(ref: SourceRef | StyleSourceRef | undefined, upload: string | undefined): unknown {
  return upload ? { upload } : ref;
}

export function generateRoutes(deps: RouteDeps): Router {
  const { context, thumbnails } = deps;
  const { config, store, encoders, jobs } = context;
  const router = Router();
  const perKey = new PerKeyJobs(jobs, config.generate.perKeyQueue);
  const sources = new GenerationSources({
    catalog: store.catalog,
    encoders,
    jobs,
    itemImage: async (id) => (await thumbnails.get(id)) ?? undefined,
  });

  /** Loads the generator (first use) and answers the step bounds; 503 where the pack has none. */
  async function ready(): Promise<ParamLimits> {
    if (!context.generatorAvailable) {
      throw createError('GENERATION_UNAVAILABLE', `the model pack "${encoders.packName}" has no generator`);
    }
    await context.generator();
    return paramLimits(context);
  }

  router.post('/v1/generate', multipart(config, IMAGE_FIELDS.map((name) => ({ name, maxCount: 1 }))), async (req, res) => {
    const limits = await ready();
    const view = await perKey.run(bucketOf(res), () => submitGenerate(req, limits));
    res.status(202).location(`/v1/jobs/${view.id}`).json({ jobId: view.id, state: view.state, params: view.params });
  });

  async function submitGenerate(req: Request, limits: ParamLimits): Promise<JobView> {
    const kind = requireBodyType(req, ['json', 'multipart']);
    let raw: unknown = req.body;
    if (kind === 'multipart') {
      const form = jsonObject(req.body, 'form');
      const unexpected = Object.keys(form).find((name) => name !== 'params');
      if (unexpected) throw createError('BAD_REQUEST', `Unexpected form field "${unexpected.slice(0, 100)}" (expected "params")`);
      raw = jsonField(form.params, 'params') ?? {};
    }
    const fields = jsonObject(raw, kind === 'json' ? 'body' : 'params');
    for (const name of IMAGE_FIELDS) {
      if (name in fields) throw createError('INVALID_QUERY', `${name}: upload images as multipart files, not in JSON`);
    }
    const body = generateRequestSchema.parse(fields);
    const params = resolveParams(body, limits);
    const uploads: Partial<Record<(typeof IMAGE_FIELDS)[number], Buffer>> = {};
    if (kind === 'multipart') {
      for (const name of IMAGE_FIELDS) {
        const [file] = filesOf(req, name);
        if (file) uploads[name] = await sniffImage(file, config.limits.maxPixels);
      }
    }
    if (uploads.contentImage && body.content) throw createError('INVALID_QUERY', 'content: give a content source or a contentImage upload, not both');
    if (uploads.styleImage && body.style) throw createError('INVALID_QUERY', 'style: give a style source or a styleImage upload, not both');
    if (!uploads.contentImage && !body.content) {
      throw createError('INVALID_QUERY', 'content: required ({itemId}, {text}, {jobId} or a contentImage upload)');
    }
    if (!uploads.styleImage && !body.style) {
      throw createError('INVALID_QUERY', 'style: required ({itemId}, {text}, {jobId}, {mix} or a styleImage upload)');
    }
    const [content, style] = await Promise.all([
      sources.content(uploads.contentImage ? { image: uploads.contentImage } : body.content!),
      sources.style(uploads.styleImage ? { image: uploads.styleImage } : body.style!),
    ]);
    const payload: GenerationPayload = { kind: 'generate', request: toGenerateRequest(content, style, params) };
    return jobs.submit({
      kind: 'generate',
      payload,
      params: { ...params },
      sources: {
        content: describeRef(body.content, uploads.contentImage && 'contentImage'),
        style: describeRef(body.style, uploads.styleImage && 'styleImage'),
      },
      total: expectedTotal(payload, params.steps),
    });
  }

  router.post('/v1/generate/grid', async (req, res) => {
    const limits = await ready();
    requireBodyType(req, ['json']);
    const body = gridRequestSchema.parse(jsonObject(req.body));
    const params = resolveParams(body, limits);
    const view = await perKey.run(bucketOf(res), async () => {
      const requests = await gridRequests(sources, body, params);
      const payload: GenerationPayload = { kind: 'grid', rows: body.rows, cols: body.cols, requests };
      return jobs.submit({
        kind: 'grid',
        payload,
        params: { ...params, rows: body.rows, cols: body.cols },
        sources: { contents: body.contents, styles: body.styles },
        total: expectedTotal(payload, params.steps),
      });
    });
    res.status(202).location(`/v1/jobs/${view.id}`).json({ jobId: view.id, state: view.state, params: view.params });
  });

  router.get('/v1/jobs/:id', async (req, res) => {
    const id = jobIdParam(req);
    const view = await jobs.get(id);
    if (!view) throw createError('JOB_NOT_FOUND', id);
    res.set('Cache-Control', 'no-store').json(presentJob(view));
  });

  router.get('/v1/jobs/:id/image', async (req, res) => {
    const id = jobIdParam(req);
    const png = await jobs.image(id);
    res.type('image/png').set('Cache-Control', 'private, max-age=3600').set('Content-Disposition', `inline; filename="parasol-${id}.png"`).send(png);
  });

  router.get('/v1/jobs/:id/cells/:cell', async (req, res) => {
    const id = jobIdParam(req);
    const cell = String(req.params.cell);
    if (!/^\d{1,2}$/.test(cell)) throw createError('NOT_FOUND', `No cell "${cell.slice(0, 20)}"`);
    const png = await jobs.image(id, Number(cell));
    res.type('image/png').set('Cache-Control', 'private, max-age=3600').send(png);
  });

  router.delete('/v1/jobs/:id', async (req, res) => {
    const id = jobIdParam(req);
    const view = await jobs.get(id);
    if (!view) throw createError('JOB_NOT_FOUND', id);
    if (view.state === 'queued' || view.state === 'running') {
      const cancelled = await jobs.cancel(id);
      res.json(presentJob(cancelled ?? view));
      return;
    }
    await jobs.remove(id);
    res.status(204).end();
  });

  return router;
}
