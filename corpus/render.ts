/** Renders an Iconify icon to a raster with sharp (librsvg), on a white background. */
import sharp from 'sharp';
import type { DecodedImage } from '../src/encoders/image.js';
import type { IconifyIcon, IconifySet } from './sets.js';

export function iconToSvg(set: IconifySet, icon: IconifyIcon, size: number): string {
  const left = icon.left ?? set.left ?? 0;
  const top = icon.top ?? set.top ?? 0;
  const width = icon.width ?? set.width ?? 16;
  const height = icon.height ?? set.height ?? 16;
  // The art is scaled to the target size by the SVG itself so librsvg rasterises it crisply.
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ` +
    `width="${size}" height="${size}" viewBox="${left} ${top} ${width} ${height}" ` +
    `preserveAspectRatio="xMidYMid meet">${icon.body}</svg>`
  );
}

export async function renderIcon(
  set: IconifySet,
  icon: IconifyIcon,
  size: number,
  format: 'png' | 'webp' = 'png',
): Promise<Buffer> {
  const image = sharp(Buffer.from(iconToSvg(set, icon, size)))
    .resize(size, size, { fit: 'contain', background: '#ffffff' })
    .flatten({ background: '#ffffff' });
  return format === 'png' ? image.png().toBuffer() : image.webp({ quality: 82 }).toBuffer();
}

/**
 * The icon as renderIcon draws it, as 8-bit RGBA pixels (opaque, flattened onto white), from one
 * rasterisation and no encoding: what decoding renderIcon's PNG gives, byte for byte (tested), for
 * a third of its CPU. Ingestion hashes and encodes these pixels; the PNG is written only on demand.
 */
export async function renderIconPixels(set: IconifySet, icon: IconifyIcon, size: number): Promise<DecodedImage> {
  const svg = Buffer.from(iconToSvg(set, icon, size));
  // The SVG is drawn at size × size already; the resize is renderIcon's guard against any other size.
  const { data, info } = await sharp(svg).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.width === size && info.height === size && info.channels === 4) return { pixels: flattenOnWhite(data), width: size, height: size };
  const resized = await sharp(svg)
    .resize(size, size, { fit: 'contain', background: '#ffffff' })
    .flatten({ background: '#ffffff' })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { pixels: resized.data, width: resized.info.width, height: resized.info.height };
}

/** Icons drawn in one sheet: a sheet's fixed cost (a sharp pipeline, librsvg's set-up) is paid once for them all. */
export const ICONS_PER_SHEET = 8;

/**
 * Whether an icon draws the same pixels beside others in a sheet as alone. Only a body that
 * references nothing by id (no gradients, clip paths, masks, filters, patterns, `use`), carries no
 * stylesheet (which would style its neighbours) and draws no text or embedded image: paths and
 * shapes with plain paint. Those rasterise identically at an integer offset (checked over the
 * whole demo corpus: `node dist/bench/render-sheets.js`); gradients and filters do not, by a
 * value here and there, and are drawn alone.
 */
export function sheetSafe(icon: IconifyIcon): boolean {
  return !/\bid\s*=|<style|<image|<text|<foreignObject|url\(|href/i.test(icon.body);
}

function iconViewBox(set: IconifySet, icon: IconifyIcon): string {
  return `${icon.left ?? set.left ?? 0} ${icon.top ?? set.top ?? 0} ${icon.width ?? set.width ?? 16} ${icon.height ?? set.height ?? 16}`;
}

/**
 * Several sheet-safe icons in one row of one SVG, each in its own size × size viewport drawn as
 * iconToSvg draws it alone, then sliced apart: each slice is what renderIconPixels gives that icon,
 * byte for byte (so its content hash is too), for about half the CPU.
 */
export async function renderSheetPixels(icons: ReadonlyArray<{ set: IconifySet; icon: IconifyIcon }>, size: number): Promise<DecodedImage[]> {
  const width = size * icons.length;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${size}">` +
    icons
      .map(
        ({ set, icon }, i) =>
          `<svg x="${i * size}" y="0" width="${size}" height="${size}" viewBox="${iconViewBox(set, icon)}" ` +
          `preserveAspectRatio="xMidYMid meet">${icon.body}</svg>`,
      )
      .join('') +
    '</svg>';
  const { data, info } = await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== size || info.channels !== 4) {
    throw new Error(`a sheet of ${icons.length} icons rendered at ${info.width}×${info.height}×${info.channels}, expected ${width}×${size}×4`);
  }
  const row = size * 4;
  return icons.map((_, i) => {
    const pixels = Buffer.allocUnsafe(size * row);
    for (let y = 0; y < size; y++) data.copy(pixels, y * row, (y * width + i * size) * 4, (y * width + i * size) * 4 + row);
    return { pixels: flattenOnWhite(pixels), width: size, height: size };
  });
}

export type IconPixelRenderer = (set: IconifySet, icon: IconifyIcon) => Promise<DecodedImage>;

/**
 * renderIconPixels at one size, with the sheet-safe icons asked for in the same turn of the event
 * loop (ingestion asks for a batch's at once) drawn ICONS_PER_SHEET to a sheet. Should a sheet
 * fail (a body librsvg refuses), its icons are drawn alone, so each fails or not on its own.
 */
export function createIconPixelRenderer(size: number, iconsPerSheet = ICONS_PER_SHEET): IconPixelRenderer {
  type Request = { set: IconifySet; icon: IconifyIcon; resolve: (image: DecodedImage) => void; reject: (error: unknown) => void };
  let waiting: Request[] = [];
  const alone = (request: Request): void => {
    renderIconPixels(request.set, request.icon, size).then(request.resolve, request.reject);
  };
  const flush = (): void => {
    const requests = waiting;
    waiting = [];
    for (let at = 0; at < requests.length; at += iconsPerSheet) {
      const sheet = requests.slice(at, at + iconsPerSheet);
      if (sheet.length === 1) {
        alone(sheet[0]);
        continue;
      }
      renderSheetPixels(sheet, size).then(
        (images) => sheet.forEach((request, i) => request.resolve(images[i])),
        () => sheet.forEach(alone),
      );
    }
  };
  return (set, icon) =>
    new Promise<DecodedImage>((resolve, reject) => {
      const request = { set, icon, resolve, reject };
      if (iconsPerSheet < 2 || !sheetSafe(icon)) return alone(request);
      if (waiting.length === 0) queueMicrotask(flush);
      waiting.push(request);
    });
}

/**
 * RGBA flattened onto white in place, as libvips' flatten rounds 8-bit values (an integer
 * division: (v·a + 255·(255 − a)) / 255, truncated), alpha set to opaque. A pipeline stage in
 * sharp costs more than the whole loop on an icon.
 */
export function flattenOnWhite(rgba: Buffer): Buffer {
  for (let at = 0; at < rgba.length; at += 4) {
    const alpha = rgba[at + 3];
    if (alpha === 255) continue;
    const under = 255 * (255 - alpha);
    rgba[at] = Math.floor((rgba[at] * alpha + under) / 255);
    rgba[at + 1] = Math.floor((rgba[at + 1] * alpha + under) / 255);
    rgba[at + 2] = Math.floor((rgba[at + 2] * alpha + under) / 255);
    rgba[at + 3] = 255;
  }
  return rgba;
}
