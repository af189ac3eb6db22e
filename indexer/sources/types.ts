/** What an ingestion source yields: metadata plus a way to read the image bytes. */
import type { DecodedImage } from '../../src/encoders/image.js';

export interface SourceItemMeta {
  id?: string;
  externalId?: string;
  title?: string;
  tags?: string[];
  keywords?: string[];
  source?: string;
  license?: string;
  attribution?: string;
  url?: string;
  extra?: Record<string, unknown>;
}

export interface SourceItem {
  /** Where the item came from, for progress and skip reports (a path, a line number, an id). */
  key: string;
  meta: SourceItemMeta;
  /** Reads the original bytes; a rejection skips the item with its reason. */
  bytes(): Promise<Buffer>;
  /**
   * The pixels, for a source that rasterises its images itself (the demo renders its SVGs):
   * ingestion then neither writes, probes nor decodes an encoded image, and identifies the item
   * by these pixels (content-hash.ts). They must be what decoding `bytes()` gives, which is read
   * only where an encoded image is still needed (a thumbnail, a store hashed by bytes).
   */
  rendered?(): Promise<DecodedImage>;
  /** Vector originals (the demo's SVGs) are re-rendered on demand instead of storing a thumbnail. */
  storeThumbnail: boolean;
}

export interface SkippedRow {
  key: string;
  reason: string;
}

export interface IngestSource {
  /** A short description for progress lines. */
  readonly label: string;
  /** Items the source yields, if known in advance (for the ETA). */
  readonly total: number;
  /** Rows rejected while reading the source itself (bad manifest lines). */
  readonly rejected: SkippedRow[];
  items(): AsyncIterable<SourceItem>;
}
