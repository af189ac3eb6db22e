/**
 * A small in-memory Elasticsearch behind `@elastic/elasticsearch-mock`: the real client, its
 * serialisation and its bulk helper talk to it over the mock's connection, so the adapter is
 * exercised exactly as against a cluster — for the subset of the API Parasol uses.
 *
 * Emulated (as ES 9 documents it):
 * - info; doc exists (HEAD); indices create (settings, mappings, aliases) / exists / get / delete / refresh /
 *   put_settings (index.blocks.write) / update_aliases (atomic remove+add);
 *   auto-creation of a missing index on a write (action.auto_create_index defaults to true).
 * - Near-real-time search: GET/mget are realtime; search, count, PIT and kNN see only what the last
 *   refresh published (refresh=true|wait_for on a write, or the refresh API). There is no
 *   periodic refresh, so the fake is stricter than a cluster: a missing refresh shows up in tests.
 * - index/create/update/delete, singly and in _bulk (per-item status, 409 version conflicts,
 *   if_seq_no/if_primary_term optimistic concurrency, 404 for a missing doc on update/delete,
 *   403 cluster_block_exception on a write-blocked index), get/mget with _source filtering.
 * - Mappings: dynamic:'strict' refuses unknown top-level fields; dense_vector checks dims and
 *   refuses zero vectors under cosine; unknown index settings are refused (so
 *   index.mapping.exclude_source_vectors is refused below 9.2, as a real 9.0/9.1 does); from 9.2,
 *   dense_vector values are left out of returned `_source` unless the index sets
 *   exclude_source_vectors:false or the request names the field in its includes.
 * - Queries: match_all, match_none, bool (filter/must/must_not/should), term, terms, range
 *   (numbers, dates), exists, ids, match and multi_match (operator and/or; best_fields, most_fields
 *   and cross_fields; field boosts `f^2`; `_name` → `matched_queries`). kNN with a filter is exact brute force; `_score` = (1 + cosine) / 2.
 *   Sort on fields, size (≤ 10 000), search_after, PIT open/close with the implicit
 *   _shard_doc tiebreaker, count, `filter` and `terms` aggregations, track_total_hits.
 *   A terms aggregation is exact (one shard: shard_size is read and ignored), orders buckets by count
 *   then key (code units) and refuses any other `order`; no include/exclude, min_doc_count or missing.
 *
 * Deviations (deliberate, to stay small):
 * - Text analysis is one fixed analyzer whatever the mapping names: lowercase, ASCII folding (NFD,
 *   combining marks dropped), a word split on anything but letters and digits (each Han ideograph
 *   its own token, as the standard tokenizer does) and a crude Porter-like stemmer (plural -s/-es/-ies,
 *   -ed/-ing, final -y → -i). Good for English test words, not for linguistics.
 * - Relevance only for match / multi_match in must/should: a textbook BM25 (k1 1.2, b 0.75) with
 *   per-field statistics over the searched docs (Lucene's differ in detail: norms are quantised,
 *   statistics are per shard), boosts multiplied in, most_fields summing fields and best_fields
 *   taking the best (no tie_breaker). Other hits have _score 1; hits come best first, then in index order.
 * - put mapping adds fields and replaces _meta; _analyze runs the one analyzer and reports offsets.
 * - One shard, primary term 1; no replicas, routing, versions other than seq_no, or scripts.
 * - Only the listed request parameters are read; others are ignored rather than refused.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Client, errors as esmErrors } from '@elastic/elasticsearch';
import MockModule from '@elastic/elasticsearch-mock';

// The mock is CommonJS typed as an ES default export: at runtime the default import is the class.
const Mock = ((MockModule as unknown as { default?: unknown }).default ?? MockModule) as unknown as typeof MockModule.default;
type MockPattern = Parameters<InstanceType<typeof Mock>['add']>[0];
// The mock requires the CommonJS build of the client and recognises only that build's
// ResponseError (the dual-package hazard): errors handed to it must come from there.
export const cjsErrors = (createRequire(import.meta.url)('@elastic/elasticsearch') as { errors: typeof esmErrors }).errors;
const errors = cjsErrors;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = Record<string, unknown>;

interface Request {
  method: string;
  path: string;
  querystring: Record<string, string>;
  body: unknown;
}

interface StoredDoc {
  source: Obj;
  seqNo: number;
  primaryTerm: number;
  version: number;
}

interface Mapping {
  type?: string;
  dims?: number;
  similarity?: string;
  enabled?: boolean;
  fields?: Record<string, Mapping>;
  properties?: Record<string, Mapping>;
}

interface FakeIndex {
  name: string;
  settings: Obj;
  mappings: { dynamic?: string | boolean; _meta?: Obj; properties: Record<string, Mapping> };
  docs: Map<string, StoredDoc>;
  /** What searches see: the docs as of the last refresh. */
  searchable: Map<string, StoredDoc>;
  nextSeqNo: number;
}

interface Pit {
  indices: Array<{ index: FakeIndex; docs: Map<string, StoredDoc> }>;
}

export interface BulkItemFault {
  status: number;
  type: string;
  reason: string;
}

export interface FakeElasticsearchOptions {
  /** The version `info` reports (default 9.2.0). */
  version?: string;
}

const MAX_RESULT_WINDOW = 10_000;
const KNOWN_SETTINGS = new Set([
  'index.number_of_shards',
  'index.number_of_replicas',
  'index.auto_expand_replicas',
  'index.analysis',
  'index.blocks.write',
  'index.refresh_interval',
  'index.max_result_window',
]);

export class FakeElasticsearch {
  readonly mock = new Mock();
  readonly version: string;
  /** Every request received, in order (method, path, querystring, parsed body): for shape assertions. */
  readonly requests: Request[] = [];
  /** Lets a test fail chosen bulk items (e.g. the second item doc of a batch). */
  bulkItemFault: ((action: string, index: string, id: string, source: Obj | undefined) => BulkItemFault | undefined) | undefined;
  private readonly indices = new Map<string, FakeIndex>();
  private readonly aliases = new Map<string, Set<string>>();
  private readonly pits = new Map<string, Pit>();

  constructor(options: FakeElasticsearchOptions = {}) {
    this.version = options.version ?? '9.2.0';
    this.mock.add({ method: ['GET', 'POST', 'PUT', 'DELETE', 'HEAD'], path: ['/', '/*'] }, (params: MockPattern) => this.handle(params as unknown as Request) as never);
  }

  /** A real client whose connection is this fake. */
  client(): Client {
    return new Client({ node: 'http://fake-elasticsearch:9200', Connection: this.mock.getConnection() as never, maxRetries: 0 });
  }

  /** Names of the concrete indices (for assertions). */
  indexNames(): string[] {
    return [...this.indices.keys()].sort();
  }

  aliasTargets(alias: string): string[] {
    return [...(this.aliases.get(alias) ?? [])];
  }

  openPits(): number {
    return this.pits.size;
  }

  // ---- routing ----

  private handle(request: Request): unknown {
    this.requests.push(request);
    try {
      return this.route(request);
    } catch (error) {
      if (error instanceof errors.ResponseError) return error;
      throw error;
    }
  }

  private route(req: Request): unknown {
    const parts = req.path.split('/').filter(Boolean);
    const [first, second] = parts;
    const m = req.method;
    if (parts.length === 0 && (m === 'GET' || m === 'HEAD')) return this.info();
    if (first === '_bulk') return this.bulk(req, undefined);
    if (first === '_mget') return this.mget(req, undefined);
    if (first === '_search') return this.search(req, undefined);
    if (first === '_aliases' && m === 'POST') return this.updateAliases(req.body as Obj);
    if (first === '_pit' && m === 'DELETE') return this.closePit(req.body as Obj);
    if (first === '_refresh') return this.refreshAll();
    if (first.startsWith('_')) return fail(400, 'illegal_argument_exception', `fake: unsupported endpoint ${m} ${req.path}`);
    if (parts.length === 1) {
      if (m === 'HEAD') return this.resolveNames(first, false).length > 0 ? '' : fail(404, 'index_not_found_exception', `no such index [${first}]`);
      if (m === 'PUT') return this.createIndex(first, req.body as Obj | undefined);
      if (m === 'GET') return this.getIndex(first);
      if (m === 'DELETE') return this.deleteIndex(first);
    }
    if (second === '_bulk') return this.bulk(req, first);
    if (second === '_mget') return this.mget(req, first);
    if (second === '_search') return this.search(req, first);
    if (second === '_count') return this.count(req, first);
    if (second === '_refresh') return this.refresh(first);
    if (second === '_pit' && m === 'POST') return this.openPit(first);
    if (second === '_settings' && m === 'PUT') return this.putSettings(first, req.body as Obj);
    if (second === '_mapping' && m === 'PUT') return this.putMapping(first, req.body as Obj);
    if (second === '_analyze' && (m === 'GET' || m === 'POST')) return this.analyzeApi(first, req.body as Obj);
    // The mock hands over a decoded path, so an id may itself contain "/".
    const id = parts.slice(2).join('/');
    const qs = req.querystring;
    if (second === '_doc' && m === 'HEAD') {
      return this.writeTarget(first, false).docs.has(id) ? '' : fail(404, undefined, undefined, { _index: first, _id: id, found: false });
    }
    if (second === '_doc' && m === 'GET') return this.getDoc(first, id, qs);
    if (second === '_doc' && (m === 'PUT' || m === 'POST')) {
      return this.writeOne(first, { action: qs.op_type === 'create' ? 'create' : 'index', id, source: req.body as Obj, qs });
    }
    if (second === '_create') return this.writeOne(first, { action: 'create', id, source: req.body as Obj, qs });
    if (second === '_update' && m === 'POST') return this.writeOne(first, { action: 'update', id, source: (req.body as Obj).doc as Obj, qs });
    if (second === '_doc' && m === 'DELETE') return this.writeOne(first, { action: 'delete', id, qs });
    return fail(400, 'illegal_argument_exception', `fake: unsupported endpoint ${m} ${req.path}`);
  }

  private info(): Obj {
    return {
      name: 'fake-node',
      cluster_name: 'fake',
      cluster_uuid: 'fake',
      version: { number: this.version, build_flavor: 'default', lucene_version: '10.0.0' },
      tagline: 'You Know, for Search',
    };
  }

  // ---- indices ----

  private createIndex(name: string, body: Obj | undefined): Obj {
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) return fail(400, 'invalid_index_name_exception', `Invalid index name [${name}]`);
    if (this.indices.has(name)) return fail(400, 'resource_already_exists_exception', `index [${name}] already exists`);
    if (this.aliases.has(name)) return fail(400, 'invalid_index_name_exception', `Invalid index name [${name}], an alias with the same name already exists`);
    const settings = flattenSettings((body?.settings as Obj | undefined) ?? {});
    for (const key of Object.keys(settings)) {
      const known = KNOWN_SETTINGS.has(key) || (key === 'index.mapping.exclude_source_vectors' && atLeast(this.version, 9, 2));
      if (!known) return fail(400, 'illegal_argument_exception', `unknown setting [${key}] please check that any required plugins are installed`);
    }
    const mappings = (body?.mappings as FakeIndex['mappings'] | undefined) ?? { properties: {} };
    this.indices.set(name, {
      name,
      settings,
      mappings: { ...clone(mappings), properties: clone(mappings.properties ?? {}) },
      docs: new Map(),
      searchable: new Map(),
      nextSeqNo: 0,
    });
    for (const alias of Object.keys((body?.aliases as Obj | undefined) ?? {})) this.addAlias(alias, name);
    return { acknowledged: true, shards_acknowledged: true, index: name };
  }

  private getIndex(name: string): Obj {
    const names = this.resolveNames(name, true);
    const out: Obj = {};
    for (const concrete of names) {
      const index = this.indices.get(concrete) as FakeIndex;
      const aliases: Obj = {};
      for (const [alias, targets] of this.aliases) if (targets.has(concrete)) aliases[alias] = {};
      out[concrete] = { aliases, mappings: clone(index.mappings), settings: { index: nestSettings(index.settings) } };
    }
    return out;
  }

  private deleteIndex(name: string): Obj {
    if (this.aliases.has(name)) {
      return fail(400, 'illegal_argument_exception', `The provided expression [${name}] matches an alias, specify the corresponding concrete indices instead.`);
    }
    if (!this.indices.delete(name)) return fail(404, 'index_not_found_exception', `no such index [${name}]`);
    for (const [alias, targets] of this.aliases) {
      targets.delete(name);
      if (targets.size === 0) this.aliases.delete(alias);
    }
    return { acknowledged: true };
  }

  private updateAliases(body: Obj): Obj {
    const actions = (body.actions as Array<Record<string, { index: string; alias: string }>>) ?? [];
    // Validate every action first: the call is atomic.
    for (const action of actions) {
      const [type, spec] = Object.entries(action)[0];
      if (!this.indices.has(spec.index)) return fail(404, 'index_not_found_exception', `no such index [${spec.index}]`);
      if (type === 'add' && this.indices.has(spec.alias)) return fail(400, 'invalid_alias_name_exception', `an index exists with the same name as the alias [${spec.alias}]`);
      if (type === 'remove' && !this.aliases.get(spec.alias)?.has(spec.index)) return fail(404, 'aliases_not_found_exception', `aliases [${spec.alias}] missing`);
      if (type !== 'add' && type !== 'remove') return fail(400, 'illegal_argument_exception', `fake: unsupported alias action ${type}`);
    }
    for (const action of actions) {
      const [type, spec] = Object.entries(action)[0];
      if (type === 'add') this.addAlias(spec.alias, spec.index);
      else {
        const targets = this.aliases.get(spec.alias) as Set<string>;
        targets.delete(spec.index);
        if (targets.size === 0) this.aliases.delete(spec.alias);
      }
    }
    return { acknowledged: true };
  }

  private addAlias(alias: string, index: string): void {
    const targets = this.aliases.get(alias) ?? new Set<string>();
    targets.add(index);
    this.aliases.set(alias, targets);
  }

  /** Adds fields and replaces `_meta`; changing an existing field's type is refused, as ES does. */
  private putMapping(name: string, body: Obj): Obj {
    const properties = (body.properties as Record<string, Mapping> | undefined) ?? {};
    for (const concrete of this.resolveNames(name, true)) {
      const index = this.indices.get(concrete) as FakeIndex;
      for (const [field, mapping] of Object.entries(properties)) {
        const existing = index.mappings.properties[field];
        if (existing && existing.type !== mapping.type) {
          return fail(400, 'illegal_argument_exception', `mapper [${field}] cannot be changed from type [${existing.type}] to [${mapping.type}]`);
        }
      }
      Object.assign(index.mappings.properties, clone(properties));
      if (body._meta !== undefined) index.mappings._meta = clone(body._meta as Obj);
    }
    return { acknowledged: true };
  }

  /** The fake's one analyzer whatever analyzer is named, with each token's offsets in the text. */
  private analyzeApi(name: string, body: Obj): Obj {
    this.resolveNames(name, true);
    const texts = Array.isArray(body.text) ? (body.text as string[]) : [String(body.text ?? '')];
    if (texts.length !== 1) return fail(400, 'illegal_argument_exception', 'fake: _analyze takes one text');
    const tokens: Obj[] = [];
    for (const match of texts[0].matchAll(/\p{Script=Han}|[\p{L}\p{N}\p{M}]+/gu)) {
      for (const token of analyze(match[0])) {
        tokens.push({ token, start_offset: match.index, end_offset: match.index + match[0].length, type: '<ALPHANUM>', position: tokens.length });
      }
    }
    return { tokens };
  }

  private putSettings(name: string, body: Obj): Obj {
    const settings = flattenSettings((body.settings as Obj | undefined) ?? body);
    for (const concrete of this.resolveNames(name, true)) {
      const index = this.indices.get(concrete) as FakeIndex;
      for (const [key, value] of Object.entries(settings)) {
        if (key !== 'index.blocks.write' && key !== 'index.refresh_interval' && key !== 'index.number_of_replicas') {
          return fail(400, 'illegal_argument_exception', `fake: cannot update setting [${key}]`);
        }
        if (value === null) delete index.settings[key];
        else index.settings[key] = value;
      }
    }
    return { acknowledged: true };
  }

  private refresh(name: string): Obj {
    for (const concrete of this.resolveNames(name, true)) this.refreshIndex(this.indices.get(concrete) as FakeIndex);
    return { _shards: { total: 1, successful: 1, failed: 0 } };
  }

  private refreshAll(): Obj {
    for (const index of this.indices.values()) this.refreshIndex(index);
    return { _shards: { total: 1, successful: 1, failed: 0 } };
  }

  private refreshIndex(index: FakeIndex): void {
    index.searchable = new Map(index.docs);
  }

  /** Concrete index names for a name or alias; throws index_not_found when `required`. */
  private resolveNames(name: string, required: boolean): string[] {
    const names = name.split(',').flatMap((part) => {
      if (this.indices.has(part)) return [part];
      const targets = this.aliases.get(part);
      if (targets) return [...targets];
      if (required) fail(404, 'index_not_found_exception', `no such index [${part}]`);
      return [];
    });
    return [...new Set(names)];
  }

  /** The one index a single-document request addresses (auto-created for writes). */
  private writeTarget(name: string, create: boolean): FakeIndex {
    const names = this.resolveNames(name, false);
    if (names.length > 1) fail(400, 'illegal_argument_exception', `no write index is defined for alias [${name}]`);
    if (names.length === 1) return this.indices.get(names[0]) as FakeIndex;
    if (!create) fail(404, 'index_not_found_exception', `no such index [${name}]`);
    this.createIndex(name, undefined);
    (this.indices.get(name) as FakeIndex).mappings.dynamic = true;
    return this.indices.get(name) as FakeIndex;
  }

  // ---- documents ----

  private getDoc(name: string, id: string, qs: Record<string, string>): Obj {
    const index = this.writeTarget(name, false);
    const doc = index.docs.get(id);
    if (!doc) return fail(404, undefined, undefined, { _index: index.name, _id: id, found: false });
    return this.docResponse(index, id, doc, sourceFilterOf(qs));
  }

  private mget(req: Request, name: string | undefined): Obj {
    const body = req.body as Obj;
    const wanted: Array<{ index: string; id: string }> = Array.isArray(body.ids)
      ? (body.ids as string[]).map((id) => ({ index: name as string, id: String(id) }))
      : ((body.docs as Array<{ _index?: string; _id: string }>) ?? []).map((d) => ({ index: d._index ?? (name as string), id: String(d._id) }));
    const filter = sourceFilterOf(req.querystring);
    return {
      docs: wanted.map(({ index: indexName, id }) => {
        const index = this.writeTarget(indexName, false);
        const doc = index.docs.get(id);
        return doc ? this.docResponse(index, id, doc, filter) : { _index: index.name, _id: id, found: false };
      }),
    };
  }

  private docResponse(index: FakeIndex, id: string, doc: StoredDoc, filter: SourceFilter): Obj {
    const out: Obj = { _index: index.name, _id: id, _version: doc.version, _seq_no: doc.seqNo, _primary_term: doc.primaryTerm, found: true };
    const source = this.filterSource(index, doc.source, filter);
    if (source !== undefined) out._source = source;
    return out;
  }

  private writeOne(name: string, op: { action: string; id: string; source?: Obj; qs: Record<string, string> }): Obj {
    const index = this.writeTarget(name, op.action !== 'update' && op.action !== 'delete');
    const ifSeqNo = op.qs.if_seq_no === undefined ? undefined : Number(op.qs.if_seq_no);
    const ifPrimaryTerm = op.qs.if_primary_term === undefined ? undefined : Number(op.qs.if_primary_term);
    const result = this.apply(index, op.action, op.id, op.source, ifSeqNo, ifPrimaryTerm);
    if ('error' in result) {
      const error = result.error as { type: string; reason: string };
      return fail(result.status, error.type, error.reason);
    }
    if (op.qs.refresh === 'true' || op.qs.refresh === 'wait_for' || op.qs.refresh === '') this.refreshIndex(index);
    return result;
  }

  private bulk(req: Request, defaultIndex: string | undefined): Obj {
    const lines = req.body as Obj[];
    const items: Obj[] = [];
    const touched = new Set<FakeIndex>();
    for (let i = 0; i < lines.length; i++) {
      const [action, meta] = Object.entries(lines[i])[0] as [string, Obj];
      const payload = action === 'delete' ? undefined : (lines[++i] as Obj);
      const name = (meta._index as string | undefined) ?? defaultIndex;
      const id = String(meta._id);
      let index: FakeIndex;
      try {
        index = this.writeTarget(name as string, action === 'index' || action === 'create');
      } catch (error) {
        const body = (error as esmErrors.ResponseError).body as { error: { type: string; reason: string } };
        items.push({ [action]: { _index: name, _id: id, status: (error as esmErrors.ResponseError).statusCode, error: body.error } });
        continue;
      }
      const source = action === 'update' ? ((payload as Obj).doc as Obj) : payload;
      const fault = this.bulkItemFault?.(action, index.name, id, source);
      if (fault) {
        items.push({ [action]: { _index: index.name, _id: id, status: fault.status, error: { type: fault.type, reason: fault.reason } } });
        continue;
      }
      const result = this.apply(index, action, id, source, meta.if_seq_no as number | undefined, meta.if_primary_term as number | undefined);
      touched.add(index);
      items.push({ [action]: { _index: index.name, _id: id, ...result } });
    }
    const refresh = req.querystring.refresh;
    if (refresh === 'true' || refresh === 'wait_for' || refresh === '') for (const index of touched) this.refreshIndex(index);
    return { took: 1, errors: items.some((item) => (Object.values(item)[0] as { status: number }).status >= 300), items };
  }

  /** One write; returns the per-item response (status included). */
  private apply(index: FakeIndex, action: string, id: string, source: Obj | undefined, ifSeqNo: number | undefined, ifPrimaryTerm: number | undefined): Obj & { status: number } {
    const itemError = (status: number, type: string, reason: string) => ({ status, error: { type, reason }, result: undefined }) as unknown as Obj & { status: number; error: { type: string; reason: string } };
    if (index.settings['index.blocks.write'] === true || index.settings['index.blocks.write'] === 'true') {
      return itemError(403, 'cluster_block_exception', `index [${index.name}] blocked by: [FORBIDDEN/8/index write (api)];`);
    }
    const existing = index.docs.get(id);
    if (ifSeqNo !== undefined || ifPrimaryTerm !== undefined) {
      if (!existing || existing.seqNo !== ifSeqNo || existing.primaryTerm !== ifPrimaryTerm) {
        return itemError(409, 'version_conflict_engine_exception', `[${id}]: version conflict, required seqNo [${ifSeqNo}], primary term [${ifPrimaryTerm}]`);
      }
    }
    let next: Obj;
    let result: string;
    switch (action) {
      case 'create':
        if (existing) return itemError(409, 'version_conflict_engine_exception', `[${id}]: version conflict, document already exists`);
        next = clone(source ?? {});
        result = 'created';
        break;
      case 'index':
        next = clone(source ?? {});
        result = existing ? 'updated' : 'created';
        break;
      case 'update':
        if (!existing) return itemError(404, 'document_missing_exception', `[${id}]: document missing`);
        next = deepMerge(clone(existing.source), clone(source ?? {}));
        result = 'updated';
        break;
      case 'delete':
        if (!existing) return { status: 404, result: 'not_found', _seq_no: index.nextSeqNo, _primary_term: 1, _version: 1 } as Obj & { status: number };
        index.docs.delete(id);
        return { status: 200, result: 'deleted', _seq_no: index.nextSeqNo++, _primary_term: 1, _version: existing.version + 1 } as Obj & { status: number };
      default:
        return itemError(400, 'illegal_argument_exception', `fake: unsupported bulk action ${action}`);
    }
    const invalid = this.validateDoc(index, next);
    if (invalid) return itemError(400, 'document_parsing_exception', invalid);
    const stored: StoredDoc = { source: next, seqNo: index.nextSeqNo++, primaryTerm: 1, version: (existing?.version ?? 0) + 1 };
    index.docs.set(id, stored);
    return { status: result === 'created' ? 201 : 200, result, _seq_no: stored.seqNo, _primary_term: 1, _version: stored.version } as Obj & { status: number };
  }

  private validateDoc(index: FakeIndex, source: Obj): string | undefined {
    const properties = index.mappings.properties ?? {};
    for (const [field, value] of Object.entries(source)) {
      const mapping = properties[field];
      if (!mapping) {
        if (index.mappings.dynamic === 'strict') return `[1:1] mapping set to strict, dynamic introduction of [${field}] within [_doc] is not allowed`;
        continue;
      }
      if (mapping.type === 'dense_vector' && value !== null && value !== undefined) {
        if (!Array.isArray(value) || !value.every((x) => typeof x === 'number')) return `failed to parse field [${field}] of type [dense_vector]`;
        if (value.length !== mapping.dims) return `The [dense_vector] field [${field}] in doc has a different number of dimensions [${value.length}] than defined in the mapping [${mapping.dims}]`;
        if ((mapping.similarity ?? 'cosine') === 'cosine' && value.every((x) => x === 0)) {
          return `The [cosine] similarity does not support vectors with zero magnitude. Preview of invalid vector: [0.0, ...]`;
        }
      }
    }
    return undefined;
  }

  // ---- search ----

  private openPit(name: string): Obj {
    const indices = this.resolveNames(name, true).map((concrete) => {
      const index = this.indices.get(concrete) as FakeIndex;
      return { index, docs: new Map(index.searchable) };
    });
    const id = Buffer.from(randomUUID()).toString('base64');
    this.pits.set(id, { indices });
    return { id };
  }

  private closePit(body: Obj): Obj {
    const existed = this.pits.delete(body.id as string);
    return { succeeded: true, num_freed: existed ? 1 : 0 };
  }

  /** The (index, docs) pairs a search or count runs over. */
  private targets(name: string | undefined, body: Obj): Array<{ index: FakeIndex; docs: Map<string, StoredDoc> }> {
    const pit = body.pit as { id: string } | undefined;
    if (pit) {
      if (name) return fail(400, 'illegal_argument_exception', '[indices] cannot be used with point in time');
      const found = this.pits.get(pit.id);
      if (!found) return fail(404, 'search_context_missing_exception', 'No search context found for id');
      return found.indices;
    }
    const names = this.resolveNames(name ?? '', true);
    return names.map((concrete) => {
      const index = this.indices.get(concrete) as FakeIndex;
      return { index, docs: index.searchable };
    });
  }

  private count(req: Request, name: string): Obj {
    const body = (req.body as Obj | null) ?? {};
    let count = 0;
    for (const { index, docs } of this.targets(name, {})) {
      for (const [id, doc] of docs) if (this.matches(index, id, doc.source, body.query as Obj | undefined)) count++;
    }
    return { count, _shards: { total: 1, successful: 1, skipped: 0, failed: 0 } };
  }

  private search(req: Request, name: string | undefined): Obj {
    const body = (req.body as Obj | null) ?? {};
    const size = body.size === undefined ? 10 : Number(body.size);
    if (size > MAX_RESULT_WINDOW) {
      return fail(400, 'illegal_argument_exception', `Result window is too large, from + size must be less than or equal to: [${MAX_RESULT_WINDOW}] but was [${size}]`);
    }
    const usesPit = body.pit !== undefined;
    let ordinal = 0;
    let hits: Array<{ index: FakeIndex; id: string; doc: StoredDoc; score: number; ordinal: number; named: string[] }> = [];
    let scored = false;
    for (const { index, docs } of this.targets(name, body)) {
      const scoring = new Scoring(index, docs);
      for (const [id, doc] of docs) {
        ordinal++;
        if (!this.matches(index, id, doc.source, body.query as Obj | undefined)) continue;
        const named: string[] = [];
        const score = body.query ? this.scoreOf(scoring, id, doc.source, body.query as Obj, named) : 0;
        if (score > 0) scored = true;
        hits.push({ index, id, doc, score: score > 0 ? score : 1, ordinal, named });
      }
    }
    // Text relevance first; a stable sort keeps index order among equal scores (and for unscored queries).
    if (scored) hits.sort((a, b) => b.score - a.score);
    if (body.knn) {
      if (body.query) return fail(400, 'illegal_argument_exception', 'fake: query together with knn is not supported');
      hits = this.knn(body.knn as Obj, hits);
    }
    const aggregations = body.aggs ?? body.aggregations;
    const total = hits.length;
    const sort = normalizeSort(body.sort);
    const sortValues = (hit: (typeof hits)[number]): Json[] => {
      const values: Json[] = sort.map(({ field }) => {
        const first = valuesOf(hit.doc.source, field, hit.index)[0];
        return (first ?? null) as Json;
      });
      // A PIT search sorts by an implicit _shard_doc tiebreaker too, and returns it in `sort`.
      if (usesPit) values.push(hit.ordinal);
      return values;
    };
    if (sort.length > 0 || usesPit) {
      const orders = [...sort.map((s) => s.order), 'asc'];
      const keyed = hits.map((hit) => ({ hit, key: sortValues(hit) }));
      keyed.sort((a, b) => compareKeys(a.key, b.key, orders));
      let list = keyed;
      if (Array.isArray(body.search_after)) {
        const after = body.search_after as Json[];
        list = keyed.filter((entry) => compareKeys(entry.key, after, orders) > 0);
      }
      hits = list.map((entry) => entry.hit);
    }
    const page = hits.slice(0, size);
    const filter = sourceFilterOfBody(body._source);
    const response: Obj = {
      took: 1,
      timed_out: false,
      _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
      hits: {
        ...(body.track_total_hits === false ? {} : { total: { value: total, relation: 'eq' } }),
        max_score: page.length > 0 ? Math.max(...page.map((hit) => hit.score)) : null,
        hits: page.map((hit) => {
          const out: Obj = { _index: hit.index.name, _id: hit.id, _score: hit.score };
          if (hit.named.length > 0) out.matched_queries = hit.named;
          const source = this.filterSource(hit.index, hit.doc.source, filter);
          if (source !== undefined) out._source = source;
          if (sort.length > 0 || usesPit) out.sort = sortValues(hit);
          return out;
        }),
      },
    };
    if (aggregations) response.aggregations = this.aggregate(aggregations as Obj, hits);
    if (usesPit) response.pit_id = (body.pit as { id: string }).id;
    return response;
  }

  private knn<T extends { index: FakeIndex; id: string; doc: StoredDoc; score: number }>(knn: Obj, candidates: T[]): T[] {
    const field = knn.field as string;
    const query = knn.query_vector as number[];
    const k = Number(knn.k);
    const numCandidates = Number(knn.num_candidates ?? Math.max(k, 10));
    if (!(k >= 1) || k > 10_000) return fail(400, 'illegal_argument_exception', `[k] must be between 1 and 10000, got ${k}`);
    if (numCandidates < k || numCandidates > 10_000) return fail(400, 'illegal_argument_exception', `[num_candidates] must be between [k] and 10000, got ${numCandidates}`);
    if (query.every((x) => x === 0)) return fail(400, 'illegal_argument_exception', 'The [cosine] similarity does not support vectors with zero magnitude.');
    const scored: T[] = [];
    for (const candidate of candidates) {
      const mapping = candidate.index.mappings.properties?.[field];
      if (mapping?.type !== 'dense_vector') return fail(400, 'illegal_argument_exception', `[knn] queries are only supported on [dense_vector] fields, not [${field}]`);
      if (query.length !== mapping.dims) return fail(400, 'illegal_argument_exception', `The query vector has a different number of dimensions [${query.length}] than the document vectors [${mapping.dims}].`);
      const vector = candidate.doc.source[field] as number[] | undefined;
      if (!Array.isArray(vector)) continue;
      if (knn.filter && !this.matches(candidate.index, candidate.id, candidate.doc.source, knn.filter as Obj)) continue;
      scored.push({ ...candidate, score: (1 + cosine(query, vector)) / 2 });
    }
    scored.sort((a, b) => b.score - a.score);
    return scored.slice(0, k);
  }

  private aggregate(aggs: Obj, hits: Array<{ index: FakeIndex; id: string; doc: StoredDoc }>): Obj {
    const out: Obj = {};
    for (const [name, spec] of Object.entries(aggs as Record<string, Obj>)) {
      const sub = (spec.aggs ?? spec.aggregations) as Obj | undefined;
      if (spec.filter) {
        const inside = hits.filter((hit) => this.matches(hit.index, hit.id, hit.doc.source, spec.filter as Obj));
        out[name] = { doc_count: inside.length, ...(sub ? this.aggregate(sub, inside) : {}) };
      } else if (spec.terms) {
        const { field, size = 10, order } = spec.terms as { field: string; size?: number; order?: unknown };
        // Only the default order (count desc, then key asc), spelled out or not, is emulated.
        const defaultOrder = JSON.stringify([{ _count: 'desc' }, { _key: 'asc' }]);
        if (order !== undefined && JSON.stringify(order) !== defaultOrder && JSON.stringify(order) !== JSON.stringify({ _count: 'desc' })) {
          return fail(400, 'illegal_argument_exception', `fake: unsupported terms order ${JSON.stringify(order)}`);
        }
        const counts = new Map<string, { key: Json; hits: typeof hits }>();
        for (const hit of hits) {
          for (const value of new Set(valuesOf(hit.doc.source, field, hit.index))) {
            const key = JSON.stringify(value);
            const entry = counts.get(key) ?? { key: value as Json, hits: [] };
            entry.hits.push(hit);
            counts.set(key, entry);
          }
        }
        // Keys in code-unit order (ES compares keyword terms as UTF-8 bytes: the same order outside surrogates).
        const byKey = (a: { key: Json }, b: { key: Json }): number => (String(a.key) < String(b.key) ? -1 : String(a.key) > String(b.key) ? 1 : 0);
        const buckets = [...counts.values()].sort((a, b) => b.hits.length - a.hits.length || byKey(a, b));
        const shown = buckets.slice(0, size);
        out[name] = {
          doc_count_error_upper_bound: 0,
          sum_other_doc_count: buckets.slice(size).reduce((sum, bucket) => sum + bucket.hits.length, 0),
          buckets: shown.map((bucket) => ({ key: bucket.key, doc_count: bucket.hits.length, ...(sub ? this.aggregate(sub, bucket.hits) : {}) })),
        };
      } else {
        return fail(400, 'illegal_argument_exception', `fake: unsupported aggregation ${JSON.stringify(spec)}`);
      }
    }
    return out;
  }

  // ---- queries ----

  private matches(index: FakeIndex, id: string, source: Obj, query: Obj | undefined): boolean {
    if (!query) return true;
    const entries = Object.entries(query);
    if (entries.length !== 1) return fail(400, 'parsing_exception', `[query] malformed query, expected exactly one clause, got ${entries.length}`);
    const [type, spec] = entries[0] as [string, Obj];
    const list = (value: unknown): Obj[] => (value === undefined ? [] : Array.isArray(value) ? (value as Obj[]) : [value as Obj]);
    switch (type) {
      case 'match_all':
        return true;
      case 'match_none':
        return false;
      case 'bool': {
        const required = [...list(spec.filter), ...list(spec.must)];
        if (!required.every((q) => this.matches(index, id, source, q))) return false;
        if (list(spec.must_not).some((q) => this.matches(index, id, source, q))) return false;
        const should = list(spec.should);
        if (should.length === 0) return true;
        const minimum = spec.minimum_should_match !== undefined ? Number(spec.minimum_should_match) : required.length > 0 ? 0 : 1;
        return should.filter((q) => this.matches(index, id, source, q)).length >= minimum;
      }
      case 'term': {
        const [field, raw] = Object.entries(spec)[0];
        const value = typeof raw === 'object' && raw !== null ? (raw as Obj).value : raw;
        return valuesOf(source, field, index).some((v) => sameTerm(v, value));
      }
      case 'terms': {
        const [field, wanted] = Object.entries(spec)[0] as [string, unknown[]];
        return valuesOf(source, field, index).some((v) => wanted.some((w) => sameTerm(v, w)));
      }
      case 'ids':
        return ((spec.values as string[]) ?? []).map(String).includes(id);
      case 'exists':
        return valuesOf(source, spec.field as string, index).length > 0;
      case 'range': {
        const [field, bounds] = Object.entries(spec)[0] as [string, Record<string, unknown>];
        const isDate = mappingOf(index, field)?.type === 'date';
        const num = (v: unknown): number => (isDate ? Date.parse(String(v)) : Number(v));
        return valuesOf(source, field, index).some((raw) => {
          const v = num(raw);
          if (bounds.gt !== undefined && !(v > num(bounds.gt))) return false;
          if (bounds.gte !== undefined && !(v >= num(bounds.gte))) return false;
          if (bounds.lt !== undefined && !(v < num(bounds.lt))) return false;
          if (bounds.lte !== undefined && !(v <= num(bounds.lte))) return false;
          return true;
        });
      }
      case 'match': {
        const [field, raw] = Object.entries(spec)[0];
        const { query: text, operator } = typeof raw === 'object' && raw !== null ? (raw as { query: string; operator?: string }) : { query: String(raw), operator: 'or' };
        return this.textMatches(index, source, [field], String(text), operator ?? 'or', 'best_fields');
      }
      case 'multi_match':
        return this.textMatches(index, source, spec.fields as string[], String(spec.query), (spec.operator as string) ?? 'or', (spec.type as string) ?? 'best_fields');
      default:
        return fail(400, 'parsing_exception', `fake: unknown query [${type}]`);
    }
  }

  /**
   * The relevance of a matching doc: BM25 (k1 1.2, b 0.75, per-field statistics over the searchable
   * docs) for match / multi_match in a scoring position (bool must / should), field boosts (`f^2`)
   * applied; most_fields sums the fields, best_fields takes the best. Filters and other leaf queries
   * add nothing. Named clauses (`_name`) that match are collected, as `matched_queries` reports.
   */
  private scoreOf(scoring: Scoring, id: string, source: Obj, query: Obj, named: string[]): number {
    const [type, spec] = Object.entries(query)[0] as [string, Obj];
    const name = typeof spec?._name === 'string' ? spec._name : undefined;
    const list = (value: unknown): Obj[] => (value === undefined ? [] : Array.isArray(value) ? (value as Obj[]) : [value as Obj]);
    let score = 0;
    if (type === 'bool') {
      for (const q of list(spec.must)) score += this.scoreOf(scoring, id, source, q, named);
      for (const q of list(spec.should)) if (this.matches(scoring.index, id, source, q)) score += this.scoreOf(scoring, id, source, q, named);
      for (const q of list(spec.filter)) this.scoreOf(scoring, id, source, q, named);
    } else if (type === 'multi_match' || type === 'match') {
      const [fields, text, how] = type === 'match'
        ? (() => {
            const [field, raw] = Object.entries(spec)[0];
            return [[field], typeof raw === 'object' && raw !== null ? String((raw as Obj).query) : String(raw), 'best_fields'];
          })()
        : [spec.fields as string[], String(spec.query), String(spec.type ?? 'best_fields')];
      const perField = fields.map((entry) => {
        const [field, boost] = entry.split('^');
        return (boost === undefined ? 1 : Number(boost)) * scoring.bm25(field, source, analyze(text));
      });
      score = how === 'most_fields' ? perField.reduce((a, b) => a + b, 0) : Math.max(0, ...perField);
    }
    if (name !== undefined && this.matches(scoring.index, id, source, query)) named.push(name);
    return score;
  }

  private textMatches(index: FakeIndex, source: Obj, fields: string[], text: string, operator: string, type: string): boolean {
    const queryTokens = analyze(text);
    if (queryTokens.length === 0) return false; // zero_terms_query: none
    const fieldTokens = fields.map((entry) => {
      const field = entry.split('^')[0];
      const mapping = mappingOf(index, field);
      const values = valuesOf(source, field, index).map(String);
      return new Set(mapping?.type === 'text' ? values.flatMap(analyze) : values);
    });
    const and = operator.toLowerCase() === 'and';
    if (type === 'cross_fields') {
      const found = (token: string) => fieldTokens.some((tokens) => tokens.has(token));
      return and ? queryTokens.every(found) : queryTokens.some(found);
    }
    return fieldTokens.some((tokens) => (and ? queryTokens.every((t) => tokens.has(t)) : queryTokens.some((t) => tokens.has(t))));
  }

  private filterSource(index: FakeIndex, source: Obj, filter: SourceFilter): Obj | undefined {
    if (filter === false) return undefined;
    const copy = clone(source);
    const includes = filter === true ? undefined : filter.includes;
    const excludes = filter === true ? [] : (filter.excludes ?? []);
    // From 9.2, vectors are left out of _source unless the index opts out or the request names them.
    const excludeVectors = atLeast(this.version, 9, 2) && index.settings['index.mapping.exclude_source_vectors'] !== false &&
      index.settings['index.mapping.exclude_source_vectors'] !== 'false';
    for (const key of Object.keys(copy)) {
      const isVector = index.mappings.properties?.[key]?.type === 'dense_vector';
      const included = includes === undefined || includes.length === 0 || includes.includes(key);
      if (!included || excludes.includes(key) || (isVector && excludeVectors && !includes?.includes(key))) delete copy[key];
    }
    return copy;
  }
}

/** Per-field BM25 statistics over the docs one search runs on, computed once per field and search. */
class Scoring {
  private readonly stats = new Map<string, { docs: number; avgLength: number; df: Map<string, number> }>();

  constructor(
    readonly index: FakeIndex,
    private readonly docs: Map<string, StoredDoc>,
  ) {}

  bm25(field: string, source: Obj, queryTokens: string[]): number {
    if (mappingOf(this.index, field)?.type !== 'text') return 0;
    const stats = this.statsOf(field);
    const tokens = this.tokensOf(field, source);
    if (tokens.length === 0 || stats.docs === 0) return 0;
    const k1 = 1.2;
    const b = 0.75;
    let score = 0;
    for (const term of new Set(queryTokens)) {
      const tf = tokens.filter((token) => token === term).length;
      if (tf === 0) continue;
      const df = stats.df.get(term) ?? 0;
      const idf = Math.log(1 + (stats.docs - df + 0.5) / (df + 0.5));
      score += (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * tokens.length) / stats.avgLength));
    }
    return score;
  }

  private tokensOf(field: string, source: Obj): string[] {
    return valuesOf(source, field, this.index).map(String).flatMap(analyze);
  }

  private statsOf(field: string) {
    let stats = this.stats.get(field);
    if (!stats) {
      const df = new Map<string, number>();
      let docs = 0;
      let length = 0;
      for (const doc of this.docs.values()) {
        const tokens = this.tokensOf(field, doc.source);
        if (tokens.length === 0) continue;
        docs++;
        length += tokens.length;
        for (const token of new Set(tokens)) df.set(token, (df.get(token) ?? 0) + 1);
      }
      stats = { docs, avgLength: docs > 0 ? length / docs : 1, df };
      this.stats.set(field, stats);
    }
    return stats;
  }
}

// ---- helpers ----

function fail(status: number, type: string | undefined, reason: string | undefined, body?: Obj): never {
  const payload = body ?? { error: { type, reason, root_cause: [{ type, reason }] }, status };
  throw new errors.ResponseError({
    body: payload,
    statusCode: status,
    headers: {},
    warnings: null,
    meta: {} as never,
  } as never);
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function deepMerge(target: Obj, patch: Obj): Obj {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    if (isPlainObject(current) && isPlainObject(value)) target[key] = deepMerge(current, value);
    else target[key] = value;
  }
  return target;
}

function isPlainObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function atLeast(version: string, major: number, minor: number): boolean {
  const [a, b] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/** Settings as flat `index.*` keys; `analysis` stays one object. */
function flattenSettings(settings: Obj, prefix = ''): Obj {
  const out: Obj = {};
  for (const [key, value] of Object.entries(settings)) {
    const full = prefix ? `${prefix}.${key}` : key.startsWith('index.') || key === 'index' ? key : `index.${key}`;
    if (full === 'index' && isPlainObject(value)) Object.assign(out, flattenSettings(value, 'index'));
    else if (isPlainObject(value) && !full.endsWith('analysis')) Object.assign(out, flattenSettings(value, full));
    else out[full] = value;
  }
  return out;
}

function nestSettings(settings: Obj): Obj {
  const out: Obj = {};
  for (const [key, value] of Object.entries(settings)) out[key.replace(/^index\./, '')] = value;
  return out;
}

function mappingOf(index: FakeIndex, field: string): Mapping | undefined {
  const [base, sub] = field.split('.', 2);
  const mapping = index.mappings.properties?.[base];
  if (!mapping) return undefined;
  return sub === undefined ? mapping : (mapping.fields?.[sub] ?? mapping.properties?.[sub]);
}

/** The values a field holds (arrays flattened); a multi-field (`tags.text`) reads its parent's value. */
function valuesOf(source: Obj, field: string, index: FakeIndex): unknown[] {
  const [base, sub] = field.split('.', 2);
  let value: unknown = source[base];
  if (sub !== undefined) {
    const parent = index.mappings.properties?.[base];
    if (!parent?.fields?.[sub]) value = isPlainObject(value) ? value[sub] : undefined;
  }
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).filter((v) => v !== null && v !== undefined);
}

function sameTerm(value: unknown, wanted: unknown): boolean {
  if (typeof value === 'boolean' || typeof wanted === 'boolean') return String(value) === String(wanted);
  if (typeof value === 'number' || typeof wanted === 'number') return Number(value) === Number(wanted);
  return value === wanted;
}

type SourceFilter = boolean | { includes?: string[]; excludes?: string[] };

function sourceFilterOf(qs: Record<string, string>): SourceFilter {
  if (qs._source === 'false') return false;
  const split = (value: string | undefined) => (value === undefined ? undefined : value.split(',').filter(Boolean));
  const includes = split(qs._source_includes) ?? (qs._source && qs._source !== 'true' ? split(qs._source) : undefined);
  const excludes = split(qs._source_excludes);
  return includes || excludes ? { includes, excludes } : true;
}

function sourceFilterOfBody(source: unknown): SourceFilter {
  if (source === undefined || source === true) return true;
  if (source === false) return false;
  if (typeof source === 'string') return { includes: [source] };
  if (Array.isArray(source)) return { includes: source as string[] };
  const filter = source as { includes?: string | string[]; excludes?: string | string[] };
  return {
    includes: filter.includes === undefined ? undefined : ([] as string[]).concat(filter.includes),
    excludes: filter.excludes === undefined ? undefined : ([] as string[]).concat(filter.excludes),
  };
}

function normalizeSort(sort: unknown): Array<{ field: string; order: string }> {
  if (sort === undefined) return [];
  return (Array.isArray(sort) ? sort : [sort]).map((entry) => {
    if (typeof entry === 'string') return { field: entry, order: 'asc' };
    const [field, spec] = Object.entries(entry as Obj)[0];
    return { field, order: typeof spec === 'string' ? spec : (((spec as Obj).order as string) ?? 'asc') };
  });
}

function compareKeys(a: Json[], b: Json[], orders: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    let c = 0;
    if (x === y) c = 0;
    else if (x === null) c = 1;
    else if (y === null) c = -1;
    else if (typeof x === 'number' && typeof y === 'number') c = x - y;
    else c = String(x) < String(y) ? -1 : 1;
    if (c !== 0) return orders[i] === 'desc' ? -c : c;
  }
  return 0;
}

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

/** The fake's one analyzer (see the deviations above). */
export function analyze(text: string): string[] {
  const folded = text.normalize('NFKD').toLowerCase().replace(/\p{M}+/gu, '');
  const words = folded.match(/\p{Script=Han}|[\p{L}\p{N}]+/gu) ?? [];
  return words.flatMap((word) => (/\p{Script=Han}/u.test(word) ? [word] : word.split(/(?=\p{Script=Han})/u))).map(stem);
}

const VOWEL = /[aeiouy]/;

/** A crude Porter step 1: plurals, -ed/-ing, final y → i. */
export function stem(word: string): string {
  if (!/^[a-z]+$/.test(word) || word.length <= 2) return word;
  let w = word;
  if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.endsWith('ies')) w = w.slice(0, -2);
  else if (!w.endsWith('ss') && w.endsWith('s')) w = w.slice(0, -1);
  if (w.endsWith('eed')) {
    // keep
  } else if (w.endsWith('ed') && VOWEL.test(w.slice(0, -2))) w = w.slice(0, -2);
  else if (w.endsWith('ing') && VOWEL.test(w.slice(0, -3))) w = w.slice(0, -3);
  if (w.endsWith('y') && VOWEL.test(w.slice(0, -1))) w = `${w.slice(0, -1)}i`;
  return w;
}
