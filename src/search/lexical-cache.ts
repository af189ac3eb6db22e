/**
 * The words' candidate lists of recent text queries, kept while the catalog's write stamp stays the
 * same. A hybrid query asks the catalog for its text's best matches (the first rrfWindow, for the
 * BM25 pivot and the words' candidates) before anything else, and that list depends only on the
 * text and the catalogue: a repeated text (a popular query, the next page of one, a refinement
 * session's steps) need not rank its matches again, as its embedding is not computed again.
 *
 * Only unfiltered lists are kept (a filter's allowed set is the query's own); any committed write
 * moves the stamp and the first query after it starts an empty cache. A catalog without a cheap
 * stamp (Elasticsearch) is asked every time.
 */
import { LruCache, type CacheStats } from '../encoders/lru.js';
import type { Catalog, LexicalHit } from '../store/types.js';

type Reader = Pick<Catalog, 'lexicalSearch' | 'writeStamp'>;

export class LexicalCache {
  private readonly lru: LruCache<string, readonly LexicalHit[]>;
  private stamp: string | null = null;

  /** `capacity`: texts held (0 turns the cache off). */
  constructor(
    private readonly catalog: Reader,
    readonly capacity: number,
  ) {
    this.lru = new LruCache(capacity);
  }

  /**
   * The catalog's lexicalSearch(text, { limit }) without a filter; the list returned must not be
   * changed. `stamp`: the catalog's write stamp as the caller has just read it (the engine reads it
   * once per query); absent, it is read here. A stamp read a moment too early is safe: a list read
   * after a later write fails the check below and is not kept, and the next query's stamp empties
   * the cache.
   */
  async search(text: string, limit: number, stamp?: string): Promise<readonly LexicalHit[]> {
    if (!this.current(stamp)) return this.catalog.lexicalSearch(text, { limit });
    const key = `${limit}:${text}`;
    const cached = this.lru.get(key);
    if (cached) return cached;
    const before = this.stamp;
    const found = await this.catalog.lexicalSearch(text, { limit });
    // A write that landed while the list was read leaves it out: it may predate the write.
    if (this.catalog.writeStamp?.() === before) this.lru.set(key, found);
    return found;
  }

  private current(given: string | undefined): boolean {
    if (this.capacity === 0 || !this.catalog.writeStamp) return false;
    const stamp = given ?? this.catalog.writeStamp();
    if (stamp !== this.stamp) {
      this.lru.clear();
      this.stamp = stamp;
    }
    return true;
  }

  stats(): CacheStats {
    return this.lru.stats();
  }
}
