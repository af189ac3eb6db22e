/**
 * The search engine over two descriptors, content (semantic) and style, and the catalogue's words.
 *
 * Pipeline for one page: descriptors → oversampled kNN in each participating index (filters and
 * exclusions pushed into the index's accept function, so a filtered search still fills a page),
 * plus the lexical (BM25) candidates of the query text → exact cosines for every candidate in
 * every participating modality from the catalog's vectors (kept in memory by the vector cache),
 * and exact BM25 for every candidate → fusion → keyset pagination → catalog metadata for the page
 * (and facet counts over the pool). A weighted query whose words match ranks one fixed window of
 * both lists (wordsPool); without words, or with words that match nothing, a weighted query is
 * read from its one index or proven exact by deepening its pool.
 */
import { performance } from 'node:perf_hooks';
import { createError } from '../errors.js';
import type { Encoders } from '../encoders/types.js';
import type {
  Catalog,
  FacetCounts,
  FacetField,
  ItemFilter,
  ItemWithVectors,
  LexicalHit,
  ResultItem,
  StoreIndices,
  VectorIndex,
  VectorSearchConstraint,
} from '../store/types.js';
import { dot, lerp, normalize, slerp } from '../vectors.js';
import { decodeCursor, encodeCursor, fingerprintOf, type CursorPosition } from './cursor.js';
import { DescriptorResolver, STORE_MODALITY, type QueryDescriptors } from './descriptors.js';
import {
  compareFused,
  explainWeighted,
  fuse,
  isWindowed,
  SEARCH_MODALITIES,
  type Candidate,
  type FusionMethod,
  type ModalityScores,
  type ParticipatingWeights,
  type RankedCandidate,
  type ScoreExplanation,
  type SearchModality,
  weightedScore,
} from './fusion.js';
import { requestKinds, sourceKinds, type QueryKinds, type SearchBreadth } from './breadth.js';
import { ItemCache, type ItemCacheStats } from './item-cache.js';
import { LexicalCache } from './lexical-cache.js';
import { VectorCache } from './vector-cache.js';
import { jointQuery } from './joint.js';
import { lexicalPivot, saturate } from './lexical.js';
import { planSearch, type QueryPlan } from './plan.js';
import { arrayRanking, indexOrder, mergedWindow, wordsOrder, type IndexSide, type Ranking, type WordsOrder } from './ranking.js';
import {
  DEFAULT_TEXT_WEIGHT,
  parseInterpolateRequest,
  parseSearchOptions,
  parseSearchRequest,
  type DescriptorSource,
  type InterpolateRequest,
  type SearchFilters,
  type SearchOptions,
  type SearchOptionsInput,
  type SearchRequest,
  type SearchRequestInput,
  type SearchWeights,
} from './query.js';
import { DEFAULT_ROCCHIO, type RocchioWeights } from './rocchio.js';

export interface SearchEngineOptions {
  /** Each index is asked for (offset + k) × oversample candidates... */
  oversample: number;
  /** ...but never more than this (and RRF always ranks over exactly this many). */
  maxCandidates: number;
  /**
   * How many times weighted fusion may double its pool to prove a page exact (a query without
   * words: one whose words match ranks one fixed window, see wordsWindow). Independent
   * content and style lists can otherwise drive every query to maxCandidates (measured: 75 ms
   * instead of 3 ms at 100k items); past this the page is the best of a 2^n-times deeper pool.
   */
  maxDeepening: number;
  /** The fixed window RRF and min-max fusion rank (Elasticsearch's rank_window_size); capped by maxCandidates. */
  rrfWindow: number;
  rocchio: RocchioWeights;
  /** Filtered sets up to this size are searched exactly instead of through HNSW. */
  exactFilterLimit: number;
  /** Items kept for the catalog's current write stamp (see ItemCache); 0 turns it off. */
  itemCacheSize: number;
  /**
   * A weighted query whose words match ranks one fixed window (see wordsPool): the vector index's
   * top `wordsVectorDepth` and the words' top `wordsWindow`, every candidate scored exactly; its
   * pages end where the window does. Capped by maxCandidates and the lexical list (rrfWindow).
   */
  wordsWindow: number;
  /**
   * How deep the vector index is searched in the words window, when the store's tuning gives the
   * query no search breadth of its own (with one, that breadth): an HNSW search costs about its
   * breadth (efSearch), not its k, as long as k stays within it, so the window's vector list costs
   * what the vector-only query's search costs. Twice that when the words' list is cut inside a BM25
   * tie holding half of it (see wordsPool). The default is hnsw.efSearch's. Capped by wordsWindow.
   */
  wordsVectorDepth: number;
  /**
   * The most items past the words' candidates a BM25 tie at their cut adds to a one-modality
   * window (see completeTie): the rest of the tie, whose members the words cannot tell from the
   * listed ones, ranked by their vectors. A larger tie keeps the list as it is and the vector index
   * is searched twice as deep where the tie holds half of it. 0 turns it off.
   */
  wordsTieLimit: number;
  /** Candidates' vectors kept per modality for the catalog's current version (see VectorCache); 0 turns it off. */
  vectorCacheSize: number;
  /** Unfiltered words' candidate lists of recent texts kept for the catalog's current version (see LexicalCache); 0 turns it off. */
  lexicalCacheSize: number;
  /** Whether the item cache also holds both vectors of every item it warms (a joint page then reads nothing). */
  itemCacheVectors: boolean;
  /** Whether the item cache fills itself with the catalog's items (at start, and after writes once they pause). */
  warmItemCache: boolean;
}

export const DEFAULT_ENGINE_OPTIONS: SearchEngineOptions = {
  oversample: 4,
  maxCandidates: 1000,
  maxDeepening: 2,
  rrfWindow: 400,
  rocchio: DEFAULT_ROCCHIO,
  exactFilterLimit: 2000,
  itemCacheSize: 100_000,
  wordsWindow: 400,
  wordsVectorDepth: 128,
  wordsTieLimit: 1024,
  vectorCacheSize: 50_000,
  lexicalCacheSize: 1024,
  itemCacheVectors: true,
  warmItemCache: true,
};

export interface SearchEngineDeps {
  catalog: Catalog;
  /** joint: the index over [semantic, style]/√2, when the store keeps one (see StoreIndices). */
  indices: StoreIndices;
  encoders: Encoders;
  options?: Partial<SearchEngineOptions>;
  /** Per-modality, per-query-kind search breadth from the store's tuning; absent: the indices' defaults. */
  breadth?: Pick<SearchBreadth, 'ef'>;
}

export interface SearchResult {
  id: string;
  seq: number;
  title: string;
  source: string;
  license: string;
  attribution: string;
  /** tags, extra and aliases are the page cache's own (shared by every page showing the item): read them, never change them. */
  tags: readonly string[];
  extra: Record<string, unknown>;
  /** The image's other ids (duplicates kept as aliases), when it has any. */
  aliases?: string[];
  /** The fused score (a cosine-like value for weighted fusion, in [0, 1] for minmax, an RRF sum for rrf). */
  score: number;
  /** Cosine per modality and the lexical score on [0, 1); null when that signal took no part in the query. */
  scores: ModalityScores & { text: number | null };
  /** Present when the request asked for explanations. */
  explanation?: ScoreExplanation;
}

export interface SearchTiming {
  encodeMs: number;
  retrieveMs: number;
  fuseMs: number;
  hydrateMs: number;
  totalMs: number;
}

export interface SearchResponse {
  results: SearchResult[];
  /** Opaque; pass it back with the same query for the next page. Null on the last page. */
  nextCursor: string | null;
  /** How many results the query has in all; only when the candidate pool was not cut short. */
  total?: number;
  /** Per-value counts over the candidate pool, when the request asked for facets. */
  facets?: FacetCounts;
  /** Which set the facets counted (see FACET_SCOPE). */
  facetScope?: string;
  timing: SearchTiming;
}

/**
 * What facet counts cover: every item of the fused candidate pool the page was ranked from (all
 * signals' candidates, after filters and exclusions). A query is never filters alone (that is
 * EMPTY_QUERY), so this is the only scope.
 */
export const FACET_SCOPE = 'candidates';

export type MoreLikeMode = 'style' | 'content' | 'both';
export type MoreLikeOptions = Omit<SearchOptionsInput, 'weights'> & { weights?: Partial<SearchWeights> };

export interface DescriptorSearchOptions extends SearchOptionsInput {
  /** Items never to return (e.g. everything a refinement session has already judged). */
  exclude?: { ids?: string[]; seqs?: number[] };
  /** The query's words for the lexical signal (a session's content text). */
  text?: string;
}

export interface InterpolateResponse extends SearchResponse {
  /** The interpolated descriptors searched with (e.g. to hand the style to the generator). */
  descriptors: QueryDescriptors;
}

/** Sources that define both descriptors at once. */
export type DualSource = { itemId: string } | { text: string } | { image: Buffer | Uint8Array };

interface RunInput {
  descriptors: QueryDescriptors;
  /** The text for the lexical signal, if the query has one. */
  text?: string;
  options: SearchOptions;
  /** What each descriptor was made from, for its search breadth; absent: unknown. */
  kinds?: QueryKinds;
  excludeSeqs: Iterable<number>;
  fingerprint: string;
  encodeMs: number;
  startedAt: number;
}

/** A filter with nothing in it is no filter: empty lists mean "no constraint", not "match nothing". */
function effectiveFilter(filters: SearchFilters | undefined): ItemFilter | null {
  if (!filters) return null;
  const filter: ItemFilter = {};
  if (filters.sources?.length) filter.sources = filters.sources;
  if (filters.licenses?.length) filter.licenses = filters.licenses;
  if (filters.tags?.length) filter.tags = filters.tags;
  if (filters.keywords) filter.keywords = filters.keywords;
  return Object.keys(filter).length === 0 ? null : filter;
}

/** The lexical signal of one query: its text, the BM25 pivot, and its candidate list. */
interface LexicalQuery {
  text: string;
  pivot: number;
  hits: readonly LexicalHit[];
  /** Each hit's position in `hits`, by seq. */
  positionOf: ReadonlyMap<number, number>;
  /** Whether the list was cut at its limit (unseen items may then still match). */
  full: boolean;
  /** What is kept with a cached list (null: a list of this query's own, e.g. a filtered one). */
  kept: KeptWithWords | null;
  /** How the list was asked for, to read it further (completeTie). */
  request: LexicalRequest;
}

/** A lexical list's request: the catalog's allowed set and filter, and the engine's own check of each hit. */
interface LexicalRequest {
  allowed: ReadonlySet<number> | null;
  filter: ItemFilter | null;
  accept: ((seq: number) => boolean) | null;
  stamp: string | undefined;
}

const elapsed = (since: number): number => Math.round((performance.now() - since) * 100) / 100;

export class SearchEngine {
  private readonly catalog: Catalog;
  private readonly indices: Record<SearchModality, VectorIndex>;
  private readonly joint: VectorIndex | undefined;
  private readonly options: SearchEngineOptions;
  private readonly resolver: DescriptorResolver;
  private readonly breadth: Pick<SearchBreadth, 'ef'> | undefined;
  private readonly pageItems: ItemCache;
  private readonly vectors: VectorCache;
  private readonly lexicalLists: LexicalCache;
  /** What is kept with a words' list (KeptWithWords) while the lexical cache holds the list itself. */
  private readonly lexicalLookups = new WeakMap<readonly LexicalHit[], KeptWithWords>();
  /** Whether the catalogue has words, as of a write stamp or catalog version (asked once per change). */
  private textState: { key: string | number; hasText: Promise<boolean> } | null = null;

  constructor(deps: SearchEngineDeps) {
    this.catalog = deps.catalog;
    this.indices = { content: deps.indices.semantic, style: deps.indices.style };
    this.joint = deps.indices.joint;
    this.options = { ...DEFAULT_ENGINE_OPTIONS, ...deps.options };
    this.breadth = deps.breadth;
    if (!(this.options.oversample >= 1) || !(this.options.maxCandidates >= 1)) {
      throw new RangeError('oversample and maxCandidates must be at least 1');
    }
    this.pageItems = new ItemCache(deps.catalog, {
      capacity: this.options.itemCacheSize,
      vectors: this.options.itemCacheVectors,
      autoWarm: this.options.warmItemCache,
    });
    // The item cache holds every item's vectors once warm: the window reads those rather than keep its own copies.
    this.vectors = new VectorCache(deps.catalog, this.options.vectorCacheSize, (seqs, modality) =>
      this.pageItems.heldVectors(seqs, modality),
    );
    this.lexicalLists = new LexicalCache(deps.catalog, this.options.lexicalCacheSize);
    this.resolver = new DescriptorResolver({
      catalog: deps.catalog,
      encoders: deps.encoders,
      dims: { content: deps.indices.semantic.dim, style: deps.indices.style.dim },
    });
  }

  get rocchioWeights(): RocchioWeights {
    return this.options.rocchio;
  }

  /** Fills the item cache now (it also fills itself in the background); resolves when it is full or interrupted by a write. */
  async warmItemCache(): Promise<void> {
    return this.pageItems.warm();
  }

  /** Stops the item cache's background warming (before the catalog closes). */
  dispose(): void {
    this.pageItems.dispose();
  }

  /** Hits and misses of the page item cache (benchmarks report them beside the latencies). */
  itemCacheStats(): ItemCacheStats {
    return this.pageItems.stats();
  }

  /** A search request (validated here, so the CLI may pass raw input) → one page of results. */
  async search(input: SearchRequestInput): Promise<SearchResponse> {
    const startedAt = performance.now();
    const request = parseSearchRequest(input);
    const plan = await this.plan(request);
    return this.run({
      descriptors: plan.descriptors,
      text: request.q,
      options: request,
      kinds: requestKinds(request),
      excludeSeqs: plan.excludeSeqs,
      fingerprint: fingerprintOf({
        kind: 'search',
        ...request,
        k: undefined,
        cursor: undefined,
        explain: undefined,
        facets: undefined,
        facetLimit: undefined,
      }),
      encodeMs: elapsed(startedAt),
      startedAt,
    });
  }

  /** The descriptors and exclusions a request resolves to (refinement sessions start from this). */
  async plan(request: SearchRequest, options: { includeUnweighted?: boolean } = {}): Promise<QueryPlan> {
    return planSearch(this.resolver, request, this.options.rocchio, options.includeUnweighted);
  }

  /** Searches from ready descriptors: the entry point of refinement sessions. */
  async searchFromDescriptors(descriptors: Partial<QueryDescriptors>, input: DescriptorSearchOptions = {}): Promise<SearchResponse> {
    const startedAt = performance.now();
    const { exclude, text, ...rest } = input;
    const options = parseSearchOptions(rest);
    const given: QueryDescriptors = {
      content: descriptors.content ? this.resolver.vector('content', descriptors.content) : null,
      style: descriptors.style ? this.resolver.vector('style', descriptors.style) : null,
    };
    const excludeSeqs = new Set(exclude?.seqs ?? []);
    if (exclude?.ids?.length) for (const item of await this.resolver.items(exclude.ids)) excludeSeqs.add(item.seq);
    const fingerprint = fingerprintOf({
      kind: 'descriptors',
      ...given,
      text,
      weights: options.weights,
      fusion: options.fusion,
      filters: options.filters,
      exclude: [...excludeSeqs].sort((a, b) => a - b),
    });
    return this.run({ descriptors: given, text, options, excludeSeqs, fingerprint, encodeMs: elapsed(startedAt), startedAt });
  }

  /** Items like a stored one: by its style, its content, or both. */
  async moreLike(itemId: string, mode: MoreLikeMode, options: MoreLikeOptions = {}): Promise<SearchResponse> {
    const weights =
      mode === 'content' ? { content: 1, style: 0 } : mode === 'style' ? { content: 0, style: 1 } : { content: 1, style: 1, ...options.weights };
    return this.search({
      ...options,
      weights,
      contentItemId: mode === 'style' ? undefined : itemId,
      styleItemId: mode === 'content' ? undefined : itemId,
    });
  }

  /**
   * Searches at a point between two sources, per modality: t = 0 is a's descriptor, t = 1 is b's.
   * slerp follows the unit sphere (constant angular speed); lerp blends and renormalises, which
   * cuts the chord and so lingers near the midpoint direction.
   */
  async interpolate(input: InterpolateRequest): Promise<InterpolateResponse> {
    const startedAt = performance.now();
    const request = parseInterpolateRequest(input);
    const descriptors: QueryDescriptors = { content: null, style: null };
    const excludeSeqs = new Set<number>();
    for (const modality of SEARCH_MODALITIES) {
      const pair = request[modality];
      if (!pair) continue;
      const [a, b] = await Promise.all([this.resolver.source(modality, pair.a), this.resolver.source(modality, pair.b)]);
      for (const seq of [a.seq, b.seq]) if (seq !== undefined) excludeSeqs.add(seq);
      descriptors[modality] = request.method === 'slerp' ? slerp(a.vector, b.vector, request.t) : normalize(lerp(a.vector, b.vector, request.t));
    }
    const fingerprint = fingerprintOf({
      kind: 'interpolate',
      content: request.content,
      style: request.style,
      t: request.t,
      method: request.method,
      weights: request.weights,
      fusion: request.fusion,
      filters: request.filters,
    });
    const kinds = { content: sourceKinds(request.content), style: sourceKinds(request.style) };
    const response = await this.run({ descriptors, options: request, kinds, excludeSeqs, fingerprint, encodeMs: elapsed(startedAt), startedAt });
    return { ...response, descriptors };
  }

  /** One modality's descriptor of a source (item, text, image or raw vector). */
  async descriptorFor(source: DescriptorSource, modality: SearchModality): Promise<Float32Array> {
    return (await this.resolver.source(modality, source)).vector;
  }

  /** Both descriptors of a source: an item's stored pair, an image's pair, or a text read as content and as style. */
  async descriptorsFor(source: DualSource): Promise<{ content: Float32Array; style: Float32Array }> {
    if ('itemId' in source) {
      const item = await this.resolver.item(source.itemId);
      return { content: item.semantic, style: item.style };
    }
    if ('image' in source) return this.resolver.imageBoth(source.image);
    const [content, style] = await Promise.all([this.resolver.text('content', source.text), this.resolver.text('style', source.text)]);
    return { content, style };
  }

  /** Stored items with their vectors (ITEM_NOT_FOUND for an unknown id). */
  async items(ids: string[]): Promise<ItemWithVectors[]> {
    return this.resolver.items(ids);
  }

  private async run(input: RunInput): Promise<SearchResponse> {
    const { descriptors, options, fingerprint } = input;
    const weights: ParticipatingWeights = {};
    for (const modality of SEARCH_MODALITIES) {
      const weight = options.weights?.[modality] ?? 1;
      if (descriptors[modality] && weight > 0) weights[modality] = weight;
    }
    const modalities = Object.keys(weights) as SearchModality[];
    if (modalities.length === 0) throw createError('EMPTY_QUERY');
    const textWeight = options.weights?.text ?? DEFAULT_TEXT_WEIGHT;
    const wantsText = Boolean(input.text) && textWeight > 0;
    // One read of the catalog's write stamp serves both the words' presence and the words' list
    // cache (a cached text query read the version besides: ~10 µs of SQLite at 100k items).
    const stamp = wantsText ? this.catalog.writeStamp?.() : undefined;
    const useText = wantsText && (await this.hasText(stamp));
    if (useText) weights.text = textWeight;
    const position: CursorPosition | null = options.cursor ? decodeCursor(options.cursor, fingerprint) : null;
    const offset = position?.offset ?? 0;

    const excluded = new Set(input.excludeSeqs);
    const filter = effectiveFilter(options.filters);
    // An index that evaluates filters itself (a search server) gets the filter; otherwise the
    // catalog resolves it to the allowed seqs. A server search with a restrictive filter is
    // exact already (Lucene scores a small filtered set by brute force), so only label-filtered
    // indices take the exact path below.
    const pushDown = modalities.every((m) => this.indices[m].filtersItself);
    const allowed = filter && !pushDown ? await this.catalog.matchFilter(filter) : null;
    const constraint: VectorSearchConstraint = {};
    if (excluded.size > 0) constraint.exclude = excluded;
    if (allowed) constraint.allowed = allowed;
    if (filter && pushDown) constraint.filter = filter;
    const accept = (seq: number): boolean => !excluded.has(seq) && (allowed === null || allowed.has(seq));
    const retrieveStartedAt = performance.now();
    // No exclusion and no allowed set: every item is acceptable, and the words' list is not checked item by item.
    const acceptsAll = excluded.size === 0 && allowed === null;
    const lexical = useText
      ? await this.lexicalQuery(input.text as string, { allowed, filter: filter && pushDown ? filter : null, accept: acceptsAll ? null : accept, stamp })
      : null;
    let retrieveMs = elapsed(retrieveStartedAt);

    // RRF and min-max scores depend on the pool, so they rank one fixed window (as
    // Elasticsearch's rank_window_size does) and every page sees the same ranking. Weighted scores
    // are exact cosines, independent of the pool: start with a pool that reaches the requested
    // page and deepen it until the page is provably exact (see pool()). With one modality min-max
    // orders exactly as the cosine does, so it takes the exact path.
    const fusion: FusionMethod = options.fusion === 'minmax' && modalities.length === 1 ? 'weighted' : options.fusion;
    const windowed = isWindowed(fusion);
    const facetFields = [...new Set(options.facets ?? [])] as FacetField[];
    const oversampled = Math.min(this.options.maxCandidates, Math.ceil((offset + options.k) * this.options.oversample));
    const exactFilter = allowed !== null && allowed.size <= this.options.exactFilterLimit;
    // Words that no acceptable item matches add 0 to every item's fused score: the ranking is the
    // vectors' own, so the query reads it from the vector index like a query without words (the
    // scores keep the words' share of the weight, and scores.text is 0).
    const wordsMatch = lexical !== null && (lexical.hits.length > 0 || lexical.full);
    const direct = exactFilter || wordsMatch || windowed ? null : this.directSource(descriptors, weights);
    // Words that match: one fixed window of both lists, scored exactly (see wordsPool).
    const wordsWindowed = wordsMatch && !exactFilter && !windowed;
    let depth = windowed
      ? Math.min(this.options.maxCandidates, this.options.rrfWindow)
      : wordsWindowed
        ? Math.min(this.options.maxCandidates, this.options.wordsWindow)
        : direct
        ? // One past the page tells whether there is a next one; facets count a pool as deep as before.
          Math.min(this.options.maxCandidates, facetFields.length > 0 ? Math.max(oversampled, offset + options.k + 1) : offset + options.k + 1)
        : oversampled;
    let deepenings = 0;
    const scored = new Map<number, Candidate | null>();
    let fuseMs = 0;
    let pool: { ranking: Ranking; truncated: boolean; bound: number; items?: Map<number, ResultItem> };
    // The page and one past it (whether there is a next page, and whether the page is proven in place).
    let after: { candidates: RankedCandidate[]; remaining: number };
    for (;;) {
      const retrieveStart = performance.now();
      pool = exactFilter
        ? await this.exactPool(descriptors, weights, fusion, allowed, accept, lexical)
        : direct
          ? await this.directPool(direct, descriptors, weights, depth, constraint, input.kinds)
          : wordsWindowed && lexical
            ? await this.wordsPool(descriptors, weights, depth, constraint, accept, lexical, input.kinds)
            : await this.pool(descriptors, weights, fusion, depth, constraint, accept, scored, lexical, input.kinds);
      retrieveMs += elapsed(retrieveStart);
      const fuseStart = performance.now();
      after = pool.ranking.after(position ? position.last : null, options.k + 1);
      fuseMs += elapsed(fuseStart);
      if (direct || wordsWindowed || !pool.truncated || depth >= this.options.maxCandidates || windowed) break;
      if (deepenings++ >= this.options.maxDeepening) break;
      // One past the page must be provably in place too, or "is there a next page" could be wrong.
      const settled = after.candidates.findIndex((c) => c.score < pool.bound);
      if (settled === -1) break;
      depth = Math.min(this.options.maxCandidates, depth * 2);
    }
    const page = after.candidates.length > options.k ? after.candidates.slice(0, options.k) : after.candidates;
    const hydrateStart = performance.now();
    const results = await this.hydrate(page, options.explain ? weights : null, pool.items, stamp);
    const hydrateMs = elapsed(hydrateStart);

    const more = after.remaining > options.k;
    const last = page[page.length - 1];
    const nextCursor = more && last ? encodeCursor(fingerprint, { offset: offset + page.length, last: { score: last.score, seq: last.seq } }) : null;
    const response: SearchResponse = {
      results,
      nextCursor,
      timing: { encodeMs: input.encodeMs, retrieveMs, fuseMs, hydrateMs, totalMs: elapsed(input.startedAt) },
    };
    if (!pool.truncated) response.total = pool.ranking.size;
    if (facetFields.length > 0) {
      response.facets = await this.catalog.facets({ seqs: pool.ranking.seqs() }, facetFields, { limit: options.facetLimit });
      response.facetScope = FACET_SCOPE;
    }
    return response;
  }

  /**
   * Whether the catalogue has words to search, cached per write stamp (`stamp`, read by the
   * query), or per catalog version where the catalog has no stamp. The stamp moves with every
   * committed write, as the version does and more (an alias's promotion moves it too).
   */
  private async hasText(stamp: string | undefined): Promise<boolean> {
    const key = stamp ?? (await this.catalog.version());
    if (this.textState?.key !== key) {
      const hasText = this.catalog.hasText();
      const state = { key, hasText };
      this.textState = state;
      // A failed look-up must not stick: the next query asks again.
      hasText.catch(() => {
        if (this.textState === state) this.textState = null;
      });
    }
    return this.textState.hasText;
  }

  /**
   * The lexical candidates: a fixed number (the RRF window), whatever the page, so the BM25 pivot
   * and the candidate set are the same for every page of a query.
   */
  private async lexicalQuery(
    text: string,
    request: LexicalRequest,
    limit = Math.min(this.options.maxCandidates, this.options.rrfWindow),
    pivotOf: (hits: readonly LexicalHit[]) => number = lexicalPivot,
  ): Promise<LexicalQuery> {
    const { allowed, filter, accept, stamp } = request;
    const found =
      allowed || filter
        ? await this.catalog.lexicalSearch(text, { limit, ...(allowed ? { allowed } : {}), ...(filter ? { filter } : {}) })
        : await this.lexicalLists.search(text, limit, stamp);
    // A list every hit of which is acceptable is used as it is (a cached one: with its pivot and
    // seq map from the last query of the same text).
    if (accept === null || found.every((hit) => accept(hit.seq))) {
      let kept = this.lexicalLookups.get(found);
      if (!kept) {
        kept = { pivot: pivotOf(found), positionOf: positionsOf(found), unlisted: new Map(), cosines: null, order: null };
        this.lexicalLookups.set(found, kept);
      }
      return { text, hits: found, pivot: kept.pivot, positionOf: kept.positionOf, full: found.length >= limit, kept, request };
    }
    const hits = found.filter((hit) => accept(hit.seq));
    return { text, pivot: pivotOf(hits), hits, positionOf: positionsOf(hits), full: found.length >= limit, kept: null, request };
  }

  /**
   * The words' first `depth` candidates and the rest of the BM25 tie at their cut, up to
   * `wordsTieLimit` more. A list cut inside a tie leaves unseen matches exactly as good by the
   * words as the tie's listed ones (every match of a common word in titles of the same length):
   * only the vectors tell them apart, so they are candidates too, each scored exactly. The list
   * is read further from the catalog (a cached list, like the first, for an unfiltered query);
   * its pivot stays the first list's, so every score is the same as without the tie's rest.
   *
   * `open`: the cut is inside a tie this could not complete (larger than the limit, or the list
   * read further did not begin with the first one, a write having landed between the reads).
   */
  private async completeTie(lexical: LexicalQuery, depth: number): Promise<TieCompletion> {
    const { kept } = lexical;
    if (kept?.tie && kept.tie.depth === depth) return kept.tie.completion;
    const completion = await this.readTie(lexical, depth);
    if (kept) kept.tie = { depth, completion };
    return completion;
  }

  /** completeTie's reading, uncached. */
  private async readTie(lexical: LexicalQuery, depth: number): Promise<TieCompletion> {
    const { hits } = lexical;
    if (depth === 0) return { lexical, depth, open: false };
    // Off: the list as it is, and a cut tie, if any, is left to the doubled index depth.
    if (this.options.wordsTieLimit <= 0) return { lexical, depth, open: true };
    const cut = hits[depth - 1].score;
    const tieEnd = (list: readonly LexicalHit[], from: number): number => {
      let end = from;
      while (end < list.length && list[end].score === cut) end++;
      return end;
    };
    const limit = this.options.wordsTieLimit;
    const end = tieEnd(hits, depth);
    if (end > depth + limit) return { lexical, depth, open: true };
    if (end < hits.length || !lexical.full) return { lexical, depth: end, open: false };
    // The tie runs past the list's end: read on to one past the limit (is the tie longer?).
    const pivot = lexical.pivot;
    const further = await this.lexicalQuery(lexical.text, lexical.request, depth + limit + 1, () => pivot);
    const last = hits.length - 1;
    const same = further.hits.length > last && further.hits[last].seq === hits[last].seq && further.hits[last].score === hits[last].score;
    if (!same) return { lexical, depth, open: true };
    const furtherEnd = tieEnd(further.hits, hits.length);
    if (furtherEnd > depth + limit) return { lexical, depth, open: true };
    return { lexical: further, depth: furtherEnd, open: false };
  }

  /**
   * The vector candidates of a pool: the top `depth` of each participating index, or for weighted
   * content + style the joint index's one list in the fused order (its scores already fused over
   * both, see joint.ts). RRF and min-max keep one list per modality: they rank each modality on its
   * own, and its own top items must be in the window. The joint graph searches at
   * hnsw.jointEfSearch (parasol tune does not measure it).
   */
  private async vectorLists(
    descriptors: QueryDescriptors,
    weights: ParticipatingWeights,
    fusion: FusionMethod,
    depth: number,
    constraint: VectorSearchConstraint,
    kinds: QueryKinds | undefined,
  ): Promise<{ lists: Array<Array<{ seq: number; score: number }>>; joint: boolean }> {
    const modalities = vectorModalities(weights);
    if (fusion === 'weighted' && modalities.length === 2 && this.joint) {
      const query = jointQuery(descriptors.content as Float32Array, descriptors.style as Float32Array, {
        content: weights.content as number,
        style: weights.style as number,
      });
      const hits = await this.joint.search(query.vector, depth, constraint);
      return { lists: [hits.map((hit) => ({ seq: hit.seq, score: hit.score * query.scale }))], joint: true };
    }
    const lists = await Promise.all(
      modalities.map((m) => this.indices[m].search(descriptors[m] as Float32Array, depth, this.withBreadth(constraint, m, kinds))),
    );
    return { lists, joint: false };
  }

  /**
   * One candidate pool: the top `depth` of each participating index (see vectorLists), with the
   * words' list for RRF and min-max (its whole window), scored exactly in every modality and fused.
   *
   * The bound (weighted fusion): an item outside index m's list has cosine ≤ that list's last
   * score, so an item in no list fuses to at most Σ w̄ₘ·lastₘ (Fagin's threshold). Pooled
   * items scoring at least that are in their true place; below it, an unseen item might belong.
   * When any list came back short, the pool holds every acceptable item and the bound is -∞.
   * A weighted query whose words match never comes here (wordsPool); one whose words match
   * nothing has no words' list, and the words add 0 to every item.
   */
  private async pool(
    descriptors: QueryDescriptors,
    weights: ParticipatingWeights,
    fusion: FusionMethod,
    depth: number,
    constraint: VectorSearchConstraint,
    accept: (seq: number) => boolean,
    scored: Map<number, Candidate | null>,
    lexical: LexicalQuery | null,
    kinds: QueryKinds | undefined,
  ): Promise<{ ranking: Ranking; truncated: boolean; bound: number }> {
    const modalities = vectorModalities(weights);
    const { lists: hitLists, joint } = await this.vectorLists(descriptors, weights, fusion, depth, constraint, kinds);
    // Only a short vector list proves the pool holds every acceptable item: the lexical list
    // holds only the items with a matching word.
    const truncated = hitLists.every((hits) => hits.length >= depth);
    const lexicalHits = lexical?.hits.slice(0, depth) ?? [];
    const seqs = [...new Set([...hitLists.flat(), ...lexicalHits].map((hit) => hit.seq))].filter(accept);
    // A deeper round finds the shallower round's candidates again: score only the new ones.
    const fresh = seqs.filter((seq) => !scored.has(seq));
    for (const seq of fresh) scored.set(seq, null);
    for (const candidate of await this.scoreExactly(fresh, descriptors, modalities, lexical)) scored.set(candidate.seq, candidate);
    const candidates = seqs.flatMap((seq) => {
      const candidate = scored.get(seq);
      return candidate ? [candidate] : [];
    });
    const ranked = fuse(fusion, candidates, weights);
    const totalWeight = Object.values(weights).reduce((sum, w) => sum + w, 0);
    // An item in no list scores at most each list's last in it (the joint list's last is already
    // fused over content and style). The index's own cosines may differ from ours in the last
    // float bits: keep a margin.
    const vectorBound = joint
      ? (((weights.content as number) + (weights.style as number)) / totalWeight) * (hitLists[0][depth - 1]?.score ?? 1)
      : modalities.reduce((sum, m, i) => sum + ((weights[m] as number) / totalWeight) * (hitLists[i][depth - 1]?.score ?? 1), 0);
    const bound = truncated ? vectorBound + 1e-6 : Number.NEGATIVE_INFINITY;
    return { ranking: arrayRanking(ranked), truncated, bound };
  }

  /**
   * The pool of a weighted query whose words match: one fixed window, the same for every page.
   * Candidates are the vector index's top `wordsVectorDepth` (the joint index's for content +
   * style) and the words' top `depth` (BM25 order); each is scored exactly in every signal (cosines
   * from the candidates' vectors, through the vector cache; BM25 from the same postings for every
   * candidate, however it was found) and fused by the weighted sum.
   *
   * The index's depth is its search breadth, not the words' depth: an HNSW search costs about
   * max(efSearch, k), so a k within the breadth costs what the vector-only query's search costs,
   * and twice the breadth cost 2.4× that (measured at 100k). It is twice as deep only where the
   * words cannot rank their own list: one cut inside a BM25 tie that holds half of it or more
   * (every match of a word in a uniform catalogue scores the same), whose unseen matches are as
   * good by the words as most of its listed ones and only the vectors tell apart (measured: 0.53
   * of the exact fused top 24 at the breadth, 0.75 at twice it). Both depths depend only on the
   * query, never on the page.
   *
   * Why not a proof, as pool() gives a query without words: an unseen item may carry any of the
   * words, so the bound adds the words' last pooled score to the vectors' and is rarely beaten; the
   * proof deepened the index search to the limit and read hundreds of vectors, and still ended as
   * the best of its deepest pool (measured at 100k items: 6.8-9.5× the vector-only query's CPU,
   * 0.67 of the exact fused top 24). One window costs one index search at the vector-only query's
   * breadth and puts more of the exact top k on the page.
   *
   * What it gives up: an item outside both lists (a middling cosine and middling words) is never
   * ranked, and the ranking ends with the window: past its last candidate the cursor ends.
   * Pagination is exact: every page ranks the same candidates with the same scores.
   */
  private async wordsPool(
    descriptors: QueryDescriptors,
    weights: ParticipatingWeights,
    depth: number,
    constraint: VectorSearchConstraint,
    accept: (seq: number) => boolean,
    lexical: LexicalQuery,
    kinds: QueryKinds | undefined,
  ): Promise<{ ranking: Ranking; truncated: boolean; bound: number }> {
    const modalities = vectorModalities(weights);
    // One modality's index scores with the exact cosine (as a query without words is ranked by
    // it): only the words' candidates need their vectors, and those are kept with a cached list,
    // so the rest of a tie at the words' cut costs its cosines once per text and query vector.
    const ownIndex = modalities.length === 1 && this.indices[modalities[0]].exactScores;
    const words = ownIndex ? await this.completeTie(lexical, Math.min(depth, lexical.hits.length)) : null;
    const vectorDepth = Math.min(depth, this.wordsVectorDepth(modalities, kinds, lexical, words !== null && !words.open));
    const { lists, joint } = await this.vectorLists(descriptors, weights, 'weighted', vectorDepth, constraint, kinds);
    const wordsDepth = Math.min(depth, lexical.hits.length);
    // A vector list that came back short holds every acceptable item: so does the pool.
    const truncated = lists.every((hits) => hits.length >= vectorDepth);
    if (words && !joint) {
      const modality = modalities[0];
      const ranking = await this.ownIndexWindow(lists[0], modality, descriptors[modality] as Float32Array, weights, words.lexical, words.depth, accept);
      return { ranking, truncated, bound: Number.NEGATIVE_INFINITY };
    }
    const seen = new Set<number>();
    const seqs: number[] = [];
    const take = (seq: number): void => {
      if (seen.has(seq) || !accept(seq)) return;
      seen.add(seq);
      seqs.push(seq);
    };
    for (const list of lists) for (const hit of list) take(hit.seq);
    for (let i = 0; i < wordsDepth; i++) take(lexical.hits[i].seq);
    const candidates = await this.scoreExactly(seqs, descriptors, modalities, lexical);
    // The weighted sum alone (fuseWeighted's float): only the page's explanations are built, when asked.
    const ranked: RankedCandidate[] = [];
    for (const { seq, scores, terms } of candidates) ranked.push({ seq, scores, terms, score: weightedScore(scores, weights) });
    return { ranking: arrayRanking(ranked.sort(compareFused)), truncated, bound: Number.NEGATIVE_INFINITY };
  }

  /**
   * The words window of one modality's index, whose hits carry their exact cosines: the index's
   * hits and the words' top `wordsDepth`, each with its cosine and BM25, as one ranking: the
   * words' candidates ranked by their fused score (WordsOrder), the index's hits ranked among
   * themselves, and the two merged as a page is read (mergedWindow). The same candidates, floats
   * and order as ranking them all together, so every page and cursor is the same as before.
   *
   * A repeated text reuses what its last query computed: the words' list is the lexical cache's
   * own (the same array until any write), and kept with it are the BM25 of the index's hits that
   * the list does not hold, the words' candidates' cosines for the last query vector seen with it
   * (the vector compared in full, so a session's moved descriptor computes them anew) and their
   * order for that vector and the last weights (others rank them anew from the cosines). All
   * depend only on the catalogue (which the list's life follows) and the query. So a repeated
   * query scores and sorts only the index's hits (the vector search itself is never skipped) and
   * builds objects only for the page.
   */
  private async ownIndexWindow(
    hits: ReadonlyArray<{ seq: number; score: number }>,
    modality: SearchModality,
    query: Float32Array,
    weights: ParticipatingWeights,
    lexical: LexicalQuery,
    wordsDepth: number,
    accept: (seq: number) => boolean,
  ): Promise<Ranking> {
    const { kept } = lexical;
    // weightedScore's floats for these two signals, its weights divided once.
    const total = (weights[modality] as number) + (weights.text as number);
    const vectorShare = total === 0 ? 0 : (weights[modality] as number) / total;
    const textShare = total === 0 ? 0 : (weights.text as number) / total;
    // The words' list holds acceptable items only (lexicalQuery filtered it, or found each acceptable).
    const order = await this.wordsOrder(lexical, modality, query, vectorShare, textShare, wordsDepth);
    // The same hits as the last query's (the search itself always runs), for the same words'
    // order and weights: the index's side as it was ranked then.
    const last = kept?.indexSide;
    if (last && last.order === order && last.vectorShare === vectorShare && last.textShare === textShare && sameHits(last, hits, accept)) {
      return mergedWindow(last.index, order, last.taken, lexical, last.byIndex);
    }
    // The index's acceptable hits (an index lists a point once), with the words' list's BM25 where
    // it holds them, else the kept one; the others' BM25 is asked for below.
    const index: IndexSide = { seq: [], cosine: [], hit: [], score: [] };
    const unlisted: number[] = [];
    const listed: number[] = [];
    for (const hit of hits) {
      if (!accept(hit.seq)) continue;
      const position = lexical.positionOf.get(hit.seq);
      let words: LexicalHit | null | undefined;
      if (position !== undefined) {
        words = lexical.hits[position];
        if (position < wordsDepth) listed.push(position);
      } else {
        words = kept?.unlisted.get(hit.seq);
        if (words === undefined) unlisted.push(index.seq.length);
      }
      index.seq.push(hit.seq);
      index.cosine.push(hit.score);
      index.hit.push(words ?? null);
    }
    // BM25 for every candidate, however it was found: the words' own list holds most of them.
    if (unlisted.length > 0) {
      const seqs = unlisted.map((i) => index.seq[i]);
      const words = await this.catalog.lexicalScores(lexical.text, seqs);
      if (kept && kept.unlisted.size + seqs.length > MAX_KEPT_UNLISTED) kept.unlisted.clear();
      for (const i of unlisted) {
        const hit = words.get(index.seq[i]) ?? null;
        index.hit[i] = hit;
        kept?.unlisted.set(index.seq[i], hit);
      }
    }
    for (let i = 0; i < index.seq.length; i++) {
      const hit = index.hit[i];
      index.score.push(vectorShare * index.cosine[i] + textShare * (hit ? saturate(hit.score, lexical.pivot) : 0));
    }
    // The words' candidates the index found too: the index's side ranks them, with its own cosine.
    const taken: number[] = [];
    for (const position of listed) if (order.rankOf[position] >= 0) taken.push(order.rankOf[position]);
    const byIndex = indexOrder(index);
    if (kept && index.seq.length === hits.length) {
      kept.indexSide = {
        seqs: Int32Array.from(hits, (hit) => hit.seq),
        cosines: Float64Array.from(hits, (hit) => hit.score),
        order,
        vectorShare,
        textShare,
        index,
        taken,
        byIndex,
      };
    }
    return mergedWindow(index, order, taken, lexical, byIndex);
  }

  /**
   * A words' list's first `depth` candidates ranked for a query vector and weights (see
   * WordsOrder): the kept order when the list is cached and the vector and weights are the same,
   * else ranked from the kept cosines (the same vector, other weights) or from the candidates'
   * vectors (through the vector cache), and kept for the next query.
   */
  private async wordsOrder(
    lexical: LexicalQuery,
    modality: SearchModality,
    query: Float32Array,
    vectorShare: number,
    textShare: number,
    depth: number,
  ): Promise<WordsOrder> {
    const { kept } = lexical;
    const last = kept?.order;
    if (
      last &&
      last.modality === modality &&
      last.depth === depth &&
      last.vectorShare === vectorShare &&
      last.textShare === textShare &&
      sameVector(last.query, query)
    ) {
      return last;
    }
    const known = kept?.cosines;
    let cosines: Float64Array;
    let vector: Float32Array;
    if (known && known.modality === modality && known.byPosition.length >= depth && sameVector(known.query, query)) {
      cosines = known.byPosition;
      vector = known.query;
    } else {
      const seqs = lexical.hits.slice(0, depth).map((hit) => hit.seq);
      const vectors = await this.vectors.get(seqs, STORE_MODALITY[modality]);
      // Deleted since the words were listed: no longer a candidate (NaN leaves it out).
      cosines = new Float64Array(depth).fill(Number.NaN);
      for (let p = 0; p < depth; p++) {
        const stored = vectors.get(seqs[p]);
        if (stored) cosines[p] = dot(query, stored);
      }
      vector = Float32Array.from(query);
      if (kept) kept.cosines = { modality, query: vector, byPosition: cosines };
    }
    const order = wordsOrder(lexical.hits, lexical.pivot, cosines, { modality, query: vector, vectorShare, textShare, depth });
    if (kept) kept.order = order;
    return order;
  }

  /**
   * The words window's vector depth (see SearchEngineOptions.wordsVectorDepth): one modality's
   * tuned breadth for the query, else the configured depth.
   */
  private wordsVectorDepth(modalities: SearchModality[], kinds: QueryKinds | undefined, lexical: LexicalQuery, tieRanked: boolean): number {
    const tuned = modalities.length === 1 ? this.breadth?.ef(modalities[0], kinds?.[modalities[0]]) : undefined;
    const base = Math.max(1, tuned ?? this.options.wordsVectorDepth);
    // A words' list cut inside a BM25 tie that holds half of it or more cannot rank its matches:
    // the unseen ones are as good by the words as most of the listed, only the vectors tell them
    // apart, so the index is searched deeper (`tieRanked`: the tie's rest is among the candidates already).
    if (tieRanked) return base;
    const { hits } = lexical;
    if (!lexical.full || hits.length < 2) return base;
    const last = hits[hits.length - 1].score;
    return hits[hits.length >> 1].score === last ? 2 * base : base;
  }

  /**
   * The one index whose ranking is a weighted vector query's own, or null: a single modality's
   * index when its scores are exact cosines, or for content + style the joint index (its order is
   * the fused score's, see joint.ts).
   */
  private directSource(descriptors: QueryDescriptors, weights: ParticipatingWeights): DirectSource | null {
    const modalities = vectorModalities(weights);
    if (modalities.length === 1) {
      const modality = modalities[0];
      const index = this.indices[modality];
      return index.exactScores ? { kind: 'one', modality, index, vector: descriptors[modality] as Float32Array } : null;
    }
    if (!this.joint) return null;
    const vector = jointQuery(descriptors.content as Float32Array, descriptors.style as Float32Array, {
      content: weights.content as number,
      style: weights.style as number,
    }).vector;
    return { kind: 'joint', index: this.joint, vector };
  }

  /**
   * The top `depth` of a weighted vector query from its one index. One modality: the index's
   * cosines are the scores, nothing is rescored. Joint: the hits' two cosines come from the
   * catalog's vectors (so every result shows both, and an item deleted since indexing drops out),
   * and the fused score from them. Either way the order is the exact score's, so pages follow
   * each other by their (score, seq) keys like the deeper pools do.
   */
  private async directPool(
    direct: DirectSource,
    descriptors: QueryDescriptors,
    weights: ParticipatingWeights,
    depth: number,
    constraint: VectorSearchConstraint,
    kinds: QueryKinds | undefined,
  ): Promise<{ ranking: Ranking; truncated: boolean; bound: number; items?: Map<number, ResultItem> }> {
    const breadth = direct.kind === 'one' ? this.withBreadth(constraint, direct.modality, kinds) : constraint;
    const hits = await direct.index.search(direct.vector, depth, breadth);
    const truncated = hits.length >= depth;
    let ranked: RankedCandidate[];
    let items: Map<number, ResultItem> | undefined;
    // Words in the query that matched nothing: they score 0 everywhere and keep their share of the weight.
    const words = weights.text !== undefined;
    if (direct.kind === 'one') {
      const content = direct.modality === 'content';
      ranked = hits.map((hit) => {
        const scores: ModalityScores = { content: content ? hit.score : null, style: content ? null : hit.score };
        if (!words) return { seq: hit.seq, scores, score: hit.score };
        scores.text = 0;
        return { seq: hit.seq, scores, terms: [], score: weightedScore(scores, weights) };
      });
    } else {
      // The page's items with both vectors in one read (through the page cache): the same rows
      // hydrate the page right after, and an item deleted since indexing is not among them.
      const withVectors = await this.pageItems.getManyWithVectors(hits.map((hit) => hit.seq));
      items = withVectors;
      const content = descriptors.content as Float32Array;
      const style = descriptors.style as Float32Array;
      ranked = [];
      for (const hit of hits) {
        const item = withVectors.get(hit.seq);
        if (!item) continue;
        const scores: ModalityScores = { content: dot(content, item.semantic), style: dot(style, item.style), text: words ? 0 : null };
        ranked.push(
          words ? { seq: hit.seq, scores, terms: [], score: weightedScore(scores, weights) } : { seq: hit.seq, scores, score: weightedScore(scores, weights) },
        );
      }
    }
    return { ranking: arrayRanking(ranked.sort(compareFused)), truncated, bound: Number.NEGATIVE_INFINITY, items };
  }

  /**
   * A filter that leaves few items is answered exactly: a graph search that may only visit a few
   * accepted nodes can come back short, while scoring the whole filtered set is cheap.
   */
  private async exactPool(
    descriptors: QueryDescriptors,
    weights: ParticipatingWeights,
    fusion: FusionMethod,
    allowed: Set<number>,
    accept: (seq: number) => boolean,
    lexical: LexicalQuery | null,
  ): Promise<{ ranking: Ranking; truncated: boolean; bound: number }> {
    const modalities = vectorModalities(weights);
    const seqs = [...allowed].filter(accept);
    const candidates = await this.scoreExactly(seqs, descriptors, modalities, lexical);
    return { ranking: arrayRanking(fuse(fusion, candidates, weights)), truncated: false, bound: Number.NEGATIVE_INFINITY };
  }

  /**
   * Cosines from the catalog's vectors (held in the vector cache) for every candidate in every participating modality, so
   * that an item found by one index still has its score in the other, and a score never depends
   * on which index found it. Candidates the catalog no longer holds (deleted since indexing) drop out.
   */
  private async scoreExactly(
    seqs: number[],
    descriptors: QueryDescriptors,
    modalities: SearchModality[],
    lexical: LexicalQuery | null,
  ): Promise<Candidate[]> {
    // The words' own hits carry their BM25 already (the same doubles lexicalScores gives): ask
    // only for the others.
    const listed = lexical?.positionOf;
    const unlisted = listed ? seqs.filter((seq) => !listed.has(seq)) : [];
    const [vectors, words] = await Promise.all([
      Promise.all(modalities.map((m) => this.vectors.get(seqs, STORE_MODALITY[m]))),
      lexical && unlisted.length > 0 ? this.catalog.lexicalScores(lexical.text, unlisted) : null,
    ]);
    const queries = modalities.map((modality) => descriptors[modality] as Float32Array);
    const candidates: Candidate[] = [];
    for (const seq of seqs) {
      const scores: ModalityScores = { content: null, style: null, text: null };
      let live = true;
      for (let i = 0; i < modalities.length && live; i++) {
        const vector = vectors[i].get(seq);
        if (vector) scores[modalities[i]] = dot(queries[i], vector);
        else live = false;
      }
      if (!live) continue;
      const candidate: Candidate = { seq, scores };
      if (lexical) {
        // BM25 for every candidate, however it was found: no match scores 0.
        const position = listed?.get(seq);
        const hit = position !== undefined ? lexical.hits[position] : words?.get(seq);
        scores.text = hit ? saturate(hit.score, lexical.pivot) : 0;
        candidate.terms = hit?.terms ?? [];
      }
      candidates.push(candidate);
    }
    return candidates;
  }

  /** The constraint with this modality's tuned breadth for the query's kind (unchanged when untuned). */
  private withBreadth(constraint: VectorSearchConstraint, modality: SearchModality, kinds: QueryKinds | undefined): VectorSearchConstraint {
    const ef = this.breadth?.ef(modality, kinds?.[modality]);
    return ef === undefined ? constraint : { ...constraint, ef };
  }

  /**
   * The page's items from the catalog, or from the read that ranked them (`known`, holding every
   * page item still live); explanations (weights given) built here for a pool that has none.
   * `stamp`: the catalog's write stamp as this query read it, if it did (the item cache then need
   * not read it again).
   */
  private async hydrate(
    page: RankedCandidate[],
    explainWith: ParticipatingWeights | null,
    known?: Map<number, ResultItem>,
    stamp?: string,
  ): Promise<SearchResult[]> {
    const items = known ?? (await this.pageItems.getMany(page.map((c) => c.seq), stamp));
    const results: SearchResult[] = [];
    for (const candidate of page) {
      const item = items.get(candidate.seq);
      if (!item) continue; // deleted between scoring and now
      const { scores } = candidate;
      // Fields copied one by one, and the item's tags shared as its extra is (the page cache's
      // items are read-only): a spread of the scores and a copy of the tags cost more than the
      // rest of a warm page's hydration (measured at 100k items: 44 µs against 3 µs a page).
      const result: SearchResult = {
        id: item.id,
        seq: item.seq,
        title: item.title,
        source: item.source,
        license: item.license,
        attribution: item.attribution,
        tags: item.tags,
        extra: item.extra,
        score: candidate.score,
        scores: { content: scores.content, style: scores.style, text: scores.text ?? null },
      };
      if (item.aliases && item.aliases.length > 0) result.aliases = item.aliases;
      if (explainWith) result.explanation = candidate.explanation ?? explainWeighted(candidate, explainWith);
      results.push(result);
    }
    return results;
  }
}

/**
 * What is kept with a cached words' list (see ownIndexWindow): its pivot and positions by seq, the
 * BM25 of other candidates (null: no match), its words' candidates' cosines for one query vector
 * (by list position; NaN: no vector) and their fused order for that vector and one pair of weights.
 */
interface KeptWithWords {
  pivot: number;
  positionOf: ReadonlyMap<number, number>;
  unlisted: Map<number, LexicalHit | null>;
  cosines: { modality: SearchModality; query: Float32Array; byPosition: Float64Array } | null;
  order: WordsOrder | null;
  /**
   * The index's side of the last window ranked with this list (ownIndexWindow): its hits as the
   * search gave them, every one acceptable, and their scores and order for one words' order and pair
   * of weights. A query whose search gives the same hits reuses it.
   */
  indexSide?: {
    seqs: Int32Array;
    cosines: Float64Array;
    order: WordsOrder;
    vectorShare: number;
    textShare: number;
    index: IndexSide;
    taken: number[];
    byIndex: number[];
  };
  /** The list's tie at a words' depth, completed or found open (completeTie), for the next query of the text. */
  tie?: { depth: number; completion: TieCompletion };
}

/** A words' list with the rest of the BM25 tie at its cut (see completeTie). */
interface TieCompletion {
  lexical: LexicalQuery;
  depth: number;
  open: boolean;
}

/**
 * BM25 of candidates outside a words' list kept with it, at most: the index's hits of a few recent
 * query vectors (128-256 each). With the list's positions, its 400 cosines and their order, a cached
 * text keeps about 50 kB more, so the lexical cache's 1,024 texts stay within tens of megabytes;
 * one whose cut falls inside a BM25 tie also keeps the tie's rest (up to wordsTieLimit, 1,024 more
 * hits with their positions and cosines: about 150 kB more for such a text).
 */
const MAX_KEPT_UNLISTED = 512;

/** Each hit's position in its list, by seq. */
function positionsOf(hits: readonly LexicalHit[]): Map<number, number> {
  const positions = new Map<number, number>();
  for (let p = 0; p < hits.length; p++) positions.set(hits[p].seq, p);
  return positions;
}

/** Whether a search gave exactly the kept side's hits (seqs, cosines and order), each still acceptable. */
function sameHits(
  kept: { seqs: Int32Array; cosines: Float64Array },
  hits: ReadonlyArray<{ seq: number; score: number }>,
  accept: (seq: number) => boolean,
): boolean {
  if (kept.seqs.length !== hits.length) return false;
  for (let i = 0; i < hits.length; i++) {
    if (kept.seqs[i] !== hits[i].seq || kept.cosines[i] !== hits[i].score || !accept(hits[i].seq)) return false;
  }
  return true;
}

function sameVector(a: Float32Array, b: Float32Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A weighted vector query's one index: a modality's own, or the joint one for content + style. */
type DirectSource =
  | { kind: 'one'; modality: SearchModality; index: VectorIndex; vector: Float32Array }
  | { kind: 'joint'; index: VectorIndex; vector: Float32Array };

/** The vector modalities among the participating signals (each has an index to search). */
function vectorModalities(weights: ParticipatingWeights): SearchModality[] {
  return SEARCH_MODALITIES.filter((m) => weights[m] !== undefined);
}
