/**
 * Mean/covariance colour transfer (the optional last stage of PARASOL): move the output's pixel
 * distribution onto the style image's first two moments,
 *   x' = C_t^{1/2} · C_s^{-1/2} · (x − μ_s) + μ_t
 * where (μ_s, C_s) are the output's RGB mean and covariance and (μ_t, C_t) the style image's.
 * Then cov(x') = C_t^{1/2} C_s^{-1/2} C_s C_s^{-1/2} C_t^{1/2} = C_t and mean(x') = μ_t.
 *
 * Matrix square roots are symmetric, from the eigen-decomposition of the 3×3 covariance (cyclic
 * Jacobi). C_s is regularised with ε·I before its inverse root, so a flat output (C_s = 0) maps
 * to the flat colour μ_t instead of NaN. Statistics are computed in float64.
 *
 * Pixels are planar RGB (three planes of `count` values); any units, as long as the statistics
 * and the pixels share them (Parasol uses [0, 1]).
 */

export interface ColourStats {
  /** RGB means. */
  readonly mean: Float64Array;
  /** Row-major 3×3 population covariance. */
  readonly cov: Float64Array;
  /** How many pixels the statistics summarise. */
  readonly count: number;
}

export const DEFAULT_COLOUR_EPSILON = 1e-5;

/** Statistics of planar RGB pixels: `pixels` holds 3 planes of pixels.length / 3 values. */
export function planarStats(pixels: Float32Array | Float64Array): ColourStats {
  if (pixels.length % 3 !== 0 || pixels.length === 0) throw new RangeError(`expected 3 non-empty planes, got ${pixels.length} values`);
  const count = pixels.length / 3;
  return statsOf(count, (c, i) => pixels[c * count + i]);
}

/**
 * Statistics of interleaved 8-bit pixels with `channels` (3 or 4) per pixel, scaled to [0, 1].
 * With alpha, pixels are composited over `background` (RGB in [0, 1], white by default).
 * `stride` > 1 samples every stride-th pixel (large style images).
 */
export function interleavedStats(
  bytes: Uint8Array,
  channels: 3 | 4,
  options: { background?: readonly [number, number, number]; stride?: number } = {},
): ColourStats {
  const total = Math.floor(bytes.length / channels);
  const stride = Math.max(1, Math.floor(options.stride ?? 1));
  const count = Math.ceil(total / stride);
  if (count === 0) throw new RangeError('no pixels');
  const bg = options.background ?? [1, 1, 1];
  return statsOf(count, (c, i) => {
    const p = i * stride * channels;
    const v = bytes[p + c] / 255;
    if (channels === 3) return v;
    const a = bytes[p + 3] / 255;
    return a * v + (1 - a) * bg[c];
  });
}

function statsOf(count: number, value: (channel: number, pixel: number) => number): ColourStats {
  const mean = new Float64Array(3);
  for (let c = 0; c < 3; c++) {
    let sum = 0;
    for (let i = 0; i < count; i++) sum += value(c, i);
    mean[c] = sum / count;
  }
  const cov = new Float64Array(9);
  const d = new Float64Array(3);
  for (let i = 0; i < count; i++) {
    d[0] = value(0, i) - mean[0];
    d[1] = value(1, i) - mean[1];
    d[2] = value(2, i) - mean[2];
    for (let r = 0; r < 3; r++) for (let c = r; c < 3; c++) cov[r * 3 + c] += d[r] * d[c];
  }
  for (let r = 0; r < 3; r++) {
    for (let c = r; c < 3; c++) {
      cov[r * 3 + c] /= count;
      cov[c * 3 + r] = cov[r * 3 + c];
    }
  }
  return { mean, cov, count };
}

/**
 * The moments of a mixture: weights (≥ 0, not all 0) are normalised; the mixture's covariance
 * includes the spread between the components' means. For interpolated styles.
 */
export function mixStats(stats: readonly ColourStats[], weights: readonly number[]): ColourStats {
  if (stats.length === 0 || stats.length !== weights.length) throw new RangeError('one weight per statistics, at least one');
  const total = weights.reduce((a, w) => {
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`weights must be finite and ≥ 0, got ${w}`);
    return a + w;
  }, 0);
  if (total <= 0) throw new RangeError('the weights sum to 0');
  const mean = new Float64Array(3);
  const second = new Float64Array(9);
  stats.forEach((s, k) => {
    const w = weights[k] / total;
    for (let r = 0; r < 3; r++) {
      mean[r] += w * s.mean[r];
      for (let c = 0; c < 3; c++) second[r * 3 + c] += w * (s.cov[r * 3 + c] + s.mean[r] * s.mean[c]);
    }
  });
  const cov = new Float64Array(9);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) cov[r * 3 + c] = second[r * 3 + c] - mean[r] * mean[c];
  return { mean, cov, count: stats.reduce((a, s) => a + s.count, 0) };
}

/**
 * A copy of planar `pixels` whose mean and covariance are the target's (up to the ε·I
 * regularisation of the source). Values are not clamped.
 */
export function matchColour(
  pixels: Float32Array,
  target: ColourStats,
  options: { epsilon?: number; out?: Float32Array } = {},
): Float32Array {
  const epsilon = options.epsilon ?? DEFAULT_COLOUR_EPSILON;
  if (!(epsilon > 0)) throw new RangeError(`epsilon must be > 0, got ${epsilon}`);
  const source = planarStats(pixels);
  const count = source.count;
  const transform = multiply3(symmetricPower(target.cov, 0.5, 0), symmetricPower(source.cov, -0.5, epsilon));
  const out = options.out ?? new Float32Array(pixels.length);
  if (out.length !== pixels.length) throw new RangeError('out must have as many values as pixels');
  const ms = source.mean;
  const mt = target.mean;
  for (let i = 0; i < count; i++) {
    const d0 = pixels[i] - ms[0];
    const d1 = pixels[count + i] - ms[1];
    const d2 = pixels[2 * count + i] - ms[2];
    out[i] = transform[0] * d0 + transform[1] * d1 + transform[2] * d2 + mt[0];
    out[count + i] = transform[3] * d0 + transform[4] * d1 + transform[5] * d2 + mt[1];
    out[2 * count + i] = transform[6] * d0 + transform[7] * d1 + transform[8] * d2 + mt[2];
  }
  return out;
}

/**
 * (M + ε·I)^p for a symmetric 3×3 M, through its eigen-decomposition; negative eigenvalues
 * (rounding) are clamped to 0 before ε is added.
 */
export function symmetricPower(m: Float64Array, p: number, epsilon: number): Float64Array {
  const { values, vectors } = symmetricEigen3(m);
  const powered = values.map((v) => Math.pow(Math.max(v, 0) + epsilon, p));
  const out = new Float64Array(9);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      let sum = 0;
      for (let k = 0; k < 3; k++) sum += vectors[r * 3 + k] * powered[k] * vectors[c * 3 + k];
      out[r * 3 + c] = sum;
    }
  }
  return out;
}

/**
 * Eigenvalues and eigenvectors (columns of `vectors`, row-major) of a symmetric 3×3 matrix, by
 * cyclic Jacobi rotations.
 */
export function symmetricEigen3(m: Float64Array): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(m);
  for (let r = 0; r < 3; r++) {
    for (let c = r + 1; c < 3; c++) {
      const mean = (a[r * 3 + c] + a[c * 3 + r]) / 2;
      a[r * 3 + c] = mean;
      a[c * 3 + r] = mean;
    }
  }
  const v = new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  for (let sweep = 0; sweep < 64; sweep++) {
    const off = a[1] * a[1] + a[2] * a[2] + a[5] * a[5];
    const scale = a[0] * a[0] + a[4] * a[4] + a[8] * a[8];
    if (off === 0 || off <= 1e-30 * scale) break;
    for (const [p, q] of [[0, 1], [0, 2], [1, 2]] as const) {
      const apq = a[p * 3 + q];
      if (apq === 0) continue;
      const app = a[p * 3 + p];
      const aqq = a[q * 3 + q];
      const theta = (aqq - app) / (2 * apq);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      // A ← Jᵀ A J, V ← V J for the rotation J in the (p, q) plane.
      for (let k = 0; k < 3; k++) {
        const akp = a[k * 3 + p];
        const akq = a[k * 3 + q];
        a[k * 3 + p] = c * akp - s * akq;
        a[k * 3 + q] = s * akp + c * akq;
      }
      for (let k = 0; k < 3; k++) {
        const apk = a[p * 3 + k];
        const aqk = a[q * 3 + k];
        a[p * 3 + k] = c * apk - s * aqk;
        a[q * 3 + k] = s * apk + c * aqk;
      }
      for (let k = 0; k < 3; k++) {
        const vkp = v[k * 3 + p];
        const vkq = v[k * 3 + q];
        v[k * 3 + p] = c * vkp - s * vkq;
        v[k * 3 + q] = s * vkp + c * vkq;
      }
    }
  }
  return { values: new Float64Array([a[0], a[4], a[8]]), vectors: v };
}

function multiply3(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(9);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      let sum = 0;
      for (let k = 0; k < 3; k++) sum += a[r * 3 + k] * b[k * 3 + c];
      out[r * 3 + c] = sum;
    }
  }
  return out;
}
