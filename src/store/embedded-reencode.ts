/**
 * Re-encoding an embedded index with another model pack (`parasol reindex` after a pack change).
 *
 * The catalog's vectors are replaced in place, a batch per transaction, each recording how far it
 * got, so an interrupted run (Ctrl-C, a crash, a power cut) resumes after the last committed batch.
 * Until the last batch is in, the catalog is marked half re-encoded and nothing but the re-encode
 * opens it (and a server that had it open refuses new items), so no search ever mixes two packs'
 * vectors. The HNSW snapshots are dropped before the first vector changes; the next open rebuilds
 * them from the re-encoded catalog.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SqliteCatalog } from './sqlite-catalog.js';
import { createError } from '../errors.js';
import type { Catalog, Item, ReencodeOptions, ReencodeResult, StoreRecord } from './types.js';

const MODALITIES = ['semantic', 'style'] as const;

export async function reencodeEmbedded(dataDir: string, options: ReencodeOptions): Promise<ReencodeResult> {
  const catalog = new SqliteCatalog({ path: join(dataDir, 'catalog.sqlite'), dims: options.dims, reencoding: true });
  try {
    const previous = catalog.storedPack();
    // Writes are checked against the target's dimensions (commitReencoded).
    let state = catalog.beginReencode(options.target, options.dims);
    for (const modality of MODALITIES) await rm(join(dataDir, `${modality}.json`), { force: true });
    const total = (await catalog.stats()).items;
    const resumedFrom = catalog.liveCountUpTo(state.after);
    let done = resumedFrom;
    let encoded = 0;
    options.onProgress?.({ done, total });
    for (;;) {
      if (options.shouldStop?.()) return { finished: false, encoded, resumedFrom, previous };
      const page = catalog.reencodePage(state.after, options.batchSize);
      if (page.length === 0) break;
      const vectors = await options.encode(page, catalog);
      const after = page[page.length - 1].seq;
      catalog.commitReencoded(
        page.map((item, i) => ({ seq: item.seq, semantic: vectors[i].semantic, style: vectors[i].style })),
        after,
      );
      state = { ...state, after };
      done += page.length;
      encoded += page.length;
      options.onProgress?.({ done, total: Math.max(total, done) });
    }
    catalog.finishReencode();
    return { finished: true, encoded, resumedFrom, previous };
  } finally {
    await catalog.close();
  }
}

/** What the catalog in `dataDir` records about the pack that built it (nothing when there is no catalog yet). */
export async function readEmbeddedRecord(dataDir: string): Promise<StoreRecord> {
  const path = join(dataDir, 'catalog.sqlite');
  if (!existsSync(path)) return {};
  const catalog = new SqliteCatalog({ path, dims: { semantic: 1, style: 1 }, reencoding: true });
  try {
    const reencode = catalog.reencodeState();
    return { pack: catalog.storedPack(), dims: catalog.storedDims(), reencoding: reencode?.target, items: (await catalog.stats()).items };
  } finally {
    await catalog.close();
  }
}

/**
 * Every live item of the catalog in `dataDir` with a reader of its thumbnails, whichever pack built
 * it (`parasol pack fit-style --data` fits a new pack's projection on an index's stored images).
 */
export async function readEmbeddedItems<T>(dataDir: string, fn: (items: Item[], catalog: Pick<Catalog, 'thumbnail'>) => Promise<T>): Promise<T> {
  const path = join(dataDir, 'catalog.sqlite');
  if (!existsSync(path)) throw createError('BAD_REQUEST', `${dataDir}: holds no index (no catalog.sqlite)`);
  const catalog = new SqliteCatalog({ path, dims: { semantic: 1, style: 1 }, reencoding: true });
  try {
    const items: Item[] = [];
    for (let after = 0; ; ) {
      const page = catalog.reencodePage(after, 10_000);
      items.push(...page);
      if (page.length < 10_000) break;
      after = page[page.length - 1].seq;
    }
    return await fn(items, catalog);
  } finally {
    await catalog.close();
  }
}
