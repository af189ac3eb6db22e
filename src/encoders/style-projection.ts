/**
 * The weights-free style descriptor's projection: the vision tower's per-layer token (or channel)
 * mean/std statistics, standardised per feature, projected on their leading principal components
 * and whitened, then L2-normalised.
 *
 * Why PCA-whitening, fitted in closed form on the indexed images: the raw statistics are long
 * (2 × layers × width: 18,432 for ViT-B/32) and dominated by a few high-variance channels (a ViT's
 * residual stream has "massive activation" channels); standardising each feature stops those from
 * deciding every cosine, PCA keeps the directions the collection actually varies along, and
 * whitening gives each of them an equal vote, which is what makes Gram/AdaIN statistics work as a
 * retrieval descriptor (PCA-whitening is the standard fix for correlated, bursty descriptors).
 * `power` < 1 shrinks the whitening (0 is plain PCA). No labels are needed, it is deterministic
 * (seeded), and it fits in seconds on a CPU for thousands of images.
 *
 * The top components are found by seeded randomized subspace iteration, so the D × D covariance
 * (1.4 GB for ViT-B/32) is never formed.
 *
 * File format (little-endian float32): mean[D], then the dim × D projection matrix (row-major) with
 * the standardisation and the whitening folded in: y = W (x − mean).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { normalize } from '../vectors.js';
import { packInvalid } from './runtime.js';
import { mulberry32 } from '../random.js';

export interface StyleProjection {
  readonly inDim: number;
  readonly outDim: number;
  readonly mean: Float32Array;
  /** outDim × inDim, row-major. */
  readonly matrix: Float32Array;
}

export function applyProjection(projection: StyleProjection, statistics: Float32Array): Float32Array {
  const { inDim, outDim, mean, matrix } = projection;
  const centred = new Float32Array(inDim);
  for (let i = 0; i < inDim; i++) centred[i] = statistics[i] - mean[i];
  const out = new Float32Array(outDim);
  for (let j = 0; j < outDim; j++) {
    const row = j * inDim;
    let sum = 0;
    for (let i = 0; i < inDim; i++) sum += matrix[row + i] * centred[i];
    out[j] = sum;
  }
  return normalize(out);
}

export async function readProjection(packDir: string, file: string, packName: string, inDim: number, outDim: number): Promise<StyleProjection> {
  const bytes = await readFile(path.join(packDir, file));
  const expected = (outDim + 1) * inDim * 4;
  if (bytes.length !== expected) {
    throw packInvalid(packName, `${file}: has ${bytes.length} bytes, expected ${expected} for a ${inDim} -> ${outDim} projection`);
  }
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  return { inDim, outDim, mean: all.subarray(0, inDim), matrix: all.subarray(inDim) };
}

export function projectionBytes(projection: StyleProjection): Buffer {
  const all = new Float32Array((projection.outDim + 1) * projection.inDim);
  all.set(projection.mean);
  all.set(projection.matrix, projection.inDim);
  return Buffer.from(all.buffer);
}

export interface ProjectionFit {
  projection: StyleProjection;
  /** Share of the standardised statistics' variance the kept components hold. */
  explained: number;
  images: number;
  power: number;
}

const OVERSAMPLE = 10;
const ITERATIONS = 6;
/** Added to each component's variance before whitening, relative to the largest one. */
const WHITEN_FLOOR = 1e-3;

/**
 * Fits the projection on raw statistics (one row per image). `dim` is capped at images − 1 and at
 * the statistics' length: a collection of n images spans at most n − 1 directions.
 */
export function fitProjection(rows: Float32Array[], dim: number, power = 1): ProjectionFit {
  const n = rows.length;
  if (n < 3) throw new Error(`fitting the style projection needs at least 3 images, got ${n}`);
  const d = rows[0].length;
  const k = Math.min(dim, n - 1, d);
  const mean = new Float64Array(d);
  for (const row of rows) for (let i = 0; i < d; i++) mean[i] += row[i] / n;
  const scale = new Float64Array(d);
  for (const row of rows) {
    for (let i = 0; i < d; i++) {
      const c = row[i] - mean[i];
      scale[i] += (c * c) / n;
    }
  }
  let totalVariance = 0;
  for (let i = 0; i < d; i++) {
    // A feature that never varies carries no style: it is dropped (weight 0), not divided by ~0.
    const sd = Math.sqrt(scale[i]);
    scale[i] = sd > 1e-8 ? 1 / sd : 0;
    if (scale[i] > 0) totalVariance += 1;
  }
  // Standardised rows, float64, n × d.
  const z = new Float64Array(n * d);
  rows.forEach((row, s) => {
    for (let i = 0; i < d; i++) z[s * d + i] = (row[i] - mean[i]) * scale[i];
  });

  const p = Math.min(k + OVERSAMPLE, d, n);
  let basis = seededGaussian(d * p, 0x5eed);
  orthonormalColumns(basis, d, p);
  for (let iteration = 0; iteration < ITERATIONS; iteration++) {
    basis = gramTimes(z, n, d, basis, p);
    orthonormalColumns(basis, d, p);
  }
  // The covariance restricted to the subspace: Bᵀ C B = (Z B)ᵀ (Z B) / n, p × p.
  const zb = times(z, n, d, basis, p);
  const small = new Float64Array(p * p);
  for (let a = 0; a < p; a++) {
    for (let b = a; b < p; b++) {
      let sum = 0;
      for (let s = 0; s < n; s++) sum += zb[s * p + a] * zb[s * p + b];
      small[a * p + b] = small[b * p + a] = sum / n;
    }
  }
  const { values, vectors } = symmetricEigen(small, p);
  const order = [...values.keys()].sort((a, b) => values[b] - values[a]).slice(0, k);
  const floor = WHITEN_FLOOR * Math.max(values[order[0]], 1e-12);
  const matrix = new Float32Array(k * d);
  let kept = 0;
  order.forEach((which, j) => {
    const variance = Math.max(values[which], 0);
    kept += variance;
    const gain = 1 / Math.pow(variance + floor, power / 2);
    for (let i = 0; i < d; i++) {
      let component = 0;
      for (let c = 0; c < p; c++) component += basis[i * p + c] * vectors[c * p + which];
      matrix[j * d + i] = component * gain * scale[i];
    }
  });
  return {
    projection: { inDim: d, outDim: k, mean: Float32Array.from(mean), matrix },
    explained: totalVariance > 0 ? kept / totalVariance : 0,
    images: n,
    power,
  };
}

/** Z (n × d) times B (d × p): n × p. */
function times(z: Float64Array, n: number, d: number, b: Float64Array, p: number): Float64Array {
  const out = new Float64Array(n * p);
  for (let s = 0; s < n; s++) {
    const zr = s * d;
    const or = s * p;
    for (let i = 0; i < d; i++) {
      const x = z[zr + i];
      if (x === 0) continue;
      const br = i * p;
      for (let c = 0; c < p; c++) out[or + c] += x * b[br + c];
    }
  }
  return out;
}

/** Zᵀ Z B (d × p), without forming Zᵀ Z. */
function gramTimes(z: Float64Array, n: number, d: number, b: Float64Array, p: number): Float64Array {
  const zb = times(z, n, d, b, p);
  const out = new Float64Array(d * p);
  for (let s = 0; s < n; s++) {
    const zr = s * d;
    const or = s * p;
    for (let i = 0; i < d; i++) {
      const x = z[zr + i];
      if (x === 0) continue;
      const dst = i * p;
      for (let c = 0; c < p; c++) out[dst + c] += x * zb[or + c];
    }
  }
  return out;
}

/** Modified Gram–Schmidt on the p columns of a d × p row-major matrix, in place. */
function orthonormalColumns(m: Float64Array, d: number, p: number): void {
  for (let c = 0; c < p; c++) {
    for (let prev = 0; prev < c; prev++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += m[i * p + c] * m[i * p + prev];
      for (let i = 0; i < d; i++) m[i * p + c] -= dot * m[i * p + prev];
    }
    let norm = 0;
    for (let i = 0; i < d; i++) norm += m[i * p + c] ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < d; i++) m[i * p + c] = norm > 1e-300 ? m[i * p + c] / norm : 0;
  }
}

/** Cyclic Jacobi: eigenvalues and eigenvectors (columns of `vectors`, p × p row-major) of a small symmetric matrix. */
function symmetricEigen(input: Float64Array, p: number): { values: number[]; vectors: Float64Array } {
  const a = Float64Array.from(input);
  const v = new Float64Array(p * p);
  for (let i = 0; i < p; i++) v[i * p + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < p; i++) for (let j = i + 1; j < p; j++) off += a[i * p + j] ** 2;
    if (off < 1e-22) break;
    for (let i = 0; i < p; i++) {
      for (let j = i + 1; j < p; j++) {
        const aij = a[i * p + j];
        if (Math.abs(aij) < 1e-300) continue;
        const theta = (a[j * p + j] - a[i * p + i]) / (2 * aij);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < p; r++) {
          const ari = a[r * p + i];
          const arj = a[r * p + j];
          a[r * p + i] = c * ari - s * arj;
          a[r * p + j] = s * ari + c * arj;
        }
        for (let r = 0; r < p; r++) {
          const air = a[i * p + r];
          const ajr = a[j * p + r];
          a[i * p + r] = c * air - s * ajr;
          a[j * p + r] = s * air + c * ajr;
        }
        for (let r = 0; r < p; r++) {
          const vri = v[r * p + i];
          const vrj = v[r * p + j];
          v[r * p + i] = c * vri - s * vrj;
          v[r * p + j] = s * vri + c * vrj;
        }
      }
    }
  }
  return { values: Array.from({ length: p }, (_, i) => a[i * p + i]), vectors: v };
}

/** Deterministic standard normals (mulberry32 + Box–Muller): the same fit on the same images. */
function seededGaussian(count: number, seed: number): Float64Array {
  const next = mulberry32(seed);
  // In (0, 1]: the logarithm below never sees 0.
  const uniform = () => (next() + 1) / 4294967297;
  const out = new Float64Array(count);
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const angle = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(angle);
    if (i + 1 < count) out[i + 1] = r * Math.sin(angle);
  }
  return out;
}
