/**
 * Image bytes -> model input, driven only by a manifest's preprocess block.
 *
 * An image is decoded once, to 8-bit RGBA at full resolution, and each preprocess block (the two
 * image towers may differ) is applied to those pixels: flatten transparency over the background,
 * resize, then (value / 255 - mean) / std into a CHW Float32Array.
 */
import sharp, { type Sharp } from 'sharp';
import { createError } from '../errors.js';
import type { Preprocess } from './pack.js';
import type { PixelBudget } from './pixel-budget.js';
import type { ImageInput } from './types.js';

export const DEFAULT_LIMIT_INPUT_PIXELS = 40_000_000;

export interface DecodeOptions {
  /** Images with more pixels than this are refused with IMAGE_TOO_LARGE. */
  limitInputPixels?: number;
}

export interface PrepareOptions extends DecodeOptions {
  /** Shared by concurrent preparations, so the pixels decoded at once stay bounded. */
  budget?: PixelBudget;
}

/** Decoded pixels: 8-bit sRGB with alpha, row-major. */
export interface DecodedImage {
  pixels: Buffer;
  width: number;
  height: number;
}

/** Reads anything sharp reads (the first frame of an animation), upright per its EXIF orientation. */
export async function decodeImage(input: ImageInput, options: DecodeOptions = {}): Promise<DecodedImage> {
  const { limit } = await checkSize(input, options);
  return decodeChecked(input, limit);
}

async function decodeChecked(input: ImageInput, limit: number): Promise<DecodedImage> {
  const { data, info } = await readPixels(input, limit, (pipeline) =>
    pipeline.toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }),
  );
  if (info.channels !== 4) throw new Error(`decoded to ${info.channels} channels, expected 4`);
  return { pixels: data, width: info.width, height: info.height };
}

/**
 * The header alone tells the size, so an oversized image is refused before it is decoded.
 * Returns the pixel limit in force and whether one pipeline from the encoded bytes gives the same
 * pixels as decoding first: only for opaque PNGs (with alpha, one pipeline resizes before it
 * flattens; JPEG, WebP and others shrink on load while they decode).
 */
async function checkSize(input: ImageInput, options: DecodeOptions): Promise<{ limit: number; pixels: number; onePass: boolean }> {
  const limit = options.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS;
  if (input.length === 0) throw createError('UNSUPPORTED_IMAGE', 'the file is empty');
  let width: number;
  let height: number;
  let onePass: boolean;
  try {
    const meta = await sharp(input).metadata();
    width = meta.width;
    height = meta.pageHeight ?? meta.height;
    onePass = meta.format === 'png' && !meta.hasAlpha;
  } catch (error) {
    throw createError('UNSUPPORTED_IMAGE', sharpReason(error));
  }
  if (width * height > limit) throw tooLarge(limit);
  return { limit, pixels: width * height, onePass };
}

/** Runs `finish` on a pipeline reading `input` upright, with sharp's failures turned into Parasol's errors. */
async function readPixels<T>(input: ImageInput, limit: number, finish: (pipeline: Sharp) => Promise<T>): Promise<T> {
  try {
    return await finish(
      sharp(input, {
        autoOrient: true,
        // Refuse broken files rather than embed the grey fill of a truncated one.
        failOn: 'truncated',
        limitInputPixels: limit,
      }),
    );
  } catch (error) {
    const reason = sharpReason(error);
    if (/pixel limit/i.test(reason)) throw tooLarge(limit);
    throw createError('UNSUPPORTED_IMAGE', reason);
  }
}

/** The model input for one preprocess block: Float32 [3, size, size], RGB planes. */
export async function toModelInput(image: DecodedImage, preprocess: Preprocess): Promise<Float32Array> {
  const pipeline = sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 4 } }).flatten({
    background: preprocess.background,
  });
  return modelInput(resized(pipeline, preprocess, image.width, image.height), preprocess);
}

/** Resizes per the preprocess block; `shortest` needs the source size, the other modes ignore it. */
function resized(pipeline: Sharp, preprocess: Preprocess, sourceWidth: number, sourceHeight: number): Sharp {
  const { size, background } = preprocess;
  switch (preprocess.resize) {
    case 'contain':
      return pipeline.resize(size, size, { fit: 'contain', position: 'centre', background });
    case 'cover':
      return pipeline.resize(size, size, { fit: 'cover', position: 'centre' });
    case 'shortest': {
      // As CLIP's processor does: shortest side to shortestSide (aspect kept), then a centre crop to size.
      const side = Math.max(size, preprocess.shortestSide ?? size);
      const scale = side / Math.min(sourceWidth, sourceHeight);
      const width = Math.max(size, Math.round(sourceWidth * scale));
      const height = Math.max(size, Math.round(sourceHeight * scale));
      return pipeline
        .resize(width, height, { fit: 'fill' })
        .extract({
          left: Math.floor((width - size) / 2),
          top: Math.floor((height - size) / 2),
          width: size,
          height: size,
        });
    }
    default: {
      const unknown: never = preprocess.resize;
      throw new Error(`unknown resize mode ${String(unknown)}`);
    }
  }
}

async function modelInput(pipeline: Sharp, preprocess: Preprocess): Promise<Float32Array> {
  const { size } = preprocess;
  const { data, info } = await pipeline.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || info.channels !== 3) {
    throw new Error(`preprocessing produced ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`);
  }
  return normalizePixels(data, size, preprocess.mean, preprocess.std);
}

/** Interleaved RGB (or RGBA, alpha ignored) bytes -> planar (value / 255 - mean) / std. */
function normalizePixels(pixels: Uint8Array, size: number, mean: readonly number[], std: readonly number[], channels = 3): Float32Array {
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  // A byte has 256 values: one table per channel, computed by the same formula, replaces the arithmetic per pixel.
  const table = new Float64Array(256);
  for (let c = 0; c < 3; c++) {
    const offset = c * plane;
    const m = mean[c];
    const s = std[c];
    for (let v = 0; v < 256; v++) table[v] = (v / 255 - m) / s;
    for (let i = 0, at = c; i < plane; i++, at += channels) out[offset + i] = table[pixels[at]];
  }
  return out;
}

function isOpaque(image: DecodedImage): boolean {
  const { pixels } = image;
  for (let at = 3; at < pixels.length; at += 4) if (pixels[at] !== 255) return false;
  return true;
}

/**
 * Whether the block maps an image of this size onto itself: the model's size already, square,
 * and (for `shortest`) no upscaling first. sharp then resamples nothing.
 */
function keepsPixels(image: DecodedImage, preprocess: Preprocess): boolean {
  const { size } = preprocess;
  if (image.width !== size || image.height !== size) return false;
  return preprocess.resize !== 'shortest' || Math.max(size, preprocess.shortestSide ?? size) === size;
}

/**
 * One model input per preprocess block from pixels decoded already (ingestion decodes a small
 * image once, for its blank check and for the towers). An opaque image already at a block's size
 * needs neither flattening nor resampling: its bytes are normalised directly, the values sharp's
 * pipeline gives (tested) without a pipeline per image, which on icons costs more than the rest.
 */
export async function prepareDecoded(image: DecodedImage, preprocesses: readonly Preprocess[]): Promise<Float32Array[]> {
  const opaque = isOpaque(image);
  return perPreprocess(preprocesses, (preprocess) =>
    opaque && keepsPixels(image, preprocess)
      ? Promise.resolve(normalizePixels(image.pixels, preprocess.size, preprocess.mean, preprocess.std, 4))
      : toModelInput(image, preprocess),
  );
}

/** `prepare` once per distinct preprocess block, in the blocks' order: towers that share a block share the work. */
function perPreprocess(preprocesses: readonly Preprocess[], prepare: (preprocess: Preprocess) => Promise<Float32Array>): Promise<Float32Array[]> {
  const byKey = new Map<string, Promise<Float32Array>>();
  return Promise.all(
    preprocesses.map((preprocess) => {
      const key = preprocessKey(preprocess);
      let prepared = byKey.get(key);
      if (!prepared) {
        prepared = prepare(preprocess);
        byKey.set(key, prepared);
      }
      return prepared;
    }),
  );
}

/** Identifies a preprocess block, so towers that share one share the work. */
export function preprocessKey(preprocess: Preprocess): string {
  const { size, resize, background, mean, std, shortestSide } = preprocess;
  return JSON.stringify([size, resize, background.toLowerCase(), mean, std, shortestSide ?? size]);
}

/**
 * One model input per preprocess block, in order, decoding the image once. For an opaque PNG
 * when every block is the same and needs no source size (contain, cover: the usual pack), one
 * sharp pipeline goes from the encoded bytes to the model's pixels, without a full-size RGBA copy
 * in between: the same pixels for a third of the work on small images (the demo corpus).
 */
export async function prepareImage(
  input: ImageInput,
  preprocesses: readonly Preprocess[],
  options: PrepareOptions = {},
): Promise<Float32Array[]> {
  const { limit, pixels, onePass } = await checkSize(input, options);
  const work = () => prepareChecked(input, limit, onePass, preprocesses);
  return options.budget ? options.budget.use(pixels, work) : work();
}

async function prepareChecked(
  input: ImageInput,
  limit: number,
  onePass: boolean,
  preprocesses: readonly Preprocess[],
): Promise<Float32Array[]> {
  const preprocess = preprocesses[0];
  if (onePass && preprocess !== undefined && preprocess.resize !== 'shortest' && new Set(preprocesses.map(preprocessKey)).size === 1) {
    const prepared = await readPixels(input, limit, (pipeline) =>
      modelInput(resized(pipeline.toColourspace('srgb').flatten({ background: preprocess.background }), preprocess, 0, 0), preprocess),
    );
    return preprocesses.map(() => prepared);
  }
  const decoded = await decodeChecked(input, limit);
  return perPreprocess(preprocesses, (preprocess) => toModelInput(decoded, preprocess));
}

function tooLarge(limit: number) {
  return createError('IMAGE_TOO_LARGE', `${limit.toLocaleString('en-US')} pixels`);
}

function sharpReason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
