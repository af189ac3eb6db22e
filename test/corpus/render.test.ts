import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { buildCorpus, iconOf } from '../../corpus/corpus.js';
import { renderIcon, renderIconWithPixels, withPngDensity } from '../../corpus/render.js';
import { STYLE_SET_IDS } from '../../corpus/sets.js';
import { decodeImage } from '../../src/encoders/image.js';

describe('renderIconWithPixels', () => {
  const corpus = buildCorpus();

  it("writes renderIcon's PNG byte for byte, with the pixels decoding it gives, in every set", async () => {
    const sample = STYLE_SET_IDS.flatMap((set) => corpus.items.filter((item) => item.set === set).slice(0, 4));
    expect(sample.length).toBe(4 * STYLE_SET_IDS.length);
    for (const size of [32, 64]) {
      for (const item of sample) {
        const { set, icon } = iconOf(corpus, item);
        const { png, pixels } = await renderIconWithPixels(set, icon, size);
        // The content hash is taken over these bytes: an index built before stays valid.
        expect(png.equals(await renderIcon(set, icon, size)), `${item.id} at ${size}`).toBe(true);
        const decoded = await decodeImage(png);
        expect({ width: pixels.width, height: pixels.height }).toEqual({ width: size, height: size });
        expect(pixels.pixels.equals(decoded.pixels), `${item.id} pixels at ${size}`).toBe(true);
      }
    }
  });
});

describe('withPngDensity', () => {
  it('sets the density a PNG declares and nothing else', async () => {
    const raw = Buffer.alloc(8 * 8 * 3, 200);
    const png = await sharp(raw, { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer();
    const at96 = withPngDensity(png, Math.round(96 / 0.0254));
    expect((await sharp(at96).metadata()).density).toBe(96);
    expect((await sharp(at96).raw().toBuffer()).equals(await sharp(png).raw().toBuffer())).toBe(true);
    expect(at96.length).toBe(png.length);
  });

  it('refuses bytes that are not a PNG', () => {
    expect(() => withPngDensity(Buffer.from('not a png at all'), 2835)).toThrow(/not a PNG/);
  });
});
