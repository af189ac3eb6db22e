/**
 * The Generator service: content + style sources in, a PNG with provenance out (DESIGN.md §4).
 *
 *   content: an image y (inverted: its structure is kept), or a semantic vector c (text-only
 *            generation from seeded noise), optionally with an image to invert under c;
 *   style:   an image s, a stored style vector a_s, or a weighted mix of them (weighted mean of
 *            the unit vectors, then normalised); colour transfer matches the style images' pixels.
 *
 * The encoders give a_s, a_y and c_y; the generator's projector gives m = M(a); the sampler does
 * the rest. It knows nothing of the search engine: callers resolve item ids to bytes or vectors
 * (and may pass the ids along, which end up in the PNG's provenance).
 */
import { randomInt } from 'node:crypto';
import { z } from 'zod';
import type { GeneratorModels } from '../encoders/generator.js';
import type { Encoders, ImageInput } from '../encoders/types.js';
import { createError } from '../errors.js';
import { normalize } from '../vectors.js';
import { matchColour, mixStats, type ColourStats } from './colour.js';
import type { Guidance } from './guidance.js';
import { imageColourStats, imagePalette, imageToPixels, pixelsToPng, provenanceText, toUnitRange } from './image.js';
import { invert, type Inversion, type InversionItem } from './invert.js';
import { matchPalette, mixSamples, type ColourMethod, type ColourSample } from './palette.js';
import { MAX_SEED } from './rng.js';

export { COLOUR_METHODS, type ColourMethod } from './palette.js';
import { sample, type SampleItem } from './sampler.js';
import { makeSchedule, samplingPlan, type NoiseSchedule } from './schedule.js';

export type StyleInput = { image: ImageInput; id?: string } | { vector: Float32Array; id?: string };
export type WeightedStyle = StyleInput & { weight: number };
export type StyleSource = StyleInput | { mix: readonly WeightedStyle[] };
export type ContentSource =
  | { image: ImageInput; id?: string }
  | { semantic: Float32Array; image?: ImageInput; id?: string };

export interface GenerateRequest {
  content: ContentSource;
  style: StyleSource;
  /** Reverse steps, 1..T (default 50, at most T). */
  steps?: number;
  /** Steps conditioned on the content image's own style before switching to the target, 0..steps. */
  lambda?: number;
  /** g_s and g_y. */
  guidance?: Partial<Guidance>;
  /** 0..2^32−1; random (and reported in params) when absent. */
  seed?: number;
  /** Match the style images' colours (default true; needs a style image). */
  colour?: boolean;
  /** How (default: the generator's `colourMethod`, palette). */
  colourMethod?: ColourMethod;
}


export interface GenerateOptions {
  /** Aborting stops the work within one UNet call and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** (UNet steps done, UNet steps in all): inversion steps, then sampling steps. */
  onProgress?: (step: number, total: number) => void;
}

/** Everything needed to regenerate an image from the same sources; also written into the PNG. */
export interface GenerationParams {
  sampler: string;
  pack: string;
  steps: number;
  lambda: number;
  guidance: Guidance;
  seed: number;
  /** Whether colour transfer was applied (asked for and a style image was given). */
  colour: boolean;
  /** Its method, when it was applied. */
  colourMethod?: ColourMethod;
  /** Whether the content image was inverted (false for text-only generation). */
  inverted: boolean;
  /** The style mix's normalised weights, when the style was a mix. */
  styleWeights?: number[];
  width: number;
  height: number;
}

export interface GenerationResult {
  png: Buffer;
  params: GenerationParams;
}

export interface GeneratorDefaults {
  steps: number;
  /** λ = round(lambdaFraction · steps) when the request has no lambda. */
  lambdaFraction: number;
  guidance: Guidance;
  colourMethod: ColourMethod;
}

export const DEFAULT_GENERATOR_DEFAULTS: GeneratorDefaults = Object.freeze({
  steps: 50,
  lambdaFraction: 0.5,
  guidance: Object.freeze({ style: 5, content: 3 }),
  colourMethod: 'palette',
});

export interface GeneratorDeps {
  models: GeneratorModels;
  encoders: Encoders;
  defaults?: Partial<GeneratorDefaults>;
  /** Images with more pixels are refused with IMAGE_TOO_LARGE. */
  limitInputPixels?: number;
  /** Written as the PNG's Software (default "Parasol"). */
  software?: string;
}

export const SAMPLER_NAME = 'parasol-ddpm/1';

const guidanceValue = z.number().finite().min(-20).max(50);

const optionsSchema = z.object({
  steps: z.number().int().min(1),
  lambda: z.number().int().min(0).optional(),
  guidance: z.object({ style: guidanceValue.optional(), content: guidanceValue.optional() }).optional(),
  seed: z.number().int().min(0).max(MAX_SEED).optional(),
  colour: z.boolean().optional(),
  colourMethod: z.enum(['palette', 'moments']).optional(),
});

/** What colour transfer moves the decoded output onto. */
interface ColourTarget {
  method: ColourMethod;
  stats: ColourStats;
  /** Drawn pixels of the style images (palette method); absent when none are drawn. */
  palette?: ColourSample;
}

/** One request, resolved to vectors and settings. */
interface Resolved {
  params: GenerationParams;
  content: Float32Array;
  /** a_s, unit. */
  targetStyle: Float32Array;
  colourTarget?: ColourTarget;
  source?: { pixels: Float32Array; style: Float32Array };
  sourceIds: { content: string | null; style: string[] };
}

export class Generator {
  private readonly models: GeneratorModels;
  private readonly encoders: Encoders;
  private readonly defaults: GeneratorDefaults;
  private readonly schedule: NoiseSchedule;
  private readonly limitInputPixels?: number;
  private readonly software: string;

  constructor(deps: GeneratorDeps) {
    this.models = deps.models;
    this.encoders = deps.encoders;
    const { dims } = deps.models;
    if (deps.encoders.semanticDim !== dims.semantic || deps.encoders.styleDim !== dims.style) {
      throw createError(
        'CONFIG_INVALID',
        `the encoders (semantic ${deps.encoders.semanticDim}, style ${deps.encoders.styleDim}) do not match ` +
          `the generator (semantic ${dims.semantic}, style ${dims.style})`,
      );
    }
    this.defaults = { ...DEFAULT_GENERATOR_DEFAULTS, ...deps.defaults };
    this.schedule = makeSchedule(deps.models.spec.schedule, deps.models.spec.timesteps);
    this.limitInputPixels = deps.limitInputPixels;
    this.software = deps.software ?? 'Parasol';
  }

  async generate(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerationResult> {
    return (await this.generateBatch([request], options))[0];
  }

  /**
   * Several images at once: requests with the same number of steps share every UNet call
   * (batch 3·N). Results keep the requests' order.
   */
  async generateBatch(requests: readonly GenerateRequest[], options: GenerateOptions = {}): Promise<GenerationResult[]> {
    const { signal, onProgress } = options;
    signal?.throwIfAborted();
    const resolved = await Promise.all(requests.map((request) => this.resolve(request)));
    const groups = new Map<number, number[]>();
    resolved.forEach((r, i) => groups.set(r.params.steps, [...(groups.get(r.params.steps) ?? []), i]));
    let total = 0;
    for (const [steps, members] of groups) total += steps * (members.some((i) => resolved[i].source) ? 2 : 1);
    let done = 0;
    const progress = (step: number) => onProgress?.(done + step, total);

    const results = new Array<GenerationResult>(requests.length);
    for (const [steps, members] of groups) {
      const batch = members.map((i) => resolved[i]);
      const inverted = batch.some((r) => r.source) ? steps : 0;
      const images = await this.runGroup(steps, batch, signal, (kind, step) => progress(kind === 'invert' ? step : inverted + step));
      done += inverted + steps;
      members.forEach((i, k) => (results[i] = images[k]));
    }
    return results;
  }

  private async runGroup(
    steps: number,
    batch: readonly Resolved[],
    signal: AbortSignal | undefined,
    onProgress: (kind: 'invert' | 'sample', step: number) => void,
  ): Promise<GenerationResult[]> {
    const { models } = this;
    const { latentSize, pixelSize, imageSize } = models.dims;
    const plan = samplingPlan(this.schedule, steps);

    // One projector call for every style the batch needs: targets, then the sources' own styles.
    const withSource = batch.filter((r) => r.source);
    const projected = await models.project([...batch.map((r) => r.targetStyle), ...withSource.map((r) => r.source!.style)]);
    const targets = projected.slice(0, batch.length);
    const sourceStyles = projected.slice(batch.length);

    let inversions: Inversion[] = [];
    if (withSource.length > 0) {
      const pixels = new Float32Array(withSource.length * pixelSize);
      withSource.forEach((r, i) => pixels.set(r.source!.pixels, i * pixelSize));
      const latents = await models.encode(pixels, withSource.length);
      const items: InversionItem[] = withSource.map((r, i) => ({
        latent: latents.slice(i * latentSize, (i + 1) * latentSize),
        style: sourceStyles[i],
        content: r.content,
        guidance: r.params.guidance,
        seed: r.params.seed,
      }));
      inversions = await invert({ model: models, plan, items, signal, onProgress: (step) => onProgress('invert', step) });
    }

    let next = 0;
    const items: SampleItem[] = batch.map((r, i) =>
      r.source
        ? { inversion: inversions[next++], style: targets[i], lambda: r.params.lambda }
        : { content: r.content, style: targets[i], guidance: r.params.guidance, seed: r.params.seed },
    );
    const latents = await sample({ model: models, plan, items, signal, onProgress: (step) => onProgress('sample', step) });
    signal?.throwIfAborted();

    const stacked = new Float32Array(batch.length * latentSize);
    latents.forEach((latent, i) => stacked.set(latent, i * latentSize));
    const decoded = await models.decode(stacked, batch.length);
    return Promise.all(
      batch.map(async (r, i) => {
        let pixels = toUnitRange(decoded.subarray(i * pixelSize, (i + 1) * pixelSize), new Float32Array(pixelSize));
        if (r.colourTarget) pixels = transferColour(pixels, r.colourTarget);
        const text = provenanceText({
          software: this.software,
          generator: SAMPLER_NAME,
          pack: r.params.pack,
          parameters: r.params,
          sources: r.sourceIds,
        });
        return { png: await pixelsToPng(pixels, imageSize, imageSize, text), params: r.params };
      }),
    );
  }

  /** Validates a request and turns its sources into vectors (and pixels for the content image). */
  private async resolve(request: GenerateRequest): Promise<Resolved> {
    const T = this.models.dims.timesteps;
    const parsed = optionsSchema.safeParse({
      steps: request.steps ?? Math.min(this.defaults.steps, T),
      lambda: request.lambda,
      guidance: request.guidance,
      seed: request.seed,
      colour: request.colour,
      colourMethod: request.colourMethod,
    });
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'request'}: ${issue.message}`);
      throw createError('BAD_REQUEST', `Invalid generation request: ${problems.join('; ')}`);
    }
    const o = parsed.data;
    if (o.steps > T) throw badRequest(`steps must be at most ${T}, got ${o.steps}`);
    const lambda = o.lambda ?? Math.round(this.defaults.lambdaFraction * o.steps);
    if (lambda > o.steps) throw badRequest(`lambda must be at most steps (${o.steps}), got ${lambda}`);
    const guidance: Guidance = {
      style: o.guidance?.style ?? this.defaults.guidance.style,
      content: o.guidance?.content ?? this.defaults.guidance.content,
    };
    const seed = o.seed ?? randomInt(0, MAX_SEED + 1);

    const { content, source } = await this.resolveContent(request.content);
    const wantColour = o.colour ?? true;
    const colourMethod = o.colourMethod ?? this.defaults.colourMethod;
    const style = await this.resolveStyle(request.style, wantColour && colourMethod === 'palette');
    const colourTarget: ColourTarget | undefined =
      wantColour && style.colour ? { method: colourMethod, stats: style.colour, palette: style.palette } : undefined;
    const size = this.models.dims.imageSize;
    const params: GenerationParams = {
      sampler: SAMPLER_NAME,
      pack: `${this.models.packName}@${this.models.packVersion}`,
      steps: o.steps,
      lambda: source ? lambda : 0,
      guidance,
      seed,
      colour: colourTarget !== undefined,
      ...(colourTarget ? { colourMethod } : {}),
      inverted: source !== undefined,
      ...(style.weights ? { styleWeights: style.weights } : {}),
      width: size,
      height: size,
    };
    return {
      params,
      content,
      targetStyle: style.vector,
      colourTarget,
      source,
      sourceIds: { content: request.content.id ?? null, style: style.ids },
    };
  }

  private async resolveContent(
    input: ContentSource,
  ): Promise<{ content: Float32Array; source?: { pixels: Float32Array; style: Float32Array } }> {
    const image = input.image;
    const semantic = 'semantic' in input ? input.semantic : undefined;
    if (semantic !== undefined) checkVector('content.semantic', semantic, this.encoders.semanticDim);
    if (image === undefined) {
      if (semantic === undefined) throw badRequest('content needs an image or a semantic vector');
      return { content: normalize(semantic) };
    }
    const [pixels, [descriptors]] = await Promise.all([
      imageToPixels(image, this.models.dims.imageSize, { limitInputPixels: this.limitInputPixels }),
      this.encoders.describeImages([image]),
    ]);
    return {
      content: semantic !== undefined ? normalize(semantic) : descriptors.semantic,
      source: { pixels, style: descriptors.style },
    };
  }

  private async resolveStyle(
    source: StyleSource,
    withPalette: boolean,
  ): Promise<{ vector: Float32Array; colour?: ColourStats; palette?: ColourSample; weights?: number[]; ids: string[] }> {
    const parts: readonly WeightedStyle[] = 'mix' in source ? source.mix : [{ ...source, weight: 1 }];
    if (parts.length === 0) throw badRequest('style.mix needs at least one style');
    const total = parts.reduce((sum, p) => {
      if (!Number.isFinite(p.weight) || p.weight < 0) throw badRequest(`style weights must be finite and ≥ 0, got ${p.weight}`);
      return sum + p.weight;
    }, 0);
    if (!(total > 0)) throw badRequest('the style weights sum to 0');
    const dim = this.encoders.styleDim;
    const images = parts.filter((p): p is WeightedStyle & { image: ImageInput } => 'image' in p && p.image !== undefined);
    const embedded = images.length > 0 ? await this.encoders.styleImage.embedImages(images.map((p) => p.image)) : [];
    const read = { limitInputPixels: this.limitInputPixels };
    const [stats, palettes] = await Promise.all([
      Promise.all(images.map((p) => imageColourStats(p.image, read))),
      withPalette ? Promise.all(images.map((p) => imagePalette(p.image, this.models.dims.imageSize, read))) : [],
    ]);
    const mean = new Float32Array(dim);
    let nextImage = 0;
    for (const p of parts) {
      let v: Float32Array;
      if ('vector' in p && p.vector !== undefined) {
        checkVector('style.vector', p.vector, dim);
        v = normalize(p.vector);
      } else if ('image' in p && p.image !== undefined) {
        v = embedded[nextImage++];
      } else {
        throw badRequest('each style needs an image or a vector');
      }
      const w = p.weight / total;
      for (let k = 0; k < dim; k++) mean[k] += w * v[k];
    }
    const vector = normalize(mean);
    if (!vector.some((x) => x !== 0)) throw badRequest('the style mix cancels out to the zero vector');
    const imageWeights = images.map((p) => p.weight);
    const colour =
      images.length === 0 ? undefined : imageWeights.some((w) => w > 0) ? mixStats(stats, imageWeights) : undefined;
    const palette = colour && withPalette ? mixSamples(palettes, imageWeights) : undefined;
    return {
      vector,
      colour,
      ...(palette ? { palette } : {}),
      ...('mix' in source ? { weights: parts.map((p) => p.weight / total) } : {}),
      ids: parts.flatMap((p) => (p.id !== undefined ? [p.id] : [])),
    };
  }
}

/** The palette where both the output and the style images have drawn pixels, else the moments. */
function transferColour(pixels: Float32Array, target: ColourTarget): Float32Array {
  const matched = target.method === 'palette' && target.palette ? matchPalette(pixels, target.palette) : undefined;
  return matched ?? matchColour(pixels, target.stats);
}

function checkVector(name: string, v: unknown, dim: number): void {
  if (!(v instanceof Float32Array) || v.length !== dim) {
    throw badRequest(`${name} must be a Float32Array of ${dim} values`);
  }
  if (!v.every(Number.isFinite) || !v.some((x) => x !== 0)) throw badRequest(`${name} must be finite and non-zero`);
}

function badRequest(message: string) {
  return createError('BAD_REQUEST', message);
}
