/**
 * Content hashes, by which ingestion dedupes. An image read from bytes is identified by the
 * SHA-256 of those bytes. An image a source rasterises itself (the demo's SVGs) is identified by
 * its pixels instead, so no PNG has to be written just to be hashed: the SHA-256 of a domain
 * string naming this scheme, the size and the RGBA bytes. Both are 64 hex digits; the domain keeps
 * the two schemes apart. Equal pixels give equal PNG bytes and back (the encoder is
 * deterministic), so repeats dedupe exactly as they did when rendered items were hashed by their
 * PNG; stores built that way keep that scheme (see ingest.ts).
 */
import { createHash } from 'node:crypto';
import type { DecodedImage } from '../src/encoders/image.js';

/** Names the pixel scheme inside every pixel hash; a new scheme gets a new domain. */
export const PIXEL_HASH_DOMAIN = 'parasol/content-hash/rgba8/v1';

export function bytesHash(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function pixelsHash(image: DecodedImage): string {
  const { width, height, pixels } = image;
  if (pixels.length !== width * height * 4) throw new Error(`pixelsHash: ${pixels.length} bytes for ${width}×${height} RGBA`);
  return createHash('sha256').update(`${PIXEL_HASH_DOMAIN}\n${width}x${height}\n`).update(pixels).digest('hex');
}
