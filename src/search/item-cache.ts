/**
 * The items of recent result pages by seq, kept while the catalog's write stamp stays the same: a
 * page is hydrated from here first and from the catalog for the rest. Reading two dozen rows back
 * from SQLite costs about as much as the HNSW search that found them, and the same items come back
 * page after page (popular items, refinement sessions, the next page of a query). Any committed
 * write (an add, a delete, an alias, a promotion; this process's or another's) moves the stamp, and
 * the first query after it starts an empty cache, so a page never shows an item as it was before.
 *
 * Only what a result shows is kept (ResultItem), read with the catalog's narrow page read where it
 * has one. A joint search's page also needs both vectors of its hits (their per-modality cosines):
 * they come in the same read as the fields, so a page costs one catalog read, not three.
 *
 * A catalog without a cheap stamp (Elasticsearch: it would cost a round trip) is read every time.
 */
import { LruCache } from '../encoders/lru.js';
import type { Catalog, ResultItem, ResultItemWithVectors } from '../store/types.js';

export interface ItemCacheStats {
  hits: number;
  misses: number;
  size: number;
  capacity: number;
}

type Reader = Pick<Catalog, 'getManyBySeq' | 'getVectorsBySeq' | 'getResultItemsBySeq' | 'getResultItemsWithVectorsBySeq' | 'writeStamp'>;

/** A cached item, with its vectors once a joint page has needed them. */
type Entry = ResultItem & { semantic?: Float32Array; style?: Float32Array };

const hasVectors = (entry: Entry): entry is ResultItemWithVectors => entry.semantic !== undefined && entry.style !== undefined;

export class ItemCache {
  private readonly lru: LruCache<number, Entry>;
  private stamp: string | null = null;

  constructor(
    private readonly catalog: Reader,
    readonly capacity: number,
  ) {
    this.lru = new LruCache(capacity);
  }

  /** Live items for the seqs (missing or deleted ones absent), as Catalog.getManyBySeq. */
  async getMany(seqs: number[]): Promise<Map<number, ResultItem>> {
    if (!this.current()) return this.read(seqs);
    return this.readThrough(seqs, (entry): entry is Entry => true, (missing) => this.read(missing));
  }

  /** Live items with both vectors (missing or deleted ones absent). */
  async getManyWithVectors(seqs: number[]): Promise<Map<number, ResultItemWithVectors>> {
    if (!this.current()) return this.readWithVectors(seqs);
    return this.readThrough(seqs, hasVectors, (missing) => this.readWithVectors(missing));
  }

  /** Whether the cache is on; empties it when the catalog has been written since it was filled. */
  private current(): boolean {
    if (this.capacity === 0 || !this.catalog.writeStamp) return false;
    const stamp = this.catalog.writeStamp();
    if (stamp !== this.stamp) {
      this.lru.clear();
      this.stamp = stamp;
    }
    return true;
  }

  private async read(seqs: number[]): Promise<Map<number, ResultItem>> {
    if (seqs.length === 0) return new Map();
    return this.catalog.getResultItemsBySeq ? this.catalog.getResultItemsBySeq(seqs) : this.catalog.getManyBySeq(seqs);
  }

  private async readWithVectors(seqs: number[]): Promise<Map<number, ResultItemWithVectors>> {
    if (seqs.length === 0) return new Map();
    if (this.catalog.getResultItemsWithVectorsBySeq) return this.catalog.getResultItemsWithVectorsBySeq(seqs);
    const [items, semantic, style] = await Promise.all([
      this.catalog.getManyBySeq(seqs),
      this.catalog.getVectorsBySeq(seqs, 'semantic'),
      this.catalog.getVectorsBySeq(seqs, 'style'),
    ]);
    const found = new Map<number, ResultItemWithVectors>();
    for (const [seq, item] of items) {
      const vectors = { semantic: semantic.get(seq), style: style.get(seq) };
      if (vectors.semantic && vectors.style) found.set(seq, { ...item, semantic: vectors.semantic, style: vectors.style });
    }
    return found;
  }

  private async readThrough<V extends Entry>(
    seqs: number[],
    usable: (entry: Entry) => entry is V,
    load: (missing: number[]) => Promise<Map<number, V>>,
  ): Promise<Map<number, V>> {
    const found = new Map<number, V>();
    const missing: number[] = [];
    for (const seq of seqs) {
      const entry = this.lru.get(seq);
      if (entry !== undefined && usable(entry)) found.set(seq, entry);
      else missing.push(seq);
    }
    if (missing.length === 0) return found;
    // A write that lands while these are read moves the stamp: the next query clears them.
    for (const [seq, entry] of await load(missing)) {
      found.set(seq, entry);
      this.lru.set(seq, entry);
    }
    return found;
  }

  stats(): ItemCacheStats {
    return this.lru.stats();
  }
}
