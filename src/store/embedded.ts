/**
 * The embedded backend: a SQLite catalog (the source of truth) plus one HNSW index per modality,
 * kept consistent by replaying the catalog's change log (DESIGN.md §5).
 *
 *   <dataDir>/catalog.sqlite                  items, keywords, thumbnails, vectors
 *   <dataDir>/{semantic,style}.json           snapshot descriptions (catalog version, params, checksum)
 *   <dataDir>/{semantic,style}.<pid>-<n>.hnsw the HNSW data file each description names
 *
 * Open: load each snapshot and replay `changesSince(snapshot version)`; a snapshot that is missing,
 * unreadable, built with other parameters or ahead of the catalog is rebuilt from `catalog.scan()`.
 * Because every replayed add is an upsert by seq and every delete is idempotent, replaying from
 * an older version than the index really holds is harmless.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createError } from '../errors.js';
import { HnswIndex, type HnswParams, type SnapshotState } from './hnsw-index.js';
import { SqliteCatalog, type VectorDims } from './sqlite-catalog.js';
import type { CatalogChanges, Modality, RebuildProgress, Store } from './types.js';
import type { PackStamp } from './pack-stamp.js';

export type { RebuildProgress } from './types.js';

export interface EmbeddedStoreOptions {
  dataDir: string;
  dims: VectorDims;
  hnsw: HnswParams;
  /** The model pack in use: recorded, and another pack's catalog is refused (see SqliteCatalog). */
  pack?: PackStamp;
}

export interface EmbeddedStore extends Store {
  readonly backend: 'sqlite';
  readonly catalog: SqliteCatalog;
  readonly indices: Record<Modality, HnswIndex>;
  /** What opening found for each snapshot, for logs and `parasol stats`. */
  readonly startup: Record<Modality, SnapshotState>;
  /** Brings both indices up to the catalog's version; one cheap query when they already are. */
  sync(): Promise<void>;
  /** Rebuilds both indices from the catalog, swaps them in and saves snapshots (`parasol reindex`). */
  rebuild(onProgress?: (progress: RebuildProgress) => void): Promise<void>;
  /** Writes snapshots of both indices (atomically, each with the version it holds). */
  save(): Promise<void>;
  /** Saves changed snapshots (unless `save: false`) and releases everything. */
  close(options?: { save?: boolean }): Promise<void>;
}

/** Narrows a store to the embedded backend (benchmarks and evaluations read its snapshots and HNSW indices). */
export function isEmbeddedStore(store: Store): store is EmbeddedStore {
  return store.backend === 'sqlite';
}

const MODALITIES: readonly Modality[] = ['semantic', 'style'];
const REBUILD_PAGE = 512;

export async function openEmbeddedStore(options: EmbeddedStoreOptions): Promise<EmbeddedStore> {
  await mkdir(options.dataDir, { recursive: true });
  const catalog = new SqliteCatalog({ path: join(options.dataDir, 'catalog.sqlite'), dims: options.dims, pack: options.pack });
  try {
    const opened = await Promise.all(
      MODALITIES.map((modality) =>
        HnswIndex.open({ modality, dim: options.dims[modality], dir: options.dataDir, ...options.hnsw }),
      ),
    );
    const indices = { semantic: opened[0].index, style: opened[1].index };
    const startup = { semantic: opened[0].snapshot, style: opened[1].snapshot };

    const catalogVersion = await catalog.version();
    for (const modality of MODALITIES) {
      const state = startup[modality];
      // An index that claims more than the catalog holds describes another (or a rolled-back) catalog.
      if (state.status === 'loaded' && state.version > catalogVersion) {
        startup[modality] = {
          status: 'unusable',
          reason: `snapshot is at catalog version ${state.version}, the catalog at ${catalogVersion}`,
        };
      }
    }

    const store = new Embedded(catalog, indices, startup, options);
    const stale = MODALITIES.filter((modality) => startup[modality].status !== 'loaded');
    if (stale.length > 0) await store.rebuildOnly(stale);
    else await store.sync();
    return store;
  } catch (error) {
    await catalog.close();
    throw error;
  }
}

class Embedded implements EmbeddedStore {
  readonly backend = 'sqlite' as const;
  /** sync, rebuild, save and close take turns so that each sees indices in a settled state. */
  private turn: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    readonly catalog: SqliteCatalog,
    readonly indices: Record<Modality, HnswIndex>,
    readonly startup: Record<Modality, SnapshotState>,
    private readonly options: EmbeddedStoreOptions,
  ) {}

  sync(): Promise<void> {
    return this.inTurn(async () => {
      this.assertOpen();
      await this.applyPendingChanges();
    });
  }

  rebuild(onProgress?: (progress: RebuildProgress) => void): Promise<void> {
    return this.rebuildOnly(MODALITIES, onProgress);
  }

  rebuildOnly(modalities: readonly Modality[], onProgress?: (progress: RebuildProgress) => void): Promise<void> {
    return this.inTurn(async () => {
      this.assertOpen();
      // Items committed while the scan runs are picked up by the replay from `startVersion`.
      const startVersion = await this.catalog.version();
      const total = (await this.catalog.stats()).items;
      const fresh = new Map(modalities.map((modality) => [modality, this.freshIndex(modality, total)]));
      let done = 0;
      onProgress?.({ done, total });
      for await (const page of this.catalog.scan(REBUILD_PAGE)) {
        for (const [modality, index] of fresh) {
          await index.add(page.map((item) => ({ seq: item.seq, vector: item[modality] })));
        }
        done += page.length;
        onProgress?.({ done, total: Math.max(total, done) });
      }
      for (const [modality, index] of fresh) {
        index.setVersion(startVersion);
        await this.indices[modality].replaceContents(index);
      }
      await this.applyPendingChanges();
      for (const modality of modalities) await this.indices[modality].save();
    });
  }

  save(): Promise<void> {
    return this.inTurn(async () => {
      this.assertOpen();
      await this.saveAll();
    });
  }

  close(options: { save?: boolean } = {}): Promise<void> {
    return this.inTurn(async () => {
      if (this.closed) return;
      this.closed = true;
      try {
        if (options.save ?? true) {
          for (const modality of MODALITIES) {
            if (this.indices[modality].isDirty()) await this.indices[modality].save();
          }
        }
      } finally {
        await Promise.all(MODALITIES.map((modality) => this.indices[modality].close()));
        await this.catalog.close();
      }
    });
  }

  private async applyPendingChanges(): Promise<void> {
    const catalogVersion = await this.catalog.version();
    const since = Math.min(...MODALITIES.map((modality) => this.indices[modality].version()));
    if (since >= catalogVersion) return;
    const changes = await this.catalog.changesSince(since);
    for (const modality of MODALITIES) await applyChanges(this.indices[modality], changes, modality);
  }

  private async saveAll(): Promise<void> {
    for (const modality of MODALITIES) await this.indices[modality].save();
  }

  private assertOpen(): void {
    if (this.closed) throw createError('NOT_READY', 'the embedded store is closed');
  }

  private freshIndex(modality: Modality, expectedPoints: number): HnswIndex {
    return HnswIndex.create({
      modality,
      dim: this.options.dims[modality],
      dir: this.options.dataDir,
      capacity: Math.max(1024, expectedPoints),
      ...this.options.hnsw,
    });
  }

  /** Runs `task` after everything queued before it. */
  private inTurn<T>(task: () => Promise<T>): Promise<T> {
    const result = this.turn.then(task);
    this.turn = result.catch(() => undefined);
    return result;
  }
}

async function applyChanges(index: HnswIndex, changes: CatalogChanges, modality: Modality): Promise<void> {
  if (index.version() >= changes.version) return;
  await index.add(changes.added.map((item) => ({ seq: item.seq, vector: item[modality] })));
  await index.remove(changes.deleted);
  index.setVersion(changes.version);
}
