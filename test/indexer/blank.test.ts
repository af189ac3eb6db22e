import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { isBlankImage, isBlankPixels } from '../../indexer/blank.js';
import { decodeImage } from '../../src/encoders/image.js';

const limits = { maxPixels: 10_000_000 };

type Colour = string | { r: number; g: number; b: number; alpha?: number };
type Image = ReturnType<typeof sharp>;

function square(background: Colour, channels: 3 | 4 = 4, size = 64): Image {
  return sharp({ create: { width: size, height: size, channels, background } });
}

async function withDot(base: Image, at: { top: number; left: number }, size = 1): Promise<Buffer> {
  const dot = await square('#000000', 4, size).png().toBuffer();
  return base.composite([{ input: dot, ...at }]).png().toBuffer();
}

describe('isBlankImage', () => {
  it('calls a fully transparent PNG blank', async () => {
    expect(await isBlankImage(await square({ r: 12, g: 200, b: 40, alpha: 0 }).png().toBuffer(), limits)).toBe(true);
  });

  it('calls a flat red PNG blank, opaque or half transparent, and a flat grey JPEG', async () => {
    expect(await isBlankImage(await square('#ff0000', 3).png().toBuffer(), limits)).toBe(true);
    expect(await isBlankImage(await square({ r: 255, g: 0, b: 0, alpha: 0.5 }).png().toBuffer(), limits)).toBe(true);
    expect(await isBlankImage(await square('#808080', 3).greyscale().jpeg().toBuffer(), limits)).toBe(true);
  });

  it('keeps a PNG with one dot, on a flat colour or on transparency, also after downsizing', async () => {
    expect(await isBlankImage(await withDot(square('#ff0000', 3), { top: 10, left: 20 }), limits)).toBe(false);
    expect(await isBlankImage(await withDot(square({ r: 0, g: 0, b: 0, alpha: 0 }), { top: 63, left: 0 }), limits)).toBe(false);
    expect(await isBlankImage(await withDot(square('#ffffff', 3, 1024), { top: 500, left: 700 }), limits)).toBe(false);
  });

  it('calls white drawn on transparency blank once flattened onto white, and keeps it on black', async () => {
    const whiteDot = await square({ r: 0, g: 0, b: 0, alpha: 0 })
      .composite([{ input: await square('#ffffff', 4, 8).png().toBuffer(), top: 5, left: 5 }])
      .png()
      .toBuffer();
    expect(await isBlankImage(whiteDot, limits)).toBe(true);
    expect(await isBlankImage(whiteDot, { ...limits, background: { r: 0, g: 0, b: 0 } })).toBe(false);
  });
});

describe('isBlankPixels', () => {
  it('agrees with isBlankImage on decoded pixels of images no larger than the check reads', async () => {
    const cases: Array<[string, Buffer]> = [
      ['transparent', await square({ r: 12, g: 200, b: 40, alpha: 0 }).png().toBuffer()],
      ['flat red', await square('#ff0000', 3).png().toBuffer()],
      ['half-transparent red', await square({ r: 255, g: 0, b: 0, alpha: 0.5 }).png().toBuffer()],
      ['red with a dot', await withDot(square('#ff0000', 3), { top: 10, left: 20 })],
      ['a dot in the last pixel', await withDot(square({ r: 0, g: 0, b: 0, alpha: 0 }), { top: 63, left: 63 })],
    ];
    for (const [name, png] of cases) {
      const expected = await isBlankImage(png, limits);
      expect(isBlankPixels((await decodeImage(png)).pixels), name).toBe(expected);
    }
  });

  it('flattens onto the given background', () => {
    // One white pixel and one transparent one: blank on white, not on black.
    const rgba = Uint8Array.from([255, 255, 255, 255, 0, 0, 0, 0]);
    expect(isBlankPixels(rgba)).toBe(true);
    expect(isBlankPixels(rgba, { r: 0, g: 0, b: 0 })).toBe(false);
  });
});
