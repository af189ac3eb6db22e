/**
 * Text -> style for any pack: a linear map from the semantic space to the style space, fitted by
 * closed-form ridge regression on indexed images (their semantic and style vectors), applied to
 * the semantic text tower's output. Closed form rather than an MLP: it is exact and
 * deterministic, fits in a second on CPU for a few thousand 512-d pairs, and with one
 * regularisation weight chosen on held-out pairs it cannot overfit a small index the way a
 * network would. CLIP's text and image embeddings share one space, so a map learned from images
 * applies to texts.
 *
 * File format: little-endian float32, (semanticDim + 1) rows × styleDim columns, the last row the bias.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { normalize } from '../vectors.js';
import { packInvalid } from './pack.js';

export interface LinearMap {
  readonly inDim: number;
  readonly outDim: number;
  /** (inDim + 1) × outDim, row-major, the last row the bias. */
  readonly weights: Float32Array;
}

export function applyMap(map: LinearMap, vector: Float32Array): Float32Array {
  const { inDim, outDim, weights } = map;
  const out = new Float32Array(outDim);
  out.set(weights.subarray(inDim * outDim, (inDim + 1) * outDim));
  for (let i = 0; i < inDim; i++) {
    const x = vector[i];
    if (x === 0) continue;
    const row = i * outDim;
    for (let j = 0; j < outDim; j++) out[j] += x * weights[row + j];
  }
  return normalize(out);
}

export async function readMap(packDir: string, file: string, packName: string, inDim: number, outDim: number): Promise<LinearMap> {
  const bytes = await readFile(path.join(packDir, file));
  const expected = (inDim + 1) * outDim * 4;
  if (bytes.length !== expected) {
    throw packInvalid(packName, `${file}: has ${bytes.length} bytes, expected ${expected} for a ${inDim} -> ${outDim} map`);
  }
  const weights = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  return { inDim, outDim, weights };
}

export function mapBytes(map: LinearMap): Buffer {
  return Buffer.from(map.weights.buffer, map.weights.byteOffset, map.weights.byteLength);
}

export interface RidgeFit {
  map: LinearMap;
  /** The regularisation chosen (relative to the mean eigenvalue of the inputs' covariance). */
  lambda: number;
  /** Mean cosine between predicted and true style vectors on the held-out fifth, at that lambda. */
  heldOutCosine: number;
  pairs: number;
}

export const LAMBDAS = Object.freeze([1e-3, 1e-2, 1e-1, 1]);

/**
 * Fits style ≈ semantic · W + b. Lambda is chosen among LAMBDAS by the mean cosine on every fifth
 * pair held out, then the map is refitted on all pairs.
 */
export function fitRidge(inputs: Float32Array[], targets: Float32Array[]): RidgeFit {
  if (inputs.length !== targets.length || inputs.length < 2) {
    throw new Error(`ridge regression needs at least 2 paired vectors, got ${inputs.length}`);
  }
  const train = inputs.map((_, i) => i).filter((i) => i % 5 !== 4);
  const test = inputs.map((_, i) => i).filter((i) => i % 5 === 4);
  let best = { lambda: LAMBDAS[0], cosine: -Infinity };
  if (test.length > 0) {
    for (const lambda of LAMBDAS) {
      const map = solve(train.map((i) => inputs[i]), train.map((i) => targets[i]), lambda);
      const cosine = meanCosine(map, test.map((i) => inputs[i]), test.map((i) => targets[i]));
      if (cosine > best.cosine) best = { lambda, cosine };
    }
  }
  return { map: solve(inputs, targets, best.lambda), lambda: best.lambda, heldOutCosine: best.cosine, pairs: inputs.length };
}

function meanCosine(map: LinearMap, inputs: Float32Array[], targets: Float32Array[]): number {
  let sum = 0;
  inputs.forEach((x, n) => {
    const predicted = applyMap(map, x);
    const target = normalize(Float32Array.from(targets[n]));
    let dot = 0;
    for (let j = 0; j < predicted.length; j++) dot += predicted[j] * target[j];
    sum += dot;
  });
  return sum / inputs.length;
}

/** Centred ridge: W = (XᵀX + λ·tr(XᵀX)/d·I)⁻¹ XᵀY, b = ȳ − x̄W; in float64, by Cholesky. */
function solve(inputs: Float32Array[], targets: Float32Array[], lambda: number): LinearMap {
  const d = inputs[0].length;
  const k = targets[0].length;
  const n = inputs.length;
  const xMean = new Float64Array(d);
  const yMean = new Float64Array(k);
  for (let s = 0; s < n; s++) {
    for (let i = 0; i < d; i++) xMean[i] += inputs[s][i] / n;
    for (let j = 0; j < k; j++) yMean[j] += targets[s][j] / n;
  }
  const gram = new Float64Array(d * d);
  const cross = new Float64Array(d * k);
  const x = new Float64Array(d);
  for (let s = 0; s < n; s++) {
    for (let i = 0; i < d; i++) x[i] = inputs[s][i] - xMean[i];
    for (let i = 0; i < d; i++) {
      const xi = x[i];
      if (xi === 0) continue;
      const row = i * d;
      for (let m = i; m < d; m++) gram[row + m] += xi * x[m];
      const crow = i * k;
      for (let j = 0; j < k; j++) cross[crow + j] += xi * (targets[s][j] - yMean[j]);
    }
  }
  let trace = 0;
  for (let i = 0; i < d; i++) trace += gram[i * d + i];
  const ridge = lambda * Math.max(trace / d, 1e-12);
  for (let i = 0; i < d; i++) {
    gram[i * d + i] += ridge;
    for (let m = 0; m < i; m++) gram[i * d + m] = gram[m * d + i];
  }
  cholesky(gram, d);
  const w = new Float64Array(cross);
  for (let j = 0; j < k; j++) choleskySolveColumn(gram, d, w, k, j);
  const weights = new Float32Array((d + 1) * k);
  for (let i = 0; i < d * k; i++) weights[i] = w[i];
  for (let j = 0; j < k; j++) {
    let bias = yMean[j];
    for (let i = 0; i < d; i++) bias -= xMean[i] * w[i * k + j];
    weights[d * k + j] = bias;
  }
  return { inDim: d, outDim: k, weights };
}

/** In place: the lower triangle becomes L with A = LLᵀ (A is positive definite thanks to the ridge). */
function cholesky(a: Float64Array, d: number): void {
  for (let j = 0; j < d; j++) {
    let diag = a[j * d + j];
    for (let m = 0; m < j; m++) diag -= a[j * d + m] * a[j * d + m];
    const l = Math.sqrt(diag);
    a[j * d + j] = l;
    for (let i = j + 1; i < d; i++) {
      let v = a[i * d + j];
      for (let m = 0; m < j; m++) v -= a[i * d + m] * a[j * d + m];
      a[i * d + j] = v / l;
    }
  }
}

/** Solves LLᵀ w = b for column j of the d × k matrix `b`, in place. */
function choleskySolveColumn(l: Float64Array, d: number, b: Float64Array, k: number, j: number): void {
  for (let i = 0; i < d; i++) {
    let v = b[i * k + j];
    for (let m = 0; m < i; m++) v -= l[i * d + m] * b[m * k + j];
    b[i * k + j] = v / l[i * d + i];
  }
  for (let i = d - 1; i >= 0; i--) {
    let v = b[i * k + j];
    for (let m = i + 1; m < d; m++) v -= l[m * d + i] * b[m * k + j];
    b[i * k + j] = v / l[i * d + i];
  }
}
