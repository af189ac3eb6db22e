/**
 * Whether bytes are an image the encoders may read: decodable by sharp within the pixel limit.
 * Uploads over HTTP and files named on the command line are checked the same way.
 */
import { createError, ParasolError } from '../errors.js';
import { probeImage, SkipError } from '../../indexer/ingest.js';

/**
 * Why bytes are not an acceptable image, as the catalogued error to answer with. sharp refuses to
 * even read the header of an image past limitInputPixels, which probeImage reports as unreadable;
 * for an upload that is a bomb, not a format problem.
 */
export function imageRejection(error: unknown, maxPixels: number): ParasolError {
  if (error instanceof ParasolError) return error;
  if (error instanceof SkipError) {
    if (error.kind === 'too-large' || /pixel limit/i.test(error.message)) return createError('IMAGE_TOO_LARGE', `${maxPixels} pixels`);
    return createError('UNSUPPORTED_IMAGE', error.message);
  }
  return createError('UNSUPPORTED_IMAGE', (error as Error).message ?? 'unreadable');
}

/** The bytes, once sharp decodes them within the pixel limit; IMAGE_TOO_LARGE / UNSUPPORTED_IMAGE otherwise. */
export async function checkImage(bytes: Buffer, maxPixels: number): Promise<Buffer> {
  try {
    await probeImage(bytes, maxPixels);
  } catch (error) {
    throw imageRejection(error, maxPixels);
  }
  return bytes;
}
