/**
 * Refusing images with nothing drawn: every pixel transparent, or one flat colour once flattened
 * onto the background (how the encoders see a transparent image). Such an image would be stored
 * with descriptors of nothing and crowd every result list.
 */
import sharp from 'sharp';

/** The side of the downsized copy the check reads: one decode, at most 256² pixels to scan. */
const CHECK_SIDE = 256;

export interface BlankOptions {
  maxPixels: number;
  /** The colour transparent pixels are flattened onto (the encoders' preprocessing background). */
  background?: { r: number; g: number; b: number };
}

/**
 * Whether the image shows nothing. The copy is downsized with an averaging kernel, so a detail as
 * small as one pixel still moves at least one value in all but very large images (a dot under
 * about 1/256 of a side may fade to the background: such an image is all but blank anyway).
 */
export async function isBlankImage(bytes: Buffer, options: BlankOptions): Promise<boolean> {
  const background = options.background ?? { r: 255, g: 255, b: 255 };
  const { data, info } = await sharp(bytes, { limitInputPixels: options.maxPixels, pages: 1 })
    .resize(CHECK_SIDE, CHECK_SIDE, { fit: 'inside', withoutEnlargement: true })
    .toColourspace('srgb')
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const channels = info.channels; // 4: sRGB plus the alpha ensured above
  let first: [number, number, number] | undefined;
  for (let at = 0; at + 3 < data.length; at += channels) {
    const alpha = data[at + 3] / 255;
    const flat: [number, number, number] = [
      Math.round(data[at] * alpha + background.r * (1 - alpha)),
      Math.round(data[at + 1] * alpha + background.g * (1 - alpha)),
      Math.round(data[at + 2] * alpha + background.b * (1 - alpha)),
    ];
    if (!first) first = flat;
    else if (flat[0] !== first[0] || flat[1] !== first[1] || flat[2] !== first[2]) return false;
  }
  // Every flattened pixel is the same colour (a fully transparent image is the background's).
  return true;
}
