import { describe, expect, it } from 'vitest';
import { interleavedStats, matchColour, mixStats, planarStats, symmetricEigen3, symmetricPower } from '../../src/parasol/colour.js';
import { createRng } from '../../src/parasol/rng.js';

/** Planar RGB pixels with correlated channels: x = A·n + b. */
function correlated(count: number, seed: number, a: number[], b: number[]): Float32Array {
  const rng = createRng(seed, 'colour');
  const out = new Float32Array(3 * count);
  for (let i = 0; i < count; i++) {
    const n = [rng.nextNormal(), rng.nextNormal(), rng.nextNormal()];
    for (let c = 0; c < 3; c++) out[c * count + i] = a[c * 3] * n[0] + a[c * 3 + 1] * n[1] + a[c * 3 + 2] * n[2] + b[c];
  }
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('colour transfer', () => {
  const count = 64 * 64;
  const source = correlated(count, 1, [0.2, 0.05, 0, 0.1, 0.15, 0.02, -0.05, 0.04, 0.1], [0.4, 0.5, 0.3]);
  const target = planarStats(correlated(count, 2, [0.05, 0, 0.01, 0.08, 0.1, 0, 0.02, -0.06, 0.12], [0.7, 0.2, 0.45]));

  it('decomposes symmetric 3×3 matrices', () => {
    const m = Float64Array.from([4, 1, -2, 1, 3, 0.5, -2, 0.5, 5]);
    const { values, vectors } = symmetricEigen3(m);
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let k = 0; k < 3; k++) sum += vectors[r * 3 + k] * values[k] * vectors[c * 3 + k];
        expect(sum).toBeCloseTo(m[r * 3 + c], 12);
      }
    }
    const root = symmetricPower(m, 0.5, 0);
    const squared = new Float64Array(9);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) squared[r * 3 + c] += root[r * 3 + k] * root[k * 3 + c];
    expect(maxDiff(squared, m)).toBeLessThan(1e-12);
    expect(maxDiff(root, [root[0], root[3], root[6], root[1], root[4], root[7], root[2], root[5], root[8]])).toBeLessThan(1e-14);
  });

  it('gives the output the target mean and covariance', () => {
    const out = matchColour(source, target);
    const got = planarStats(out);
    const meanError = maxDiff(got.mean, target.mean);
    const covError = maxDiff(got.cov, target.cov);
    console.info(`colour transfer: max mean error ${meanError.toExponential(2)}, max covariance error ${covError.toExponential(2)}`);
    expect(meanError).toBeLessThan(1e-3);
    expect(covError).toBeLessThan(1e-3);
    // What stands between is float32 storage and the ε·I regularisation (default 1e-5)…
    expect(meanError).toBeLessThan(1e-6);
    expect(covError).toBeLessThan(1e-4);
    // …so with a tiny ε the match is exact to float32 rounding.
    const exact = planarStats(matchColour(source, target, { epsilon: 1e-12 }));
    console.info(`colour transfer, ε = 1e-12: max covariance error ${maxDiff(exact.cov, target.cov).toExponential(2)}`);
    expect(maxDiff(exact.cov, target.cov)).toBeLessThan(1e-7);
  });

  it('maps a flat image to the target mean without NaN', () => {
    const flat = new Float32Array(3 * count);
    flat.fill(0.3, 0, count);
    flat.fill(0.6, count, 2 * count);
    flat.fill(0.9, 2 * count);
    const out = matchColour(flat, target);
    expect(out.every(Number.isFinite)).toBe(true);
    expect(maxDiff(planarStats(out).mean, target.mean)).toBeLessThan(1e-6);
    // …and a flat target makes a flat output.
    const flatTarget = planarStats(flat);
    const out2 = matchColour(source, flatTarget);
    expect(out2.every(Number.isFinite)).toBe(true);
    expect(maxDiff(planarStats(out2).cov, new Float64Array(9))).toBeLessThan(1e-9);
  });

  it('computes statistics of 8-bit images, with alpha over white, and of mixtures', () => {
    const rgba = Uint8Array.from([255, 0, 0, 255, 0, 0, 255, 0]); // red, then transparent blue -> white
    const s = interleavedStats(rgba, 4);
    expect(Array.from(s.mean)).toEqual([1, 0.5, 0.5]);
    expect(s.cov[0]).toBe(0);
    expect(s.cov[4]).toBeCloseTo(0.25, 12);
    const a = planarStats(Float32Array.from([0, 0, 0, 0, 0, 0]));
    const b = planarStats(Float32Array.from([1, 1, 1, 1, 1, 1]));
    const mix = mixStats([a, b], [1, 3]);
    expect(Array.from(mix.mean)).toEqual([0.75, 0.75, 0.75]);
    expect(mix.cov[0]).toBeCloseTo(0.1875, 12); // Bernoulli(0.75) variance
    expect(() => mixStats([a], [0])).toThrow(RangeError);
  });
});
