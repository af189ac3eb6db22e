/**
 * The storage contracts shared by the embedded backend (SQLite + hnswlib) and the
 * scale-out backend (Elasticsearch). Both are async so that a networked backend fits.
 *
 * Identity: every item has a public string `id` (stable, used by the API) and an internal
 * integer `seq` (assigned by the catalog, monotonically increasing, never reused). `seq` is the
 * label of the item in every vector index.
 *
 * Versions: every committed change (an add or a delete) bumps the catalog's `version`. Vector
 * index snapshots record the version they contain, so that on open the catalog can replay what
 * came after (see DESIGN.md §5).
 */

import type { SearchTuning } from './tuning.js';

export type Modality = 'semantic' | 'style';

/**
 * What a vector index is built over: one modality, or both at once. The joint index holds
 * [semantic, style]/√2 per item, so its cosine to a query [a·q_semantic, b·q_style] ranks items by
 * a·cos_semantic + b·cos_style exactly: a weighted two-modality query is one graph search.
 */
export type IndexName = Modality | 'joint';

export interface ItemMetadata {
  /** Public id; the catalog derives one from the content hash when absent. */
  id?: string;
  externalId?: string;
  source: string;
  title: string;
  tags: string[];
  /** Extra words indexed by the keyword search (not shown as tags). */
  keywords?: string[];
  /** Prose about the item: shown, and searched by the lexical signal (weighted below the title). */
  description?: string;
  license?: string;
  attribution?: string;
  url?: string;
  width: number;
  height: number;
  /** Free-form JSON (e.g. the demo corpus' codepoint, category, split). */
  extra?: Record<string, unknown>;
}

export interface ItemInput extends ItemMetadata {
  /** sha256 hex of the original bytes: the de-duplication key. */
  contentHash: string;
  semantic: Float32Array;
  style: Float32Array;
  /** WebP thumbnail bytes, stored by the catalog beside the item (optional). */
  thumbnail?: Buffer;
}

export interface Item extends Required<Omit<ItemMetadata, 'extra' | 'keywords'>> {
  seq: number;
  contentHash: string;
  keywords: string[];
  extra: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  /**
   * Read under an alias id: the id of the stored item whose image (seq, vectors, thumbnail, size)
   * this id shares. The metadata is the alias's own. Absent on the stored item itself.
   */
  aliasOf?: string;
  /** On the stored item: the other ids of the same image, oldest first. Absent when there are none. */
  aliases?: string[];
}

export interface ItemWithVectors extends Item {
  semantic: Float32Array;
  style: Float32Array;
}

/** What a search result shows of an item: the fields a page is hydrated with, and nothing else. */
export type ResultItem = Pick<Item, 'seq' | 'id' | 'title' | 'source' | 'license' | 'attribution' | 'tags' | 'extra' | 'aliases'>;

/** A result item with both vectors (to score a page's hits in each modality from the same read). */
export interface ResultItemWithVectors extends ResultItem {
  semantic: Float32Array;
  style: Float32Array;
}

export type AddStatus = 'added' | 'duplicate';

export interface AddResult {
  /** The id the input is stored under: its own (an alias's too), or the stored item's for a plain repeat. */
  id: string;
  seq: number;
  status: AddStatus;
  /** For a duplicate: the id of the stored item holding the image. */
  existingId?: string;
}

export interface ItemFilter {
  sources?: string[];
  licenses?: string[];
  /** Every listed tag must be present. */
  tags?: string[];
  /** Free text: every word must occur in the title, tags, keywords or description (stemmed, case- and accent-folded); never interpreted as query syntax. */
  keywords?: string;
}

export interface LexicalHit {
  seq: number;
  /** BM25 (higher is better, > 0): title, tags, keywords, description with column weights. */
  score: number;
  /** The query's terms (normalised as the index normalises them, e.g. stemmed) this item matched. */
  terms: string[];
}

export interface CatalogChanges {
  /** Items added after the version and still live. */
  added: ItemWithVectors[];
  /** seqs deleted after the version (they may or may not have been added after it). */
  deleted: number[];
  /** The catalog version these changes bring an index up to. */
  version: number;
}

/**
 * Fields a facet counts: exact stored values. (Orientation is not one yet: Elasticsearch would need
 * an indexed orientation field, a mapping change with a reindex.)
 */
export const FACET_FIELDS = ['source', 'license', 'tags'] as const;
export type FacetField = (typeof FACET_FIELDS)[number];
/** The most values one facet may list. */
export const MAX_FACET_VALUES = 100;

export interface FacetValue {
  value: string;
  /** Live items in the scope carrying the value (an item with the tag twice counts once). */
  count: number;
}

/**
 * The set a facet counts: given live seqs (e.g. a search's candidates; unknown and deleted seqs are
 * ignored) or the live items matching a filter.
 */
export type FacetScope = { seqs: readonly number[] } | { filter: ItemFilter };

export type FacetCounts = Partial<Record<FacetField, FacetValue[]>>;

export interface CatalogStats {
  items: number;
  deleted: number;
  sources: Record<string, number>;
  version: number;
}

export interface Catalog {
  /**
   * One transaction for the whole batch: all of it is committed or none. An input whose content is
   * stored (or earlier in the batch) is a duplicate: not added again; when it carries an explicit
   * id that is not yet the image's, that id becomes an ALIAS of the stored item, keeping its own
   * metadata (its vectors and thumbnail are ignored). An id taken by other content is a CONFLICT.
   */
  addBatch(items: ItemInput[]): Promise<AddResult[]>;
  get(id: string): Promise<Item | undefined>;
  getWithVectors(id: string): Promise<ItemWithVectors | undefined>;
  /** Live items for the given seqs; missing or deleted seqs are absent from the map. */
  getManyBySeq(seqs: number[]): Promise<Map<number, Item>>;
  getVectorsBySeq(seqs: number[], modality: Modality): Promise<Map<number, Float32Array>>;
  /**
   * A results page's live items, only the fields a result shows (with both vectors when asked),
   * in one read: missing or deleted seqs absent, as getManyBySeq. Optional: search falls back to
   * getManyBySeq (+ getVectorsBySeq).
   */
  getResultItemsBySeq?(seqs: number[]): Promise<Map<number, ResultItem>>;
  getResultItemsWithVectorsBySeq?(seqs: number[]): Promise<Map<number, ResultItemWithVectors>>;
  findByHash(contentHash: string): Promise<Item | undefined>;
  thumbnail(id: string): Promise<Buffer | undefined>;
  /**
   * Deletes one id. An alias goes alone. The stored item's id, while aliases remain, hands the image
   * to its oldest alias (promoted: its id and metadata become the item's; seq, vectors and thumbnail
   * stay); the image is soft-deleted with its last id. Returns false if the id is unknown.
   */
  delete(id: string): Promise<boolean>;
  /** The set of live seqs matching a filter (used to filter an index that filters by label). */
  matchFilter(filter: ItemFilter): Promise<Set<number>>;
  /** The same, or null when more than `limit` items match (a bounded probe: "is this filter small?"). */
  matchFilter(filter: ItemFilter, options: { limit: number }): Promise<Set<number> | null>;
  /** Items matching any word of a plain-text query, best first, at most `limit`; the text is never parsed as query syntax. */
  lexicalSearch(text: string, options: { limit: number; allowed?: ReadonlySet<number>; filter?: ItemFilter }): Promise<LexicalHit[]>;
  /** The BM25 of the given live seqs for the text, for exact rescoring of candidates found by other signals; seqs that match no term are absent. Scores are on the same scale as lexicalSearch's. */
  lexicalScores(text: string, seqs: number[]): Promise<Map<number, LexicalHit>>;
  /** Whether any live item carries words beyond its id (false: the text signal stays off and search behaves as before). */
  hasText(): Promise<boolean>;
  /**
   * Per-value counts of each field over the scope, most frequent first, ties by value (code-unit
   * order), at most `limit` (1..MAX_FACET_VALUES) values per field; empty values (no licence) are
   * not listed. Every asked field is present in the answer, maybe with an empty list.
   */
  facets(scope: FacetScope, fields: readonly FacetField[], options: { limit: number }): Promise<FacetCounts>;
  /** Changes committed after `version`, for replaying into vector indices. */
  changesSince(version: number): Promise<CatalogChanges>;
  /** Every live item with vectors, in seq order, in pages (for rebuilds and migrations). */
  scan(batchSize: number): AsyncIterable<ItemWithVectors[]>;
  version(): Promise<number>;
  /**
   * A value that differs after any committed write, of this process or another, that may have
   * changed what getManyBySeq returns (the version alone does not move for an alias or a
   * promotion). Only where it costs a local read (SQLite); absent where it would cost a round trip.
   */
  writeStamp?(): string;
  stats(): Promise<CatalogStats>;
  /** The search-breadth tuning `parasol tune` stored (see tuning.ts), or null when the store is untuned. */
  searchTuning(): Promise<SearchTuning | null>;
  /** Replaces the stored tuning; null removes it (the store searches untuned again). */
  setSearchTuning(tuning: SearchTuning | null): Promise<void>;
  close(): Promise<void>;
}

export interface VectorHit {
  seq: number;
  /** Cosine similarity in [-1, 1]. */
  score: number;
}

/** What a vector search may return, beyond live points. */
export interface VectorSearchConstraint {
  /** Seqs never to return. */
  exclude?: ReadonlySet<number>;
  /** Only these seqs may be returned (e.g. the live seqs matching a filter, from Catalog.matchFilter). */
  allowed?: ReadonlySet<number>;
  /**
   * The item filter itself, evaluated by the index (kNN with a filter): only for an index whose
   * `filtersItself` is true; one that filters by label refuses it.
   */
  filter?: ItemFilter;
  /**
   * The search breadth for this query (HNSW efSearch; Elasticsearch num_candidates), at least k in
   * effect; absent: the index's configured default. Tuned per query kind by `parasol tune`.
   */
  ef?: number;
}

export interface VectorIndex {
  readonly modality: IndexName;
  readonly dim: number;
  /**
   * Whether the index evaluates an `ItemFilter` itself (a search server holding the metadata).
   * When false, callers resolve filters to `allowed` seqs through the catalog first.
   */
  readonly filtersItself: boolean;
  /**
   * Whether a hit's score is the cosine of the stored vector itself, unquantised (float32 sums):
   * a weighted query over this one index is then ranked by it, with no rescoring from the
   * catalog. Absent means no (Elasticsearch may quantise).
   */
  readonly exactScores?: boolean;
  /** Adds or replaces points; grows capacity as needed. Vectors must be L2-normalised and of `dim`. */
  add(points: Array<{ seq: number; vector: Float32Array }>): Promise<void>;
  remove(seqs: number[]): Promise<void>;
  /** Up to k nearest live points, best first; the constraint is applied during the search, not after it. */
  search(vector: Float32Array, k: number, constraint?: VectorSearchConstraint): Promise<VectorHit[]>;
  size(): Promise<number>;
  /** The catalog version the index content corresponds to. */
  version(): number;
  setVersion(version: number): void;
  /** Persist a snapshot atomically (embedded backend); a no-op for a server-side index. */
  save(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A store's vector indices: one per modality and, when the backend keeps one (embedded, unless
 * turned off), the joint index over [semantic, style]/√2 (see IndexName), which answers a weighted
 * content + style query in one search.
 */
export type StoreIndices<Index extends VectorIndex = VectorIndex> = Record<Modality, Index> & { joint?: Index };

/** What both backends offer the services: a catalog, one vector index per modality, and their upkeep. */
export interface Store {
  readonly backend: 'sqlite' | 'elastic';
  readonly catalog: Catalog;
  readonly indices: StoreIndices;
  /** Brings the indices up to the catalog (embedded: replays the change log; a server: makes writes visible). */
  sync(): Promise<void>;
  /**
   * Rebuilds the indices from the catalog (`parasol reindex`). Embedded: fresh HNSW graphs swapped in;
   * Elasticsearch: a new versioned index filled and the alias moved, so searches never stop.
   */
  rebuild(onProgress?: (progress: RebuildProgress) => void): Promise<void>;
  /** Persists what must survive a restart (embedded snapshots; a no-op for a server). */
  save(): Promise<void>;
  /** Releases everything (embedded: saves changed snapshots unless `save: false`). */
  close(options?: { save?: boolean }): Promise<void>;
}

/** New vectors for stored items (same order), from their stored images (`catalog`'s thumbnails), by the pack an index moves to. */
export type ItemEncoder = (items: Item[], catalog: Pick<Catalog, 'thumbnail'>) => Promise<Array<{ semantic: Float32Array; style: Float32Array }>>;

export interface ReencodeOptions {
  /** The pack the index moves to, and its dimensions. */
  target: { name: string; fingerprint: string };
  dims: { semantic: number; style: number };
  encode: ItemEncoder;
  /** Items per encoded, committed batch. */
  batchSize: number;
  /** After each committed batch: re-encoded so far (a resumed run starts past what it had done). */
  onProgress?: (progress: RebuildProgress) => void;
  /** Checked between batches: true stops cleanly; the next run resumes. */
  shouldStop?: () => boolean;
}

/** What a store records about the pack its vectors came from. */
export interface StoreRecord {
  /** Absent in stores built before packs were recorded. */
  pack?: { name: string; fingerprint: string };
  dims?: { semantic: number; style: number };
  /** Set while a re-encode with this pack is unfinished. */
  reencoding?: { name: string; fingerprint: string };
  /** Live items (absent when the store does not exist yet). */
  items?: number;
}

export interface ReencodeResult {
  /** False when stopped before the end (run again to resume). */
  finished: boolean;
  /** Items re-encoded by this run. */
  encoded: number;
  /** Items a previous, interrupted run had already re-encoded. */
  resumedFrom: number;
  /** The pack the index was built with before, when it was recorded. */
  previous?: { name: string; fingerprint: string };
}

export interface RebuildProgress {
  /** Items indexed so far (into every index being rebuilt). */
  done: number;
  total: number;
}
