/**
 * Items: read one, its thumbnail, add (uploaded files or any ingestion source), delete. Uploaded
 * files become an in-memory ingestion source, so they go through the same pipeline as
 * `parasol index` (probe, dedupe by content hash, thumbnail, encode, one catalog transaction),
 * and each file gets its own outcome.
 */
import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import type { LoadedEncoders } from '../encoders/index.js';
import { createError } from '../errors.js';
import { MAX_FACET_VALUES, type FacetValue, type Item, type Store } from '../store/types.js';
import { memorySource } from '../../indexer/sources/memory.js';
import { buildDemoIndex, demoSourceNamed, type DemoCorpusName, type DemoIndexOptions } from '../../indexer/demo-index.js';
import { ingest, type IngestOptions, type IngestSummary, type IngestTarget } from '../../indexer/ingest.js';
import type { IngestSource, SourceItemMeta } from '../../indexer/sources/types.js';
import { checkImage } from './images.js';
import { ThumbnailService } from './thumbnails.js';

export type { Item } from '../store/types.js';
export type { IngestSummary } from '../../indexer/ingest.js';
export type { IngestSource } from '../../indexer/sources/types.js';

/** What an uploader may say about one file (validated at the edge). */
export interface UploadMeta {
  id?: string;
  title?: string;
  tags?: string[];
  source?: string;
  license?: string;
  attribution?: string;
  url?: string;
}

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

export interface ItemServiceDeps {
  config: Config;
  encoders: LoadedEncoders;
  store: Store;
}

/** How a long ingestion run reports and stops. */
export type IngestRunOptions = Pick<IngestOptions, 'shouldStop' | 'progress' | 'onBatch'>;

interface Pending {
  index: number;
  key: string;
  bytes: Buffer;
  hash: string;
  meta: UploadMeta;
}

export class ItemService {
  private readonly thumbnails: ThumbnailService;

  constructor(private readonly deps: ItemServiceDeps) {
    this.thumbnails = new ThumbnailService({ catalog: deps.store.catalog, size: deps.config.ingest.thumbnailSize });
  }

  /** A live item, or undefined. */
  find(id: string): Promise<Item | undefined> {
    return this.deps.store.catalog.get(id);
  }

  /**
   * Every indexed source (a collection: an emoji set, the artwork corpus, a folder) with its live
   * items, most first, at most MAX_FACET_VALUES: what a client offers to switch between. The same
   * counting as a search's source facet, over the whole catalogue.
   */
  async sources(): Promise<FacetValue[]> {
    const counts = await this.deps.store.catalog.facets({ filter: {} }, ['source'], { limit: MAX_FACET_VALUES });
    return counts.source ?? [];
  }

  /** A live item; ITEM_NOT_FOUND otherwise. */
  async get(id: string): Promise<Item> {
    const item = await this.find(id);
    if (!item) throw createError('ITEM_NOT_FOUND', id);
    return item;
  }

  /** WebP bytes for a live item; null when no live item has the id, undefined when it has no picture. */
  thumbnail(id: string): Promise<Buffer | null | undefined> {
    return this.thumbnails.get(id);
  }

  /** IMAGE_TOO_LARGE / UNSUPPORTED_IMAGE unless the bytes are an image the encoders may read. */
  checkImage(bytes: Buffer): Promise<Buffer> {
    return checkImage(bytes, this.deps.config.limits.maxPixels);
  }

  /** Deletes a live item and takes it out of the indices; ITEM_NOT_FOUND when there is none. */
  async delete(id: string): Promise<void> {
    if (!(await this.deps.store.catalog.delete(id))) throw createError('ITEM_NOT_FOUND', id);
    await this.deps.store.sync();
  }

  /** Ingests a whole source (a folder, a manifest, the demo corpus) and saves index snapshots. */
  ingest(source: IngestSource, options: IngestRunOptions = {}): Promise<IngestSummary> {
    return ingest(source, this.deps.encoders, this.deps.store, { ...this.ingestLimits(), ...options });
  }

  /** A demo corpus as an ingestion source: the emoji sets, or the Open Clip Art drawings once fetched (NOT_FOUND before). */
  demoSource(name: DemoCorpusName = 'emoji'): Promise<IngestSource> {
    return demoSourceNamed(name, this.deps);
  }

  /** Builds (or resumes) the demo index. */
  indexDemo(options: DemoIndexOptions = {}): Promise<IngestSummary> {
    return buildDemoIndex(this.deps, options);
  }

  /** Ingests uploaded images with their metadata (metas[i] belongs to files[i]); one outcome per file. */
  async add(files: Buffer[], metas: Array<UploadMeta | null>): Promise<UploadOutcome[]> {
    if (metas.length > files.length) {
      throw createError('INVALID_QUERY', `items: ${metas.length} entries for ${files.length} images`);
    }
    const ids = metas.map((meta) => meta?.id).filter((id): id is string => id !== undefined);
    const repeated = ids.find((id, i) => ids.indexOf(id) !== i);
    if (repeated) throw createError('INVALID_QUERY', `items: id "${repeated}" is given twice`);

    const { catalog } = this.deps.store;
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
      const summary = await ingest(uploadSource(pending), this.deps.encoders, this.uploadTarget(), { ...this.ingestLimits(), progress: null });
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

  private ingestLimits(): Pick<IngestOptions, 'batchSize' | 'thumbnailSize' | 'maxPixels'> {
    const { config } = this.deps;
    return { batchSize: config.ingest.batchSize, thumbnailSize: config.ingest.thumbnailSize, maxPixels: config.limits.maxPixels };
  }

  /**
   * Index snapshots are not written per upload: that costs a full index write per request, and the
   * catalog (committed first) is replayed into the indices on the next start anyway. The server
   * saves snapshots when it stops.
   */
  private uploadTarget(): IngestTarget {
    const { store } = this.deps;
    return { catalog: store.catalog, sync: () => store.sync(), save: async () => {} };
  }
}

/** Uploaded files as an ingestion source: stored with their thumbnails, in the upload source unless named. */
function uploadSource(files: Pending[]): IngestSource {
  return memorySource(
    'upload',
    files.map((file) => {
      const meta: SourceItemMeta = { ...file.meta, source: file.meta.source ?? UPLOAD_SOURCE };
      return { key: file.key, meta, bytes: async () => file.bytes, storeThumbnail: true };
    }),
  );
}
