/**
 * Adding items over HTTP: uploaded files become an in-memory ingestion source, so they go through
 * the same pipeline as `parasol index` (probe, dedupe by content hash, thumbnail, encode, one
 * catalog transaction), and each file gets its own outcome.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ParasolContext } from '../context.js';
import { createError } from '../errors.js';
import { ingest, type IngestTarget } from '../../indexer/ingest.js';
import type { IngestSource, SourceItem, SourceItemMeta } from '../../indexer/sources/types.js';
import { idSchema } from './validate.js';

const text = (max: number) => z.string().trim().max(max);

export const uploadMetaSchema = z.strictObject({
  id: idSchema.optional(),
  title: text(300).optional(),
  tags: z.array(text(100).min(1)).max(50).optional(),
  source: text(100).min(1).optional(),
  license: text(200).optional(),
  attribution: text(500).optional(),
  // Shown as a link by clients: only web URLs, never javascript: or data:.
  url: z.url({ protocol: /^https?$/ }).max(2000).optional(),
});

export type UploadMeta = z.output<typeof uploadMetaSchema>;

export const uploadMetaListSchema = z.array(uploadMetaSchema.nullable()).max(1000);

export type UploadStatus = 'added' | 'duplicate' | 'skipped';

export interface UploadOutcome {
  /** The file's position among the uploaded `images`. */
  index: number;
  id?: string;
  status: UploadStatus;
  /** For a duplicate: the stored item holding the image (the file's own id, if new, is kept as its alias). */
  existingId?: string;
  reason?: string;
}

export const UPLOAD_SOURCE = 'upload';

interface Pending {
  index: number;
  key: string;
  bytes: Buffer;
  hash: string;
  meta: UploadMeta;
}

/** Ingests uploaded images with their metadata (metas[i] belongs to files[i]); one outcome per file. */
export async function addUploadedItems(context: ParasolContext, files: Buffer[], metas: Array<UploadMeta | null>): Promise<UploadOutcome[]> {
  if (metas.length > files.length) {
    throw createError('INVALID_QUERY', `items: ${metas.length} entries for ${files.length} images`);
  }
  const ids = metas.map((meta) => meta?.id).filter((id): id is string => id !== undefined);
  const repeated = ids.find((id, i) => ids.indexOf(id) !== i);
  if (repeated) throw createError('INVALID_QUERY', `items: id "${repeated}" is given twice`);

  const { catalog } = context.store;
  const outcomes: Array<UploadOutcome | undefined> = files.map(() => undefined);
  const pending: Pending[] = [];
  for (const [index, bytes] of files.entries()) {
    const meta = metas[index] ?? {};
    const hash = createHash('sha256').update(bytes).digest('hex');
    // A taken id would fail the whole catalog batch: settle it for this file alone, up front.
    const taken = meta.id ? await catalog.get(meta.id) : undefined;
    if (taken) {
      outcomes[index] =
        taken.contentHash === hash
          ? { index, id: taken.id, status: 'duplicate', existingId: taken.aliasOf ?? taken.id }
          : { index, id: taken.id, status: 'skipped', reason: 'an item with this id already exists with different content' };
      continue;
    }
    pending.push({ index, key: `images[${index}]`, bytes, hash, meta });
  }

  if (pending.length > 0) {
    const summary = await ingest(memorySource(pending), context.encoders, ingestTarget(context), {
      batchSize: context.config.ingest.batchSize,
      thumbnailSize: context.config.ingest.thumbnailSize,
      maxPixels: context.config.limits.maxPixels,
      progress: null,
    });
    const skipped = new Map(summary.skippedRows.map((row) => [row.key, row.reason]));
    const added = new Set(summary.addedIds);
    const duplicates = new Map(summary.duplicateRows.map((row) => [row.key, row]));
    for (const file of pending) {
      const reason = skipped.get(file.key);
      if (reason !== undefined) {
        outcomes[file.index] = { index: file.index, status: 'skipped', reason };
        continue;
      }
      const duplicate = duplicates.get(file.key);
      if (duplicate) {
        outcomes[file.index] = { index: file.index, id: duplicate.id, status: 'duplicate', existingId: duplicate.existingId };
        continue;
      }
      const stored = await catalog.findByHash(file.hash);
      if (!stored) {
        outcomes[file.index] = { index: file.index, status: 'skipped', reason: 'not stored' };
        continue;
      }
      // The same bytes twice in one upload: the first copy is the one added.
      const first = added.delete(stored.id);
      outcomes[file.index] = { index: file.index, id: stored.id, status: first ? 'added' : 'duplicate' };
    }
  }
  return outcomes.map((outcome, index) => outcome ?? { index, status: 'skipped', reason: 'not processed' });
}

function memorySource(files: Pending[]): IngestSource {
  return {
    label: 'upload',
    total: files.length,
    rejected: [],
    async *items(): AsyncIterable<SourceItem> {
      for (const file of files) {
        const meta: SourceItemMeta = { ...file.meta, source: file.meta.source ?? UPLOAD_SOURCE };
        yield { key: file.key, meta, bytes: async () => file.bytes, storeThumbnail: true };
      }
    },
  };
}

/**
 * Index snapshots are not written per upload: that costs a full index write per request, and the
 * catalog (committed first) is replayed into the indices on the next start anyway. The server
 * saves snapshots when it stops.
 */
function ingestTarget(context: ParasolContext): IngestTarget {
  return { catalog: context.store.catalog, sync: () => context.store.sync(), save: async () => {} };
}
