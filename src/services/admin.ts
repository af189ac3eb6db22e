/**
 * Operations: readiness, the numbers an operator looks at first, index rebuilds and snapshots.
 */
import type { LoadedEncoders } from '../encoders/index.js';
import type { RebuildProgress, Store } from '../store/types.js';

export type { RebuildProgress } from '../store/types.js';

export interface StoreStats {
  pack: string;
  provider: string;
  backend: Store['backend'];
  dims: { semantic: number; style: number };
  catalog: Awaited<ReturnType<Store['catalog']['stats']>>;
  indices: { semantic: number; style: number };
  textCache: ReturnType<LoadedEncoders['textCacheStats']>;
}

export interface AdminServiceDeps {
  store: Store;
  encoders: Pick<LoadedEncoders, 'packName' | 'provider' | 'semanticDim' | 'styleDim' | 'textCacheStats'>;
}

export class AdminService {
  constructor(private readonly deps: AdminServiceDeps) {}

  /** Whether the catalog and the indices are open (both answer only then). */
  async storeOpen(): Promise<boolean> {
    const { store } = this.deps;
    try {
      await store.catalog.version();
      await Promise.all([store.indices.semantic.size(), store.indices.style.size()]);
      return true;
    } catch {
      return false;
    }
  }

  /** Live items in the catalog. */
  async itemCount(): Promise<number> {
    return (await this.deps.store.catalog.stats()).items;
  }

  /** Vectors in each index. */
  async indexSizes(): Promise<{ semantic: number; style: number }> {
    const { indices } = this.deps.store;
    const [semantic, style] = await Promise.all([indices.semantic.size(), indices.style.size()]);
    return { semantic, style };
  }

  textCacheStats(): StoreStats['textCache'] {
    return this.deps.encoders.textCacheStats();
  }

  async stats(): Promise<StoreStats> {
    const { store, encoders } = this.deps;
    const [catalog, indices] = await Promise.all([store.catalog.stats(), this.indexSizes()]);
    return {
      pack: encoders.packName,
      provider: encoders.provider,
      backend: store.backend,
      dims: { semantic: encoders.semanticDim, style: encoders.styleDim },
      catalog,
      indices,
      textCache: encoders.textCacheStats(),
    };
  }

  /** Rebuilds the vector indices from the catalog. */
  reindex(onProgress?: (progress: RebuildProgress) => void): Promise<void> {
    return this.deps.store.rebuild(onProgress);
  }

  /** Persists index snapshots. */
  save(): Promise<void> {
    return this.deps.store.save();
  }
}
