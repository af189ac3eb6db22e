/** The bundled generator's ONNX files reproduce the torch reference written at export (1e-4). */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGenerator, type GeneratorModels } from '../../src/encoders/generator.js';

const PACK = path.resolve('models/mini');
const REFERENCE = path.join(PACK, 'reference_generator.json');

interface GeneratorReference {
  tolerance: number;
  unet: Record<'latent' | 'timestep' | 'content' | 'style' | 'contentMask' | 'styleMask' | 'noise', number[]> & { dims: number[] };
  projector: { style: number[]; dims: number[]; embedding: number[] };
  vae: { pixelsU8: number[]; latent: number[]; decoded: { stride: number; values: number[]; sum: number } };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe.skipIf(!existsSync(REFERENCE))('the mini pack generator against its torch reference', () => {
  let models: GeneratorModels;
  let reference: GeneratorReference;

  beforeAll(async () => {
    reference = JSON.parse(readFileSync(REFERENCE, 'utf8')) as GeneratorReference;
    models = await loadGenerator({ packDir: PACK, device: 'cpu' });
  });
  afterAll(async () => models?.dispose());

  it('UNet: every mask combination', async () => {
    const u = reference.unet;
    const batch = u.timestep.length;
    const noise = await models.predictNoise({
      latent: Float32Array.from(u.latent),
      timestep: Float32Array.from(u.timestep),
      content: Float32Array.from(u.content),
      style: Float32Array.from(u.style),
      contentMask: Float32Array.from(u.contentMask),
      styleMask: Float32Array.from(u.styleMask),
      batch,
    });
    expect(maxAbsDiff(noise, u.noise)).toBeLessThan(reference.tolerance);
  });

  it('projector', async () => {
    const [rows, dim] = reference.projector.dims;
    const styles = Array.from({ length: rows }, (_, i) => Float32Array.from(reference.projector.style.slice(i * dim, (i + 1) * dim)));
    const projected = await models.project(styles);
    const flat = new Float32Array(projected.reduce((n, p) => n + p.length, 0));
    projected.forEach((p, i) => flat.set(p, i * p.length));
    expect(maxAbsDiff(flat, reference.projector.embedding)).toBeLessThan(reference.tolerance);
  });

  it('VAE: encode and decode', async () => {
    const pixels = Float32Array.from(reference.vae.pixelsU8, (v) => v / 127.5 - 1);
    const n = pixels.length / models.dims.pixelSize;
    const latent = await models.encode(pixels, n);
    expect(maxAbsDiff(latent, reference.vae.latent)).toBeLessThan(reference.tolerance);
    const decoded = await models.decode(Float32Array.from(reference.vae.latent), n);
    const { stride, values, sum } = reference.vae.decoded;
    const sampled = values.map((_, i) => decoded[i * stride]);
    expect(maxAbsDiff(sampled, values)).toBeLessThan(reference.tolerance);
    expect(Math.abs(decoded.reduce((a, b) => a + b, 0) - sum)).toBeLessThan(reference.tolerance * decoded.length);
  });
});
