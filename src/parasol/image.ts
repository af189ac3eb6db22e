/**
 * Pixels in and out of the generator, and the provenance a generated PNG carries.
 *
 * In: image bytes -> planar RGB in [-1, 1] at the VAE's size (cover, centre crop, transparency
 * flattened on white), through the encoders' own decoder (src/encoders/image.ts).
 * Out: planar RGB in [0, 1] -> 8-bit PNG (sharp), then tEXt/iTXt chunks inserted after IHDR by
 * hand (sharp writes no text chunks of our choosing), each with its CRC-32. The bytes depend
 * only on the pixels and the text, so the same seed gives the same file.
 */
import sharp from 'sharp';
import { decodeImage, toModelInput, DEFAULT_LIMIT_INPUT_PIXELS } from '../encoders/image.js';
import type { ImageInput } from '../encoders/types.js';
import { interleavedStats, type ColourStats } from './colour.js';
import { foregroundSample, type ColourSample } from './palette.js';

/** Statistics of style images are computed on at most this many pixels (sampled evenly). */
const STATS_PIXELS = 1 << 18;

export interface ReadOptions {
  limitInputPixels?: number;
}

/** Image bytes -> planar RGB in [-1, 1], size × size (cover, centre crop, flattened on white). */
export async function imageToPixels(input: ImageInput, size: number, options: ReadOptions = {}): Promise<Float32Array> {
  const decoded = await decodeImage(input, { limitInputPixels: options.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS });
  return toModelInput(decoded, { size, resize: 'cover', background: '#ffffff', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
}

/** The colour statistics of an image (RGB in [0, 1], transparency over white), for colour transfer. */
export async function imageColourStats(input: ImageInput, options: ReadOptions = {}): Promise<ColourStats> {
  const decoded = await decodeImage(input, { limitInputPixels: options.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS });
  const pixels = decoded.width * decoded.height;
  return interleavedStats(decoded.pixels, 4, { stride: Math.max(1, Math.ceil(pixels / STATS_PIXELS)) });
}

/**
 * The drawn pixels of an image at the generator's size (as the content image is read: cover, over
 * white), for palette transfer; undefined when next to nothing is drawn.
 */
export async function imagePalette(input: ImageInput, size: number, options: ReadOptions = {}): Promise<ColourSample | undefined> {
  return foregroundSample(toUnitRange(await imageToPixels(input, size, options)));
}

/** Planar [-1, 1] (the VAE's range) -> planar [0, 1], in place or into `out`. */
export function toUnitRange(pixels: Float32Array, out: Float32Array = pixels): Float32Array {
  for (let i = 0; i < pixels.length; i++) out[i] = (pixels[i] + 1) / 2;
  return out;
}

/** Planar RGB in [0, 1] (clamped, rounded) -> interleaved 8-bit RGB. */
export function toRgbBytes(pixels: Float32Array, width: number, height: number): Buffer {
  const count = width * height;
  if (pixels.length !== 3 * count) throw new RangeError(`expected ${3 * count} values, got ${pixels.length}`);
  const out = Buffer.alloc(3 * count);
  for (let c = 0; c < 3; c++) {
    const plane = c * count;
    for (let i = 0; i < count; i++) {
      const v = pixels[plane + i];
      // NaN -> 0; rounding half up keeps the mapping independent of the platform.
      out[i * 3 + c] = v > 0 ? (v < 1 ? Math.floor(v * 255 + 0.5) : 255) : 0;
    }
  }
  return out;
}

/** Planar RGB in [0, 1] -> PNG bytes, with `text` as tEXt (Latin-1) or iTXt (UTF-8) chunks. */
export async function pixelsToPng(
  pixels: Float32Array,
  width: number,
  height: number,
  text: Readonly<Record<string, string>> = {},
): Promise<Buffer> {
  const png = await sharp(toRgbBytes(pixels, width, height), { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 9, adaptiveFiltering: false, palette: false })
    .toBuffer();
  return insertTextChunks(png, text);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A copy of `png` with one text chunk per entry right after IHDR, in the entries' order. */
export function insertTextChunks(png: Uint8Array, text: Readonly<Record<string, string>>): Buffer {
  const bytes = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (bytes.length < 33 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE) || bytes.toString('latin1', 12, 16) !== 'IHDR') {
    throw new RangeError('not a PNG (no signature and IHDR)');
  }
  const ihdrEnd = 8 + 12 + bytes.readUInt32BE(8);
  const chunks = Object.entries(text).map(([keyword, value]) => textChunk(keyword, value));
  return Buffer.concat([bytes.subarray(0, ihdrEnd), ...chunks, bytes.subarray(ihdrEnd)]);
}

/** Every tEXt and uncompressed iTXt chunk of a PNG, keyword -> text (later chunks win). */
export function readTextChunks(png: Uint8Array): Record<string, string> {
  const bytes = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (bytes.length < 8 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE)) throw new RangeError('not a PNG');
  const out: Record<string, string> = {};
  let offset = 8;
  while (offset + 12 <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    if (offset + 12 + length > bytes.length) throw new RangeError(`truncated ${type} chunk`);
    if (crc32(bytes.subarray(offset + 4, offset + 8 + length)) !== bytes.readUInt32BE(offset + 8 + length)) {
      throw new RangeError(`bad CRC in ${type} chunk`);
    }
    if (type === 'tEXt') {
      const sep = data.indexOf(0);
      if (sep > 0) out[data.toString('latin1', 0, sep)] = data.toString('latin1', sep + 1);
    } else if (type === 'iTXt') {
      const sep = data.indexOf(0);
      // keyword \0 compression-flag compression-method language \0 translated-keyword \0 text
      if (sep > 0 && data[sep + 1] === 0) {
        const languageEnd = data.indexOf(0, sep + 3);
        const translatedEnd = languageEnd >= 0 ? data.indexOf(0, languageEnd + 1) : -1;
        if (translatedEnd >= 0) out[data.toString('latin1', 0, sep)] = data.toString('utf8', translatedEnd + 1);
      }
    } else if (type === 'IEND') {
      break;
    }
    offset += 12 + length;
  }
  return out;
}

function textChunk(keyword: string, value: string): Buffer {
  if (!/^[\x20-\x7e\xa1-\xff]{1,79}$/.test(keyword) || /^ | $| {2}/.test(keyword)) {
    throw new RangeError(`invalid PNG text keyword "${keyword}"`);
  }
  const latin1 = /^[\x00-\xff]*$/.test(value) && !value.includes('\0');
  const data = latin1
    ? Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(value, 'latin1')])
    : Buffer.concat([
        Buffer.from(keyword, 'latin1'),
        // \0, not compressed, method 0, no language \0, no translated keyword \0
        Buffer.from([0, 0, 0, 0, 0]),
        Buffer.from(value, 'utf8'),
      ]);
  const type = Buffer.from(latin1 ? 'tEXt' : 'iTXt', 'latin1');
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  type.copy(chunk, 4);
  data.copy(chunk, 8);
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + data.length)), 8 + data.length);
  return chunk;
}

/** CRC-32 (ISO 3309, as PNG uses), table-driven; node:zlib's crc32 needs Node ≥ 20.15. */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** What a generated image says about itself. */
export interface Provenance {
  /** The program, e.g. "Parasol". */
  software: string;
  /** The sampler, e.g. "parasol-sampler/1". */
  generator: string;
  /** "name@version" of the model pack. */
  pack: string;
  /** The generation parameters, serialised as JSON. */
  parameters: unknown;
  /** Ids of the content and style sources, where known. */
  sources: { content: string | null; style: string[] };
}

export const PROVENANCE_KEYS = Object.freeze({
  software: 'Software',
  generator: 'parasol:generator',
  pack: 'parasol:pack',
  parameters: 'parasol:parameters',
  sources: 'parasol:sources',
  aiGenerated: 'AI-generated',
  digitalSourceType: 'DigitalSourceType',
});

/** IPTC's term for media created by a trained model. */
export const TRAINED_ALGORITHMIC_MEDIA = 'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia';

export function provenanceText(p: Provenance): Record<string, string> {
  return {
    [PROVENANCE_KEYS.software]: p.software,
    [PROVENANCE_KEYS.generator]: p.generator,
    [PROVENANCE_KEYS.pack]: p.pack,
    [PROVENANCE_KEYS.parameters]: JSON.stringify(p.parameters),
    [PROVENANCE_KEYS.sources]: JSON.stringify(p.sources),
    [PROVENANCE_KEYS.aiGenerated]: 'true',
    [PROVENANCE_KEYS.digitalSourceType]: TRAINED_ALGORITHMIC_MEDIA,
  };
}

/** The provenance of a PNG written by pixelsToPng(…, provenanceText(p)), or undefined if it has none. */
export function readProvenance(png: Uint8Array): (Provenance & { aiGenerated: boolean }) | undefined {
  const text = readTextChunks(png);
  const parameters = text[PROVENANCE_KEYS.parameters];
  if (parameters === undefined) return undefined;
  return {
    software: text[PROVENANCE_KEYS.software] ?? '',
    generator: text[PROVENANCE_KEYS.generator] ?? '',
    pack: text[PROVENANCE_KEYS.pack] ?? '',
    parameters: JSON.parse(parameters) as unknown,
    sources: JSON.parse(text[PROVENANCE_KEYS.sources] ?? '{"content":null,"style":[]}') as Provenance['sources'],
    aiGenerated: text[PROVENANCE_KEYS.aiGenerated] === 'true',
  };
}
