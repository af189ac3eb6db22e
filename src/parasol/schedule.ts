/**
 * DDPM noise schedules and the per-step coefficients of a (sub-sampled) DDPM reverse process.
 *
 * Indices follow the usual convention: step t ∈ [0, T) has β_t, and ᾱ_t = Π_{s≤t} (1 − β_s);
 * the clean latent sits "before" step 0 with ᾱ = 1. Everything is computed in float64.
 *
 * With `steps` < T the reverse process visits a descending subsequence τ_1 > … > τ_S of [0, T)
 * and each step jumps from τ_i to τ_{i+1} (or to the clean latent after the last one) using the
 * DDPM posterior of that jump: with α = ᾱ_t / ᾱ_prev and β = 1 − α,
 *   x̂₀ = (x_t − √(1−ᾱ_t)·ε) / √ᾱ_t
 *   μ  = √ᾱ_prev·β/(1−ᾱ_t) · x̂₀ + √α·(1−ᾱ_prev)/(1−ᾱ_t) · x_t
 *   σ² = (1−ᾱ_prev)/(1−ᾱ_t) · β          (0 on the last step, where ᾱ_prev = 1)
 */
import type { ScheduleSpec } from '../encoders/generator-pack.js';

export type { ScheduleSpec } from '../encoders/generator-pack.js';

export interface NoiseSchedule {
  readonly kind: ScheduleSpec['kind'];
  /** T. */
  readonly timesteps: number;
  readonly betas: Float64Array;
  /** αₜ = 1 − βₜ. */
  readonly alphas: Float64Array;
  /** ᾱₜ = Π_{s≤t} αₛ. */
  readonly alphasCumprod: Float64Array;
}

export function makeSchedule(spec: ScheduleSpec, timesteps: number): NoiseSchedule {
  if (!Number.isInteger(timesteps) || timesteps < 2) throw new RangeError(`timesteps must be an integer ≥ 2, got ${timesteps}`);
  const { betaStart, betaEnd } = spec;
  if (!(betaStart > 0 && betaEnd < 1 && betaStart <= betaEnd)) {
    throw new RangeError(`need 0 < betaStart ≤ betaEnd < 1, got ${betaStart}, ${betaEnd}`);
  }
  const betas = new Float64Array(timesteps);
  for (let t = 0; t < timesteps; t++) {
    const f = t / (timesteps - 1);
    switch (spec.kind) {
      case 'linear':
        betas[t] = betaStart + f * (betaEnd - betaStart);
        break;
      case 'scaled-linear': {
        const root = Math.sqrt(betaStart) + f * (Math.sqrt(betaEnd) - Math.sqrt(betaStart));
        betas[t] = root * root;
        break;
      }
      default: {
        const unknown: never = spec.kind;
        throw new RangeError(`unknown schedule kind ${String(unknown)}`);
      }
    }
  }
  const alphas = new Float64Array(timesteps);
  const alphasCumprod = new Float64Array(timesteps);
  let product = 1;
  for (let t = 0; t < timesteps; t++) {
    alphas[t] = 1 - betas[t];
    product *= alphas[t];
    alphasCumprod[t] = product;
  }
  return Object.freeze({ kind: spec.kind, timesteps, betas, alphas, alphasCumprod });
}

/**
 * The `steps` DDPM steps the sampler visits, descending and evenly spaced from T − 1 ("trailing"
 * spacing, so the first step always starts from the most noisy step the model knows).
 * steps = T gives T − 1, …, 0.
 */
export function samplingTimesteps(timesteps: number, steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > timesteps) {
    throw new RangeError(`steps must be an integer in [1, ${timesteps}], got ${steps}`);
  }
  const out: number[] = [];
  const stride = timesteps / steps;
  for (let i = 0; i < steps; i++) out.push(Math.round(timesteps - i * stride) - 1);
  return out;
}

/** One reverse step τ → τ_prev and its coefficients. */
export interface StepCoefficients {
  /** The DDPM step whose noise level x is at (fed to the UNet). */
  readonly t: number;
  /** The step this one lands on; −1 for the clean latent. */
  readonly tPrev: number;
  readonly alphaBar: number;
  readonly alphaBarPrev: number;
  /** x̂₀ = x0FromX·x_t − x0FromEps·ε. */
  readonly x0FromX: number;
  readonly x0FromEps: number;
  /** μ = muFromX0·x̂₀ + muFromX·x_t. */
  readonly muFromX0: number;
  readonly muFromX: number;
  /** Standard deviation of the step's noise; 0 on the last step. */
  readonly sigma: number;
}

/** The reverse process in `steps` steps, most noisy first. */
export interface SamplingPlan {
  readonly timesteps: number;
  readonly steps: number;
  readonly schedule: NoiseSchedule;
  readonly coefficients: readonly StepCoefficients[];
}

export function samplingPlan(schedule: NoiseSchedule, steps: number): SamplingPlan {
  const ts = samplingTimesteps(schedule.timesteps, steps);
  const coefficients = ts.map((t, i): StepCoefficients => {
    const tPrev = i + 1 < ts.length ? ts[i + 1] : -1;
    const alphaBar = schedule.alphasCumprod[t];
    const alphaBarPrev = tPrev >= 0 ? schedule.alphasCumprod[tPrev] : 1;
    const alpha = alphaBar / alphaBarPrev;
    const beta = 1 - alpha;
    const variance = ((1 - alphaBarPrev) / (1 - alphaBar)) * beta;
    return Object.freeze({
      t,
      tPrev,
      alphaBar,
      alphaBarPrev,
      x0FromX: 1 / Math.sqrt(alphaBar),
      x0FromEps: Math.sqrt(1 - alphaBar) / Math.sqrt(alphaBar),
      muFromX0: (Math.sqrt(alphaBarPrev) * beta) / (1 - alphaBar),
      muFromX: (Math.sqrt(alpha) * (1 - alphaBarPrev)) / (1 - alphaBar),
      sigma: tPrev >= 0 ? Math.sqrt(Math.max(variance, 0)) : 0,
    });
  });
  return Object.freeze({ timesteps: schedule.timesteps, steps, schedule, coefficients: Object.freeze(coefficients) });
}

/**
 * μ(x_t, ε) of one step for one value, in float64. The inversion and the sampler both call this,
 * so they compute the same μ to the last bit.
 */
export function stepMean(step: StepCoefficients, x: number, eps: number): number {
  const x0 = step.x0FromX * x - step.x0FromEps * eps;
  return step.muFromX0 * x0 + step.muFromX * x;
}

/**
 * The factor a stored noise map is multiplied by: σ, or 1 on the last step, where σ = 0 and the
 * inversion stores the residual x₀ − μ itself (so reconstruction is exact there too).
 */
export function mapScale(step: StepCoefficients): number {
  return step.sigma > 0 ? step.sigma : 1;
}
