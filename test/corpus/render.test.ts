import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { buildCorpus, iconOf } from '../../corpus/corpus.js';
import { flattenOnWhite, iconToSvg, renderIcon, renderIconPixels } from '../../corpus/render.js';
import { STYLE_SET_IDS } from '../../corpus/sets.js';
import { decodeImage } from '../../src/encoders/image.js';

describe('renderIconPixels', () => {
  const corpus = buildCorpus();

  it("gives the pixels decoding renderIcon's PNG gives, byte for byte, in every set", async () => {
    const sample = STYLE_SET_IDS.flatMap((set) => corpus.items.filter((item) => item.set === set).slice(0, 4));
    expect(sample.length).toBe(4 * STYLE_SET_IDS.length);
    let edgePixels = 0;
    for (const size of [32, 64]) {
      for (const item of sample) {
        const { set, icon } = iconOf(corpus, item);
        const pixels = await renderIconPixels(set, icon, size);
        // Search results and `parasol reindex` (which re-encodes the PNG) see the same image as before.
        const decoded = await decodeImage(await renderIcon(set, icon, size));
        expect({ width: pixels.width, height: pixels.height }).toEqual({ width: size, height: size });
        expect(pixels.pixels.equals(decoded.pixels), `${item.id} pixels at ${size}`).toBe(true);
        const { data } = await sharp(Buffer.from(iconToSvg(set, icon, size))).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
        for (let at = 3; at < data.length; at += 4) if (data[at] > 0 && data[at] < 255) edgePixels++;
      }
    }
    // The sample exercises the flattening: anti-aliased edges are partly transparent.
    expect(edgePixels).toBeGreaterThan(1000);
  });
});

describe('flattenOnWhite', () => {
  it("rounds every value at every alpha as sharp's flatten onto white does", async () => {
    // One pixel per (value, alpha) pair: 256 × 256, the value in all three channels (mirrored in green).
    const rgba = Buffer.alloc(256 * 256 * 4);
    for (let alpha = 0; alpha < 256; alpha++) {
      for (let value = 0; value < 256; value++) {
        const at = (alpha * 256 + value) * 4;
        rgba.set([value, 255 - value, value, alpha], at);
      }
    }
    const expected = await sharp(rgba, { raw: { width: 256, height: 256, channels: 4 } })
      .flatten({ background: '#ffffff' })
      .ensureAlpha()
      .raw()
      .toBuffer();
    const flattened = flattenOnWhite(Buffer.from(rgba));
    expect(flattened.length).toBe(expected.length);
    let differing = 0;
    for (let i = 0; i < expected.length; i++) if (flattened[i] !== expected[i]) differing++;
    expect(differing).toBe(0);
  });
});
