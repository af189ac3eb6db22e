/**
 * Upload payloads that must never become items: not images, truncated or corrupt images, and
 * decompression bombs whose headers claim far more pixels than the server allows. Built once.
 */
import { crc32 } from 'node:zlib';
import sharp from 'sharp';

export interface BadFile {
  name: string;
  filename: string;
  contentType: string;
  bytes: Buffer;
}

/** A 1×1 PNG whose IHDR claims side×side pixels, CRC fixed up so the header is valid. */
export async function pngBomb(side = 30_000): Promise<Buffer> {
  const png = Buffer.from(await sharp({ create: { width: 1, height: 1, channels: 3, background: '#ffffff' } }).png().toBuffer());
  png.writeUInt32BE(side, 16);
  png.writeUInt32BE(side, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)) >>> 0, 29);
  return png;
}

/** A GIF header (logical screen 65535×65535) with no image data. */
function gifBomb(): Buffer {
  return Buffer.concat([Buffer.from('GIF89a', 'latin1'), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00]), Buffer.from([0x3b])]);
}

export async function badFiles(): Promise<BadFile[]> {
  const real = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#3366cc' } }).png().toBuffer();
  const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#cc6633' } }).jpeg().toBuffer();
  const corrupt = Buffer.from(real);
  for (let i = 40; i < corrupt.length - 12; i += 7) corrupt[i] ^= 0xa5; // data chunks garbled, header intact
  const files: Array<[string, string, Buffer]> = [
    ['text', 'text/plain', Buffer.from('this is not an image\n'.repeat(20))],
    ['empty', 'image/png', Buffer.alloc(0)],
    ['png-signature-only', 'image/png', real.subarray(0, 8)],
    ['png-truncated-header', 'image/png', real.subarray(0, 20)],
    ['png-truncated-half', 'image/png', real.subarray(0, Math.floor(real.length / 2))],
    ['png-corrupt-data', 'image/png', corrupt],
    ['jpeg-truncated', 'image/jpeg', jpeg.subarray(0, Math.floor(jpeg.length / 3))],
    ['jpeg-soi-only', 'image/jpeg', Buffer.from([0xff, 0xd8, 0xff])],
    ['png-bomb-30000', 'image/png', await pngBomb(30_000)],
    ['png-bomb-max', 'image/png', await pngBomb(0x7fffffff)],
    ['gif-bomb', 'image/gif', gifBomb()],
    ['svg-huge', 'image/svg+xml', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="200000" height="200000"><rect width="10" height="10"/></svg>')],
    ['svg-xxe', 'image/svg+xml', Buffer.from('<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><text>&x;</text></svg>')],
    ['html', 'text/html', Buffer.from('<!doctype html><html><body>hi</body></html>')],
    ['zip', 'application/zip', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0])],
    ['random', 'application/octet-stream', Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 131 + 7) & 0xff))],
  ];
  return files.map(([name, contentType, bytes]) => ({ name, filename: `${name}.bin`, contentType, bytes }));
}

export interface Part {
  name: string;
  filename?: string;
  contentType?: string;
  body: Buffer | string;
}

/** A multipart/form-data body (boundary given, so callers can also lie about it). */
export function multipart(boundary: string, parts: Part[], options: { truncate?: boolean } = {}): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
    if (part.filename !== undefined) head += `; filename="${part.filename}"`;
    head += '\r\n';
    if (part.contentType) head += `Content-Type: ${part.contentType}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`), Buffer.isBuffer(part.body) ? part.body : Buffer.from(part.body), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  const body = Buffer.concat(chunks);
  return options.truncate ? body.subarray(0, Math.max(1, Math.floor(body.length * 0.6))) : body;
}
