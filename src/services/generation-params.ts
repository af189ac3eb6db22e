/**
 * What a generation request may say, as one schema for HTTP and the command line, and the
 * parameters a job runs with once the deployment's defaults and bounds are applied.
 */
import { randomInt } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../config.js';
import { parseParasolSpec } from '../encoders/generator-pack.js';
import type { PackManifest } from '../encoders/pack.js';
import { createError } from '../errors.js';
import { DEFAULT_GENERATOR_DEFAULTS, type ContentSource, type GenerateRequest, type StyleSource } from '../parasol/generate.js';
import { JOB_ID_PATTERN } from '../jobs/queue.js';
import { MAX_SEED } from '../parasol/rng.js';

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

export type GenerateRequestBody = z.output<typeof generateRequestSchema>;

export const gridRequestSchema = z.strictObject({
  /** Rows go from contents[0] to contents[1], columns from styles[0] to styles[1]. */
  contents: z.tuple([sourceRefSchema, sourceRefSchema]),
  styles: z.tuple([sourceRefSchema, sourceRefSchema]),
  rows: z.number().int().min(2).max(5).default(3),
  cols: z.number().int().min(2).max(5).default(3),
  ...paramsShape,
});

export type GridRequestBody = z.output<typeof gridRequestSchema>;

export type ParamsInput = z.output<z.ZodObject<typeof paramsShape>>;

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
export function paramLimits(config: Pick<Config, 'generate'>, manifest: PackManifest): ParamLimits {
  const { maxSteps, defaultSteps } = config.generate;
  const timesteps = parseParasolSpec(manifest).timesteps;
  return { maxSteps: Math.min(maxSteps, timesteps), defaultSteps };
}
