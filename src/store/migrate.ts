/**
 * Copies every live item of one catalog into another store (`parasol migrate --to elastic`):
 * metadata, public ids, content hashes, both vectors and thumbnails, in seq order.
 *
 * Backend-neutral: it only speaks the `Catalog` and `Store` contracts, so it copies embedded →
 * Elasticsearch as well as back. Interruptible and resumable: the target de-duplicates by content
 * hash, so a second run reports what is already there as duplicates and copies only the rest;
 * vectors are copied, never re-encoded.
 */
import { Progress, type ProgressSink } from '../progress.js';
import type { Catalog, ItemInput, ItemWithVectors, Store } from './types.js';

export interface MigrateOptions {
  /** Items per target batch (one addBatch, all-or-none). */
  batchSize?: number;
  progress?: ProgressSink | null;
  /** Checked between batches: true stops cleanly after the current batch. */
  shouldStop?: () => boolean;
}

export interface MigrateSummary {
  /** Live items read from the source. */
  seen: number;
  added: number;
  /** Already in the target (same content): a resumed run's earlier work, or content stored twice. */
  duplicates: number;
  /** Other ids of the copied images (aliases, with their own metadata), copied in the same batches. */
  aliases: number;
  seconds: number;
  itemsPerSecond: number;
  stopped: boolean;
}

const DEFAULT_BATCH = 256;

export async function migrateCatalog(from: Catalog, to: Store, options: MigrateOptions = {}): Promise<MigrateSummary> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  const started = Date.now();
  const total = (await from.stats()).items;
  const progress = new Progress('migrate', total, options.progress);
  const summary: MigrateSummary = { seen: 0, added: 0, duplicates: 0, aliases: 0, seconds: 0, itemsPerSecond: 0, stopped: false };
  for await (const page of from.scan(batchSize)) {
    const perItem = await Promise.all(
      page.map(async (item) => {
        const own = toInput(item, await from.thumbnail(item.id));
        // Each alias right after its item, in the same batch: the target makes it an alias again.
        const aliases = await Promise.all((item.aliases ?? []).map((id) => from.get(id)));
        return [own, ...aliases.flatMap((alias) => (alias ? [toInput({ ...alias, semantic: item.semantic, style: item.style }, undefined)] : []))];
      }),
    );
    const inputs = perItem.flat();
    const isAlias = perItem.flatMap((group) => group.map((_, i) => i > 0));
    const results = await to.catalog.addBatch(inputs);
    results.forEach((result, i) => {
      if (isAlias[i]) summary.aliases++;
      else if (result.status === 'added') summary.added++;
      else summary.duplicates++;
    });
    summary.seen += page.length;
    progress.tick(page.length);
    if (options.shouldStop?.()) {
      summary.stopped = true;
      break;
    }
  }
  await to.sync();
  await to.save();
  summary.seconds = (Date.now() - started) / 1000;
  summary.itemsPerSecond = summary.seconds > 0 ? summary.seen / summary.seconds : 0;
  return summary;
}

/** A stored item as input for another catalog; empty optional fields stay absent, as they were given. */
export function toInput(item: ItemWithVectors, thumbnail: Buffer | undefined): ItemInput {
  const input: ItemInput = {
    id: item.id,
    source: item.source,
    title: item.title,
    tags: item.tags,
    keywords: item.keywords,
    width: item.width,
    height: item.height,
    extra: item.extra,
    contentHash: item.contentHash,
    semantic: item.semantic,
    style: item.style,
  };
  if (item.externalId) input.externalId = item.externalId;
  if (item.license) input.license = item.license;
  if (item.attribution) input.attribution = item.attribution;
  if (item.url) input.url = item.url;
  if (item.description) input.description = item.description;
  if (thumbnail) input.thumbnail = thumbnail;
  return input;
}
