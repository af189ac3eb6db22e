import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  crc32,
  imageToPixels,
  insertTextChunks,
  pixelsToPng,
  provenanceText,
  readProvenance,
  readTextChunks,
  toRgbBytes,
} from '../../src/parasol/image.js';
import { testImage } from './helpers.js';

function gradient(size: number): Float32Array {
  const out = new Float32Array(3 * size * size);
  for (let c = 0; c < 3; c++) for (let i = 0; i < size * size; i++) out[c * size * size + i] = ((i * (c + 1)) % 97) / 96;
  return out;
}

describe('generated PNGs', () => {
  it('round-trip pixels through sharp', async () => {
    const size = 16;
    const pixels = gradient(size);
    const png = await pixelsToPng(pixels, size, size);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([size, size, 3]);
    expect(data.equals(toRgbBytes(pixels, size, size))).toBe(true);
  });

  it('clamps and rounds', () => {
    const bytes = toRgbBytes(Float32Array.from([-0.5, 0.5, 2, NaN, 1 / 255, 0.002]), 2, 1);
    // planar R = [-0.5, 0.5], G = [2, NaN], B = [1/255, 0.002]; interleaved RGB RGB
    expect(Array.from(bytes)).toEqual([0, 255, 1, 128, 0, 1]);
  });

  it('carry provenance in text chunks that read back, with valid CRCs', async () => {
    const text = provenanceText({
      software: 'Parasol',
      generator: 'parasol-ddpm/1',
      pack: 'tiny-generator@1',
      parameters: { steps: 10, lambda: 5, guidance: { style: 5, content: 3 }, seed: 1 },
      sources: { content: 'item-1', style: ['item-2', 'naïve ☂'] },
    });
    const png = await pixelsToPng(gradient(8), 8, 8, text);
    const back = readTextChunks(png);
    expect(back).toEqual(text);
    const provenance = readProvenance(png)!;
    expect(provenance.aiGenerated).toBe(true);
    expect(provenance.sources.style).toEqual(['item-2', 'naïve ☂']);
    expect(provenance.parameters).toEqual({ steps: 10, lambda: 5, guidance: { style: 5, content: 3 }, seed: 1 });
    // Non-Latin-1 text goes into an iTXt chunk; the rest are tEXt.
    expect(png.includes(Buffer.from('iTXt'))).toBe(true);
    expect(png.includes(Buffer.from('tEXtAI-generated'))).toBe(true);
    // Decoders still read the file.
    expect((await sharp(png).metadata()).width).toBe(8);
    // A flipped byte is caught by the CRC.
    const broken = Buffer.from(png);
    broken[png.indexOf(Buffer.from('Parasol')) + 1] ^= 1;
    expect(() => readTextChunks(broken)).toThrow(/CRC/);
  });

  it('checksums with the PNG CRC-32', () => {
    expect(crc32(Buffer.from('IEND'))).toBe(0xae426082);
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('are byte-for-byte deterministic', async () => {
    const a = await pixelsToPng(gradient(16), 16, 16, { Software: 'Parasol' });
    const b = await pixelsToPng(gradient(16), 16, 16, { Software: 'Parasol' });
    expect(a.equals(b)).toBe(true);
  });

  it('refuses bad keywords and non-PNGs', () => {
    expect(() => insertTextChunks(Buffer.from('nope'), {})).toThrow(RangeError);
  });

  it('reads images into [-1, 1] planes at the VAE size', async () => {
    const pixels = await imageToPixels(await testImage(40, 3), 64);
    expect(pixels).toHaveLength(3 * 64 * 64);
    expect(pixels.every((v) => v >= -1 && v <= 1)).toBe(true);
  });
});
