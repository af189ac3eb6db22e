/**
 * Image bytes -> model input, driven only by a manifest's preprocess block.
 *
 * An image is decoded once, to 8-bit RGBA at full resolution, and each preprocess block (the two
 * image towers may differ) is applied to those pixels: flatten transparency over the background,
 * resize, then (value / 255 - mean) / std into a CHW Float32Array.
 */
import sharp from 'sharp';
import { createError } from '../errors.js';
import type { Preprocess } from './pack.js';
import type { ImageInput } from './types.js';

export const DEFAULT_LIMIT_INPUT_PIXELS = 40_000_000;

export interface DecodeOptions {
  /** Images with more pixels than this are refused with IMAGE_TOO_LARGE. */
  limitInputPixels?: number;
}

/** Decoded pixels: 8-bit sRGB with alpha, row-major. */
export interface DecodedImage {
  pixels: Buffer;
  width: number;
  height: number;
}

/** Reads anything sharp reads (the first frame of an animation), upright per its EXIF orientation. */
export async function decodeImage(input: ImageInput, options: DecodeOptions = {}): Promise<DecodedImage> {
  const limit = options.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS;
  if (input.length === 0) throw createError('UNSUPPORTED_IMAGE', 'the file is empty');
  // The header alone tells the size, so an oversized image is refused before it is decoded.
  let width: number;
  let height: number;
  try {
    const meta = await sharp(input).metadata();
    width = meta.width;
    height = meta.pageHeight ?? meta.height;
  } catch (error) {
    throw createError('UNSUPPORTED_IMAGE', sharpReason(error));
  }
  if (width * height > limit) throw tooLarge(limit);
  try {
    const { data, info } = await sharp(input, {
      autoOrient: true,
      // Refuse broken files rather than embed the grey fill of a truncated one.
      failOn: 'truncated',
      limitInputPixels: limit,
    })
      .toColourspace('srgb')
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new Error(`decoded to ${info.channels} channels, expected 4`);
    return { pixels: data, width: info.width, height: info.height };
  } catch (error) {
    const reason = sharpReason(error);
    if (/pixel limit/i.test(reason)) throw tooLarge(limit);
    throw createError('UNSUPPORTED_IMAGE', reason);
  }
}

/** The model input for one preprocess block: Float32 [3, size, size], RGB planes. */
export async function toModelInput(image: DecodedImage, preprocess: Preprocess): Promise<Float32Array> {
  const { size, background } = preprocess;
  let pipeline = sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 4 } })
    .flatten({ background });
  switch (preprocess.resize) {
    case 'contain':
      pipeline = pipeline.resize(size, size, { fit: 'contain', position: 'centre', background });
      break;
    case 'cover':
      pipeline = pipeline.resize(size, size, { fit: 'cover', position: 'centre' });
      break;
    case 'shortest': {
      // As CLIP's processor does: shortest side to shortestSide (aspect kept), then a centre crop to size.
      const side = Math.max(size, preprocess.shortestSide ?? size);
      const scale = side / Math.min(image.width, image.height);
      const width = Math.max(size, Math.round(image.width * scale));
      const height = Math.max(size, Math.round(image.height * scale));
      pipeline = pipeline
        .resize(width, height, { fit: 'fill' })
        .extract({
          left: Math.floor((width - size) / 2),
          top: Math.floor((height - size) / 2),
          width: size,
          height: size,
        });
      break;
    }
    default: {
      const unknown: never = preprocess.resize;
      throw new Error(`unknown resize mode ${String(unknown)}`);
    }
  }
  const { data, info } = await pipeline.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || info.channels !== 3) {
    throw new Error(`preprocessing produced ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`);
  }
  return normalizePixels(data, size, preprocess.mean, preprocess.std);
}

/** Interleaved RGB bytes -> planar (value / 255 - mean) / std. */
function normalizePixels(rgb: Uint8Array, size: number, mean: readonly number[], std: readonly number[]): Float32Array {
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const offset = c * plane;
    const m = mean[c];
    const s = std[c];
    for (let i = 0; i < plane; i++) out[offset + i] = (rgb[i * 3 + c] / 255 - m) / s;
  }
  return out;
}

/** Identifies a preprocess block, so towers that share one share the work. */
export function preprocessKey(preprocess: Preprocess): string {
  const { size, resize, background, mean, std, shortestSide } = preprocess;
  return JSON.stringify([size, resize, background.toLowerCase(), mean, std, shortestSide ?? size]);
}

/** Decodes once and returns one model input per preprocess block, in order. */
export async function prepareImage(
  input: ImageInput,
  preprocesses: readonly Preprocess[],
  options: DecodeOptions = {},
): Promise<Float32Array[]> {
  const decoded = await decodeImage(input, options);
  const byKey = new Map<string, Promise<Float32Array>>();
  return Promise.all(
    preprocesses.map((preprocess) => {
      const key = preprocessKey(preprocess);
      let prepared = byKey.get(key);
      if (!prepared) {
        prepared = toModelInput(decoded, preprocess);
        byKey.set(key, prepared);
      }
      return prepared;
    }),
  );
}

function tooLarge(limit: number) {
  return createError('IMAGE_TOO_LARGE', `${limit.toLocaleString('en-US')} pixels`);
}

function sharpReason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
