import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGenerator, type GeneratorModels } from '../../src/encoders/generator.js';
import { isParasolError, type ErrorCode } from '../../src/errors.js';
import {
  copyOfTinyGenerator,
  maxAbsDiff,
  readGeneratorReference,
  ROOT,
  TINY_GENERATOR,
  wave,
  type GeneratorReference,
} from './helpers.js';

async function rejection(promise: Promise<unknown>, code: ErrorCode): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (!isParasolError(error)) throw error;
    expect(error.code).toBe(code);
    return error;
  }
  throw new Error(`expected a ${code} rejection, but it resolved`);
}

describe('loadGenerator on the tiny random generator', () => {
  let models: GeneratorModels;
  let reference: GeneratorReference;

  beforeAll(async () => {
    models = await loadGenerator({ packDir: TINY_GENERATOR, device: 'cpu', threads: 1 });
    reference = await readGeneratorReference();
  });

  afterAll(async () => {
    await models?.dispose();
  });

  it('describes the pack', () => {
    expect(models.packName).toBe('tiny-generator');
    expect(models.dims).toEqual({
      latent: [4, 16, 16],
      latentSize: 1024,
      imageSize: 64,
      pixelSize: 3 * 64 * 64,
      semantic: 32,
      style: 16,
      timesteps: 1000,
    });
    expect(models.spec.schedule).toEqual({ kind: 'linear', betaStart: 0.00085, betaEnd: 0.012 });
    expect(models.spec.prediction).toBe('epsilon');
    expect(models.provider).toBe('cpu');
  });

  it('feeds the UNet what torch was fed: names, masks and layout', async () => {
    const { timestep, contentMask, styleMask, noise } = reference.unet;
    const out = await models.predictNoise({
      latent: wave(1024, 4, (i, b) => Math.sin(0.1 * i + 0.7 * b)),
      timestep: Float32Array.from(timestep),
      content: wave(32, 4, (i, b) => Math.cos(0.2 * i + b)),
      style: wave(32, 4, (i, b) => Math.sin(0.5 * i - b)),
      contentMask: Float32Array.from(contentMask),
      styleMask: Float32Array.from(styleMask),
      batch: 4,
    });
    expect(maxAbsDiff(out, noise.flat())).toBeLessThan(1e-4);
  });

  it('runs the projector and the VAE as torch did', async () => {
    const projected = await models.project([0, 1].map((b) => wave(16, 1, (i) => Math.cos(0.3 * i + 2 * b))));
    expect(projected.map((v) => v.length)).toEqual([32, 32]);
    expect(maxAbsDiff(projected.flatMap((v) => Array.from(v)), reference.projector.flat())).toBeLessThan(1e-5);

    const latent = await models.encode(wave(3 * 64 * 64, 1, (i) => Math.sin(0.05 * i)), 1);
    expect(maxAbsDiff(latent, reference.encoder)).toBeLessThan(1e-4);

    const pixels = await models.decode(wave(1024, 1, (i) => Math.cos(0.07 * i)), 1);
    expect(pixels).toHaveLength(3 * 64 * 64);
    const every16th = pixels.filter((_, i) => i % reference.decoder.stride === 0);
    expect(maxAbsDiff(every16th, reference.decoder.values)).toBeLessThan(1e-5);
    expect(Math.abs(pixels.reduce((a, b) => a + b, 0) - reference.decoder.sum)).toBeLessThan(1e-2);
  });

  it('batches rows independently', async () => {
    const latent = wave(1024, 3, (i, b) => Math.sin(0.03 * i * (b + 1)));
    const both = await models.encode(new Float32Array(2 * 3 * 64 * 64).fill(0.25), 2);
    const one = await models.encode(new Float32Array(3 * 64 * 64).fill(0.25), 1);
    expect(maxAbsDiff(both.subarray(1024), one)).toBeLessThan(1e-6);
    const decoded = await models.decode(latent, 3);
    expect(decoded).toHaveLength(3 * 3 * 64 * 64);
  });

  it('refuses work once disposed', async () => {
    const other = await loadGenerator({ packDir: TINY_GENERATOR, device: 'cpu', threads: 1 });
    await other.dispose();
    await rejection(other.encode(new Float32Array(3 * 64 * 64), 1), 'NOT_READY');
  });

  it('refuses inputs of the wrong size', async () => {
    await expect(models.encode(new Float32Array(10), 1)).rejects.toThrow(RangeError);
    await expect(models.project([new Float32Array(3)])).rejects.toThrow(RangeError);
    await expect(
      models.predictNoise({
        latent: new Float32Array(1024),
        timestep: new Float32Array(2),
        content: new Float32Array(32),
        style: new Float32Array(32),
        contentMask: new Float32Array(1),
        styleMask: new Float32Array(1),
        batch: 1,
      }),
    ).rejects.toThrow(/timestep/);
  });
});

describe('loadGenerator refuses a pack that disagrees with its models', () => {
  async function withPack(edit: (pack: Record<string, any>, dir: string) => Promise<void> | void): Promise<Error> {
    const copy = await copyOfTinyGenerator();
    try {
      const file = path.join(copy.dir, 'pack.json');
      const pack = JSON.parse(await readFile(file, 'utf8'));
      await edit(pack, copy.dir);
      await writeFile(file, JSON.stringify(pack));
      return await rejection(loadGenerator({ packDir: copy.dir, device: 'cpu', threads: 1 }), 'MODEL_PACK_INVALID');
    } finally {
      await copy.cleanup();
    }
  }

  it('without a parasol block', async () => {
    const error = await rejection(
      loadGenerator({ packDir: path.join(ROOT, 'test/fixtures/tiny-pack'), device: 'cpu' }),
      'MODEL_PACK_INVALID',
    );
    expect(error.message).toMatch(/no "parasol" block/);
  });

  it('with a malformed block', async () => {
    const error = await withPack((pack) => {
      pack.parasol.schedule = { kind: 'cosine', betaStart: 0.1, betaEnd: 0.01 };
    });
    expect(error.message).toMatch(/parasol\.schedule/);
  });

  it('with a missing file', async () => {
    const error = await withPack((_, dir) => rm(path.join(dir, 'projector.onnx')));
    expect(error.message).toMatch(/projector\.onnx.*missing/);
  });

  it('with a wrong input or output name', async () => {
    expect((await withPack((pack) => void (pack.parasol.unet.inputs.styleMask = 'mask'))).message).toMatch(
      /unet\.onnx: has no input "mask"/,
    );
    expect((await withPack((pack) => void (pack.parasol.vae.decoder.output = 'rgb'))).message).toMatch(
      /vae_decoder\.onnx: has no output "rgb"/,
    );
  });

  it('with a wrong latent shape, image size or dimension', async () => {
    const latent = await withPack((pack) => void (pack.parasol.latent = [4, 8, 8]));
    expect(latent.message).toMatch(/parasol\.latent/);
    expect((await withPack((pack) => void (pack.parasol.vae.imageSize = 32))).message).toMatch(/vae_encoder\.onnx/);
    expect((await withPack((pack) => void (pack.parasol.latent = [8, 16, 16]))).message).toMatch(/unet\.onnx/);
  });
});
