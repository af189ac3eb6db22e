/**
 * The PARASOL reverse process (DESIGN.md §4).
 *
 * Every step makes ONE batched UNet call (batch 3·N: ε(∅,∅), ε(m,∅), ε(∅,c) per item, see
 * guidance.ts) and one DDPM step per item: x_prev = μ(x_t, ε) + noise, where the noise is
 *   - for an inverted item, the inversion's stored map (mapScale(step)·z_i), every step;
 *   - otherwise fresh seeded N(0, I)·σ (and the start is seeded noise too).
 * An inverted item is conditioned on y's own style m_y (and the inversion's content and guidance)
 * for steps 1..λ and on the target m_s after; with λ = steps it retraces the inversion and
 * returns z₀. Items without an inversion (text-only generation) use the target style throughout.
 * Because those first λ steps retrace the inversion exactly, a batch of inverted items starts at
 * the smallest λ, from the inversion's stored trajectory, instead of recomputing them.
 *
 * Deterministic for given seeds; cancellable between steps through an AbortSignal.
 */
import { createGuidedPredictor, type Guidance, type NoiseModel } from './guidance.js';
import type { Inversion } from './invert.js';
import { createRng } from './rng.js';
import { mapScale, stepMean, type SamplingPlan } from './schedule.js';

/** An item generated from seeded noise (no content image). */
export interface NoiseItem {
  /** c_y. */
  readonly content: Float32Array;
  /** m_s, the projected target style. */
  readonly style: Float32Array;
  readonly guidance: Guidance;
  readonly seed: number;
}

/** An item that retraces an inversion for λ steps, then follows the target style. */
export interface InvertedItem {
  readonly inversion: Inversion;
  /** m_s, the projected target style. */
  readonly style: Float32Array;
  /** Steps (most noisy first) conditioned on y's own style; 0..plan.steps. */
  readonly lambda: number;
}

export type SampleItem = NoiseItem | InvertedItem;

export interface SampleOptions {
  model: NoiseModel;
  plan: SamplingPlan;
  items: readonly SampleItem[];
  /** Checked before every step: an abort stops the loop within one UNet call. */
  signal?: AbortSignal;
  /** Called after each step with (steps done, plan.steps). */
  onProgress?: (step: number, total: number) => void;
}

/** RNG streams of items without an inversion. */
export const START_STREAM = 'parasol/start';
export const STEP_STREAM = 'parasol/step';

export function isInverted(item: SampleItem): item is InvertedItem {
  return (item as InvertedItem).inversion !== undefined;
}

/** Runs the reverse process for a batch; returns each item's clean latent z₀'. */
export async function sample(options: SampleOptions): Promise<Float32Array[]> {
  const { model, plan, items, signal, onProgress } = options;
  const n = items.length;
  if (n === 0) return [];
  const size = model.dims.latentSize;
  const steps = plan.coefficients;
  const timesteps = steps.map((s) => s.t);

  const guided = items.map((item, j) => {
    if (!isInverted(item)) return { content: item.content, guidance: item.guidance };
    const { inversion, lambda } = item;
    if (!Number.isInteger(lambda) || lambda < 0 || lambda > plan.steps) {
      throw new RangeError(`item ${j}: lambda must be an integer in [0, ${plan.steps}], got ${lambda}`);
    }
    if (inversion.timesteps.length !== timesteps.length || inversion.timesteps.some((t, i) => t !== timesteps[i])) {
      throw new RangeError(`item ${j}: the inversion was made for other steps than this plan's`);
    }
    return { content: inversion.content, guidance: inversion.guidance };
  });
  const predictor = createGuidedPredictor(model, guided);

  // x: the batch's current latents. Fresh noise comes from per-item streams.
  const x = new Float32Array(n * size);
  const stepRngs = items.map((item) => (isInverted(item) ? undefined : createRng(item.seed, STEP_STREAM)));
  const first = items.every(isInverted) ? Math.min(...items.map((item) => (item as InvertedItem).lambda)) : 0;
  items.forEach((item, j) => {
    const row = x.subarray(j * size, (j + 1) * size);
    if (isInverted(item)) row.set(item.inversion.trajectory[first]);
    else createRng(item.seed, START_STREAM).fillNormal(row);
  });
  const eps = new Float32Array(n * size);
  const fresh = new Float32Array(size);
  const styles = new Array<Float32Array>(n);

  if (first > 0) onProgress?.(first, steps.length);
  for (let i = first; i < steps.length; i++) {
    signal?.throwIfAborted();
    const step = steps[i];
    items.forEach((item, j) => {
      styles[j] = isInverted(item) && i < item.lambda ? item.inversion.style : item.style;
    });
    await predictor.predict(x, step.t, styles, eps);
    items.forEach((item, j) => {
      const offset = j * size;
      let noise: Float32Array | Float64Array | undefined;
      let scale = 0;
      if (isInverted(item)) {
        noise = item.inversion.maps[i];
        scale = mapScale(step);
      } else if (step.sigma > 0) {
        noise = (stepRngs[j] as ReturnType<typeof createRng>).fillNormal(fresh);
        scale = step.sigma;
      }
      if (noise) {
        for (let k = 0; k < size; k++) {
          x[offset + k] = stepMean(step, x[offset + k], eps[offset + k]) + scale * noise[k];
        }
      } else {
        for (let k = 0; k < size; k++) x[offset + k] = stepMean(step, x[offset + k], eps[offset + k]);
      }
    });
    onProgress?.(i + 1, steps.length);
  }
  return items.map((_, j) => x.slice(j * size, (j + 1) * size));
}
