/**
 * Refusing images with nothing drawn: every pixel transparent, or one flat colour once flattened
 * onto the background (how the encoders see a transparent image). Such an image would be stored
 * with descriptors of nothing and crowd every result list.
 */
import sharp from 'sharp';

/**
 * The side of the downsized copy the check reads: one decode, at most 256² pixels to scan. An
 * image no larger is read as it is, so its decoded pixels can be checked directly (isBlankPixels).
 */
export const BLANK_CHECK_SIDE = 256;

type Rgb = { r: number; g: number; b: number };

export interface BlankOptions {
  maxPixels: number;
  /** The colour transparent pixels are flattened onto (the encoders' preprocessing background). */
  background?: Rgb;
}

/**
 * Whether the image shows nothing. The copy is downsized with an averaging kernel, so a detail as
 * small as one pixel still moves at least one value in all but very large images (a dot under
 * about 1/256 of a side may fade to the background: such an image is all but blank anyway).
 */
export async function isBlankImage(bytes: Buffer, options: BlankOptions): Promise<boolean> {
  const { data } = await sharp(bytes, { limitInputPixels: options.maxPixels, pages: 1 })
    .resize(BLANK_CHECK_SIDE, BLANK_CHECK_SIDE, { fit: 'inside', withoutEnlargement: true })
    .toColourspace('srgb')
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return isBlankPixels(data, options.background);
}

/** The same check on 8-bit sRGBA pixels (4 bytes each), decoded already. */
export function isBlankPixels(rgba: Uint8Array, background: Rgb = { r: 255, g: 255, b: 255 }): boolean {
  const flat = (at: number, value: number, under: number): number => {
    const alpha = rgba[at + 3] / 255;
    return Math.round(value * alpha + under * (1 - alpha));
  };
  if (rgba.length < 4) return true;
  const r = flat(0, rgba[0], background.r);
  const g = flat(0, rgba[1], background.g);
  const b = flat(0, rgba[2], background.b);
  for (let at = 4; at + 3 < rgba.length; at += 4) {
    if (flat(at, rgba[at], background.r) !== r || flat(at, rgba[at + 1], background.g) !== g || flat(at, rgba[at + 2], background.b) !== b) {
      return false;
    }
  }
  // Every flattened pixel is the same colour (a fully transparent image is the background's).
  return true;
}
