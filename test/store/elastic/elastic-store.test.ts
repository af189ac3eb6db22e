/**
 * Elasticsearch-specific behaviour: request shapes the adapter sends (checked on what the mock
 * received), layout creation and checks, error mapping, compensation of a failed batch, rebuild's
 * alias switch. The shared behaviour is in ../contract.ts.
 */
import { Client } from '@elastic/elasticsearch';
import MockModule from '@elastic/elasticsearch-mock';
import { describe, expect, it } from 'vitest';
import { openElasticStore } from '../../../src/store/elastic.js';
import { itemsIndexBody, SCHEMA_ADDITIONS } from '../../../src/store/elastic/mapping.js';
import { DIMS, makeItem, seededRandom } from '../helpers.js';
import { cjsErrors, FakeElasticsearch } from './fake-elasticsearch.js';

const Mock = ((MockModule as unknown as { default?: unknown }).default ?? MockModule) as unknown as typeof MockModule.default;

type Body = Record<string, any>;
const random = seededRandom(3);

function lastRequest(fake: FakeElasticsearch, method: string, pathPattern: RegExp): { path: string; body: Body; querystring: Record<string, string> } {
  const found = [...fake.requests].reverse().find((r) => r.method === method && pathPattern.test(r.path));
  if (!found) throw new Error(`no ${method} ${pathPattern}`);
  return found as { path: string; body: Body; querystring: Record<string, string> };
}

describe('layout', () => {
  it('creates a versioned items index behind the alias, with the mapping the design asks for', async () => {
    const fake = new FakeElasticsearch({ version: '9.2.1' });
    await openElasticStore({ client: fake.client(), index: 'art', dims: DIMS, quantization: 'int8', hnsw: { m: 24, efConstruction: 150 }, shards: 2, replicas: 1 });
    expect(fake.indexNames()).toEqual(['art-meta', 'art-thumbnails', 'art-v1']);
    expect(fake.aliasTargets('art')).toEqual(['art-v1']);
    const { body } = lastRequest(fake, 'PUT', /^\/art-v1$/);
    expect(body.aliases).toEqual({ art: {} });
    expect(body.settings).toMatchObject({ number_of_shards: 2, number_of_replicas: 1, 'index.mapping.exclude_source_vectors': false });
    expect(body.settings.analysis.analyzer.parasol_text).toEqual({ type: 'custom', tokenizer: 'standard', filter: ['lowercase', 'asciifolding', 'porter_stem'] });
    const { properties, _meta, dynamic } = body.mappings;
    expect(dynamic).toBe('strict');
    expect(_meta).toEqual({ parasol: { schema: 3, dims: DIMS } });
    expect(properties.description).toEqual({ type: 'text', analyzer: 'parasol_text' });
    expect(properties.aliases).toEqual({ type: 'object', enabled: false });
    expect(properties.hasText).toEqual({ type: 'boolean' });
    expect(properties.semantic).toEqual({
      type: 'dense_vector',
      dims: DIMS.semantic,
      index: true,
      similarity: 'cosine',
      index_options: { type: 'int8_hnsw', m: 24, ef_construction: 150 },
    });
    expect(properties.style.dims).toBe(DIMS.style);
    expect(properties.seq).toEqual({ type: 'long' });
    expect(properties.title).toMatchObject({ type: 'text', analyzer: 'parasol_text', fields: { keyword: { type: 'keyword' } } });
    expect(properties.tags).toMatchObject({ type: 'keyword', fields: { text: { type: 'text', analyzer: 'parasol_text' } } });
    expect(properties.extra).toEqual({ type: 'object', enabled: false });
    expect(properties.attribution).toEqual({ type: 'keyword', index: false });
  });

  it('leaves exclude_source_vectors alone before 9.2 (where the setting does not exist) and still reads vectors', async () => {
    const fake = new FakeElasticsearch({ version: '9.0.3' });
    const store = await openElasticStore({ client: fake.client(), index: 'old', dims: DIMS });
    const { body } = lastRequest(fake, 'PUT', /^\/old-v1$/);
    expect(body.settings).not.toHaveProperty('index.mapping.exclude_source_vectors');
    expect(body.mappings.properties.semantic.index_options.type).toBe('hnsw');
    const input = makeItem('v', random);
    const [{ id }] = await store.catalog.addBatch([input]);
    expect(Array.from((await store.catalog.getWithVectors(id))!.semantic)).toEqual(Array.from(input.semantic));
  });

  it('opens an existing layout without creating or changing anything', async () => {
    const fake = new FakeElasticsearch();
    const client = fake.client();
    const first = await openElasticStore({ client, index: 'same', dims: DIMS });
    const [{ id }] = await first.catalog.addBatch([makeItem('kept', random)]);
    const before = fake.requests.length;
    const second = await openElasticStore({ client, index: 'same', dims: DIMS });
    const writes = fake.requests.slice(before).filter((r) => r.method === 'PUT' || r.method === 'DELETE');
    expect(writes).toEqual([]);
    expect(await second.catalog.get(id)).toBeDefined();
    expect(await second.catalog.version()).toBe(1);
  });

  it('applies a changed replica count on the next open (a dynamic setting: no reindex)', async () => {
    const fake = new FakeElasticsearch();
    const client = fake.client();
    await openElasticStore({ client, index: 'rep', dims: DIMS, replicas: 0 });
    await openElasticStore({ client, index: 'rep', dims: DIMS, replicas: 2 });
    const put = lastRequest(fake, 'PUT', /_settings$/);
    expect(put.path).toBe('/rep-v1,rep-thumbnails/_settings');
    expect(put.body).toEqual({ index: { number_of_replicas: 2 } });
    const settings = (await client.indices.get({ index: 'rep' }))['rep-v1'].settings;
    expect(Number(settings?.index?.number_of_replicas)).toBe(2);
  });

  it('refuses to open an index built for other dimensions, saying which', async () => {
    const fake = new FakeElasticsearch();
    const client = fake.client();
    await openElasticStore({ client, index: 'dims', dims: DIMS });
    await expect(openElasticStore({ client, index: 'dims', dims: { semantic: 32, style: 8 } })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/16-d semantic.*32-d/),
    });
  });

  it('refuses a name that is a plain index, and a bad index name', async () => {
    const fake = new FakeElasticsearch();
    const client = fake.client();
    await client.indices.create({ index: 'plain' });
    await expect(openElasticStore({ client, index: 'plain', dims: DIMS })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: /not an alias/ });
    await expect(openElasticStore({ client, index: 'Upper Case', dims: DIMS })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('schema upgrade', () => {
  it('adds description and hasText to a schema-1 index in place; its old items stay searchable and count as text', async () => {
    const fake = new FakeElasticsearch();
    const client = fake.client();
    const current = itemsIndexBody({ dims: DIMS, shards: 1, replicas: 0, quantization: 'none', hnsw: { m: 16, efConstruction: 100 }, keepVectorsInSource: true });
    const { description: _description, hasText: _hasText, ...oldProperties } = current.mappings.properties!;
    await client.indices.create({
      index: 'legacy-v1',
      settings: current.settings,
      mappings: { ...current.mappings, properties: oldProperties, _meta: { parasol: { schema: 1, dims: DIMS } } },
      aliases: { legacy: {} },
    });
    const old = makeItem('old', random, { title: 'Old cat', tags: ['animal'] });
    await client.index({
      index: 'legacy',
      id: '100',
      refresh: 'wait_for',
      document: {
        seq: 100, id: 'old', externalId: '', contentHash: old.contentHash, source: 'test', title: 'Old cat', tags: ['animal'], keywords: [],
        license: '', attribution: '', url: '', width: 1, height: 1, extra: {}, createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(),
        deleted: false, addedVersion: 1, semantic: Array.from(old.semantic), style: Array.from(old.style),
      },
    });
    // A Parasol before descriptions could not have written one: strict mapping.
    await expect(client.index({ index: 'legacy', id: '101', document: { description: 'x' } })).rejects.toThrow(/strict|not allowed/);

    const store = await openElasticStore({ client, index: 'legacy', dims: DIMS });
    const upgrade = lastRequest(fake, 'PUT', /^\/legacy-v1\/_mapping$/);
    expect(upgrade.body).toEqual({ properties: SCHEMA_ADDITIONS, _meta: { parasol: { schema: 3, dims: DIMS } } });
    expect(await store.catalog.hasText()).toBe(true); // the old item has no flag: it counts as text
    const [added] = await store.catalog.addBatch([makeItem('new', random, { title: 'Harbour', tags: [], description: 'cats asleep on a boat' })]);
    expect((await store.catalog.getManyBySeq([100, added.seq])).get(added.seq)?.description).toBe('cats asleep on a boat');
    expect((await store.catalog.getManyBySeq([100])).get(100)?.description).toBe('');
    const hits = await store.catalog.lexicalSearch('cats', { limit: 10 });
    expect(hits.map((hit) => hit.seq).sort((a, b) => a - b)).toEqual([added.seq, 100]);

    // A second open finds schema 2 and changes nothing.
    const before = fake.requests.length;
    await openElasticStore({ client, index: 'legacy', dims: DIMS });
    expect(fake.requests.slice(before).some((r) => r.path.endsWith('/_mapping'))).toBe(false);

    // A reindex completes the old docs with the fields schema 2 added.
    await store.rebuild();
    expect(fake.aliasTargets('legacy')).toEqual(['legacy-v2']);
    const copied = await client.get<Record<string, unknown>>({ index: 'legacy', id: '100' });
    expect(copied._source).toMatchObject({ title: 'Old cat', description: '', hasText: true });
    expect((await store.catalog.lexicalSearch('cat', { limit: 10 })).map((hit) => hit.seq).sort((a, b) => a - b)).toEqual([added.seq, 100]);
  });
});

describe('requests', () => {
  it('searches words with one named most_fields multi_match per word, boosted as SQLite weighs its columns', async () => {
    const fake = new FakeElasticsearch();
    const store = await openElasticStore({ client: fake.client(), index: 'words', dims: DIMS });
    const [cat, dog] = await store.catalog.addBatch([
      makeItem('c', random, { title: 'Sleeping cats', source: 'a' }),
      makeItem('d', random, { title: 'Dog', tags: [], keywords: ['puppy'], source: 'b' }),
    ]);
    const hits = await store.catalog.lexicalSearch('sleeping "cats" OR dog*', { limit: 5, filter: { sources: ['a'] }, allowed: new Set([cat.seq, dog.seq]) });
    const { body, path } = lastRequest(fake, 'POST', /\/_search$/);
    expect(path).toBe('/words/_search');
    expect(body).toMatchObject({ size: 5, _source: false, track_total_hits: false });
    const fields = ['title^3', 'tags.text^2', 'keywords^1.5', 'description^1'];
    expect(body.query.bool.should).toEqual(
      ['sleeping', 'cats', 'OR', 'dog'].map((query, i) => ({ multi_match: { query, type: 'most_fields', fields, _name: String(i) } })),
    );
    expect(body.query.bool.minimum_should_match).toBe(1);
    expect(body.query.bool.filter).toEqual([
      { bool: { filter: [{ term: { deleted: false } }, { terms: { source: ['a'] } }, { terms: { seq: [cat.seq, dog.seq] } }] } },
    ]);
    // Matched terms come from one _analyze of the words (offsets map tokens back to words) ...
    const analyze = lastRequest(fake, 'POST', /\/_analyze$/);
    expect(analyze.body).toEqual({ analyzer: 'parasol_text', text: 'sleeping cats OR dog ' });
    expect(hits).toEqual([{ seq: cat.seq, score: expect.any(Number), terms: expect.arrayContaining(['sleep', 'cat']) }]);
    // ... remembered per word, so a repeated query analyses nothing.
    const analyses = fake.requests.filter((r) => r.path.endsWith('/_analyze')).length;
    const scores = await store.catalog.lexicalScores('cats sleeping', [cat.seq, dog.seq, 77]);
    expect(fake.requests.filter((r) => r.path.endsWith('/_analyze')).length).toBe(analyses);
    const rescoring = lastRequest(fake, 'POST', /\/_search$/).body;
    expect(rescoring.size).toBe(3);
    expect(rescoring.query.bool.filter).toEqual([{ bool: { filter: [{ term: { deleted: false } }, { ids: { values: [String(cat.seq), String(dog.seq), '77'] } }] } }]);
    expect([...scores.keys()]).toEqual([cat.seq]);
  });


  it('searches one kNN per modality with the filter pushed down and turns _score back into a cosine', async () => {
    const fake = new FakeElasticsearch();
    const store = await openElasticStore({ client: fake.client(), index: 'knn', dims: DIMS, numCandidatesFactor: 3 });
    const items = ['a', 'b', 'c'].map((n) => makeItem(n, random, { source: n === 'c' ? 'other' : 'test' }));
    const results = await store.catalog.addBatch(items);
    const hits = await store.indices.semantic.search(items[0].semantic, 7, {
      filter: { sources: ['test'], keywords: 'item' },
      exclude: new Set([results[1].seq]),
    });
    const { body, path } = lastRequest(fake, 'POST', /\/_search$/);
    expect(path).toBe('/knn/_search');
    expect(body).toMatchObject({ size: 7, _source: false, knn: { field: 'semantic', k: 7, num_candidates: 21 } });
    // The same float32 values, in their shortest exact JSON form.
    expect(Float32Array.from(body.knn.query_vector)).toEqual(items[0].semantic);
    expect(body.knn.filter.bool.filter).toEqual([
      { term: { deleted: false } },
      { terms: { source: ['test'] } },
      { multi_match: { query: 'item', fields: ['title', 'tags.text', 'keywords', 'description'], type: 'cross_fields', operator: 'and' } },
    ]);
    expect(body.knn.filter.bool.must_not).toEqual([{ ids: { values: [String(results[1].seq)] } }]);
    expect(hits).toEqual([{ seq: results[0].seq, score: expect.closeTo(1, 6) }]);
  });

  it('caps num_candidates at 10 000 and never below k', async () => {
    const fake = new FakeElasticsearch();
    const store = await openElasticStore({ client: fake.client(), index: 'caps', dims: DIMS, numCandidatesFactor: 1.5 });
    await store.catalog.addBatch([makeItem('x', random)]);
    await store.indices.style.search(makeItem('q', random).style, 9000);
    expect(lastRequest(fake, 'POST', /\/_search$/).body.knn).toMatchObject({ k: 9000, num_candidates: 10_000 });
    await store.indices.style.search(makeItem('q', random).style, 3);
    expect(lastRequest(fake, 'POST', /\/_search$/).body.knn).toMatchObject({ k: 3, num_candidates: 5 });
  });

  it('answers a bounded matchFilter with one search of limit + 1 hits', async () => {
    const fake = new FakeElasticsearch();
    const store = await openElasticStore({ client: fake.client(), index: 'probe', dims: DIMS });
    await store.catalog.addBatch(['a', 'b', 'c'].map((n) => makeItem(n, random)));
    const before = fake.requests.length;
    expect(await store.catalog.matchFilter({ sources: ['test'] }, { limit: 2 })).toBeNull();
    const sent = fake.requests.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0].body).toMatchObject({ size: 3, _source: false });
  });

  it('scans with a point in time and search_after by seq, and closes it', async () => {
    const fake = new FakeElasticsearch();
    const store = await openElasticStore({ client: fake.client(), index: 'pit', dims: DIMS });
    await store.catalog.addBatch(['a', 'b', 'c'].map((n) => makeItem(n, random)));
    const pages: number[][] = [];
    for await (const page of store.catalog.scan(2)) pages.push(page.map((i) => i.seq));
    expect(pages).toEqual([[1, 2], [3]]);
    const searches = fake.requests.filter((r) => r.path === '/_search').map((r) => r.body as Body);
    expect(searches[0]).toMatchObject({ pit: { id: expect.any(String) }, sort: [{ seq: 'asc' }], size: 2 });
    expect(searches[1].search_after).toHaveLength(2); // seq plus the implicit _shard_doc tiebreaker
    expect(fake.openPits()).toBe(0);
    for await (const _ of store.catalog.scan(1)) break;
    expect(fake.openPits()).toBe(0);
  });

  it('writes a batch through _bulk: claims with op_type create, items by seq with wait_for', async () => {
    const fake = new FakeElasticsearch();
    const store = await openElasticStore({ client: fake.client(), index: 'bulk', dims: DIMS });
    await store.catalog.addBatch([makeItem('a', random, { id: 'a-id', thumbnail: Buffer.from('t') })]);
    const bulks = fake.requests.filter((r) => r.path === '/_bulk');
    const claims = bulks.find((r) => (r.body as Body[])[0].create?._index === 'bulk-meta') as { body: Body[]; querystring: Record<string, string> };
    expect(claims.body.filter((_, i) => i % 2 === 0).map((a) => a.create._id).sort()).toEqual(['hash:' + makeItem('a', seededRandom(1)).contentHash, 'id:a-id'].sort());
    const items = bulks.find((r) => (r.body as Body[])[0].create?._index === 'bulk') as { body: Body[]; querystring: Record<string, string> };
    expect(items.querystring.refresh).toBe('wait_for');
    expect(items.body[0]).toEqual({ create: { _index: 'bulk', _id: '1' } });
    expect(items.body[1]).toMatchObject({ seq: 1, id: 'a-id', deleted: false, addedVersion: 1 });
    expect(items.body[2]).toEqual({ index: { _index: 'bulk-thumbnails', _id: 'a-id' } });
    expect(items.body[3]).toEqual({ seq: 1, bytes: Buffer.from('t').toString('base64') });
  });
});

describe('failures', () => {
  it('undoes a batch when one item write fails: nothing readable, the content can be added again', async () => {
    const fake = new FakeElasticsearch();
    const store = await openElasticStore({ client: fake.client(), index: 'undo', dims: DIMS });
    const items = ['a', 'b', 'c'].map((n) => makeItem(n, random, { thumbnail: Buffer.from(n) }));
    fake.bulkItemFault = (action, index, id) =>
      action === 'create' && index === 'undo-v1' && id === '2' ? { status: 400, type: 'document_parsing_exception', reason: 'boom' } : undefined;
    await expect(store.catalog.addBatch(items)).rejects.toMatchObject({ code: 'INTERNAL', message: /boom/ });
    fake.bulkItemFault = undefined;
    for (const item of items) expect(await store.catalog.findByHash(item.contentHash)).toBeUndefined();
    expect(await store.catalog.matchFilter({})).toEqual(new Set());
    expect((await store.catalog.stats()).items).toBe(0);
    const again = await store.catalog.addBatch(items);
    expect(again.map((r) => r.status)).toEqual(['added', 'added', 'added']);
    expect(await store.catalog.thumbnail(again[2].id)).toEqual(Buffer.from('c'));
  });

  it('takes over a claim left by a writer that died before writing its item', async () => {
    const fake = new FakeElasticsearch();
    const client = fake.client();
    const store = await openElasticStore({ client, index: 'stale', dims: DIMS, staleClaimMs: 0 });
    const input = makeItem('orphan', random);
    await client.create({ index: 'stale-meta', id: `hash:${input.contentHash}`, document: { kind: 'hash', seq: 999, at: new Date(0).toISOString() } });
    const [result] = await store.catalog.addBatch([input]);
    expect(result.status).toBe('added');
    expect((await store.catalog.findByHash(input.contentHash))?.seq).toBe(result.seq);
  });

  it('reports a claim still in flight from another writer as a conflict to retry', async () => {
    const fake = new FakeElasticsearch();
    const client = fake.client();
    const store = await openElasticStore({ client, index: 'busy', dims: DIMS });
    const input = makeItem('busy', random);
    await client.create({ index: 'busy-meta', id: `hash:${input.contentHash}`, document: { kind: 'hash', seq: 999, at: new Date().toISOString() } });
    await expect(store.catalog.addBatch([input])).rejects.toMatchObject({ code: 'CONFLICT', message: /another writer/ });
  });

  it('maps an unreachable cluster to NOT_READY and a refused request to INTERNAL, with ES\'s reason', async () => {
    const down = new Mock();
    down.add({ method: 'GET', path: '/' }, () => new cjsErrors.ConnectionError('connect ECONNREFUSED') as never);
    const unreachable = new Client({ node: 'http://down:9200', Connection: down.getConnection() as never, maxRetries: 0 });
    await expect(openElasticStore({ client: unreachable, dims: DIMS })).rejects.toMatchObject({ code: 'NOT_READY', message: /unreachable.*ECONNREFUSED/ });

    const refusing = new Mock();
    refusing.add({ method: 'GET', path: '/' }, () => ({ version: { number: '9.1.0' } }));
    const failure = (status: number, type: string) => () =>
      new cjsErrors.ResponseError({ body: { error: { type, reason: 'it said no' }, status }, statusCode: status, headers: {}, warnings: null, meta: {} } as never) as never;
    refusing.add({ method: 'GET', path: '/parasol-items' }, failure(500, 'illegal_state_exception'));
    const client = new Client({ node: 'http://refusing:9200', Connection: refusing.getConnection() as never, maxRetries: 0 });
    await expect(openElasticStore({ client, dims: DIMS })).rejects.toMatchObject({ code: 'INTERNAL', message: /500 illegal_state_exception: it said no/ });

    refusing.clear({ method: 'GET', path: '/parasol-items' });
    refusing.add({ method: 'GET', path: '/parasol-items' }, failure(401, 'security_exception'));
    await expect(openElasticStore({ client, dims: DIMS })).rejects.toMatchObject({ code: 'NOT_READY', message: /credentials/ });
  });

  it('refuses writes while an index is write-blocked (another server reindexing) with NOT_READY', async () => {
    const fake = new FakeElasticsearch();
    const client = fake.client();
    const store = await openElasticStore({ client, index: 'blocked', dims: DIMS });
    await client.indices.putSettings({ index: 'blocked-v1', settings: { 'index.blocks.write': true } as never });
    await expect(store.catalog.addBatch([makeItem('x', random)])).rejects.toMatchObject({ code: 'NOT_READY', message: /read-only/ });
    await client.indices.putSettings({ index: 'blocked-v1', settings: { 'index.blocks.write': null } as never });
    expect((await store.catalog.addBatch([makeItem('x', random)]))[0].status).toBe('added');
  });
});

describe('rebuild', () => {
  it('fills <alias>-v2, moves the alias atomically and deletes v1', async () => {
    const fake = new FakeElasticsearch();
    const store = await openElasticStore({ client: fake.client(), index: 'rb', dims: DIMS });
    const results = await store.catalog.addBatch(['a', 'b', 'c'].map((n) => makeItem(n, random)));
    await store.catalog.delete(results[0].id);
    await store.rebuild();
    expect(fake.aliasTargets('rb')).toEqual(['rb-v2']);
    expect(fake.indexNames()).toEqual(['rb-meta', 'rb-thumbnails', 'rb-v2']);
    const aliasCall = lastRequest(fake, 'POST', /^\/_aliases$/);
    expect(aliasCall.body.actions).toEqual([{ remove: { index: 'rb-v1', alias: 'rb' } }, { add: { index: 'rb-v2', alias: 'rb' } }]);
    expect(await store.catalog.changesSince(0)).toMatchObject({ deleted: [results[0].seq], version: 2 });
    await store.rebuild();
    expect(fake.aliasTargets('rb')).toEqual(['rb-v3']);
    expect((await store.catalog.stats()).items).toBe(2);
  });

  it('keeps the old index serving and writable when the copy fails', async () => {
    const fake = new FakeElasticsearch();
    const store = await openElasticStore({ client: fake.client(), index: 'rbf', dims: DIMS });
    await store.catalog.addBatch(['a', 'b'].map((n) => makeItem(n, random)));
    fake.bulkItemFault = (_action, index) => (index === 'rbf-v2' ? { status: 400, type: 'mapper_parsing_exception', reason: 'nope' } : undefined);
    await expect(store.rebuild()).rejects.toMatchObject({ code: 'NOT_READY' });
    fake.bulkItemFault = undefined;
    expect(fake.aliasTargets('rbf')).toEqual(['rbf-v1']);
    expect(fake.indexNames()).toEqual(['rbf-meta', 'rbf-thumbnails', 'rbf-v1']);
    const [added] = await store.catalog.addBatch([makeItem('c', random)]);
    expect(added.status).toBe('added');
  });
});

describe('vectorToJson', () => {
  it('writes each float32 in at most 9 significant digits and reads back the same bits', async () => {
    const { vectorToJson } = await import('../../../src/store/elastic/mapping.js');
    const random = seededRandom(17);
    const vector = new Float32Array(4096).map(() => (random() * 2 - 1) * 10 ** Math.floor(random() * 8 - 4));
    // (-0 is left out: JSON itself has no negative zero, whatever the digits.)
    vector.set([0, 1, -1, 0.1, 3.4028234663852886e38, 1.401298464324817e-45, -2.5e-38]);
    const json = vectorToJson(vector);
    expect(new Uint32Array(Float32Array.from(json).buffer)).toEqual(new Uint32Array(vector.buffer));
    for (const value of json) expect(Number.parseFloat(value.toPrecision(9))).toBe(value);
    expect(JSON.stringify(json).length).toBeLessThan(0.7 * JSON.stringify(Array.from(vector)).length);
  });
});
