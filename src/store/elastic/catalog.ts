/**
 * The Elasticsearch catalog: the same contract and semantics as SqliteCatalog (the reference),
 * over one items index (behind an alias), a thumbnails index and the meta registry.
 *
 * Reads by id or content hash resolve through the registry and realtime GETs, so they see a write
 * as soon as it is acknowledged; searches (matchFilter, scan, changesSince, stats) see what the
 * last refresh published, which is every acknowledged write when `refresh` is 'wait_for'.
 *
 * ES has no transactions, so addBatch is made all-or-none by compensation: seqs and the version
 * are reserved on the counter, uniqueness claims created, then items written; if anything fails,
 * what the batch wrote is removed before the error is thrown. Writes from this process take turns
 * (a mutex); the registry and the counter keep several servers consistent with each other.
 */
import type { Client, estypes } from '@elastic/elasticsearch';
import { createError, ParasolError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { idFromHash, type VectorDims } from '../sqlite-catalog.js';
import type {
  AddResult,
  Catalog,
  CatalogChanges,
  CatalogStats,
  FacetCounts,
  FacetField,
  FacetScope,
  Item,
  ItemFilter,
  ItemInput,
  ItemWithVectors,
  LexicalHit,
  Modality,
} from '../types.js';
import { runBulk, type BulkFailure, type BulkOp, type BulkSettings } from './bulk.js';
import { esCall, isConflict, isDocMissing, toParasolError } from './client.js';
import { LIVE, liveFilterQuery } from './filters.js';
import { carriesText, queryWords } from '../lexical.js';
import { aliasView, ITEM_SOURCE_EXCLUDES, LEXICAL_FIELDS, TEXT_ANALYZER, toItem, toItemWithVectors, vectorToJson, type AliasDoc, type IndexNames, type ItemDoc, type ThumbnailDoc } from './mapping.js';
import { claimKey, Registry, type Claim } from './registry.js';
import type { SearchTuning } from '../tuning.js';
import { collectHits, MAX_PAGE, rechunk, scanHits } from './scan.js';
import { assertDims, scopeSeqs, validateFacets, validateInput } from '../validate.js';

export type RefreshPolicy = 'wait_for' | 'false';

export interface ElasticCatalogOptions {
  client: Client;
  names: IndexNames;
  dims: VectorDims;
  refresh: RefreshPolicy;
  bulk: BulkSettings;
  /** A claim whose item has not appeared after this long belongs to a writer that died. */
  staleClaimMs: number;
  logger: Pick<Logger, 'info' | 'warn'>;
}

/** Distinct source values counted by stats(); a larger catalog reports the rest under no name. */
const MAX_SOURCES = 10_000;
/** Terms per `terms` query (index.max_terms_count's default); longer seq lists are OR-ed chunks. */
const MAX_TERMS = 65_536;
/**
 * Buckets each shard reports per facet: a terms aggregation over several shards is exact only while
 * every shard sends its share of the top values, so each sends far more than the top N.
 */
const FACET_SHARD_SIZE = 1_000;
/** Hits per request when a catalog-wide list is built (matchFilter, changesSince). */
const LIST_PAGE = 5_000;
/** Query words whose analysed terms are remembered: queries repeat words, a server must not grow without limit. */
const TERM_CACHE = 10_000;

type Source = estypes.SearchSourceConfig;
type Query = estypes.QueryDslQueryContainer;
const WITHOUT_VECTORS: Source = { excludes: ITEM_SOURCE_EXCLUDES };

interface Holder {
  doc: ItemDoc;
  seqNo: number;
  primaryTerm: number;
}

type ClaimState = { kind: 'none' } | { kind: 'live'; holder: ItemDoc } | { kind: 'pending' } | { kind: 'stale'; claim: Claim };

interface Planned {
  item: ItemInput;
  id: string;
  seq: number;
  /** Aliases written with the new item's doc (later inputs of the same content with their own ids). */
  aliases: AliasDoc[];
}

/** Aliases added to an item already stored. */
interface AliasUpdate {
  seq: number;
  aliases: AliasDoc[];
}

/** Whether an id answers for this doc: its own id or one of its aliases. */
function answersFor(doc: ItemDoc, id: string): boolean {
  return doc.id === id || (doc.aliases ?? []).some((alias) => alias.id === id);
}

/** Runs tasks one after another (this process's writes; rebuild's final switch-over). */
export class Turns {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export class ElasticCatalog implements Catalog {
  readonly dims: VectorDims;
  readonly registry: Registry;
  /** addBatch, delete and the end of a rebuild take turns. */
  readonly writes = new Turns();
  /** Told the catalog version after each committed change (the vector indices report it). */
  onVersion: ((version: number) => void) | undefined;
  /** Query words → their analysed terms (the analyzer never changes under a catalog). */
  private readonly termCache = new Map<string, string[]>();
  private readonly client: Client;
  private readonly names: IndexNames;
  private readonly options: ElasticCatalogOptions;
  private closed = false;

  constructor(options: ElasticCatalogOptions) {
    assertDims(options.dims);
    this.options = options;
    this.client = options.client;
    this.names = options.names;
    this.dims = { ...options.dims };
    this.registry = new Registry(options.client, options.names.meta);
  }

  private get refresh(): 'wait_for' | false {
    return this.options.refresh === 'wait_for' ? 'wait_for' : false;
  }

  async addBatch(items: ItemInput[]): Promise<AddResult[]> {
    this.assertOpen();
    items.forEach((item, index) => {
      validateInput(item, index, this.dims);
      assertNonZero(item, index);
    });
    if (items.length === 0) return [];
    return this.writes.run(() => this.addValidated(items));
  }

  async get(id: string): Promise<Item | undefined> {
    const holder = await this.liveByClaim(claimKey('id', id), (doc) => answersFor(doc, id), WITHOUT_VECTORS);
    return holder && viewFor(holder.doc, id);
  }

  async getWithVectors(id: string): Promise<ItemWithVectors | undefined> {
    const holder = await this.liveByClaim(claimKey('id', id), (doc) => answersFor(doc, id), true);
    if (!holder) return undefined;
    const { semantic, style } = toItemWithVectors(holder.doc);
    return { ...viewFor(holder.doc, id), semantic, style };
  }

  async getManyBySeq(seqs: number[]): Promise<Map<number, Item>> {
    const docs = await this.mgetLive(seqs, WITHOUT_VECTORS);
    return new Map([...docs].map(([seq, doc]) => [seq, toItem(doc)]));
  }

  async getVectorsBySeq(seqs: number[], modality: Modality): Promise<Map<number, Float32Array>> {
    const field = modality === 'semantic' ? 'semantic' : 'style';
    const docs = await this.mgetLive(seqs, { includes: [field, 'deleted'] });
    return new Map([...docs].map(([seq, doc]) => [seq, Float32Array.from(doc[field])]));
  }

  async findByHash(contentHash: string): Promise<Item | undefined> {
    const holder = await this.liveByClaim(claimKey('hash', contentHash), (doc) => doc.contentHash === contentHash, WITHOUT_VECTORS);
    return holder && toItem(holder.doc);
  }

  async thumbnail(id: string): Promise<Buffer | undefined> {
    const item = await this.get(id);
    if (!item) return undefined;
    // Thumbnails are kept under the stored item's id; an alias shares it.
    const owner = item.aliasOf ?? item.id;
    try {
      const response = await this.client.get<ThumbnailDoc>({ index: this.names.thumbnails, id: owner });
      // The id may have been re-ingested since; only the live item's own thumbnail is served.
      if (!response._source || response._source.seq !== item.seq) return undefined;
      return Buffer.from(response._source.bytes, 'base64');
    } catch (error) {
      if (isDocMissing(error)) return undefined;
      throw toParasolError(error, `reading the thumbnail of "${id}"`);
    }
  }

  async delete(id: string): Promise<boolean> {
    this.assertOpen();
    return this.writes.run(() => this.deleteOne(id));
  }

  matchFilter(filter: ItemFilter): Promise<Set<number>>;
  matchFilter(filter: ItemFilter, options: { limit: number }): Promise<Set<number> | null>;
  async matchFilter(filter: ItemFilter, options?: { limit: number }): Promise<Set<number> | null> {
    const query = liveFilterQuery(filter);
    if (query === null) return new Set();
    if (options !== undefined) {
      const limit = Math.max(0, Math.floor(options.limit));
      if (limit + 1 <= MAX_PAGE) {
        // One bounded probe: limit + 1 hits are enough to tell "more than limit".
        const response = await esCall('matching a filter', () =>
          this.client.search({ index: this.names.alias, query, size: limit + 1, _source: false, track_total_hits: false }),
        );
        const hits = response.hits.hits;
        if (hits.length > limit) return null;
        return new Set(hits.map((hit) => seqOfHit(hit)));
      }
    }
    const hits = await collectHits(this.client, { index: this.names.alias, query, pageSize: LIST_PAGE, source: false, what: 'matching a filter' });
    if (options !== undefined && hits.length > options.limit) return null;
    return new Set(hits.map((hit) => seqOfHit(hit)));
  }

  async facets(scope: FacetScope, fields: readonly FacetField[], options: { limit: number }): Promise<FacetCounts> {
    const wanted = validateFacets(fields, options.limit);
    const counts: FacetCounts = Object.fromEntries(wanted.map((field) => [field, []]));
    let query: Query | null;
    if ('seqs' in scope) {
      const seqs = scopeSeqs(scope.seqs);
      const chunks: Query[] = [];
      for (let start = 0; start < seqs.length; start += MAX_TERMS) chunks.push({ terms: { seq: seqs.slice(start, start + MAX_TERMS) } });
      query = chunks.length === 0 ? null : { bool: { filter: [LIVE, chunks.length === 1 ? chunks[0] : { bool: { should: chunks, minimum_should_match: 1 } }] } };
    } else {
      query = liveFilterQuery(scope.filter);
    }
    if (query === null || wanted.length === 0) return counts;
    // One more bucket than asked: the empty value (no licence) is counted by ES but not listed.
    const aggs = Object.fromEntries(
      wanted.map((field) => [
        field,
        { terms: { field, size: options.limit + 1, shard_size: Math.max(FACET_SHARD_SIZE, options.limit + 1), order: [{ _count: 'desc' as const }, { _key: 'asc' as const }] } },
      ]),
    );
    const response = await esCall('counting facets', () =>
      this.client.search({ index: this.names.alias, query, size: 0, track_total_hits: false, aggs }),
    );
    const found = response.aggregations as Record<string, { buckets: Array<{ key: string | number; doc_count: number }> }> | undefined;
    for (const field of wanted) {
      counts[field] = (found?.[field]?.buckets ?? [])
        .map((bucket) => ({ value: String(bucket.key), count: bucket.doc_count }))
        .filter((entry) => entry.value !== '')
        .slice(0, options.limit);
    }
    return counts;
  }

  async lexicalSearch(
    text: string,
    options: { limit: number; allowed?: ReadonlySet<number>; filter?: ItemFilter },
  ): Promise<LexicalHit[]> {
    const words = queryWords(text);
    const limit = Math.min(Math.max(0, Math.floor(options.limit)), MAX_PAGE);
    if (words.length === 0 || limit === 0) return [];
    const filter = liveFilterQuery(options.filter, options.allowed === undefined ? {} : { allowed: options.allowed });
    if (filter === null) return [];
    return this.lexicalHits(words, filter, limit, 'searching words');
  }

  async lexicalScores(text: string, seqs: number[]): Promise<Map<number, LexicalHit>> {
    const words = queryWords(text);
    const wanted = [...new Set(seqs.filter((seq) => Number.isSafeInteger(seq) && seq > 0))];
    const scores = new Map<number, LexicalHit>();
    if (words.length === 0) return scores;
    // The same scoring query as lexicalSearch with the seqs as a non-scoring filter: BM25's
    // statistics are the index's, not the filtered set's, so the scores are identical.
    for (let start = 0; start < wanted.length; start += MAX_PAGE) {
      const ids = wanted.slice(start, start + MAX_PAGE).map(String);
      const filter: Query = { bool: { filter: [LIVE, { ids: { values: ids } }] } };
      for (const hit of await this.lexicalHits(words, filter, ids.length, 'scoring words')) scores.set(hit.seq, hit);
    }
    return scores;
  }

  async hasText(): Promise<boolean> {
    // Items written under schema 1 have no hasText flag; they count as carrying text (the safe side:
    // the text signal takes part and, for an item without words, simply finds nothing).
    const query: Query = {
      bool: {
        filter: [LIVE],
        should: [{ term: { hasText: true } }, { bool: { must_not: [{ exists: { field: 'hasText' } }] } }],
        minimum_should_match: 1,
      },
    };
    const response = await esCall('checking for words', () =>
      this.client.search({ index: this.names.alias, query, size: 1, _source: false, track_total_hits: false, terminate_after: 1 }),
    );
    return response.hits.hits.length > 0;
  }

  /**
   * One `multi_match` per query word (type most_fields, the fields boosted as SQLite weighs its
   * columns), OR-ed in a bool `should` and named by the word's position, so each hit's
   * `matched_queries` says which words it matched. The words' analysed terms come from `_analyze`,
   * asked in parallel with the search and only for words not analysed before.
   */
  private async lexicalHits(words: string[], filter: Query, size: number, what: string): Promise<LexicalHit[]> {
    const query: Query = {
      bool: {
        should: words.map((word, i) => ({ multi_match: { query: word, type: 'most_fields', fields: [...LEXICAL_FIELDS], _name: String(i) } })),
        minimum_should_match: 1,
        filter: [filter],
      },
    };
    const [response, terms] = await Promise.all([
      esCall(what, () =>
        this.client.search({ index: this.names.alias, query, size, _source: false, track_total_hits: false }),
      ),
      this.analysedTerms(words),
    ]);
    const hits = response.hits.hits.map((hit) => {
      const matched = new Set<string>();
      const named = Array.isArray(hit.matched_queries) ? hit.matched_queries : Object.keys(hit.matched_queries ?? {});
      for (const name of named) for (const term of terms[Number(name)] ?? []) matched.add(term);
      return { seq: seqOfHit(hit), score: hit._score ?? 0, terms: [...matched] };
    });
    // Equal scores in seq order, as in SQLite, so a page boundary does not depend on shard order.
    return hits.sort((a, b) => b.score - a.score || a.seq - b.seq);
  }

  /** Each word's terms as the index analyses them (stemmed, folded); one `_analyze` for all new words. */
  private async analysedTerms(words: string[]): Promise<string[][]> {
    const fresh = words.filter((word) => !this.termCache.has(word));
    if (fresh.length > 0) {
      // The words joined by spaces, and each token mapped back to its word by its start offset:
      // the standard tokenizer never joins across a space.
      const starts: number[] = [];
      let joined = '';
      for (const word of fresh) {
        starts.push(joined.length);
        joined += `${word} `;
      }
      const response = await esCall('analysing query words', () =>
        this.client.indices.analyze({ index: this.names.alias, analyzer: TEXT_ANALYZER, text: joined }),
      );
      const found = fresh.map(() => new Set<string>());
      for (const token of response.tokens ?? []) {
        let at = starts.length - 1;
        while (at > 0 && starts[at] > token.start_offset) at--;
        found[at].add(token.token);
      }
      if (this.termCache.size + fresh.length > TERM_CACHE) this.termCache.clear();
      fresh.forEach((word, i) => this.termCache.set(word, [...found[i]]));
    }
    return words.map((word) => this.termCache.get(word) ?? []);
  }

  async changesSince(version: number): Promise<CatalogChanges> {
    // The version first: whatever commits meanwhile is reported too, which a replay tolerates (upserts).
    const current = (await this.registry.counter()).version;
    const addedHits = await collectHits<ItemDoc>(this.client, {
      index: this.names.alias,
      query: { bool: { filter: [LIVE, { range: { addedVersion: { gt: version } } }] } },
      pageSize: LIST_PAGE,
      source: true,
      what: 'listing items added since a version',
    });
    const deletedHits = await collectHits(this.client, {
      index: this.names.alias,
      query: { bool: { filter: [{ term: { deleted: true } }, { range: { deletedVersion: { gt: version } } }] } },
      pageSize: LIST_PAGE,
      source: false,
      what: 'listing items deleted since a version',
    });
    return {
      added: addedHits.flatMap((hit) => (hit._source ? [toItemWithVectors(hit._source)] : [])),
      deleted: deletedHits.map((hit) => seqOfHit(hit)),
      version: current,
    };
  }

  async *scan(batchSize: number): AsyncIterable<ItemWithVectors[]> {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw createError('BAD_REQUEST', 'scan batch size must be a positive integer');
    const pages = scanHits<ItemDoc>(this.client, {
      index: this.names.alias,
      query: LIVE,
      pageSize: batchSize,
      source: true,
      what: 'scanning the catalog',
    });
    for await (const hits of rechunk(pages, batchSize)) {
      yield hits.flatMap((hit) => (hit._source ? [toItemWithVectors(hit._source)] : []));
    }
  }

  async version(): Promise<number> {
    return (await this.registry.counter()).version;
  }

  async stats(): Promise<CatalogStats> {
    const response = await esCall('reading catalog statistics', () =>
      this.client.search({
        index: this.names.alias,
        size: 0,
        track_total_hits: false,
        aggs: {
          deleted: { filter: { term: { deleted: true } } },
          live: { filter: LIVE, aggs: { sources: { terms: { field: 'source', size: MAX_SOURCES } } } },
        },
      }),
    );
    const aggs = response.aggregations as
      | { deleted: { doc_count: number }; live: { doc_count: number; sources: { buckets: Array<{ key: string; doc_count: number }>; sum_other_doc_count?: number } } }
      | undefined;
    if (aggs?.live.sources.sum_other_doc_count) {
      this.options.logger.warn('stats: more distinct sources than counted', { counted: MAX_SOURCES });
    }
    const sources = Object.fromEntries((aggs?.live.sources.buckets ?? []).map((bucket) => [String(bucket.key), bucket.doc_count]));
    return {
      items: aggs?.live.doc_count ?? 0,
      deleted: aggs?.deleted.doc_count ?? 0,
      sources,
      version: (await this.registry.counter()).version,
    };
  }

  searchTuning(): Promise<SearchTuning | null> {
    return this.registry.searchTuning();
  }

  setSearchTuning(tuning: SearchTuning | null): Promise<void> {
    return this.registry.setSearchTuning(tuning);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  // ---- writes ----

  private async addValidated(items: ItemInput[]): Promise<AddResult[]> {
    // The first occurrence of each content decides; later ones in the batch are its duplicates.
    const first = new Map<string, ItemInput>();
    for (const item of items) if (!first.has(item.contentHash)) first.set(item.contentHash, item);
    const unique = [...first.values()];
    const idOf = (item: ItemInput): string => item.id ?? idFromHash(item.contentHash);

    const keys = new Set(unique.flatMap((item) => [claimKey('hash', item.contentHash), claimKey('id', idOf(item))]));
    for (const item of items) if (item.id !== undefined) keys.add(claimKey('id', item.id));
    const claims = await this.registry.claims([...keys]);
    const holders = await this.mgetHolders([...new Set([...claims.values()].map((claim) => claim.seq))]);
    const now = Date.now();
    const at = new Date(now).toISOString();

    const stored = new Map<string, ItemDoc>();
    const plan: Array<Omit<Planned, 'seq'>> = [];
    const takeOver: Claim[] = [];
    const idsInBatch = new Set<string>();
    for (const item of unique) {
      const byHash = this.claimState(claims.get(claimKey('hash', item.contentHash)), holders, (doc) => doc.contentHash === item.contentHash, now);
      if (byHash.kind === 'live') {
        stored.set(item.contentHash, byHash.holder);
        continue;
      }
      if (byHash.kind === 'pending') {
        throw createError('CONFLICT', `Content ${item.contentHash.slice(0, 16)} is being added by another writer; retry shortly`);
      }
      const id = idOf(item);
      const byId = this.claimState(claims.get(claimKey('id', id)), holders, (doc) => answersFor(doc, id), now);
      if (idsInBatch.has(id) || byId.kind === 'live' || byId.kind === 'pending') {
        throw createError('CONFLICT', `An item with id "${id}" already exists with different content`);
      }
      if (byHash.kind === 'stale') takeOver.push(byHash.claim);
      if (byId.kind === 'stale') takeOver.push(byId.claim);
      idsInBatch.add(id);
      plan.push({ item, id, aliases: [] });
    }

    // Every later input of a content: a plain repeat, or a new explicit id that becomes an alias.
    const planByHash = new Map(plan.map((entry) => [entry.item.contentHash, entry]));
    const updates = new Map<string, AliasDoc[]>();
    const duplicates = new Map<ItemInput, { id: string; primary: string; hash: string }>();
    for (const item of items) {
      const planned = planByHash.get(item.contentHash);
      if (planned?.item === item) continue;
      const holder = stored.get(item.contentHash);
      const primary = planned ? planned.id : (holder as ItemDoc).id;
      const known = planned ? planned.aliases : [...(holder?.aliases ?? []), ...(updates.get(item.contentHash) ?? [])];
      const wanted = item.id;
      if (wanted === undefined || wanted === primary || known.some((alias) => alias.id === wanted)) {
        duplicates.set(item, { id: wanted ?? primary, primary, hash: item.contentHash });
        continue;
      }
      const byId = this.claimState(claims.get(claimKey('id', wanted)), holders, (doc) => answersFor(doc, wanted), now);
      if (idsInBatch.has(wanted) || byId.kind === 'live' || byId.kind === 'pending') {
        throw createError('CONFLICT', `An item with id "${wanted}" already exists with different content`);
      }
      if (byId.kind === 'stale') takeOver.push(byId.claim);
      idsInBatch.add(wanted);
      const alias = toAliasDoc(item, wanted, at);
      if (planned) planned.aliases.push(alias);
      else updates.set(item.contentHash, [...(updates.get(item.contentHash) ?? []), alias]);
      duplicates.set(item, { id: wanted, primary, hash: item.contentHash });
    }

    let planned: Planned[] = [];
    let version: number | undefined;
    if (plan.length > 0) {
      const { before, after } = await this.registry.bumpCounter((counter) => ({
        ...counter,
        nextSeq: counter.nextSeq + plan.length,
        version: counter.version + 1,
      }));
      planned = plan.map((entry, i) => ({ ...entry, seq: before.nextSeq + i }));
      version = after.version;
    }
    const aliasUpdates: AliasUpdate[] = [...updates].map(([hash, aliases]) => ({ seq: (stored.get(hash) as ItemDoc).seq, aliases }));
    if (planned.length > 0 || aliasUpdates.length > 0) await this.writeBatch(planned, aliasUpdates, takeOver, version ?? 0, at);

    const seqByHash = new Map<string, number>([
      ...[...stored].map(([hash, doc]) => [hash, doc.seq] as [string, number]),
      ...planned.map((entry) => [entry.item.contentHash, entry.seq] as [string, number]),
    ]);
    if (version !== undefined) this.onVersion?.(version);
    return items.map((item): AddResult => {
      const duplicate = duplicates.get(item);
      const seq = seqByHash.get(item.contentHash) as number;
      if (duplicate) return { id: duplicate.id, seq, status: 'duplicate', existingId: duplicate.primary };
      return { id: idOf(item), seq, status: 'added' };
    });
  }

  /** Claims, items and thumbnails of a batch; on any failure removes what it wrote and throws. */
  private async writeBatch(planned: Planned[], aliasUpdates: AliasUpdate[], takeOver: Claim[], version: number, at: string): Promise<void> {
    const { alias, meta, thumbnails } = this.names;
    let claimedAll = false;
    const updated: Array<{ seq: number; before: AliasDoc[] }> = [];
    try {
      if (takeOver.length > 0) {
        const released = await runBulk(
          this.client,
          takeOver.map((claim) => ({ op: 'delete', index: meta, id: claim.key, ifSeqNo: claim.seqNo, ifPrimaryTerm: claim.primaryTerm })),
          this.options.bulk,
          false,
          'releasing stale registry claims',
        );
        const lost = released.find((failure) => failure.status !== 404);
        if (lost) throw createError('CONFLICT', 'The registry changed while the batch was being added; retry');
      }
      const claimOps: BulkOp[] = planned.flatMap((entry): BulkOp[] => [
        { op: 'create', index: meta, id: claimKey('hash', entry.item.contentHash), doc: { kind: 'hash', seq: entry.seq, at } },
        { op: 'create', index: meta, id: claimKey('id', entry.id), doc: { kind: 'id', seq: entry.seq, at } },
        ...entry.aliases.map((a): BulkOp => ({ op: 'create', index: meta, id: claimKey('id', a.id), doc: { kind: 'id', seq: entry.seq, at } })),
      ]);
      for (const update of aliasUpdates) {
        for (const a of update.aliases) claimOps.push({ op: 'create', index: meta, id: claimKey('id', a.id), doc: { kind: 'id', seq: update.seq, at } });
      }
      const refused = await runBulk(this.client, claimOps, this.options.bulk, false, 'claiming content hashes and ids');
      if (refused.length > 0) throw claimError(refused[0]);
      claimedAll = true;

      const now = new Date().toISOString();
      const writes: BulkOp[] = [];
      for (const { item, id, seq, aliases } of planned) {
        writes.push({ op: 'create', index: alias, id: String(seq), doc: toDoc(item, id, seq, now, version, aliases) });
        if (item.thumbnail) {
          const thumbnail: ThumbnailDoc = { seq, bytes: item.thumbnail.toString('base64') };
          writes.push({ op: 'index', index: thumbnails, id, doc: thumbnail });
        }
      }
      const failed = await runBulk(this.client, writes, this.options.bulk, this.refresh, 'writing items');
      if (failed.length > 0) throw itemError(failed[0]);
      for (const update of aliasUpdates) {
        const holder = await this.getHolder(update.seq, WITHOUT_VECTORS);
        if (!holder || holder.doc.deleted) throw createError('CONFLICT', `item ${update.seq} was deleted while aliases were being added; retry`);
        const before = holder.doc.aliases ?? [];
        await this.client.update({
          index: alias,
          id: String(update.seq),
          doc: { aliases: [...before, ...update.aliases] },
          if_seq_no: holder.seqNo,
          if_primary_term: holder.primaryTerm,
          refresh: this.refresh,
        });
        updated.push({ seq: update.seq, before });
      }
    } catch (error) {
      await this.undoAliases(aliasUpdates, updated, at).catch((cleanup: unknown) => {
        this.options.logger.warn('could not fully undo the aliases of a failed batch', { error: (cleanup as Error).message });
      });
      await this.compensate(planned, claimedAll).catch((cleanup: unknown) => {
        this.options.logger.warn('could not fully undo a failed batch', {
          seqs: planned.map((entry) => entry.seq),
          error: (cleanup as Error).message,
        });
      });
      throw toParasolError(error, 'adding a batch');
    }
  }

  /** Puts back the alias lists a failed batch extended and removes the alias claims it made (those stamped with its time). */
  private async undoAliases(aliasUpdates: AliasUpdate[], updated: Array<{ seq: number; before: AliasDoc[] }>, at: string): Promise<void> {
    for (const { seq, before } of updated) {
      await this.client.update({ index: this.names.alias, id: String(seq), doc: { aliases: before }, refresh: this.refresh });
    }
    const keys = aliasUpdates.flatMap((update) => update.aliases.map((a) => claimKey('id', a.id)));
    const ops: BulkOp[] = [];
    for (const claim of (await this.registry.claims(keys)).values()) {
      if (claim.at === at && aliasUpdates.some((update) => update.seq === claim.seq)) {
        ops.push({ op: 'delete', index: this.names.meta, id: claim.key, ifSeqNo: claim.seqNo, ifPrimaryTerm: claim.primaryTerm });
      }
    }
    if (ops.length > 0) await runBulk(this.client, ops, this.options.bulk, false, 'undoing alias claims');
  }

  /** Removes whatever a failed batch may have written: its items, thumbnails and claims (only its own). */
  private async compensate(planned: Planned[], claimedAll: boolean): Promise<void> {
    const { alias, meta, thumbnails } = this.names;
    const seqs = new Set(planned.map((entry) => entry.seq));
    const ops: BulkOp[] = planned.map((entry) => ({ op: 'delete', index: alias, id: String(entry.seq) }));
    // Thumbnails are written only once every id is claimed by this batch, so no other item owns them.
    if (claimedAll) for (const entry of planned) if (entry.item.thumbnail) ops.push({ op: 'delete', index: thumbnails, id: entry.id });
    const keys = planned.flatMap((entry) => [
      claimKey('hash', entry.item.contentHash),
      claimKey('id', entry.id),
      ...entry.aliases.map((a) => claimKey('id', a.id)),
    ]);
    for (const claim of (await this.registry.claims(keys)).values()) {
      if (seqs.has(claim.seq)) ops.push({ op: 'delete', index: meta, id: claim.key, ifSeqNo: claim.seqNo, ifPrimaryTerm: claim.primaryTerm });
    }
    const failed = await runBulk(this.client, ops, this.options.bulk, this.refresh, 'undoing a failed batch');
    const real = failed.filter((failure) => failure.status !== 404);
    if (real.length > 0) throw new Error(`${real.length} removals failed, e.g. ${real[0].type}: ${real[0].reason}`);
  }

  private async deleteOne(id: string): Promise<boolean> {
    const idKey = claimKey('id', id);
    const idClaim = (await this.registry.claims([idKey])).get(idKey);
    if (!idClaim) return false;
    const holder = await this.getHolder(idClaim.seq, WITHOUT_VECTORS);
    if (!holder || holder.doc.deleted || !answersFor(holder.doc, id)) return false;
    const aliases = holder.doc.aliases ?? [];
    if (aliases.length > 0) return this.dropId(id, idClaim, holder);

    const { after } = await this.registry.bumpCounter((counter) => ({ ...counter, version: counter.version + 1 }));
    try {
      await this.client.update({
        index: this.names.alias,
        id: String(idClaim.seq),
        doc: { deleted: true, deletedVersion: after.version, updatedAt: new Date().toISOString() },
        if_seq_no: holder.seqNo,
        if_primary_term: holder.primaryTerm,
        refresh: this.refresh,
      });
    } catch (error) {
      // Changed since it was read (a concurrent delete): this call did not delete it.
      if (isConflict(error)) return false;
      throw toParasolError(error, `deleting "${id}"`);
    }

    // Free the content hash and the id for re-ingestion; a deleted item's thumbnail is dead weight.
    const hashKey = claimKey('hash', holder.doc.contentHash);
    const hashClaim = (await this.registry.claims([hashKey])).get(hashKey);
    const ops: BulkOp[] = [
      { op: 'delete', index: this.names.meta, id: idKey, ifSeqNo: idClaim.seqNo, ifPrimaryTerm: idClaim.primaryTerm },
      { op: 'delete', index: this.names.thumbnails, id },
    ];
    if (hashClaim?.seq === idClaim.seq) {
      ops.push({ op: 'delete', index: this.names.meta, id: hashKey, ifSeqNo: hashClaim.seqNo, ifPrimaryTerm: hashClaim.primaryTerm });
    }
    const failed = await runBulk(this.client, ops, this.options.bulk, false, `releasing the claims of "${id}"`);
    // 404: already gone; 409: already replaced by a newer claim. Anything else leaves a stale claim,
    // which the next add of the same content takes over, so it is logged rather than thrown.
    for (const failure of failed.filter((f) => f.status !== 404 && f.status !== 409)) {
      this.options.logger.warn('could not release a registry claim', { id: failure.op.id, error: `${failure.type}: ${failure.reason}` });
    }
    this.onVersion?.(after.version);
    return true;
  }

  /**
   * Deletes one id of an image that keeps another: an alias leaves the list; the stored item's own
   * id hands the doc to its oldest alias (id and metadata; seq, vectors and claims of the content
   * stay), and its thumbnail moves to the new id. No vector changes, so no version bump.
   */
  private async dropId(id: string, idClaim: Claim, holder: Holder): Promise<boolean> {
    const aliases = holder.doc.aliases ?? [];
    const now = new Date().toISOString();
    const promoted = holder.doc.id === id ? aliases[0] : undefined;
    const doc: Partial<ItemDoc> = promoted
      ? {
          ...aliasFields(promoted),
          hasText: carriesText({ id: promoted.id, title: promoted.title, tags: promoted.tags, keywords: promoted.keywords, description: promoted.description }),
          aliases: aliases.slice(1),
          updatedAt: now,
        }
      : { aliases: aliases.filter((alias) => alias.id !== id) };
    try {
      await this.client.update({
        index: this.names.alias,
        id: String(holder.doc.seq),
        doc,
        if_seq_no: holder.seqNo,
        if_primary_term: holder.primaryTerm,
        refresh: this.refresh,
      });
    } catch (error) {
      if (isConflict(error)) return false;
      throw toParasolError(error, `deleting "${id}"`);
    }
    if (promoted) await this.moveThumbnail(id, promoted.id, holder.doc.seq);
    const failed = await runBulk(
      this.client,
      [{ op: 'delete', index: this.names.meta, id: claimKey('id', id), ifSeqNo: idClaim.seqNo, ifPrimaryTerm: idClaim.primaryTerm }],
      this.options.bulk,
      false,
      `releasing the claim of "${id}"`,
    );
    for (const failure of failed.filter((f) => f.status !== 404 && f.status !== 409)) {
      this.options.logger.warn('could not release a registry claim', { id: failure.op.id, error: `${failure.type}: ${failure.reason}` });
    }
    return true;
  }

  private async moveThumbnail(from: string, to: string, seq: number): Promise<void> {
    let bytes: string | undefined;
    try {
      const response = await this.client.get<ThumbnailDoc>({ index: this.names.thumbnails, id: from });
      if (response._source?.seq === seq) bytes = response._source.bytes;
    } catch (error) {
      if (!isDocMissing(error)) throw toParasolError(error, `reading the thumbnail of "${from}"`);
    }
    if (bytes === undefined) return;
    const thumbnail: ThumbnailDoc = { seq, bytes };
    const failed = await runBulk(
      this.client,
      [
        { op: 'index', index: this.names.thumbnails, id: to, doc: thumbnail },
        { op: 'delete', index: this.names.thumbnails, id: from },
      ],
      this.options.bulk,
      false,
      `moving the thumbnail of "${from}" to "${to}"`,
    );
    const real = failed.filter((f) => f.status !== 404);
    if (real.length > 0) throw itemError(real[0]);
  }

  // ---- reads ----

  /** The live item a claim points to, if the claim exists and the item (still) matches it. */
  private async liveByClaim(key: string, matches: (doc: ItemDoc) => boolean, source: Source): Promise<Holder | undefined> {
    const claim = (await this.registry.claims([key])).get(key);
    if (!claim) return undefined;
    const holder = await this.getHolder(claim.seq, source);
    return holder && !holder.doc.deleted && matches(holder.doc) ? holder : undefined;
  }

  private async getHolder(seq: number, source: Source): Promise<Holder | undefined> {
    try {
      const response = await this.client.get<ItemDoc>({ index: this.names.alias, id: String(seq), ...sourceParams(source) });
      if (!response.found || !response._source) return undefined;
      return { doc: response._source, seqNo: response._seq_no ?? 0, primaryTerm: response._primary_term ?? 0 };
    } catch (error) {
      if (isDocMissing(error)) return undefined;
      throw toParasolError(error, `reading item ${seq}`);
    }
  }

  /** Items by seq (found ones only, deleted included), without vectors. */
  private async mgetHolders(seqs: number[]): Promise<Map<number, ItemDoc>> {
    return this.mget(seqs, { includes: ['seq', 'id', 'contentHash', 'deleted', 'aliases'] }, false);
  }

  private async mgetLive(seqs: number[], source: Source): Promise<Map<number, ItemDoc>> {
    return this.mget(seqs, source, true);
  }

  private async mget(seqs: number[], source: Source, liveOnly: boolean): Promise<Map<number, ItemDoc>> {
    const found = new Map<number, ItemDoc>();
    const ids = [...new Set(seqs.filter((seq) => Number.isSafeInteger(seq)))].map(String);
    if (ids.length === 0) return found;
    const response = await esCall('reading items by seq', () =>
      this.client.mget<ItemDoc>({ index: this.names.alias, ids, ...sourceParams(source) }),
    );
    for (const doc of response.docs) {
      if (!('found' in doc) || !doc.found || !doc._source) continue;
      if (liveOnly && doc._source.deleted) continue;
      found.set(Number(doc._id), doc._source);
    }
    return found;
  }

  private claimState(claim: Claim | undefined, holders: Map<number, ItemDoc>, matches: (doc: ItemDoc) => boolean, now: number): ClaimState {
    if (!claim) return { kind: 'none' };
    const holder = holders.get(claim.seq);
    if (holder) return !holder.deleted && matches(holder) ? { kind: 'live', holder } : { kind: 'stale', claim };
    // No item yet: another writer is between claiming and writing, or died there.
    const age = now - Date.parse(claim.at);
    return age > this.options.staleClaimMs ? { kind: 'stale', claim } : { kind: 'pending' };
  }

  private assertOpen(): void {
    if (this.closed) throw createError('NOT_READY', 'the Elasticsearch catalog is closed');
  }
}

function seqOfHit(hit: estypes.SearchHit<unknown>): number {
  return Number(hit._id);
}

function sourceParams(source: Source): { _source?: boolean; _source_includes?: string[]; _source_excludes?: string[] } {
  if (typeof source === 'boolean') return { _source: source };
  if (Array.isArray(source)) return { _source_includes: source };
  if (typeof source === 'object' && source !== null) {
    const filter = source as estypes.SearchSourceFilter;
    const params: { _source_includes?: string[]; _source_excludes?: string[] } = {};
    if (filter.includes) params._source_includes = ([] as string[]).concat(filter.includes);
    if (filter.excludes) params._source_excludes = ([] as string[]).concat(filter.excludes);
    return params;
  }
  return {};
}

/** The item as read under `id`: the stored item itself, or one of its aliases. */
function viewFor(doc: ItemDoc, id: string): Item {
  if (doc.id === id) return toItem(doc);
  const alias = (doc.aliases ?? []).find((candidate) => candidate.id === id) as AliasDoc;
  return aliasView(doc, alias);
}

function toAliasDoc(item: ItemInput, id: string, at: string): AliasDoc {
  return {
    id,
    externalId: item.externalId ?? '',
    source: item.source,
    title: item.title,
    tags: [...(item.tags ?? [])],
    keywords: [...(item.keywords ?? [])],
    description: item.description ?? '',
    license: item.license ?? '',
    attribution: item.attribution ?? '',
    url: item.url ?? '',
    extra: JSON.parse(JSON.stringify(item.extra ?? {})) as Record<string, unknown>,
    createdAt: at,
    updatedAt: at,
  };
}

/** The item fields an alias brings when it is promoted. */
function aliasFields(alias: AliasDoc): Partial<ItemDoc> {
  const { createdAt: _created, updatedAt: _updated, ...fields } = alias;
  return fields;
}

function toDoc(item: ItemInput, id: string, seq: number, now: string, version: number, aliases: AliasDoc[] = []): ItemDoc {
  return {
    seq,
    id,
    externalId: item.externalId ?? '',
    contentHash: item.contentHash,
    source: item.source,
    title: item.title,
    tags: [...(item.tags ?? [])],
    keywords: [...(item.keywords ?? [])],
    description: item.description ?? '',
    hasText: carriesText({ id, title: item.title, tags: item.tags ?? [], keywords: item.keywords ?? [], description: item.description ?? '' }),
    license: item.license ?? '',
    attribution: item.attribution ?? '',
    url: item.url ?? '',
    width: item.width,
    height: item.height,
    // The same JSON round trip SQLite applies, so both backends hand back the same value.
    extra: JSON.parse(JSON.stringify(item.extra ?? {})) as Record<string, unknown>,
    createdAt: now,
    updatedAt: now,
    deleted: false,
    addedVersion: version,
    ...(aliases.length > 0 ? { aliases } : {}),
    semantic: vectorToJson(item.semantic),
    style: vectorToJson(item.style),
  };
}

/** ES's cosine similarity refuses zero-length vectors; say so before writing anything. */
function assertNonZero(item: ItemInput, index: number): void {
  for (const modality of ['semantic', 'style'] as const) {
    if (item[modality].every((x) => x === 0)) {
      throw createError('UNPROCESSABLE', `item ${index}: ${modality} vector is all zeros, which cosine similarity cannot index`);
    }
  }
}

function claimError(failure: BulkFailure): Error {
  if (failure.status === 409) {
    const key = failure.op.id;
    if (key.startsWith('id:')) return createError('CONFLICT', `An item with id "${key.slice(3)}" already exists with different content`);
    return createError('CONFLICT', `Content ${key.slice(5, 21)} is being added by another writer; retry shortly`);
  }
  return itemError(failure);
}

function itemError(failure: BulkFailure): Error {
  const what = `writing ${failure.op.index}/${failure.op.id}: ${failure.status} ${failure.type}: ${failure.reason}`;
  if (failure.status === 429 || failure.status === 503) return createError('NOT_READY', `Elasticsearch is overloaded while ${what}`);
  if (failure.type === 'cluster_block_exception') {
    return createError('NOT_READY', `the index is read-only for now (a reindex is switching indices, or the disk is full); retry shortly (${what})`);
  }
  return new ParasolError('INTERNAL', `Elasticsearch refused ${what}`);
}
