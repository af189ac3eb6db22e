/** Float32Array math shared by the encoders, the search engine and the sampler. */

export function dot(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`dimension mismatch: ${a.length} vs ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

export function norm(a: Float32Array): number {
  return Math.sqrt(dot(a, a));
}

/** A unit-length copy; a zero vector stays zero rather than becoming NaN. */
export function normalize(a: Float32Array): Float32Array {
  const n = norm(a);
  const out = new Float32Array(a.length);
  if (n === 0 || !Number.isFinite(n)) return out;
  for (let i = 0; i < a.length; i++) out[i] = a[i] / n;
  return out;
}

export function isUnit(a: Float32Array, tolerance = 1e-3): boolean {
  return Math.abs(norm(a) - 1) <= tolerance;
}

/** (1 - t)·a + t·b, not normalised. */
export function lerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  if (a.length !== b.length) throw new RangeError(`dimension mismatch: ${a.length} vs ${b.length}`);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (1 - t) * a[i] + t * b[i];
  return out;
}

/** Spherical interpolation of two unit vectors; falls back to normalised lerp when they are (anti)parallel. */
export function slerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  const cos = Math.min(1, Math.max(-1, dot(a, b)));
  const omega = Math.acos(cos);
  const sin = Math.sin(omega);
  if (sin < 1e-6) return normalize(lerp(a, b, t));
  const wa = Math.sin((1 - t) * omega) / sin;
  const wb = Math.sin(t * omega) / sin;
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = wa * a[i] + wb * b[i];
  return normalize(out);
}

/** Σ wᵢ·vᵢ (weights may be negative), not normalised. */
export function weightedSum(vectors: Float32Array[], weights: number[]): Float32Array {
  if (vectors.length === 0) throw new RangeError('weightedSum needs at least one vector');
  if (vectors.length !== weights.length) throw new RangeError('one weight per vector');
  const out = new Float32Array(vectors[0].length);
  vectors.forEach((v, j) => {
    if (v.length !== out.length) throw new RangeError(`dimension mismatch: ${v.length} vs ${out.length}`);
    const w = weights[j];
    for (let i = 0; i < out.length; i++) out[i] += w * v[i];
  });
  return out;
}

/** The normalised mean of unit vectors. */
export function meanDirection(vectors: Float32Array[]): Float32Array {
  return normalize(weightedSum(vectors, vectors.map(() => 1 / vectors.length)));
}

export function toBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Copies so the result owns aligned memory (SQLite blobs may be unaligned views). */
export function fromBlob(blob: Uint8Array): Float32Array {
  const copy = new Uint8Array(blob.byteLength);
  copy.set(blob);
  return new Float32Array(copy.buffer);
}

/**
 * [a, b]/√2: a unit vector when a and b are, whose dot with [x·qa, y·qb] is (x·a·qa + y·b·qb)/√2,
 * so one cosine index over these ranks by a weighted sum of the two halves' cosines.
 */
export function jointVector(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  const scale = Math.SQRT1_2;
  for (let i = 0; i < a.length; i++) out[i] = a[i] * scale;
  for (let i = 0; i < b.length; i++) out[a.length + i] = b[i] * scale;
  return out;
}
