/**
 * The embedded backend: a SQLite catalog (the source of truth) plus one HNSW index per modality,
 * kept consistent by replaying the catalog's change log (DESIGN.md §5).
 *
 *   <dataDir>/catalog.sqlite                  items, keywords, thumbnails, vectors
 *   <dataDir>/{semantic,style,joint}.json     snapshot descriptions (catalog version, params, checksum)
 *   <dataDir>/{semantic,style,joint}.<pid>-<n>.hnsw the HNSW data file each description names
 *
 * The joint index holds [semantic, style]/√2 per item (see IndexName): a weighted content + style
 * query searches it once instead of both modality indices (`joint: false` leaves it out).
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
import type { CatalogChanges, IndexName, ItemWithVectors, Modality, RebuildProgress, Store, StoreIndices } from './types.js';
import type { PackStamp } from './pack-stamp.js';
import { jointVector } from '../vectors.js';

export type { RebuildProgress } from './types.js';

export interface EmbeddedStoreOptions {
  dataDir: string;
  dims: VectorDims;
  hnsw: HnswParams;
  /** The model pack in use: recorded, and another pack's catalog is refused (see SqliteCatalog). */
  pack?: PackStamp;
  /** Keep the joint index (default true): fused queries at the cost of one, for about 90% more index memory. */
  joint?: boolean;
  /** The joint graph's degree (default hnsw.M): its 384-d, flatter space needs more links for the same recall. */
  jointM?: number;
  /** The joint graph's build breadth (default hnsw.efConstruction): most of an ingested item's graph time goes to its 384-d inserts. */
  jointEfConstruction?: number;
  /** The joint graph's search breadth (default hnsw.efSearch): its searches cost more per step than a modality's. */
  jointEfSearch?: number;
}

export interface EmbeddedStore extends Store {
  readonly backend: 'sqlite';
  readonly catalog: SqliteCatalog;
  readonly indices: StoreIndices<HnswIndex>;
  /** What opening found for each snapshot, for logs and `parasol stats` (joint: when kept). */
  readonly startup: Record<Modality, SnapshotState> & { joint?: SnapshotState };
  /** Brings every index up to the catalog's version; one cheap query when they already are. */
  sync(): Promise<void>;
  /** Rebuilds every index from the catalog, swaps them in and saves snapshots (`parasol reindex`). */
  rebuild(onProgress?: (progress: RebuildProgress) => void): Promise<void>;
  /** Writes snapshots of every index (atomically, each with the version it holds). */
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

/** The point an item is in a given index. */
function pointOf(name: IndexName, item: ItemWithVectors): Float32Array {
  return name === 'joint' ? jointVector(item.semantic, item.style) : item[name];
}

/** Only the graph's parameters (a whole config section may be handed in); the joint graph may have its own degree and breadths. */
function hnswParams(name: IndexName, options: EmbeddedStoreOptions): HnswParams {
  const { M, efConstruction, efSearch } = options.hnsw;
  if (name !== 'joint') return { M, efConstruction, efSearch };
  return { M: options.jointM ?? M, efConstruction: options.jointEfConstruction ?? efConstruction, efSearch: options.jointEfSearch ?? efSearch };
}

function dimOf(name: IndexName, dims: VectorDims): number {
  return name === 'joint' ? dims.semantic + dims.style : dims[name];
}

export async function openEmbeddedStore(options: EmbeddedStoreOptions): Promise<EmbeddedStore> {
  await mkdir(options.dataDir, { recursive: true });
  const catalog = new SqliteCatalog({ path: join(options.dataDir, 'catalog.sqlite'), dims: options.dims, pack: options.pack });
  try {
    const names: IndexName[] = options.joint === false ? [...MODALITIES] : [...MODALITIES, 'joint'];
    const opened = await Promise.all(
      names.map((name) => HnswIndex.open({ modality: name, dim: dimOf(name, options.dims), dir: options.dataDir, ...hnswParams(name, options) })),
    );
    const all = new Map(names.map((name, i) => [name, opened[i].index]));
    const startup: Record<Modality, SnapshotState> & { joint?: SnapshotState } = { semantic: opened[0].snapshot, style: opened[1].snapshot };
    if (opened[2]) startup.joint = opened[2].snapshot;

    const catalogVersion = await catalog.version();
    for (const name of names) {
      const state = startup[name] as SnapshotState;
      // An index that claims more than the catalog holds describes another (or a rolled-back) catalog.
      if (state.status === 'loaded' && state.version > catalogVersion) {
        startup[name] = {
          status: 'unusable',
          reason: `snapshot is at catalog version ${state.version}, the catalog at ${catalogVersion}`,
        };
      }
    }

    const store = new Embedded(catalog, all, startup, options);
    const stale = names.filter((name) => startup[name]?.status !== 'loaded');
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
  readonly indices: StoreIndices<HnswIndex>;

  constructor(
    readonly catalog: SqliteCatalog,
    /** Every index kept, by name: both modalities and, unless turned off, the joint one. */
    private readonly all: ReadonlyMap<IndexName, HnswIndex>,
    readonly startup: Record<Modality, SnapshotState> & { joint?: SnapshotState },
    private readonly options: EmbeddedStoreOptions,
  ) {
    this.indices = { semantic: all.get('semantic') as HnswIndex, style: all.get('style') as HnswIndex };
    const joint = all.get('joint');
    if (joint) this.indices.joint = joint;
  }

  sync(): Promise<void> {
    return this.inTurn(async () => {
      this.assertOpen();
      await this.applyPendingChanges();
    });
  }

  rebuild(onProgress?: (progress: RebuildProgress) => void): Promise<void> {
    return this.rebuildOnly([...this.all.keys()], onProgress);
  }

  rebuildOnly(names: readonly IndexName[], onProgress?: (progress: RebuildProgress) => void): Promise<void> {
    return this.inTurn(async () => {
      this.assertOpen();
      // Items committed while the scan runs are picked up by the replay from `startVersion`.
      const startVersion = await this.catalog.version();
      const total = (await this.catalog.stats()).items;
      const fresh = new Map(names.map((name) => [name, this.freshIndex(name, total)]));
      let done = 0;
      onProgress?.({ done, total });
      for await (const page of this.catalog.scan(REBUILD_PAGE)) {
        for (const [name, index] of fresh) {
          await index.add(page.map((item) => ({ seq: item.seq, vector: pointOf(name, item) })));
        }
        done += page.length;
        onProgress?.({ done, total: Math.max(total, done) });
      }
      for (const [name, index] of fresh) {
        index.setVersion(startVersion);
        await this.index(name).replaceContents(index);
      }
      await this.applyPendingChanges();
      for (const name of names) await this.index(name).save();
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
          for (const index of this.all.values()) {
            if (index.isDirty()) await index.save();
          }
        }
      } finally {
        await Promise.all([...this.all.values()].map((index) => index.close()));
        await this.catalog.close();
      }
    });
  }

  private async applyPendingChanges(): Promise<void> {
    const catalogVersion = await this.catalog.version();
    const since = Math.min(...[...this.all.values()].map((index) => index.version()));
    if (since >= catalogVersion) return;
    const changes = await this.catalog.changesSince(since);
    for (const [name, index] of this.all) await applyChanges(index, changes, name);
  }

  private async saveAll(): Promise<void> {
    for (const index of this.all.values()) await index.save();
  }

  private index(name: IndexName): HnswIndex {
    return this.all.get(name) as HnswIndex;
  }

  private assertOpen(): void {
    if (this.closed) throw createError('NOT_READY', 'the embedded store is closed');
  }

  private freshIndex(name: IndexName, expectedPoints: number): HnswIndex {
    return HnswIndex.create({
      modality: name,
      dim: dimOf(name, this.options.dims),
      dir: this.options.dataDir,
      capacity: Math.max(1024, expectedPoints),
      ...hnswParams(name, this.options),
    });
  }

  /** Runs `task` after everything queued before it. */
  private inTurn<T>(task: () => Promise<T>): Promise<T> {
    const result = this.turn.then(task);
    this.turn = result.catch(() => undefined);
    return result;
  }
}

async function applyChanges(index: HnswIndex, changes: CatalogChanges, name: IndexName): Promise<void> {
  if (index.version() >= changes.version) return;
  await index.add(changes.added.map((item) => ({ seq: item.seq, vector: pointOf(name, item) })));
  await index.remove(changes.deleted);
  index.setVersion(changes.version);
}
