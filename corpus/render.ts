/** Renders an Iconify icon to a raster with sharp (librsvg), on a white background. */
import { crc32 } from 'node:zlib';
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

/** 72 dpi in pixels per metre, as a PNG's pHYs chunk holds it: what librsvg gives a rendered SVG. */
const SVG_PIXELS_PER_METRE = Math.round(72 / 0.0254);

/**
 * The icon as renderIcon writes it (the same PNG, byte for byte, so content hashes are unchanged)
 * together with its pixels (8-bit RGBA, opaque), from one rasterisation: ingestion then neither
 * probes nor decodes the PNG again, which on icons costs as much as rendering them.
 */
export async function renderIconWithPixels(
  set: IconifySet,
  icon: IconifyIcon,
  size: number,
): Promise<{ png: Buffer; pixels: { pixels: Buffer; width: number; height: number } }> {
  const svg = Buffer.from(iconToSvg(set, icon, size));
  // The SVG is drawn at size × size already; the resize is renderIcon's guard against any other size.
  let { data, info } = await sharp(svg).flatten({ background: '#ffffff' }).raw().toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size) {
    ({ data, info } = await sharp(svg)
      .resize(size, size, { fit: 'contain', background: '#ffffff' })
      .flatten({ background: '#ffffff' })
      .raw()
      .toBuffer({ resolveWithObject: true }));
  }
  const { width, height, channels } = info;
  if (channels !== 3) throw new Error(`rendered ${channels} channels, expected 3`);
  const encoded = await sharp(data, { raw: { width, height, channels } }).png().toBuffer();
  // From raw pixels sharp writes its default density; the SVG's 72 dpi keeps the bytes renderIcon's.
  const png = withPngDensity(encoded, SVG_PIXELS_PER_METRE);
  const rgba = Buffer.alloc(width * height * 4, 255);
  for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
    rgba[j] = data[i];
    rgba[j + 1] = data[i + 1];
    rgba[j + 2] = data[i + 2];
  }
  return { png, pixels: { pixels: rgba, width, height } };
}

/** The PNG with its pHYs chunk (physical pixel size) set to `pixelsPerMetre` on both axes. */
export function withPngDensity(png: Buffer, pixelsPerMetre: number): Buffer {
  const chunk = Buffer.alloc(4 + 4 + 9 + 4);
  chunk.writeUInt32BE(9, 0);
  chunk.write('pHYs', 4, 'latin1');
  chunk.writeUInt32BE(pixelsPerMetre, 8);
  chunk.writeUInt32BE(pixelsPerMetre, 12);
  chunk.writeUInt8(1, 16); // unit: the metre
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 17)), 17);
  // Chunks follow the 8-byte signature: length, type, data, CRC. pHYs must come before IDAT.
  let at = 8;
  while (at + 8 <= png.length) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    if (type === 'pHYs') return Buffer.concat([png.subarray(0, at), chunk, png.subarray(at + 12 + length)]);
    if (type === 'IDAT' || type === 'IEND') return Buffer.concat([png.subarray(0, at), chunk, png.subarray(at)]);
    at += 12 + length;
  }
  throw new Error('not a PNG: no image data');
}
