/**
 * The items (and vectors) of recent result pages by seq, kept while the catalog's write stamp stays the same: a
 * page is hydrated from here first and from the catalog for the rest. Reading two dozen rows back
 * from SQLite costs about as much as the HNSW search that found them, and the same items come back
 * page after page (popular items, refinement sessions, the next page of a query). Any committed
 * write (an add, a delete, an alias, a promotion; this process's or another's) moves the stamp, and
 * the first query after it starts an empty cache, so a page never shows an item as it was before.
 *
 * A catalog without a cheap stamp (Elasticsearch: it would cost a round trip) is read every time.
 */
import { LruCache } from '../encoders/lru.js';
import type { Catalog, Item, Modality } from '../store/types.js';

export interface ItemCacheStats {
  hits: number;
  misses: number;
  size: number;
  capacity: number;
}

export class ItemCache {
  private readonly lru: LruCache<number, Item>;
  /** The pages' vectors, for the per-modality cosines of a joint search's hits. */
  private readonly vectors: Record<Modality, LruCache<number, Float32Array>>;
  private stamp: string | null = null;

  constructor(
    private readonly catalog: Catalog,
    readonly capacity: number,
  ) {
    this.lru = new LruCache(capacity);
    this.vectors = { semantic: new LruCache(capacity), style: new LruCache(capacity) };
  }

  /** Live items for the seqs (missing or deleted ones absent), as Catalog.getManyBySeq. */
  async getMany(seqs: number[]): Promise<Map<number, Item>> {
    if (!this.current()) return this.catalog.getManyBySeq(seqs);
    return readThrough(this.lru, seqs, (missing) => this.catalog.getManyBySeq(missing));
  }

  /** Live items' vectors of one modality, as Catalog.getVectorsBySeq. */
  async getVectors(seqs: number[], modality: Modality): Promise<Map<number, Float32Array>> {
    if (!this.current()) return this.catalog.getVectorsBySeq(seqs, modality);
    return readThrough(this.vectors[modality], seqs, (missing) => this.catalog.getVectorsBySeq(missing, modality));
  }

  /** Whether the cache is on; empties it when the catalog has been written since it was filled. */
  private current(): boolean {
    if (this.capacity === 0 || !this.catalog.writeStamp) return false;
    const stamp = this.catalog.writeStamp();
    if (stamp !== this.stamp) {
      this.lru.clear();
      this.vectors.semantic.clear();
      this.vectors.style.clear();
      this.stamp = stamp;
    }
    return true;
  }

  stats(): ItemCacheStats {
    return this.lru.stats();
  }
}

async function readThrough<V>(cache: LruCache<number, V>, seqs: number[], load: (missing: number[]) => Promise<Map<number, V>>): Promise<Map<number, V>> {
  const found = new Map<number, V>();
  const missing: number[] = [];
  for (const seq of seqs) {
    const value = cache.get(seq);
    if (value !== undefined) found.set(seq, value);
    else missing.push(seq);
  }
  if (missing.length === 0) return found;
  // A write that lands while these are read moves the stamp: the next query clears them.
  for (const [seq, value] of await load(missing)) {
    found.set(seq, value);
    cache.set(seq, value);
  }
  return found;
}
