import { beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { decodeImage, prepareDecoded, prepareImage, preprocessKey, toModelInput } from '../../src/encoders/image.js';
import type { Preprocess } from '../../src/encoders/pack.js';
import { bands, maxAbsDiff, rawImage, rejectionOf } from './helpers.js';

/** mean 0, std 1/255 leaves the raw 0..255 values in the tensor, so tests can read pixels back. */
function identity(size: number, resize: Preprocess['resize'], background = '#ffffff'): Preprocess {
  return { size, resize, background, mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255] };
}

/** The RGB value at (x, y) of a [3, size, size] tensor. */
function pixel(tensor: Float32Array, size: number, x: number, y: number): number[] {
  const plane = size * size;
  return [0, 1, 2].map((c) => Math.round(tensor[c * plane + y * size + x]));
}

const RED: [number, number, number] = [220, 30, 40];
const GREEN: [number, number, number] = [20, 200, 60];
const BLUE: [number, number, number] = [30, 60, 210];

describe('preprocessing', () => {
  it('contain fits the image inside and pads with the background', async () => {
    const png = await rawImage(bands(48, 24, [RED]), 48, 24).png().toBuffer();
    const size = 32;
    const tensor = await toModelInput(await decodeImage(png), identity(size, 'contain', '#102030'));
    expect(tensor.length).toBe(3 * size * size);
    expect(pixel(tensor, size, 16, 0)).toEqual([16, 32, 48]);
    expect(pixel(tensor, size, 16, 7)).toEqual([16, 32, 48]);
    expect(pixel(tensor, size, 0, 8)).toEqual(RED);
    expect(pixel(tensor, size, 31, 23)).toEqual(RED);
    expect(pixel(tensor, size, 16, 24)).toEqual([16, 32, 48]);
  });

  it('cover fills the square and crops the centre', async () => {
    // 48x24 in three 16px bands: a 24px cover keeps columns 12..35.
    const png = await rawImage(bands(48, 24, [BLUE, RED, GREEN]), 48, 24).png().toBuffer();
    const tensor = await toModelInput(await decodeImage(png), identity(24, 'cover'));
    expect(pixel(tensor, 24, 0, 0)).toEqual(BLUE);
    expect(pixel(tensor, 24, 12, 12)).toEqual(RED);
    expect(pixel(tensor, 24, 23, 23)).toEqual(GREEN);
  });

  it('shortest scales the shortest side to size, then crops the centre', async () => {
    // 80x40 -> 40x20, bands of 20px become 10px: the centre 20 columns are RED.
    const png = await rawImage(bands(80, 40, [BLUE, RED, RED, GREEN]), 80, 40).png().toBuffer();
    const tensor = await toModelInput(await decodeImage(png), identity(20, 'shortest'));
    expect(tensor.length).toBe(3 * 20 * 20);
    expect(pixel(tensor, 20, 10, 10)).toEqual(RED);
    // Portrait input crops vertically.
    const tall = await rawImage(bands(30, 90, [GREEN]), 30, 90).png().toBuffer();
    const tallTensor = await toModelInput(await decodeImage(tall), identity(10, 'shortest'));
    expect(pixel(tallTensor, 10, 5, 5)).toEqual(GREEN);
  });

  it('leaves an image already at the model size untouched', async () => {
    const raw = Buffer.alloc(16 * 16 * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 37) % 256;
    const png = await rawImage(raw, 16, 16).png().toBuffer();
    for (const mode of ['contain', 'cover', 'shortest'] as const) {
      const tensor = await toModelInput(await decodeImage(png), identity(16, mode));
      expect(pixel(tensor, 16, 3, 5), mode).toEqual([...raw.subarray((5 * 16 + 3) * 3, (5 * 16 + 3) * 3 + 3)]);
      expect(pixel(tensor, 16, 15, 15), mode).toEqual([...raw.subarray(255 * 3, 256 * 3)]);
    }
  });

  it('flattens transparency over each block’s own background', async () => {
    const rgba = Buffer.alloc(8 * 8 * 4);
    for (let i = 0; i < 64; i++) rgba.set(i < 32 ? [200, 100, 50, 255] : [0, 0, 0, 0], i * 4);
    const png = await rawImage(rgba, 8, 8, 4).png().toBuffer();
    const [onWhite, onGrey] = await prepareImage(png, [identity(8, 'contain', '#ffffff'), identity(8, 'contain', '#808080')]);
    expect(pixel(onWhite, 8, 0, 0)).toEqual([200, 100, 50]);
    expect(pixel(onWhite, 8, 0, 7)).toEqual([255, 255, 255]);
    expect(pixel(onGrey, 8, 0, 7)).toEqual([128, 128, 128]);
  });

  it('applies mean and std per channel into planar RGB', async () => {
    const png = await rawImage(bands(4, 4, [[255, 0, 51]]), 4, 4).png().toBuffer();
    const preprocess: Preprocess = { size: 4, resize: 'contain', background: '#000', mean: [0.5, 0.5, 0.2], std: [0.5, 0.25, 0.1] };
    const tensor = await toModelInput(await decodeImage(png), preprocess);
    expect(tensor[0]).toBeCloseTo(1, 6); // (1 - 0.5) / 0.5
    expect(tensor[16]).toBeCloseTo(-2, 6); // (0 - 0.5) / 0.25
    expect(tensor[32]).toBeCloseTo(0, 6); // (0.2 - 0.2) / 0.1
  });

  it('decodes once and shares the work between blocks that are the same', async () => {
    const png = await rawImage(bands(8, 8, [RED]), 8, 8).png().toBuffer();
    const a = identity(8, 'contain');
    const [first, second, third] = await prepareImage(png, [a, { ...a, background: '#FFFFFF' }, identity(8, 'cover')]);
    expect(second).toBe(first);
    expect(third).not.toBe(first);
    expect(preprocessKey(a)).toBe(preprocessKey({ ...a }));
    expect(preprocessKey(a)).not.toBe(preprocessKey(identity(9, 'contain')));
  });

  it.each(['contain', 'cover'] as const)(
    'prepares every PNG, opaque or not, exactly as decoding first and resizing after (%s)',
    async (mode) => {
      // Noise, so any difference in resampling or in the order of flatten and resize shows.
      const noise = (channels: 3 | 4) => Buffer.from(Array.from({ length: 45 * 31 * channels }, (_, i) => (i * 7919 + (i >> 3) * 31) & 255));
      const preprocess: Preprocess = { size: 16, resize: mode, background: '#123456', mean: [0.4, 0.5, 0.6], std: [0.2, 0.3, 0.25] };
      for (const channels of [3, 4] as const) {
        const png = await rawImage(noise(channels), 45, 31, channels).png().toBuffer();
        const [prepared, again] = await prepareImage(png, [preprocess, { ...preprocess }]);
        expect(again).toBe(prepared);
        expect(maxAbsDiff(prepared, await toModelInput(await decodeImage(png), preprocess))).toBe(0);
      }
    },
  );
});

describe('prepareDecoded', () => {
  // Noise, so any difference in resampling, flattening or rounding shows.
  const noise = (width: number, height: number, channels: 3 | 4, opaque = false) =>
    Buffer.from(Array.from({ length: width * height * channels }, (_, i) => (opaque && i % 4 === 3 ? 255 : (i * 7919 + (i >> 3) * 31) & 255)));
  const blocks = (size: number): Preprocess[] => [
    { size, resize: 'contain', background: '#123456', mean: [0.4, 0.5, 0.6], std: [0.2, 0.3, 0.25] },
    { size, resize: 'cover', background: '#ffffff', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    { size, resize: 'shortest', background: '#ffffff', mean: [0.1, 0.2, 0.3], std: [0.3, 0.2, 0.1] },
    { size, resize: 'shortest', shortestSide: size + 4, background: '#ffffff', mean: [0, 0, 0], std: [1, 1, 1] },
  ];

  it('gives what sharp gives, for opaque images at the model size (no pipeline) and every other image', async () => {
    const cases = [
      { name: 'opaque, at size', png: await rawImage(noise(20, 20, 3), 20, 20, 3).png().toBuffer() },
      { name: 'opaque with alpha, at size', png: await rawImage(noise(20, 20, 4, true), 20, 20, 4).png().toBuffer() },
      { name: 'translucent, at size', png: await rawImage(noise(20, 20, 4), 20, 20, 4).png().toBuffer() },
      { name: 'opaque, larger', png: await rawImage(noise(45, 31, 3), 45, 31, 3).png().toBuffer() },
      { name: 'opaque, smaller', png: await rawImage(noise(12, 12, 3), 12, 12, 3).png().toBuffer() },
    ];
    for (const { name, png } of cases) {
      const decoded = await decodeImage(png);
      const prepared = await prepareDecoded(decoded, blocks(20));
      const expected = await Promise.all(blocks(20).map((preprocess) => toModelInput(decoded, preprocess)));
      prepared.forEach((tensor, i) => expect(maxAbsDiff(tensor, expected[i]), `${name}, block ${i}`).toBe(0));
      // And what ingestion would get from the encoded bytes.
      const fromBytes = await prepareImage(png, blocks(20));
      prepared.forEach((tensor, i) => expect(maxAbsDiff(tensor, fromBytes[i]), `${name}, block ${i} from bytes`).toBe(0));
    }
  });

  it('prepares a block shared by two towers once', async () => {
    const decoded = await decodeImage(await rawImage(noise(20, 20, 3), 20, 20, 3).png().toBuffer());
    const [a, b] = await prepareDecoded(decoded, [blocks(20)[0], { ...blocks(20)[0] }]);
    expect(b).toBe(a);
  });
});

describe('image formats', () => {
  const preprocess = identity(24, 'contain');
  const width = 36;
  const height = 24;
  let reference: Float32Array;
  let encoded: Record<string, Buffer>;

  beforeAll(async () => {
    const raw = bands(width, height, [RED, GREEN, BLUE]);
    const image = () => rawImage(raw, width, height);
    encoded = {
      png: await image().png().toBuffer(),
      jpeg: await image().jpeg({ quality: 95 }).toBuffer(),
      webp: await image().webp({ lossless: true }).toBuffer(),
      gif: await image().gif().toBuffer(),
      avif: await image().avif({ quality: 90 }).toBuffer(),
      tiff: await image().tiff({ compression: 'lzw' }).toBuffer(),
      svg: Buffer.from(
        `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
          `<rect x="0" y="0" width="12" height="24" fill="rgb(${RED})"/>` +
          `<rect x="12" y="0" width="12" height="24" fill="rgb(${GREEN})"/>` +
          `<rect x="24" y="0" width="12" height="24" fill="rgb(${BLUE})"/></svg>`,
      ),
    };
    reference = await toModelInput(await decodeImage(encoded.png), preprocess);
  });

  it.each(['png', 'webp', 'gif', 'tiff', 'svg'])('reads %s exactly like the PNG', async (format) => {
    const tensor = await toModelInput(await decodeImage(encoded[format]), preprocess);
    // Lossless formats agree exactly; SVG rasterisation may soften band edges by a level or two.
    expect(maxAbsDiff(tensor, reference)).toBeLessThanOrEqual(format === 'svg' ? 3 : 0);
  });

  it.each(['jpeg', 'avif'])('reads lossy %s close to the PNG', async (format) => {
    const tensor = await toModelInput(await decodeImage(encoded[format]), preprocess);
    let sum = 0;
    for (let i = 0; i < tensor.length; i++) sum += Math.abs(tensor[i] - reference[i]);
    expect(sum / tensor.length).toBeLessThan(12); // mean error under 12 grey levels
  });

  it('reads the first frame of an animated GIF', async () => {
    const frames = Buffer.concat([bands(8, 8, [RED]), bands(8, 8, [BLUE])]);
    const animated = await sharp(frames, { raw: { width: 8, height: 16, channels: 3, pageHeight: 8 } })
      .gif()
      .toBuffer();
    expect((await sharp(animated).metadata()).pages).toBe(2);
    const decoded = await decodeImage(animated);
    expect([decoded.width, decoded.height]).toEqual([8, 8]);
    const tensor = await toModelInput(decoded, identity(8, 'contain'));
    expect(pixel(tensor, 8, 4, 4)).toEqual(RED);
  });

  it('reads greyscale and 16-bit images as 8-bit RGB', async () => {
    const grey = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#777777' } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    expect((await sharp(grey).metadata()).channels).toBe(1);
    expect(pixel(await toModelInput(await decodeImage(grey), identity(4, 'contain')), 4, 1, 1)).toEqual([119, 119, 119]);
    const deep = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#336699' } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect((await sharp(deep).metadata()).depth).toBe('ushort');
    expect(pixel(await toModelInput(await decodeImage(deep), identity(4, 'contain')), 4, 1, 1)).toEqual([51, 102, 153]);
  });

  it('turns the image upright per its EXIF orientation', async () => {
    // Stored 8 wide × 4 high with orientation 6 (rotate 90° clockwise to display): upright it is 4 × 8.
    const jpeg = await rawImage(bands(8, 4, [RED, BLUE]), 8, 4).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer();
    const decoded = await decodeImage(jpeg);
    expect([decoded.width, decoded.height]).toEqual([4, 8]);
  });
});

describe('unreadable and oversized images', () => {
  it('refuses an empty buffer', async () => {
    const error = await rejectionOf(decodeImage(Buffer.alloc(0)), 'UNSUPPORTED_IMAGE');
    expect(error.message).toMatch(/empty/);
  });

  it('refuses bytes that are no image, with sharp’s reason', async () => {
    const error = await rejectionOf(decodeImage(Buffer.from('definitely not an image')), 'UNSUPPORTED_IMAGE');
    expect(error.message).toMatch(/unsupported image format/i);
  });

  it.each(['png', 'jpeg'] as const)('refuses a truncated %s', async (format) => {
    const raw = Buffer.alloc(64 * 64 * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 7919) % 251;
    const whole = await rawImage(raw, 64, 64)[format]().toBuffer();
    await rejectionOf(decodeImage(whole.subarray(0, Math.floor(whole.length / 2))), 'UNSUPPORTED_IMAGE');
  });

  it('refuses a corrupt header', async () => {
    const png = await rawImage(bands(8, 8, [RED]), 8, 8).png().toBuffer();
    const broken = Buffer.from(png);
    broken.fill(0xff, 12, 40);
    await rejectionOf(decodeImage(broken), 'UNSUPPORTED_IMAGE');
  });

  it('refuses more pixels than the limit before decoding them', async () => {
    const png = await rawImage(bands(40, 40, [RED]), 40, 40).png().toBuffer();
    const error = await rejectionOf(decodeImage(png, { limitInputPixels: 1000 }), 'IMAGE_TOO_LARGE');
    expect(error.message).toContain('1,000 pixels');
    await expect(decodeImage(png, { limitInputPixels: 1600 })).resolves.toMatchObject({ width: 40, height: 40 });
  });

  it('refuses an image over the 40-megapixel default', async () => {
    // An SVG declares its size cheaply: 8000 × 6000 = 48 megapixels.
    const huge = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8000" height="6000"><rect width="10" height="10"/></svg>');
    await rejectionOf(decodeImage(huge), 'IMAGE_TOO_LARGE');
  });
});
