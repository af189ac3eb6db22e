import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEncoders, type LoadedEncoders } from '../../src/encoders/index.js';
import { loadGenerator, type GeneratorModels, type NoiseInput } from '../../src/encoders/generator.js';
import { isParasolError } from '../../src/errors.js';
import { planarStats } from '../../src/parasol/colour.js';
import { Generator, type GenerateRequest } from '../../src/parasol/generate.js';
import { imageColourStats, imageToPixels, pixelsToPng, readProvenance, toUnitRange } from '../../src/parasol/image.js';
import { TINY_GENERATOR, testImage, unitVector } from './helpers.js';

async function rgb(png: Buffer): Promise<Buffer> {
  return (await sharp(png).raw().toBuffer({ resolveWithObject: true })).data;
}

describe('Generator', () => {
  let encoders: LoadedEncoders;
  let models: GeneratorModels;
  let counted: GeneratorModels & { calls: number[] };
  let generator: Generator;
  let content: Buffer;
  let style: Buffer;
  let otherStyle: Buffer;

  beforeAll(async () => {
    encoders = await loadEncoders({ packDir: TINY_GENERATOR, device: 'cpu', threads: 1 });
    models = await loadGenerator({ packDir: TINY_GENERATOR, device: 'cpu', threads: 1 });
    const calls: number[] = [];
    counted = {
      ...models,
      calls,
      predictNoise(input: NoiseInput) {
        calls.push(input.batch);
        return models.predictNoise(input);
      },
    };
    generator = new Generator({ models: counted, encoders });
    [content, style, otherStyle] = await Promise.all([testImage(64, 1), testImage(48, 2), testImage(80, 3)]);
  });

  afterAll(async () => {
    await Promise.all([encoders?.dispose(), models?.dispose()]);
  });

  const request = (overrides: Partial<GenerateRequest> = {}): GenerateRequest => ({
    content: { image: content, id: 'item-content' },
    style: { image: style, id: 'item-style' },
    steps: 8,
    lambda: 3,
    seed: 1234,
    ...overrides,
  });

  it('gives the same PNG bytes for the same seed, and other bytes for another', async () => {
    const a = await generator.generate(request());
    const b = await generator.generate(request());
    const c = await generator.generate(request({ seed: 1235 }));
    expect(a.png.equals(b.png)).toBe(true);
    expect((await rgb(a.png)).equals(await rgb(c.png))).toBe(false);
    expect((await sharp(a.png).metadata()).width).toBe(64);
  });

  it('writes its provenance into the PNG', async () => {
    const result = await generator.generate(request());
    const provenance = readProvenance(result.png)!;
    expect(provenance.aiGenerated).toBe(true);
    expect(provenance.software).toBe('Parasol');
    expect(provenance.generator).toBe('parasol-ddpm/1');
    expect(provenance.pack).toBe('tiny-generator@1');
    expect(provenance.sources).toEqual({ content: 'item-content', style: ['item-style'] });
    expect(provenance.parameters).toEqual(result.params);
    expect(result.params).toMatchObject({
      steps: 8,
      lambda: 3,
      seed: 1234,
      colour: true,
      inverted: true,
      guidance: { style: 5, content: 3 },
      width: 64,
      height: 64,
    });
  });

  it('reconstructs the content image with λ = steps and no colour transfer', async () => {
    const result = await generator.generate(request({ lambda: 8, colour: false }));
    const size = models.dims.imageSize;
    const z0 = await models.encode(await imageToPixels(content, size), 1);
    const expected = await pixelsToPng(toUnitRange(await models.decode(z0, 1)), size, size);
    expect((await rgb(result.png)).equals(await rgb(expected))).toBe(true);
  });

  it('matches the colour statistics of the style image (moments)', async () => {
    const result = await generator.generate(request({ lambda: 0, colourMethod: 'moments' }));
    expect(result.params.colourMethod).toBe('moments');
    const { data } = await sharp(result.png).raw().toBuffer({ resolveWithObject: true });
    const count = data.length / 3;
    const planar = new Float32Array(data.length);
    for (let i = 0; i < count; i++) for (let c = 0; c < 3; c++) planar[c * count + i] = data[i * 3 + c] / 255;
    const got = planarStats(planar);
    const target = await imageColourStats(style);
    // Quantisation and clamping to [0, 1] stand between the transfer and the file.
    for (let c = 0; c < 3; c++) expect(Math.abs(got.mean[c] - target.mean[c])).toBeLessThan(0.03);
  });

  it("takes the style image's palette by default: the drawn pixels' quantiles are the style's", async () => {
    const result = await generator.generate(request({ lambda: 0 }));
    expect(result.params).toMatchObject({ colour: true, colourMethod: 'palette' });
    const size = models.dims.imageSize;
    const quantiles = (planar: Float32Array) => {
      const n = planar.length / 3;
      return [0, 1, 2].map((c) => {
        const channel = Array.from(planar.subarray(c * n, (c + 1) * n)).sort((x, y) => x - y);
        return [0.1, 0.5, 0.9].map((q) => channel[Math.floor(q * (n - 1))]);
      });
    };
    const { data } = await sharp(result.png).raw().toBuffer({ resolveWithObject: true });
    const count = data.length / 3;
    const got = new Float32Array(data.length);
    for (let i = 0; i < count; i++) for (let c = 0; c < 3; c++) got[c * count + i] = data[i * 3 + c] / 255;
    // the test images are drawn edge to edge, so every pixel is foreground in both
    const want = quantiles(toUnitRange(await imageToPixels(style, size)));
    const without = quantiles(toUnitRange(await imageToPixels((await generator.generate(request({ lambda: 0, colour: false }))).png, size)));
    const error = (q: number[][]) => Math.max(...q.flatMap((row, c) => row.map((v, k) => Math.abs(v - want[c][k]))));
    expect(error(quantiles(got))).toBeLessThan(0.03);
    expect(error(without)).toBeGreaterThan(0.1);
  });

  it('makes one UNet call per step and reports progress over inversion and sampling', async () => {
    counted.calls.length = 0;
    const seen: Array<[number, number]> = [];
    await generator.generate(request(), { onProgress: (step, total) => seen.push([step, total]) });
    // 8 inversion steps; sampling starts at λ = 3 from the inversion's trajectory: 5 more calls.
    expect(counted.calls).toEqual(new Array(13).fill(3));
    const sampling = [11, 12, 13, 14, 15, 16].map((step) => [step, 16]);
    expect(seen).toEqual([...Array.from({ length: 8 }, (_, i) => [i + 1, 16]), ...sampling]);
  });

  it('generates from a semantic vector alone, starting from seeded noise', async () => {
    counted.calls.length = 0;
    const semantic = unitVector(32, 0.5);
    const textOnly: GenerateRequest = { content: { semantic }, style: { vector: unitVector(16, 2) }, steps: 6, seed: 9 };
    const a = await generator.generate(textOnly);
    const b = await generator.generate(textOnly);
    expect(a.png.equals(b.png)).toBe(true);
    expect(counted.calls).toEqual(new Array(12).fill(3));
    expect(a.params).toMatchObject({ inverted: false, colour: false, lambda: 0 });
    expect(readProvenance(a.png)!.sources).toEqual({ content: null, style: [] });
  });

  it('interpolates styles: weights are normalised and recorded', async () => {
    const result = await generator.generate(
      request({
        style: {
          mix: [
            { image: style, weight: 3, id: 'a' },
            { vector: unitVector(16, 4), weight: 1, id: 'b' },
            { image: otherStyle, weight: 0 },
          ],
        },
      }),
    );
    expect(result.params.styleWeights).toEqual([0.75, 0.25, 0]);
    expect(result.params.colour).toBe(true);
    expect(readProvenance(result.png)!.sources.style).toEqual(['a', 'b']);
  });

  it('batches requests into shared UNet calls, each as it would be alone', async () => {
    counted.calls.length = 0;
    const second = request({ seed: 77, style: { image: otherStyle } });
    const [a, b] = await generator.generateBatch([request(), second]);
    expect(counted.calls).toEqual(new Array(13).fill(6));
    const alone = await generator.generate(second);
    expect((await rgb(b.png)).equals(await rgb(alone.png))).toBe(true);
    expect(a.params.seed).toBe(1234);
  });

  it('stops within one step of a cancel', async () => {
    counted.calls.length = 0;
    const controller = new AbortController();
    const run = generator.generate(request({ steps: 20 }), {
      signal: controller.signal,
      onProgress: (step) => step === 5 && controller.abort(),
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(counted.calls).toHaveLength(5);
  });

  it('refuses bad settings with BAD_REQUEST', async () => {
    for (const bad of [{ steps: 0 }, { steps: 1001 }, { lambda: 9 }, { seed: -1 }, { guidance: { style: Number.NaN } }]) {
      const error = await generator.generate(request(bad as Partial<GenerateRequest>)).catch((e: unknown) => e);
      expect(isParasolError(error) && error.code).toBe('BAD_REQUEST');
    }
    const wrongDim = await generator.generate(request({ style: { vector: new Float32Array(5).fill(1) } })).catch((e: unknown) => e);
    expect(isParasolError(wrongDim) && wrongDim.code).toBe('BAD_REQUEST');
  });
});
