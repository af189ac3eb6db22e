import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyMap, fitRidge, mapBytes, readMap } from '../../src/encoders/text-style-map.js';
import { normalize } from '../../src/vectors.js';

/** A seeded linear relation style = normalize(semantic · W + b) with a little noise. */
function pairs(n: number, d: number, k: number, noise: number) {
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648 - 0.5;
  };
  const w = Array.from({ length: d * k }, random);
  const b = Array.from({ length: k }, random);
  const inputs: Float32Array[] = [];
  const targets: Float32Array[] = [];
  for (let s = 0; s < n; s++) {
    const x = normalize(Float32Array.from({ length: d }, random));
    const y = new Float32Array(k);
    for (let j = 0; j < k; j++) {
      let v = b[j] + noise * random();
      for (let i = 0; i < d; i++) v += x[i] * w[i * k + j];
      y[j] = v;
    }
    inputs.push(x);
    targets.push(y);
  }
  return { inputs, targets };
}

describe('fitRidge', () => {
  it('recovers a linear semantic -> style relation, judged on held-out pairs', () => {
    const { inputs, targets } = pairs(400, 16, 8, 0.01);
    const fit = fitRidge(inputs, targets);
    expect(fit.pairs).toBe(400);
    expect(fit.heldOutCosine).toBeGreaterThan(0.99);
    const predicted = applyMap(fit.map, inputs[3]);
    const target = normalize(Float32Array.from(targets[3]));
    const cosine = predicted.reduce((sum, v, j) => sum + v * target[j], 0);
    expect(cosine).toBeGreaterThan(0.99);
    expect(Math.hypot(...predicted)).toBeCloseTo(1, 5);
  });

  it('chooses a stronger ridge when the targets are noise', () => {
    const clean = fitRidge(...Object.values(pairs(200, 16, 8, 0.0)) as [Float32Array[], Float32Array[]]);
    const noisy = fitRidge(...Object.values(pairs(200, 16, 8, 50)) as [Float32Array[], Float32Array[]]);
    expect(noisy.lambda).toBeGreaterThanOrEqual(clean.lambda);
    expect(noisy.heldOutCosine).toBeLessThan(clean.heldOutCosine);
  });

  it('round-trips through the pack file and refuses a file of the wrong size', async () => {
    const { inputs, targets } = pairs(50, 6, 4, 0.01);
    const fit = fitRidge(inputs, targets);
    const dir = await mkdtemp(path.join(tmpdir(), 'parasol-map-'));
    try {
      await writeFile(path.join(dir, 'map.bin'), mapBytes(fit.map));
      const read = await readMap(dir, 'map.bin', 'p', 6, 4);
      expect(Array.from(read.weights)).toEqual(Array.from(fit.map.weights));
      await expect(readMap(dir, 'map.bin', 'p', 7, 4)).rejects.toThrow(/map\.bin: has 112 bytes, expected 128 for a 7 -> 4 map/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
