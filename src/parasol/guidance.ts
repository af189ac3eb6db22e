/**
 * Modality-specific classifier-free guidance: ONE batched UNet call per step evaluates, for every
 * item of the batch, ε(∅,∅), ε(m,∅) and ε(∅,c) (batch 3·N, in that row order), then combines
 *
 *   ε = ε(∅,∅) + g_s·[ε(m,∅) − ε(∅,∅)] + g_y·[ε(∅,c) − ε(∅,∅)]
 *     = (1 − g_s − g_y)·ε(∅,∅) + g_s·ε(m,∅) + g_y·ε(∅,c).
 *
 * The second form is used (in float64, terms with a zero weight skipped), which makes the
 * identities bitwise exact: (0,0) returns ε(∅,∅), (1,0) ε(m,∅), (0,1) ε(∅,c), -0 included.
 * There is no joint ε(m,c) term: (1,1) is ε(m,∅) + ε(∅,c) − ε(∅,∅), not a jointly conditioned pass.
 *
 * The inversion and the sampler both predict through this module, so the reverse process sees
 * the very ε̂ the inversion computed its noise maps from (the exact-reconstruction property).
 */
import type { NoiseInput } from '../encoders/generator.js';

/** g_s (style) and g_y (content). */
export interface Guidance {
  readonly style: number;
  readonly content: number;
}

/** What the sampler needs of the generator: its shapes and the UNet. */
export interface NoiseModel {
  readonly dims: { readonly latentSize: number; readonly semantic: number };
  predictNoise(input: NoiseInput): Promise<Float32Array>;
}

export interface GuidedItem {
  /** c_y, Dsem values. */
  readonly content: Float32Array;
  readonly guidance: Guidance;
}

export interface GuidedPredictor {
  readonly batch: number;
  /**
   * The guided ε of every item into `out` ([N, latentSize]): `latents` holds the N noisy latents
   * at DDPM step `t`; `styles[i]` is the projected style item i is conditioned on at this step.
   * One UNet call.
   */
  predict(latents: Float32Array, t: number, styles: readonly Float32Array[], out: Float32Array): Promise<Float32Array>;
}

/** The three-way batched predictor for a fixed batch of items (buffers allocated once). */
export function createGuidedPredictor(model: NoiseModel, items: readonly GuidedItem[]): GuidedPredictor {
  const n = items.length;
  if (n < 1) throw new RangeError('a guided batch needs at least one item');
  const size = model.dims.latentSize;
  const dim = model.dims.semantic;
  const rows = 3 * n;
  const latent = new Float32Array(rows * size);
  const timestep = new Float32Array(rows);
  const content = new Float32Array(rows * dim);
  const style = new Float32Array(rows * dim);
  const contentMask = new Float32Array(rows);
  const styleMask = new Float32Array(rows);
  const weights = items.map((item, i) => {
    checkVector('content', item.content, dim);
    checkGuidance(item.guidance);
    // Rows [0, n): ε(∅,∅); [n, 2n): ε(m,∅); [2n, 3n): ε(∅,c).
    content.set(item.content, (2 * n + i) * dim);
    styleMask[n + i] = 1;
    contentMask[2 * n + i] = 1;
    return guidanceWeights(item.guidance);
  });

  return {
    batch: n,
    async predict(latents, t, styles, out) {
      if (latents.length !== n * size) throw new RangeError(`latents has ${latents.length} values, expected ${n * size}`);
      if (out.length !== n * size) throw new RangeError(`out has ${out.length} values, expected ${n * size}`);
      if (styles.length !== n) throw new RangeError(`${styles.length} styles for ${n} items`);
      for (let r = 0; r < 3; r++) latent.set(latents, r * n * size);
      timestep.fill(t);
      styles.forEach((s, i) => {
        checkVector('style', s, dim);
        style.set(s, (n + i) * dim);
      });
      const eps = await model.predictNoise({ latent, timestep, content, style, contentMask, styleMask, batch: rows });
      for (let i = 0; i < n; i++) {
        combineGuidance(
          eps.subarray(i * size, (i + 1) * size),
          eps.subarray((n + i) * size, (n + i + 1) * size),
          eps.subarray((2 * n + i) * size, (2 * n + i + 1) * size),
          weights[i],
          out.subarray(i * size, (i + 1) * size),
        );
      }
      return out;
    },
  };
}

/**
 * out = wu·uncond + wm·style + wc·content, terms with a zero weight skipped, so a single
 * weight-1 term is copied bit for bit.
 */
export function combineGuidance(
  uncond: Float32Array,
  styleCond: Float32Array,
  contentCond: Float32Array,
  weights: readonly [number, number, number],
  out: Float32Array,
): Float32Array {
  const terms: Array<[number, Float32Array]> = [];
  if (weights[0] !== 0) terms.push([weights[0], uncond]);
  if (weights[1] !== 0) terms.push([weights[1], styleCond]);
  if (weights[2] !== 0) terms.push([weights[2], contentCond]);
  const len = out.length;
  if (terms.length === 0) {
    out.fill(0);
    return out;
  }
  const [w0, a0] = terms[0];
  if (terms.length === 1) {
    if (w0 === 1) out.set(a0);
    else for (let k = 0; k < len; k++) out[k] = w0 * a0[k];
  } else if (terms.length === 2) {
    const [w1, a1] = terms[1];
    for (let k = 0; k < len; k++) out[k] = w0 * a0[k] + w1 * a1[k];
  } else {
    const [w1, a1] = terms[1];
    const [w2, a2] = terms[2];
    for (let k = 0; k < len; k++) out[k] = w0 * a0[k] + w1 * a1[k] + w2 * a2[k];
  }
  return out;
}

/** The weights combineGuidance takes for (g_s, g_y). */
export function guidanceWeights(guidance: Guidance): [number, number, number] {
  return [1 - guidance.style - guidance.content, guidance.style, guidance.content];
}

function checkGuidance(g: Guidance): void {
  if (!Number.isFinite(g.style) || !Number.isFinite(g.content)) {
    throw new RangeError(`guidance must be finite, got (${g.style}, ${g.content})`);
  }
}

function checkVector(name: string, v: Float32Array, dim: number): void {
  if (!(v instanceof Float32Array) || v.length !== dim) {
    throw new RangeError(`${name} vector must be a Float32Array of ${dim} values, got ${v?.length}`);
  }
}
