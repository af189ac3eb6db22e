/**
 * The weights-free style descriptor's projection (PCA-whitening of standardised statistics), on
 * synthetic statistics whose structure is known.
 */
import { describe, expect, it } from 'vitest';
import { applyProjection, fitProjection, projectionBytes, readProjection } from '../../src/encoders/style-projection.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
}

/** n rows of d statistics: three latent "styles" with very different scales, plus small noise and one constant feature. */
function statistics(n: number, d: number, seed: number): { rows: Float32Array[]; latents: number[][] } {
  const random = seeded(seed);
  const directions = Array.from({ length: 3 }, () => Array.from({ length: d }, () => gaussian(random)));
  const scales = [10, 3, 1];
  const latents: number[][] = [];
  const rows = Array.from({ length: n }, () => {
    const latent = scales.map((scale) => scale * gaussian(random));
    latents.push(latent);
    const row = new Float32Array(d);
    for (let i = 0; i < d; i++) {
      row[i] = 5 + 0.01 * gaussian(random);
      latent.forEach((value, k) => (row[i] += value * directions[k][i]));
    }
    row[d - 1] = 3; // never varies: must not blow up the standardisation
    return row;
  });
  return { rows, latents };
}

describe('fitProjection', () => {
  it('keeps the directions the statistics vary along (10:3:1 in scale) and whitens them to equal variance', () => {
    const { rows } = statistics(400, 60, 7);
    const fit = fitProjection(rows, 3, 1);
    expect(fit.projection.outDim).toBe(3);
    expect(fit.explained).toBeGreaterThan(0.99);
    // Unnormalised projections of the fitted rows: zero mean, unit variance, uncorrelated.
    const { inDim, outDim, mean, matrix } = fit.projection;
    const projected = rows.map((row) => Array.from({ length: outDim }, (_, j) => {
      let sum = 0;
      for (let i = 0; i < inDim; i++) sum += matrix[j * inDim + i] * (row[i] - mean[i]);
      return sum;
    }));
    for (let a = 0; a < outDim; a++) {
      const avg = projected.reduce((s, p) => s + p[a], 0) / rows.length;
      expect(Math.abs(avg)).toBeLessThan(1e-3);
      for (let b = 0; b < outDim; b++) {
        const cov = projected.reduce((s, p) => s + p[a] * p[b], 0) / rows.length;
        // Unit variance, short of the floor added before whitening (1e-3 of the largest variance).
        if (a === b) expect(cov).toBeGreaterThan(0.9), expect(cov).toBeLessThanOrEqual(1 + 1e-6);
        else expect(cov).toBeCloseTo(0, 2);
      }
    }
  });

  it('without whitening (power 0) the variances keep their order; outputs are unit vectors; it is deterministic', () => {
    const { rows } = statistics(200, 40, 11);
    const plain = fitProjection(rows, 3, 0);
    const again = fitProjection(rows, 3, 0);
    expect(Array.from(again.projection.matrix)).toEqual(Array.from(plain.projection.matrix));
    const vector = applyProjection(plain.projection, rows[0]);
    expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
  });

  it('caps the dimension at images - 1 and refuses fewer than 3 images', () => {
    const { rows } = statistics(6, 30, 3);
    expect(fitProjection(rows, 128).projection.outDim).toBe(5);
    expect(() => fitProjection(rows.slice(0, 2), 4)).toThrow(/at least 3 images/);
  });

  it('round-trips through its file and refuses a file of the wrong size', async () => {
    const { rows } = statistics(50, 20, 5);
    const fit = fitProjection(rows, 4);
    const dir = await mkdtemp(path.join(tmpdir(), 'parasol-projection-'));
    try {
      await writeFile(path.join(dir, 'p.bin'), projectionBytes(fit.projection));
      const read = await readProjection(dir, 'p.bin', 'pack', 20, 4);
      expect(Array.from(applyProjection(read, rows[1]))).toEqual(Array.from(applyProjection(fit.projection, rows[1])));
      await expect(readProjection(dir, 'p.bin', 'pack', 20, 5)).rejects.toThrow(/expected .* for a 20 -> 5 projection/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
