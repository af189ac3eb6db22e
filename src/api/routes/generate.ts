/**
 * Generation: asynchronous jobs in front of the PARASOL sampler (the generation service).
 *
 *   POST   /v1/generate            JSON, or multipart (contentImage, styleImage files + `params` JSON) → 202 {jobId, state, params}
 *   POST   /v1/generate/grid       an N×M interpolation grid (2..5 each) as ONE job: a grid PNG + one PNG per cell
 *   GET    /v1/jobs/:id            state, step/total, params, sources, error, timing
 *   GET    /v1/jobs/:id/image      image/png with provenance text chunks (409 until the job succeeded)
 *   GET    /v1/jobs/:id/cells/:i   one grid cell (row-major)
 *   DELETE /v1/jobs/:id            cancels a queued/running job (200 with the job), forgets a finished one (204)
 *
 * The service resolves sources before the job is queued, so that an unknown item or a bad upload
 * is an immediate 4xx and never a failed job.
 */
import { Router, type Request, type Response } from 'express';
import type { Config } from '../../config.js';
import { createError } from '../../errors.js';
import {
  ANONYMOUS,
  generateRequestSchema,
  gridRequestSchema,
  isJobId,
  type GenerateInput,
  type GenerateUploads,
  type GenerationService,
  type JobView,
} from '../../services/generation.js';
import type { RequestAuth } from '../auth.js';
import type { ApiJob } from '../public-types.js';
import { filesOf, multipart } from '../uploads.js';
import { jsonField, jsonObject, requireBodyType } from '../validate.js';

const IMAGE_FIELDS = ['contentImage', 'styleImage'] as const;

function bucketOf(res: Response): string {
  return (res.locals.auth as RequestAuth | undefined)?.key?.id ?? ANONYMOUS;
}

function jobIdParam(req: Request): string {
  const id = req.params.id;
  if (!isJobId(id)) throw createError('JOB_NOT_FOUND', String(id ?? '').slice(0, 64));
  return id;
}

/** What GET /v1/jobs/:id answers: the job and where its images are. */
export function presentJob(view: JobView): ApiJob {
  const out: ApiJob = { ...view, jobId: view.id };
  if (view.state === 'succeeded') {
    out.image = `/v1/jobs/${view.id}/image`;
    if (view.cells) out.cellImages = Array.from({ length: view.cells }, (_, i) => `/v1/jobs/${view.id}/cells/${i}`);
  }
  return out;
}

/** A POST /v1/generate body: JSON, or multipart with the JSON in `params` beside image files. */
async function readGenerateRequest(req: Request): Promise<GenerateInput> {
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
  const request = generateRequestSchema.parse(fields);
  const uploads: GenerateUploads = {};
  if (kind === 'multipart') {
    for (const name of IMAGE_FIELDS) {
      const [file] = filesOf(req, name);
      if (file) uploads[name] = file.buffer;
    }
  }
  return { request, uploads };
}

export function generateRoutes(deps: { config: Config; generation: GenerationService }): Router {
  const { config, generation } = deps;
  const router = Router();

  router.post('/v1/generate', multipart(config, IMAGE_FIELDS.map((name) => ({ name, maxCount: 1 }))), async (req, res) => {
    const view = await generation.submit(bucketOf(res), () => readGenerateRequest(req));
    res.status(202).location(`/v1/jobs/${view.id}`).json({ jobId: view.id, state: view.state, params: view.params });
  });

  router.post('/v1/generate/grid', async (req, res) => {
    const view = await generation.submitGrid(bucketOf(res), () => {
      requireBodyType(req, ['json']);
      return gridRequestSchema.parse(jsonObject(req.body));
    });
    res.status(202).location(`/v1/jobs/${view.id}`).json({ jobId: view.id, state: view.state, params: view.params });
  });

  router.get('/v1/jobs/:id', async (req, res) => {
    const view = await generation.job(jobIdParam(req));
    res.set('Cache-Control', 'no-store').json(presentJob(view));
  });

  router.get('/v1/jobs/:id/image', async (req, res) => {
    const id = jobIdParam(req);
    const png = await generation.image(id);
    res.type('image/png').set('Cache-Control', 'private, max-age=3600').set('Content-Disposition', `inline; filename="parasol-${id}.png"`).send(png);
  });

  router.get('/v1/jobs/:id/cells/:cell', async (req, res) => {
    const id = jobIdParam(req);
    const cell = String(req.params.cell);
    if (!/^\d{1,2}$/.test(cell)) throw createError('NOT_FOUND', `No cell "${cell.slice(0, 20)}"`);
    const png = await generation.image(id, Number(cell));
    res.type('image/png').set('Cache-Control', 'private, max-age=3600').send(png);
  });

  router.delete('/v1/jobs/:id', async (req, res) => {
    const cancelled = await generation.cancel(jobIdParam(req));
    if (cancelled) res.json(presentJob(cancelled));
    else res.status(204).end();
  });

  return router;
}
