/**
 * `parasol reindex` with another model pack: every stored item re-encoded from its stored image by
 * the current pack. What an item's stored image is: a demo emoji is re-rendered from its SVG at the
 * pack's input size (as it was indexed); anything else uses the thumbnail the catalog keeps
 * (config.ingest.thumbnailSize on its longer side, WebP) — the originals are not kept, so vectors
 * re-encoded from it are close to, not identical with, what indexing the originals would give.
 */
import type { LoadedEncoders } from '../encoders/index.js';
import { createError } from '../errors.js';
import type { Catalog, Item, ItemEncoder, ReencodeOptions, ReencodeResult, StoreRecord } from '../store/types.js';
import { readEmbeddedItems } from '../store/embedded-reencode.js';

export { describeStamp } from '../store/pack-stamp.js';
export type { StoreRecord } from '../store/types.js';
export { readEmbeddedItems as readIndexedItems };
import { renderDemoImage } from '../../corpus/thumbnails.js';
import { DEMO_SOURCE_KIND } from '../../indexer/sources/demo.js';

/** An item's stored image, or undefined when the store keeps none for it. */
export type StoredImageReader = (item: Item, catalog: Pick<Catalog, 'thumbnail'>) => Promise<Buffer | undefined>;

export function storedImageReader(renderSize: number): StoredImageReader {
  return async (item, catalog) => {
    if (item.extra.kind === DEMO_SOURCE_KIND) {
      const { set, iconName } = item.extra;
      if (typeof set === 'string' && typeof iconName === 'string') {
        const rendered = await renderDemoImage(set, iconName, renderSize, 'png');
        if (rendered) return rendered;
      }
    }
    return catalog.thumbnail(item.id);
  };
}

/** The encoders' largest input size (demo SVGs are rendered straight to it, as indexing does). */
export function renderSizeFor(encoders: Pick<LoadedEncoders, 'manifest'>): number {
  return Math.max(encoders.manifest.semantic.image.preprocess.size, encoders.manifest.style.image.preprocess.size);
}

/** Both vectors of each item by `encoders`, from its stored image; refuses (naming the item) when one has none. */
export function itemEncoder(encoders: Pick<LoadedEncoders, 'prepareImage' | 'describePrepared'>, read: StoredImageReader): ItemEncoder {
  return async (items, catalog) => {
    const prepared = await Promise.all(
      items.map(async (item) => {
        const bytes = await read(item, catalog);
        if (!bytes) {
          throw createError(
            'UNPROCESSABLE',
            `item "${item.id}" has no stored image to re-encode from (no thumbnail); delete it or index its original again, then rerun \`parasol reindex\``,
          );
        }
        return encoders.prepareImage(bytes);
      }),
    );
    return encoders.describePrepared(prepared);
  };
}

/** Whether a store's vectors must be re-encoded to be used with the pack `current` (stamp and dimensions). */
export function needsReencode(record: StoreRecord, current: { fingerprint: string }, dims: { semantic: number; style: number }): boolean {
  if (record.items === undefined) return false;
  if (record.reencoding) return true;
  if (record.pack && record.pack.fingerprint !== current.fingerprint) return true;
  return record.dims !== undefined && (record.dims.semantic !== dims.semantic || record.dims.style !== dims.style);
}

export type Reencoder = (options: ReencodeOptions) => Promise<ReencodeResult>;

export interface ReencodeRun {
  batchSize: number;
  onProgress?: ReencodeOptions['onProgress'];
  shouldStop?: () => boolean;
}

/** Re-encodes the store behind `reencode` with the pack `encoders` loaded. */
export function reencodeWith(
  encoders: Pick<LoadedEncoders, 'stamp' | 'semanticDim' | 'styleDim' | 'prepareImage' | 'describePrepared'>,
  read: StoredImageReader,
  reencode: Reencoder,
  run: ReencodeRun,
): Promise<ReencodeResult> {
  return reencode({
    target: encoders.stamp,
    dims: { semantic: encoders.semanticDim, style: encoders.styleDim },
    encode: itemEncoder(encoders, read),
    batchSize: run.batchSize,
    onProgress: run.onProgress,
    shouldStop: run.shouldStop,
  });
}
