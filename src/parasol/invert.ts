/**
 * Edit-friendly DDPM inversion (Huberman-Spiegelglas, Kulikov & Michaeli, CVPR 2024, arXiv
 * 2304.06140), as PARASOL uses it to keep the content image's structure.
 *
 * For a clean latent z₀ and each visited step τ_i (most noisy first), sample
 *   x_{τ_i} = √ᾱ_{τ_i}·z₀ + √(1−ᾱ_{τ_i})·ε_i       with INDEPENDENT seeded ε_i,
 * then, with ε̂_i the guided prediction at x_{τ_i} under y's own conditions (m_y, c_y), store the
 * noise map that makes the DDPM reverse step land exactly on the next sample:
 *   z_i = (x_{τ_{i+1}} − μ_i(x_{τ_i}, ε̂_i)) / σ_i
 * On the last step σ = 0 (it lands on the clean latent), so the residual z₀ − μ is stored as is
 * (mapScale() = 1). Running the reverse process from x_{τ_1} with these maps and the same
 * conditions reproduces z₀ up to float rounding, whatever the UNet's weights.
 */
import { createGuidedPredictor, type Guidance, type NoiseModel } from './guidance.js';
import { createRng } from './rng.js';
import { mapScale, stepMean, type SamplingPlan } from './schedule.js';

export interface InversionItem {
  /** z₀ = E(y), latentSize values. */
  readonly latent: Float32Array;
  /** m_y = M(a_y): y's own projected style. */
  readonly style: Float32Array;
  /** c_y: y's semantic vector. */
  readonly content: Float32Array;
  readonly guidance: Guidance;
  /** Seeds the forward noises ε_i. */
  readonly seed: number;
}

/** What the reverse process needs to retrace (and then leave) y's trajectory. */
export interface Inversion {
  /** The plan's DDPM steps, most noisy first; the sampler refuses a plan that differs. */
  readonly timesteps: readonly number[];
  /** x_{τ_1}: where the reverse process starts. */
  readonly start: Float32Array;
  /**
   * x before each step (trajectory[0] = start) and, last, z₀: the path the reverse process
   * retraces bit for bit under y's own conditions, so a sampler can start at step λ directly.
   */
  readonly trajectory: readonly Float32Array[];
  /**
   * Per step: x_prev = μ + mapScale(step)·maps[i]. Kept in float64, so μ + σ·z rounds back to
   * the inversion's float32 x_prev bit for bit when μ is the same: the reconstruction does not
   * drift, even where a random UNet makes the reverse dynamics expansive.
   */
  readonly maps: readonly Float64Array[];
  /** The conditions ε̂ was computed under; the sampler uses them for steps 1..λ. */
  readonly style: Float32Array;
  readonly content: Float32Array;
  readonly guidance: Guidance;
  readonly seed: number;
}

export interface InvertOptions {
  model: NoiseModel;
  plan: SamplingPlan;
  items: readonly InversionItem[];
  /** Checked before every step: an abort stops the inversion within one UNet call. */
  signal?: AbortSignal;
  /** Called after each step with (steps done, plan.steps). */
  onProgress?: (step: number, total: number) => void;
}

/** The RNG stream the forward noises come from. */
export const INVERSION_STREAM = 'parasol/invert';

/** Inverts every item in one batch: one UNet call (batch 3·N) per step. */
export async function invert(options: InvertOptions): Promise<Inversion[]> {
  const { model, plan, items, signal, onProgress } = options;
  const n = items.length;
  if (n === 0) return [];
  const size = model.dims.latentSize;
  items.forEach((item, i) => {
    if (item.latent.length !== size) throw new RangeError(`item ${i}: latent has ${item.latent.length} values, expected ${size}`);
  });
  const steps = plan.coefficients;
  const predictor = createGuidedPredictor(model, items);
  const styles = items.map((item) => item.style);
  const rngs = items.map((item) => createRng(item.seed, INVERSION_STREAM));
  const noise = new Float32Array(size);

  /** x_{τ_i} for every item, drawn in step order so the noises do not depend on anything else. */
  const noisy = (i: number, into: Float32Array) => {
    const a = Math.sqrt(steps[i].alphaBar);
    const b = Math.sqrt(1 - steps[i].alphaBar);
    items.forEach((item, j) => {
      rngs[j].fillNormal(noise);
      const z0 = item.latent;
      const offset = j * size;
      for (let k = 0; k < size; k++) into[offset + k] = a * z0[k] + b * noise[k];
    });
    return into;
  };

  let current: Float32Array = noisy(0, new Float32Array(n * size));
  const start = current.slice();
  let next: Float32Array = new Float32Array(n * size);
  const eps = new Float32Array(n * size);
  const maps = items.map(() => new Array<Float64Array>(steps.length));
  const trajectories = items.map(() => new Array<Float32Array>());

  for (let i = 0; i < steps.length; i++) {
    signal?.throwIfAborted();
    const step = steps[i];
    items.forEach((_, j) => trajectories[j].push(current.slice(j * size, (j + 1) * size)));
    await predictor.predict(current, step.t, styles, eps);
    const last = i + 1 === steps.length;
    if (!last) noisy(i + 1, next);
    const scale = mapScale(step);
    items.forEach((item, j) => {
      const offset = j * size;
      const map = new Float64Array(size);
      for (let k = 0; k < size; k++) {
        const target = last ? item.latent[k] : next[offset + k];
        map[k] = (target - stepMean(step, current[offset + k], eps[offset + k])) / scale;
      }
      maps[j][i] = map;
    });
    [current, next] = [next, current];
    onProgress?.(i + 1, steps.length);
  }

  return items.map((item, j) => ({
    timesteps: steps.map((s) => s.t),
    start: start.slice(j * size, (j + 1) * size),
    trajectory: [...trajectories[j], item.latent.slice()],
    maps: maps[j],
    style: item.style.slice(),
    content: item.content.slice(),
    guidance: { style: item.guidance.style, content: item.guidance.content },
    seed: item.seed,
  }));
}
