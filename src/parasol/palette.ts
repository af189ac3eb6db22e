/**
 * Palette transfer (the default colour stage of PARASOL): the output's drawn pixels take the style
 * image's colour distribution, not only its first two moments.
 *
 * Why not mean/covariance alone (colour.ts): the style descriptor's colour part is a histogram of
 * the foreground — pixels that are not near-white — and a drawing's colours are a few flat inks, a
 * multi-modal distribution that two moments over all pixels (white background included) move only
 * roughly toward the style's: with mini v2.2 the moment transfer left the generated images' style
 * neighbours mostly outside the style's set (README, "Generation quality").
 *
 * Iterative distribution transfer (Pitié, Kokaram & Dahyot, 2005): in each of a fixed sequence of
 * orthonormal colour bases, every axis's projection of the output's foreground is mapped by rank
 * onto the target's weighted quantiles; repeated, the 3-D distribution converges to the target's.
 * Ranks keep the order of pixels along every axis, so shapes and edges survive. Near-white pixels
 * stay as they are, as the descriptor ignores them. The bases are fixed, so a request gives the same
 * bytes every time.
 *
 * Pixels are planar RGB in [0, 1] (three planes of `count` values), as in colour.ts.
 */
import { createRng } from './rng.js';

/**
 * How colour transfer moves a generated image. palette: the drawn pixels take the style images'
 * drawn colour distribution (here); moments: all pixels take the style images' colour mean and
 * covariance (colour.ts).
 */
export type ColourMethod = 'palette' | 'moments';
export const COLOUR_METHODS: readonly ColourMethod[] = ['palette', 'moments'];

/** A pixel whose smallest channel is below this is drawn (the style encoder's foreground mask). */
export const FOREGROUND_MAX = 0.97;
/** Rotated bases the transfer passes through. */
export const PALETTE_ITERATIONS = 12;
/** Fewer drawn pixels than this (in the output or the target) and there is no palette to match. */
export const MIN_FOREGROUND = 16;

/** The drawn pixels of one or more images: interleaved RGB in [0, 1], a weight per pixel (sum 1). */
export interface ColourSample {
  readonly rgb: Float32Array;
  readonly weights: Float32Array;
  readonly count: number;
}

/** The foreground pixels of planar RGB in [0, 1], equally weighted; undefined with too few of them. */
export function foregroundSample(pixels: Float32Array): ColourSample | undefined {
  if (pixels.length % 3 !== 0) throw new RangeError(`expected 3 planes, got ${pixels.length} values`);
  const n = pixels.length / 3;
  const drawn = foregroundIndices(pixels, n);
  if (drawn.length < MIN_FOREGROUND) return undefined;
  const rgb = new Float32Array(drawn.length * 3);
  drawn.forEach((p, i) => {
    rgb[i * 3] = pixels[p];
    rgb[i * 3 + 1] = pixels[n + p];
    rgb[i * 3 + 2] = pixels[2 * n + p];
  });
  return { rgb, weights: new Float32Array(drawn.length).fill(1 / drawn.length), count: drawn.length };
}

/**
 * One sample for a style mix: each image's pixels keep their place, its weight (≥ 0) is shared
 * among them. Samples that are undefined (nothing drawn) drop out with their weight; undefined
 * when nothing with a positive weight is left.
 */
export function mixSamples(samples: readonly (ColourSample | undefined)[], weights: readonly number[]): ColourSample | undefined {
  if (samples.length !== weights.length) throw new RangeError('one weight per sample');
  const kept = samples.flatMap((s, k) => (s && weights[k] > 0 ? [{ s, w: weights[k] }] : []));
  const total = kept.reduce((a, { w }) => a + w, 0);
  if (kept.length === 0 || !(total > 0) || !Number.isFinite(total)) return undefined;
  const count = kept.reduce((a, { s }) => a + s.count, 0);
  const rgb = new Float32Array(count * 3);
  const out = new Float32Array(count);
  let at = 0;
  for (const { s, w } of kept) {
    rgb.set(s.rgb, at * 3);
    for (let i = 0; i < s.count; i++) out[at + i] = (s.weights[i] * w) / total;
    at += s.count;
  }
  return { rgb, weights: out, count };
}

/**
 * A copy of planar `pixels` whose drawn pixels follow `target`'s colour distribution; undefined when
 * the output has fewer than MIN_FOREGROUND drawn pixels (the caller falls back to the moments).
 * Values are not clamped (they stay within the target's range up to the last pass's rounding).
 */
export function matchPalette(
  pixels: Float32Array,
  target: ColourSample,
  options: { iterations?: number; out?: Float32Array } = {},
): Float32Array | undefined {
  if (pixels.length % 3 !== 0) throw new RangeError(`expected 3 planes, got ${pixels.length} values`);
  const iterations = options.iterations ?? PALETTE_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > BASES.length) {
    throw new RangeError(`iterations must be an integer in 1..${BASES.length}, got ${iterations}`);
  }
  const n = pixels.length / 3;
  const drawn = foregroundIndices(pixels, n);
  if (drawn.length < MIN_FOREGROUND || target.count === 0) return undefined;
  const out = options.out ?? new Float32Array(pixels.length);
  if (out.length !== pixels.length) throw new RangeError('out must have as many values as pixels');
  out.set(pixels);

  const m = drawn.length;
  const src = new Float64Array(m * 3);
  drawn.forEach((p, i) => {
    src[i * 3] = pixels[p];
    src[i * 3 + 1] = pixels[n + p];
    src[i * 3 + 2] = pixels[2 * n + p];
  });
  const projected = new Float64Array(m);
  const order = new Uint32Array(m);
  const targetValues = new Float64Array(target.count);
  const targetOrder = new Uint32Array(target.count);
  for (let it = 0; it < iterations; it++) {
    const basis = BASES[it];
    for (let a = 0; a < 3; a++) {
      const u0 = basis[a * 3];
      const u1 = basis[a * 3 + 1];
      const u2 = basis[a * 3 + 2];
      for (let i = 0; i < m; i++) projected[i] = u0 * src[i * 3] + u1 * src[i * 3 + 1] + u2 * src[i * 3 + 2];
      for (let j = 0; j < target.count; j++) {
        targetValues[j] = u0 * target.rgb[j * 3] + u1 * target.rgb[j * 3 + 1] + u2 * target.rgb[j * 3 + 2];
      }
      sortIndices(order, projected);
      sortIndices(targetOrder, targetValues);
      // rank i of m sits at quantile (i + ½)/m; the target's value there is the first whose
      // cumulative weight reaches it (both lists ascend, so one pass over each)
      let j = 0;
      let cumulative = target.weights[targetOrder[0]];
      for (let r = 0; r < m; r++) {
        const q = (r + 0.5) / m;
        while (cumulative < q && j < target.count - 1) cumulative += target.weights[targetOrder[++j]];
        const i = order[r];
        const shift = targetValues[targetOrder[j]] - projected[i];
        src[i * 3] += shift * u0;
        src[i * 3 + 1] += shift * u1;
        src[i * 3 + 2] += shift * u2;
      }
    }
  }
  drawn.forEach((p, i) => {
    out[p] = src[i * 3];
    out[n + p] = src[i * 3 + 1];
    out[2 * n + p] = src[i * 3 + 2];
  });
  return out;
}

function foregroundIndices(pixels: Float32Array, n: number): number[] {
  const drawn: number[] = [];
  for (let p = 0; p < n; p++) {
    if (Math.min(pixels[p], pixels[n + p], pixels[2 * n + p]) < FOREGROUND_MAX) drawn.push(p);
  }
  return drawn;
}

/** `order` = indices of `values` by ascending value (ties by index, so the result is deterministic). */
function sortIndices(order: Uint32Array, values: Float64Array): void {
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => values[a] - values[b] || a - b);
}

/**
 * The fixed bases: RGB first, then orthonormalised Gaussian matrices from a seeded stream (the
 * sampler's PRNG, so every machine draws the same ones). Rows are the axes.
 */
const BASES: readonly Float64Array[] = (() => {
  const rng = createRng(20261204, 'palette-bases');
  const bases = [new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1])];
  while (bases.length < 32) {
    const b = new Float64Array(9);
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 3; c++) b[r * 3 + c] = rng.nextNormal();
      for (let k = 0; k < r; k++) {
        const dot = b[r * 3] * b[k * 3] + b[r * 3 + 1] * b[k * 3 + 1] + b[r * 3 + 2] * b[k * 3 + 2];
        for (let c = 0; c < 3; c++) b[r * 3 + c] -= dot * b[k * 3 + c];
      }
      const norm = Math.hypot(b[r * 3], b[r * 3 + 1], b[r * 3 + 2]);
      for (let c = 0; c < 3; c++) b[r * 3 + c] /= norm;
    }
    bases.push(b);
  }
  return bases;
})();
