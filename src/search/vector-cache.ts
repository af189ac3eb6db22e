/**
 * Candidates' vectors by seq and modality, kept in memory while the catalog's write stamp stays
 * the same, for the exact rescoring of candidates that a list other than the modality's own index
 * found (the words' list, the other modality's index). Reading them back from SQLite costs 12-20
 * µs a row, and a hybrid query rescoring a few hundred candidates paid more for those reads than
 * for everything else it did (measured at 100k items); the same candidates come back query after
 * query (the popular words' best matches, the next page of a query).
 *
 * A vector of a seq never changes, but the item behind it may be deleted: any committed write
 * (this process's or another's) moves the stamp, and the first read after it starts an empty
 * cache, so a deleted item is never scored as live. A catalog without a cheap stamp
 * (Elasticsearch) is read every time, as before.
 *
 * `held` looks up vectors another cache already keeps for the same stamp (the engine's item cache,
 * which holds every item's vectors once warm): those are used as they are and not kept twice.
 */
import { LruCache, type CacheStats } from '../encoders/lru.js';
import type { Catalog, Modality } from '../store/types.js';

type Reader = Pick<Catalog, 'getVectorsBySeq' | 'writeStamp'>;
/** Vectors of `seqs` that are already in memory elsewhere, valid for the catalog's current stamp. */
export type HeldVectors = (seqs: readonly number[], modality: Modality) => Map<number, Float32Array>;

export class VectorCache {
  private readonly lru: Record<Modality, LruCache<number, Float32Array>>;
  private stamp: string | null = null;

  /** `capacity`: vectors held per modality (0 turns the cache off). */
  constructor(
    private readonly catalog: Reader,
    readonly capacity: number,
    private readonly held?: HeldVectors,
  ) {
    this.lru = { semantic: new LruCache(capacity), style: new LruCache(capacity) };
  }

  /** The live items' vectors of one modality (missing or deleted seqs absent), as Catalog.getVectorsBySeq. */
  async get(seqs: number[], modality: Modality): Promise<Map<number, Float32Array>> {
    if (!this.current()) return seqs.length === 0 ? new Map() : this.catalog.getVectorsBySeq(seqs, modality);
    const lru = this.lru[modality];
    const found = new Map<number, Float32Array>();
    const missing: number[] = [];
    for (const seq of seqs) {
      const vector = lru.get(seq);
      if (vector) found.set(seq, vector);
      else missing.push(seq);
    }
    if (missing.length === 0) return found;
    const unread = this.held ? this.takeHeld(missing, modality, found) : missing;
    if (unread.length === 0) return found;
    // A write that lands while these are read moves the stamp: the next read clears them.
    for (const [seq, vector] of await this.catalog.getVectorsBySeq(unread, modality)) {
      found.set(seq, vector);
      lru.set(seq, vector);
    }
    return found;
  }

  /** Puts the held vectors of `seqs` into `found`; returns the seqs still to read. */
  private takeHeld(seqs: number[], modality: Modality, found: Map<number, Float32Array>): number[] {
    const held = (this.held as HeldVectors)(seqs, modality);
    if (held.size === 0) return seqs;
    const unread: number[] = [];
    for (const seq of seqs) {
      const vector = held.get(seq);
      if (vector) found.set(seq, vector);
      else unread.push(seq);
    }
    return unread;
  }

  /** Whether the cache is on; empties it when the catalog has been written since it was filled. */
  private current(): boolean {
    if (this.capacity === 0 || !this.catalog.writeStamp) return false;
    const stamp = this.catalog.writeStamp();
    if (stamp !== this.stamp) {
      this.lru.semantic.clear();
      this.lru.style.clear();
      this.stamp = stamp;
    }
    return true;
  }

  stats(): Record<Modality, CacheStats> {
    return { semantic: this.lru.semantic.stats(), style: this.lru.style.stats() };
  }
}
