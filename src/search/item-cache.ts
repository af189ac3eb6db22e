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
 * Warmed (`warm`, and by itself after a write once the catalog has been quiet for `rewarmDelayMs`),
 * the cache holds every item up to its capacity, with both vectors when `vectors` is on: a page is
 * then hydrated, and a joint page rescored, without reading SQLite at all. Measured at 100k items:
 * a page's read (~25 rows) cost as much as the graph search (0.54 ms against 0.58), and with the
 * default capacity of 10,000 only half of a page came from memory. The warm reads in batches and
 * lets the event loop run between them; a write during a batch discards that batch (the next query
 * starts a new cache anyway), so warming never holds a row older than the stamp it is kept under.
 *
 * A catalog without a cheap stamp (Elasticsearch: it would cost a round trip) is read every time.
 */
import { LruCache } from '../encoders/lru.js';
import type { Catalog, ItemWithVectors, Modality, ResultItem, ResultItemWithVectors } from '../store/types.js';

export interface ItemCacheStats {
  hits: number;
  misses: number;
  size: number;
  capacity: number;
}

type Reader = Pick<Catalog, 'getManyBySeq' | 'getVectorsBySeq' | 'getResultItemsBySeq' | 'getResultItemsWithVectorsBySeq' | 'writeStamp'> &
  Partial<Pick<Catalog, 'scan'>>;

export interface ItemCacheOptions {
  /** Items held at most (oldest use forgotten first); 0 turns the cache off. */
  capacity: number;
  /** Whether warming keeps both vectors of each item (a joint page then reads nothing; ~1.5 KB an item at 256 + 128-d). */
  vectors?: boolean;
  /** Start warming by itself: now, and again after each write once the catalog has been quiet this long. */
  autoWarm?: boolean;
  /** The quiet time after a write before the cache refills by itself (a write during ingest restarts it). */
  rewarmDelayMs?: number;
  /** Rows per warming read; the event loop runs between reads, so queries wait at most one of them. */
  warmBatch?: number;
}

const DEFAULT_REWARM_DELAY_MS = 2000;
const DEFAULT_WARM_BATCH = 200;

/** A cached item, with its vectors once a joint page has needed them (or a warm with vectors read them). */
type Entry = ResultItem & { semantic?: Float32Array; style?: Float32Array };

const hasVectors = (entry: Entry): entry is ResultItemWithVectors => entry.semantic !== undefined && entry.style !== undefined;

/** Only what a result shows (and the vectors when kept), not the item's other fields. */
function entryOf(item: ItemWithVectors, vectors: boolean): Entry {
  const entry: Entry = {
    seq: item.seq,
    id: item.id,
    title: item.title,
    source: item.source,
    license: item.license,
    attribution: item.attribution,
    tags: item.tags,
    extra: item.extra,
  };
  if (item.aliases && item.aliases.length > 0) entry.aliases = item.aliases;
  if (vectors) {
    entry.semantic = item.semantic;
    entry.style = item.style;
  }
  return entry;
}

export class ItemCache {
  readonly capacity: number;
  private readonly lru: LruCache<number, Entry>;
  private readonly options: Required<Omit<ItemCacheOptions, 'capacity'>>;
  private stamp: string | null = null;
  /** Moves with every clear: a warm that started before one stops. */
  private generation = 0;
  private warming: Promise<void> | null = null;
  /** The generation a warm went through to the end of the catalog (nothing left to read for it). */
  private warmedGeneration = -1;
  /**
   * The generation whose warm found the end of the catalog with every item held: until the next
   * write every live item is here and a read-through finds nothing to add, so nothing is evicted
   * and the recency order no longer matters. Reads then look entries up without moving them
   * (moving one re-inserts it in a 100k-entry Map: 24 of them took ~8 µs of a ~20 µs page).
   */
  private completeGeneration = -1;
  /** Hits and misses of the lookups that do not move entries (the LRU counts its own). */
  private peeked = { hits: 0, misses: 0 };
  private warmTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly catalog: Reader,
    options: number | ItemCacheOptions,
  ) {
    const { capacity, ...rest } = typeof options === 'number' ? { capacity: options } : options;
    this.capacity = capacity;
    this.lru = new LruCache(capacity);
    this.options = {
      vectors: rest.vectors ?? false,
      autoWarm: rest.autoWarm ?? false,
      rewarmDelayMs: rest.rewarmDelayMs ?? DEFAULT_REWARM_DELAY_MS,
      warmBatch: rest.warmBatch ?? DEFAULT_WARM_BATCH,
    };
    if (this.options.autoWarm) this.scheduleWarm(0);
  }

  /**
   * Fills the cache with the catalog's items in seq order until it is full or every item is in
   * (resolves then; also when a write interrupts it). Safe to call at any time, and more than once.
   */
  async warm(): Promise<void> {
    if (!this.canWarm()) return;
    this.warming ??= this.fill().finally(() => {
      this.warming = null;
    });
    return this.warming;
  }

  /** Stops warming by itself (the catalog is about to close). */
  dispose(): void {
    this.closed = true;
    if (this.warmTimer) clearTimeout(this.warmTimer);
    this.warmTimer = null;
  }

  /** Live items for the seqs (missing or deleted ones absent), as Catalog.getManyBySeq; `stamp`: see current(). */
  async getMany(seqs: number[], stamp?: string): Promise<Map<number, ResultItem>> {
    if (!this.current(stamp)) return this.read(seqs);
    return this.readThrough(seqs, (entry): entry is Entry => true, (missing) => this.read(missing));
  }

  /** Live items with both vectors (missing or deleted ones absent). */
  async getManyWithVectors(seqs: number[]): Promise<Map<number, ResultItemWithVectors>> {
    if (!this.current()) return this.readWithVectors(seqs);
    return this.readThrough(seqs, hasVectors, (missing) => this.readWithVectors(missing));
  }

  /**
   * The vectors of one modality this cache already holds for the catalog's current write stamp
   * (no read, no LRU movement): the words window's VectorCache looks here before the catalog, so a
   * warmed cache's vectors are not held twice.
   */
  heldVectors(seqs: readonly number[], modality: Modality): Map<number, Float32Array> {
    const held = new Map<number, Float32Array>();
    if (!this.current()) return held;
    for (const seq of seqs) {
      const vector = this.lru.peek(seq)?.[modality];
      if (vector) held.set(seq, vector);
    }
    return held;
  }

  /**
   * Whether the cache is on; empties it when the catalog has been written since it was filled.
   * `given`: the stamp as the caller read it a moment ago (a query reads it once): one read too
   * early is safe, as in LexicalCache, since the next read of a later stamp empties the cache again.
   */
  private current(given?: string): boolean {
    if (this.capacity === 0 || !this.catalog.writeStamp) return false;
    const stamp = given ?? this.catalog.writeStamp();
    if (stamp !== this.stamp) {
      const first = this.stamp === null;
      this.lru.clear();
      this.stamp = stamp;
      this.generation++;
      // The first query's stamp is not a write: a warm scheduled at start keeps its time.
      if (this.options.autoWarm && !first) this.scheduleWarm(this.options.rewarmDelayMs);
    }
    return true;
  }

  private canWarm(): boolean {
    return !this.closed && this.capacity > 0 && this.catalog.writeStamp !== undefined && this.catalog.scan !== undefined;
  }

  /** (Re)starts the countdown to a warm: writes that keep coming keep pushing it back. */
  private scheduleWarm(delayMs: number): void {
    if (!this.canWarm()) return;
    if (this.warmTimer) clearTimeout(this.warmTimer);
    this.warmTimer = setTimeout(() => {
      this.warmTimer = null;
      // A catalog closed under it ends the warm; the queries that follow read through as before.
      this.warm().catch(() => undefined);
    }, delayMs);
    this.warmTimer.unref();
  }

  private async fill(): Promise<void> {
    if (!this.current()) return;
    const generation = this.generation;
    if (this.warmedGeneration === generation) return;
    const catalog = this.catalog as Reader & Pick<Catalog, 'scan'> & { writeStamp(): string };
    const stampOf = () => catalog.writeStamp();
    const batches = catalog.scan(this.options.warmBatch)[Symbol.asyncIterator]();
    try {
      for (;;) {
        if (this.closed) return;
        const full = this.lru.size >= this.capacity;
        const before = stampOf();
        // A write since this cache's stamp: the next query clears it and schedules another warm.
        if (before !== this.stamp || generation !== this.generation) return;
        // Read on when full too: a catalog exactly the cache's size is held whole (see completeGeneration).
        const next = await batches.next();
        // The batch is this stamp's only if no write committed while it was read.
        if (stampOf() !== before || generation !== this.generation) return;
        if (next.done) {
          this.warmedGeneration = generation;
          this.completeGeneration = generation;
          return;
        }
        if (full) {
          this.warmedGeneration = generation;
          return;
        }
        for (const item of next.value) {
          if (this.lru.size >= this.capacity) return;
          this.lru.set(item.seq, entryOf(item, this.options.vectors));
        }
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      await batches.return?.();
    }
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
    const complete = this.completeGeneration === this.generation;
    for (const seq of seqs) {
      const entry = complete ? this.lru.peek(seq) : this.lru.get(seq);
      if (complete) this.peeked[entry === undefined ? 'misses' : 'hits']++;
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
    const counted = this.lru.stats();
    return { ...counted, hits: counted.hits + this.peeked.hits, misses: counted.misses + this.peeked.misses };
  }
}
