/** Renders an Iconify icon to a raster with sharp (librsvg), on a white background. */
import sharp from 'sharp';
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
