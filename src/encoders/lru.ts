/**
 * A least-recently-used cache on a Map (which keeps insertion order: the first key is the oldest).
 * Used for text query embeddings, which repeat a lot and cost a model run each.
 */
export interface CacheStats {
  hits: number;
  misses: number;
  size: number;
  capacity: number;
}

export class LruCache<K, V> {
  readonly capacity: number;
  private readonly entries = new Map<K, V>();
  private hits = 0;
  private misses = 0;

  /** A capacity of 0 disables the cache. */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`cache capacity must be a non-negative integer, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  get(key: K): V | undefined {
    if (!this.entries.has(key)) {
      this.misses++;
      return undefined;
    }
    const value = this.entries.get(key) as V;
    // Re-inserting moves the key to the young end.
    this.entries.delete(key);
    this.entries.set(key, value);
    this.hits++;
    return value;
  }

  /** The value without counting a hit or making it young (for another cache looking in). */
  peek(key: K): V | undefined {
    return this.entries.get(key);
  }

  set(key: K, value: V): void {
    if (this.capacity === 0) return;
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.capacity) {
      this.entries.delete(this.entries.keys().next().value as K);
    }
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  stats(): CacheStats {
    return { hits: this.hits, misses: this.misses, size: this.entries.size, capacity: this.capacity };
  }
}
