/**
 * The storage contract, as behaviour: one suite every backend must pass (the embedded SQLite + HNSW
 * store and the Elasticsearch store), so that the two cannot drift. It asserts what callers can
 * observe through `Store`, `Catalog` and `VectorIndex` — never how a backend does it — and the
 * engine check compares each backend against a brute-force oracle computed from the data.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SearchEngine } from '../../src/search/engine.js';
import { lexicalPivot, saturate } from '../../src/search/lexical.js';
import { idFromHash } from '../../src/store/sqlite-catalog.js';
import type { ItemInput, ItemWithVectors, Store } from '../../src/store/types.js';
import { dot } from '../../src/vectors.js';
import { corpusItems, FakeEncoders, SEMANTIC_DIM, STYLE_DIM, textVector } from '../search/helpers.js';
import { DIMS, hashOf, makeItem, randomUnitVector, seededRandom } from './helpers.js';

export interface OpenedStore {
  store: Store;
  cleanup(): Promise<void>;
}

/** Opens an empty store for the given vector dimensions (store/helpers' DIMS unless told otherwise). */
export type OpenFreshStore = (dims?: { semantic: number; style: number }) => Promise<OpenedStore>;

export function describeStoreContract(name: string, openFreshStore: OpenFreshStore): void {
  describe(`Store contract: ${name}`, () => {
    let opened: OpenedStore;
    let store: Store;
    const random = seededRandom(11);

    beforeEach(async () => {
      opened = await openFreshStore();
      store = opened.store;
    });
    afterEach(async () => {
      await opened.cleanup();
    });

    const catalog = () => store.catalog;

    describe('catalog: adding and reading', () => {
      it('stores metadata, vectors and thumbnails and reads them back', async () => {
        const input = makeItem('a', random, {
          externalId: 'ext-1',
          tags: ['cat', 'ink'],
          keywords: ['feline'],
          description: 'A cat drawn in ink.',
          license: 'CC0',
          attribution: 'someone',
          url: 'https://example.org/a',
          extra: { codepoint: '1F431', split: 'train', nested: { n: 1, list: [1, 'two'] } },
          thumbnail: Buffer.from([1, 2, 3, 250]),
        });
        const [result] = await catalog().addBatch([input]);
        expect(result).toMatchObject({ id: idFromHash(input.contentHash), status: 'added' });
        expect(Number.isInteger(result.seq) && result.seq > 0).toBe(true);

        const item = await catalog().get(result.id);
        expect(item).toEqual({
          id: result.id,
          seq: result.seq,
          externalId: 'ext-1',
          source: 'test',
          title: 'Item a',
          tags: ['cat', 'ink'],
          keywords: ['feline'],
          description: 'A cat drawn in ink.',
          license: 'CC0',
          attribution: 'someone',
          url: 'https://example.org/a',
          width: 64,
          height: 64,
          contentHash: input.contentHash,
          extra: { codepoint: '1F431', split: 'train', nested: { n: 1, list: [1, 'two'] } },
          createdAt: expect.any(String),
          updatedAt: expect.any(String),
        });
        expect(Date.parse(item!.createdAt)).not.toBeNaN();

        const withVectors = await catalog().getWithVectors(result.id);
        expect(withVectors?.semantic).toBeInstanceOf(Float32Array);
        // Exact float32 round trip: scores computed from stored vectors must not depend on the backend.
        expect(Array.from(withVectors!.semantic)).toEqual(Array.from(input.semantic));
        expect(Array.from(withVectors!.style)).toEqual(Array.from(input.style));
        expect(await catalog().thumbnail(result.id)).toEqual(Buffer.from([1, 2, 3, 250]));
        expect(await catalog().findByHash(input.contentHash)).toEqual(item);
      });

      it('fills optional metadata with empty values and has no thumbnail unless given one', async () => {
        const [{ id }] = await catalog().addBatch([makeItem('plain', random)]);
        expect(await catalog().get(id)).toMatchObject({ externalId: '', keywords: [], description: '', license: '', attribution: '', url: '', extra: {} });
        expect(await catalog().thumbnail(id)).toBeUndefined();
      });

      it('keeps an explicit id', async () => {
        const [result] = await catalog().addBatch([makeItem('x', random, { id: 'my-id' })]);
        expect(result.id).toBe('my-id');
        expect((await catalog().get('my-id'))?.seq).toBe(result.seq);
      });

      it('returns undefined for unknown ids and hashes', async () => {
        await catalog().addBatch([makeItem('known', random)]);
        expect(await catalog().get('nope')).toBeUndefined();
        expect(await catalog().getWithVectors('nope')).toBeUndefined();
        expect(await catalog().findByHash(hashOf('nope'))).toBeUndefined();
        expect(await catalog().thumbnail('nope')).toBeUndefined();
      });

      it('hands out increasing seqs in input order', async () => {
        const first = await catalog().addBatch(['a', 'b', 'c'].map((n) => makeItem(n, random)));
        const second = await catalog().addBatch([makeItem('d', random)]);
        const seqs = [...first, ...second].map((r) => r.seq);
        expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
        expect(new Set(seqs).size).toBe(4);
      });

      it('reads many by seq, skipping missing and deleted seqs', async () => {
        const results = await catalog().addBatch(['a', 'b', 'c'].map((n) => makeItem(n, random)));
        const [a, b, c] = results.map((r) => r.seq);
        await catalog().delete(results[1].id);
        const missing = c + 1000;
        const items = await catalog().getManyBySeq([a, b, c, missing, a]);
        expect([...items.keys()].sort((x, y) => x - y)).toEqual([a, c]);
        expect(items.get(c)?.id).toBe(results[2].id);
        expect(items.get(a)).not.toHaveProperty('semantic');

        const vectors = await catalog().getVectorsBySeq([a, b, c, missing], 'style');
        expect([...vectors.keys()].sort((x, y) => x - y)).toEqual([a, c]);
        expect(vectors.get(a)).toBeInstanceOf(Float32Array);
        expect(Array.from(vectors.get(a)!)).toEqual(Array.from((await catalog().getWithVectors(results[0].id))!.style));
        expect(await catalog().getManyBySeq([])).toEqual(new Map());
        expect(await catalog().getVectorsBySeq([], 'semantic')).toEqual(new Map());
      });
    });

    describe('catalog: duplicates and all-or-none batches', () => {
      it('reports a duplicate of a stored item without adding or bumping the version', async () => {
        const input = makeItem('dup', random);
        const [first] = await catalog().addBatch([input]);
        const version = await catalog().version();
        const [second] = await catalog().addBatch([{ ...input, title: 'other title' }]);
        expect(second).toEqual({ id: first.id, seq: first.seq, status: 'duplicate', existingId: first.id });
        expect(await catalog().version()).toBe(version);
        expect((await catalog().stats()).items).toBe(1);
        expect((await catalog().get(first.id))?.title).toBe('Item dup');
      });

      it('de-duplicates within one batch, in input order', async () => {
        const input = makeItem('twice', random);
        const results = await catalog().addBatch([input, makeItem('other', random), { ...input }]);
        expect(results.map((r) => r.status)).toEqual(['added', 'added', 'duplicate']);
        expect(results[2]).toEqual({ id: results[0].id, seq: results[0].seq, status: 'duplicate', existingId: results[0].id });
        expect((await catalog().stats()).items).toBe(2);
        expect(await catalog().version()).toBe(1);
      });

      it('mixes duplicates of stored items and new items in one batch', async () => {
        const [stored] = await catalog().addBatch([makeItem('old', random)]);
        const results = await catalog().addBatch([makeItem('new', random), makeItem('old', random)]);
        expect(results[0].status).toBe('added');
        expect(results[1]).toEqual({ ...stored, status: 'duplicate', existingId: stored.id });
        expect(await catalog().version()).toBe(2);
      });

      it('rejects an explicit id already used by other content, adding nothing of the batch', async () => {
        await catalog().addBatch([makeItem('one', random, { id: 'taken' })]);
        const version = await catalog().version();
        const attempt = catalog().addBatch([makeItem('fresh', random), makeItem('two', random, { id: 'taken' })]);
        await expect(attempt).rejects.toMatchObject({ code: 'CONFLICT' });
        expect(await catalog().findByHash(hashOf('fresh'))).toBeUndefined();
        expect(await catalog().version()).toBe(version);
        expect((await catalog().stats()).items).toBe(1);
        // The rejected batch left nothing behind: the fresh item can be added on its own.
        const [again] = await catalog().addBatch([makeItem('fresh', random)]);
        expect(again.status).toBe('added');
      });

      it('rejects two different contents with the same explicit id in one batch', async () => {
        const attempt = catalog().addBatch([makeItem('p', random, { id: 'same' }), makeItem('q', random, { id: 'same' })]);
        await expect(attempt).rejects.toMatchObject({ code: 'CONFLICT' });
        expect((await catalog().stats()).items).toBe(0);
        expect(await catalog().get('same')).toBeUndefined();
      });

      it('rejects a batch with one bad item before adding any of it', async () => {
        const good = makeItem('good', random);
        const short = makeItem('short', random, { semantic: new Float32Array(3) });
        await expect(catalog().addBatch([good, short])).rejects.toMatchObject({ code: 'UNPROCESSABLE' });
        const nan = makeItem('nan', random, { style: new Float32Array(DIMS.style).fill(Number.NaN) });
        await expect(catalog().addBatch([good, nan])).rejects.toMatchObject({ code: 'UNPROCESSABLE' });
        const noWidth = { ...makeItem('w', random), width: undefined } as unknown as ItemInput;
        await expect(catalog().addBatch([good, noWidth])).rejects.toMatchObject({ code: 'UNPROCESSABLE', message: /width/ });
        const badTags = { ...makeItem('t', random), tags: 'cat' } as unknown as ItemInput;
        await expect(catalog().addBatch([badTags])).rejects.toMatchObject({ code: 'UNPROCESSABLE', message: /tags/ });
        await expect(catalog().addBatch([makeItem('h', random, { contentHash: '' })])).rejects.toMatchObject({ code: 'UNPROCESSABLE' });
        expect(await catalog().findByHash(good.contentHash)).toBeUndefined();
        expect(await catalog().version()).toBe(0);
        expect(await catalog().stats()).toMatchObject({ items: 0, deleted: 0 });
      });

      it('accepts an empty batch without a version bump', async () => {
        expect(await catalog().addBatch([])).toEqual([]);
        expect(await catalog().version()).toBe(0);
      });

      it('lets deleted content be ingested again under a new seq, with a fresh thumbnail', async () => {
        const input = makeItem('again', random, { thumbnail: Buffer.from('old') });
        const [first] = await catalog().addBatch([input]);
        expect(await catalog().delete(first.id)).toBe(true);
        const [second] = await catalog().addBatch([{ ...input, thumbnail: Buffer.from('new') }]);
        expect(second.status).toBe('added');
        expect(second.id).toBe(first.id);
        expect(second.seq).toBeGreaterThan(first.seq);
        expect((await catalog().get(first.id))?.seq).toBe(second.seq);
        expect((await catalog().findByHash(input.contentHash))?.seq).toBe(second.seq);
        expect(await catalog().thumbnail(first.id)).toEqual(Buffer.from('new'));
        expect(await catalog().stats()).toMatchObject({ items: 1, deleted: 1 });
        expect([...(await catalog().getManyBySeq([first.seq, second.seq])).keys()]).toEqual([second.seq]);
      });
    });

    describe('catalog: aliases (a second id for the same image)', () => {
      const aliasOf = (input: ItemInput, id: string, overrides: Partial<ItemInput> = {}): ItemInput =>
        makeItem('ignored', random, {
          ...overrides,
          id,
          contentHash: input.contentHash,
          source: overrides.source ?? 'shop-b',
          title: overrides.title ?? `Title of ${id}`,
          tags: overrides.tags ?? ['alias-tag'],
          license: overrides.license ?? 'CC-BY',
          attribution: overrides.attribution ?? `by ${id}`,
        });

      it('keeps a second explicit id as an alias with its own metadata, sharing the image', async () => {
        const input = makeItem('pic', random, { id: 'sku-1', tags: ['cat'], license: 'CC0', thumbnail: Buffer.from('thumb') });
        const [first] = await catalog().addBatch([input]);
        const version = await catalog().version();
        const [second] = await catalog().addBatch([aliasOf(input, 'sku-2', { tags: ['kitten'] })]);
        expect(second).toEqual({ id: 'sku-2', seq: first.seq, status: 'duplicate', existingId: 'sku-1' });
        expect(await catalog().version()).toBe(version);
        expect((await catalog().stats()).items).toBe(1);

        const alias = await catalog().get('sku-2');
        expect(alias).toMatchObject({
          id: 'sku-2',
          seq: first.seq,
          aliasOf: 'sku-1',
          source: 'shop-b',
          title: 'Title of sku-2',
          tags: ['kitten'],
          license: 'CC-BY',
          attribution: 'by sku-2',
          contentHash: input.contentHash,
          width: 64,
          height: 64,
        });
        expect(alias?.aliases).toBeUndefined();
        const primary = await catalog().get('sku-1');
        expect(primary).toMatchObject({ id: 'sku-1', tags: ['cat'], aliases: ['sku-2'] });
        expect(primary?.aliasOf).toBeUndefined();
        expect((await catalog().getWithVectors('sku-2'))?.semantic).toEqual(input.semantic);
        expect(await catalog().thumbnail('sku-2')).toEqual(Buffer.from('thumb'));
        expect((await catalog().getManyBySeq([first.seq])).get(first.seq)).toMatchObject({ id: 'sku-1', aliases: ['sku-2'] });
        expect(await catalog().findByHash(input.contentHash)).toMatchObject({ id: 'sku-1', aliases: ['sku-2'] });
        const scanned: ItemWithVectors[] = [];
        for await (const page of catalog().scan(10)) scanned.push(...page);
        expect(scanned.map((item) => [item.id, item.aliases])).toEqual([['sku-1', ['sku-2']]]);
        // The stored item's metadata is what filters and facets see: one image, counted once.
        expect([...(await catalog().matchFilter({ tags: ['kitten'] }))]).toEqual([]);
        expect(await catalog().facets({ filter: {} }, ['tags'], { limit: 10 })).toEqual({ tags: [{ value: 'cat', count: 1 }] });
        // Adding the alias again is a plain duplicate of it.
        expect(await catalog().addBatch([aliasOf(input, 'sku-2', { title: 'changed' })])).toEqual([second]);
        expect((await catalog().get('sku-2'))?.title).toBe('Title of sku-2');
      });

      it('makes aliases within one batch, in input order, and refuses an id of other content', async () => {
        const input = makeItem('batch', random, { id: 'b-1' });
        const results = await catalog().addBatch([input, aliasOf(input, 'b-2'), aliasOf(input, 'b-3'), { ...input }]);
        expect(results.map((r) => [r.id, r.status, r.existingId])).toEqual([
          ['b-1', 'added', undefined],
          ['b-2', 'duplicate', 'b-1'],
          ['b-3', 'duplicate', 'b-1'],
          ['b-1', 'duplicate', 'b-1'],
        ]);
        expect((await catalog().get('b-1'))?.aliases).toEqual(['b-2', 'b-3']);
        const other = makeItem('other', random, { id: 'o-1' });
        await catalog().addBatch([other]);
        const version = await catalog().version();
        // An alias id may not name another image, and an image may not take an alias's id.
        await expect(catalog().addBatch([aliasOf(input, 'o-1')])).rejects.toMatchObject({ code: 'CONFLICT' });
        await expect(catalog().addBatch([makeItem('fresh', random), makeItem('new', random, { id: 'b-2' })])).rejects.toMatchObject({ code: 'CONFLICT' });
        await expect(catalog().addBatch([aliasOf(input, 'b-4'), aliasOf(other, 'b-3')])).rejects.toMatchObject({ code: 'CONFLICT' });
        expect(await catalog().get('b-4')).toBeUndefined();
        expect(await catalog().findByHash(hashOf('fresh'))).toBeUndefined();
        expect(await catalog().version()).toBe(version);
      });

      it('deletes one id at a time: an alias alone, the stored id hands the image to its oldest alias', async () => {
        const input = makeItem('shared', random, { id: 'p-1', title: 'Primary', thumbnail: Buffer.from('t') });
        const [first] = await catalog().addBatch([input, aliasOf(input, 'p-2', { title: 'Second' }), aliasOf(input, 'p-3', { title: 'Third' })]);
        const version = await catalog().version();

        expect(await catalog().delete('p-3')).toBe(true);
        expect(await catalog().get('p-3')).toBeUndefined();
        expect(await catalog().delete('p-3')).toBe(false);
        expect((await catalog().get('p-1'))?.aliases).toEqual(['p-2']);

        expect(await catalog().delete('p-1')).toBe(true);
        expect(await catalog().get('p-1')).toBeUndefined();
        const promoted = await catalog().get('p-2');
        expect(promoted).toMatchObject({ id: 'p-2', seq: first.seq, title: 'Second', source: 'shop-b' });
        expect(promoted?.aliasOf).toBeUndefined();
        expect(promoted?.aliases).toBeUndefined();
        expect(await catalog().thumbnail('p-2')).toEqual(Buffer.from('t'));
        expect([...(await catalog().matchFilter({ keywords: 'second' }))]).toEqual([first.seq]);
        expect([...(await catalog().matchFilter({ keywords: 'primary' }))]).toEqual([]);
        expect((await catalog().findByHash(input.contentHash))?.id).toBe('p-2');
        // The image never left: its vectors need no change.
        expect(await catalog().version()).toBe(version);
        await store.sync();
        expect(await store.indices.semantic.size()).toBe(1);

        expect(await catalog().delete('p-2')).toBe(true);
        expect(await catalog().findByHash(input.contentHash)).toBeUndefined();
        expect(await catalog().stats()).toMatchObject({ items: 0, deleted: 1 });
        expect(await catalog().version()).toBe(version + 1);
        // Every id is free again.
        const [again] = await catalog().addBatch([{ ...input, id: 'p-3' }]);
        expect(again.status).toBe('added');
      });
    });

    describe('catalog: deletes, versions, changes, scans and stats', () => {
      it('bumps the version once per committed change', async () => {
        expect(await catalog().version()).toBe(0);
        await catalog().addBatch(['a', 'b', 'c'].map((n) => makeItem(n, random)));
        expect(await catalog().version()).toBe(1);
        await catalog().addBatch([makeItem('d', random)]);
        expect(await catalog().version()).toBe(2);
        expect(await catalog().delete(idFromHash(hashOf('a')))).toBe(true);
        expect(await catalog().version()).toBe(3);
        expect(await catalog().delete(idFromHash(hashOf('a')))).toBe(false);
        expect(await catalog().delete('unknown')).toBe(false);
        expect(await catalog().version()).toBe(3);
      });

      it('hides deleted items from every read and drops their thumbnail', async () => {
        const [{ id, seq }] = await catalog().addBatch([makeItem('gone', random, { thumbnail: Buffer.from('x'), tags: ['t'] })]);
        await catalog().delete(id);
        expect(await catalog().get(id)).toBeUndefined();
        expect(await catalog().getWithVectors(id)).toBeUndefined();
        expect(await catalog().findByHash(hashOf('gone'))).toBeUndefined();
        expect(await catalog().thumbnail(id)).toBeUndefined();
        expect(await catalog().getManyBySeq([seq])).toEqual(new Map());
        expect(await catalog().getVectorsBySeq([seq], 'semantic')).toEqual(new Map());
        expect(await catalog().matchFilter({})).toEqual(new Set());
        expect(await catalog().matchFilter({ tags: ['t'], keywords: 'gone' })).toEqual(new Set());
        expect(await catalog().stats()).toMatchObject({ items: 0, deleted: 1 });
      });

      it('reports changes after a version, with vectors, and deletes of older items', async () => {
        const first = await catalog().addBatch(['a', 'b'].map((n) => makeItem(n, random))); // v1
        const second = await catalog().addBatch(['c', 'd'].map((n) => makeItem(n, random))); // v2
        await catalog().delete(first[0].id); // v3: an item older than v1
        await catalog().delete(second[1].id); // v4: an item added after v1

        const sinceV1 = await catalog().changesSince(1);
        expect(sinceV1.version).toBe(4);
        expect(sinceV1.added.map((i) => i.seq)).toEqual([second[0].seq]);
        expect(Array.from(sinceV1.added[0].semantic)).toEqual(Array.from((await catalog().getWithVectors(second[0].id))!.semantic));
        expect(sinceV1.deleted).toEqual([first[0].seq, second[1].seq]);

        const all = await catalog().changesSince(0);
        expect(all.added.map((i) => i.seq)).toEqual([first[1].seq, second[0].seq]);
        expect(await catalog().changesSince(4)).toEqual({ added: [], deleted: [], version: 4 });
      });

      it('scans live items in seq order, in pages', async () => {
        const results = await catalog().addBatch(Array.from({ length: 7 }, (_, i) => makeItem(`s${i}`, random)));
        await catalog().delete(results[3].id);
        const pages: ItemWithVectors[][] = [];
        for await (const page of catalog().scan(2)) pages.push(page);
        expect(pages.map((p) => p.length)).toEqual([2, 2, 2]);
        expect(pages.flat().map((i) => i.seq)).toEqual(results.filter((_, i) => i !== 3).map((r) => r.seq));
        expect(pages[0][0].style).toHaveLength(DIMS.style);
        expect(Array.from(pages[0][0].semantic)).toEqual(Array.from((await catalog().getWithVectors(results[0].id))!.semantic));

        const big: ItemWithVectors[][] = [];
        for await (const page of catalog().scan(100)) big.push(page);
        expect(big.map((p) => p.length)).toEqual([6]);
        // Stopping early is allowed (and releases whatever the scan holds).
        for await (const page of catalog().scan(1)) {
          expect(page).toHaveLength(1);
          break;
        }
        await expect(async () => {
          for await (const _ of catalog().scan(0)) void _;
        }).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      });

      it('scans nothing from an empty catalog', async () => {
        const pages: ItemWithVectors[][] = [];
        for await (const page of catalog().scan(10)) pages.push(page);
        expect(pages).toEqual([]);
      });

      it('reports stats by source', async () => {
        await catalog().addBatch([
          makeItem('s1', random, { source: 'demo' }),
          makeItem('s2', random, { source: 'demo' }),
          makeItem('s3', random, { source: 'folder' }),
        ]);
        expect(await catalog().stats()).toEqual({ items: 3, deleted: 0, sources: { demo: 2, folder: 1 }, version: 1 });
        await catalog().delete(idFromHash(hashOf('s3')));
        expect(await catalog().stats()).toEqual({ items: 2, deleted: 1, sources: { demo: 2 }, version: 2 });
      });
    });

    describe('catalog: matchFilter', () => {
      let seqs: Record<string, number>;

      beforeEach(async () => {
        const results = await catalog().addBatch([
          makeItem('cat', random, { title: 'A sleeping cat', tags: ['animal', 'ink'], source: 'demo', license: 'CC0' }),
          makeItem('dog', random, { title: 'Dog running', tags: ['animal'], keywords: ['puppy'], source: 'demo', license: 'CC-BY' }),
          makeItem('tree', random, { title: 'Tall tree', tags: ['plant', 'ink'], source: 'folder', license: 'CC0' }),
          makeItem('cafe', random, { title: 'Café au lait', tags: ['drink'], keywords: ['コーヒー'], source: 'folder' }),
          makeItem('near', random, { title: 'NEAR OR AND NOT col', tags: ['words'], source: 'folder' }),
        ]);
        seqs = Object.fromEntries(['cat', 'dog', 'tree', 'cafe', 'near'].map((n, i) => [n, results[i].seq]));
      });

      const names = (set: Set<number> | null) =>
        Object.entries(seqs)
          .filter(([, seq]) => set?.has(seq))
          .map(([name]) => name)
          .sort();

      it('returns every live item for an empty filter', async () => {
        expect(names(await catalog().matchFilter({}))).toEqual(['cafe', 'cat', 'dog', 'near', 'tree']);
        expect(names(await catalog().matchFilter({ sources: [], licenses: [], tags: [], keywords: '  ' }))).toHaveLength(5);
      });

      it('filters by source, license and all listed tags', async () => {
        expect(names(await catalog().matchFilter({ sources: ['demo'] }))).toEqual(['cat', 'dog']);
        expect(names(await catalog().matchFilter({ sources: ['demo', 'folder'] }))).toHaveLength(5);
        expect(names(await catalog().matchFilter({ licenses: ['CC0'] }))).toEqual(['cat', 'tree']);
        expect(names(await catalog().matchFilter({ licenses: ['cc0'] }))).toEqual([]); // exact values, not words
        expect(names(await catalog().matchFilter({ tags: ['ink'] }))).toEqual(['cat', 'tree']);
        expect(names(await catalog().matchFilter({ tags: ['ink', 'animal'] }))).toEqual(['cat']);
        expect(names(await catalog().matchFilter({ tags: ['ink', 'ink'] }))).toEqual(['cat', 'tree']);
        expect(names(await catalog().matchFilter({ tags: ['missing'] }))).toEqual([]);
        expect(names(await catalog().matchFilter({ tags: ['ink'], sources: ['folder'], licenses: ['CC0'] }))).toEqual(['tree']);
      });

      it('matches keywords over title, tags and keywords, stemmed and folded, requiring every word', async () => {
        expect(names(await catalog().matchFilter({ keywords: 'cat' }))).toEqual(['cat']);
        expect(names(await catalog().matchFilter({ keywords: 'cats' }))).toEqual(['cat']);
        expect(names(await catalog().matchFilter({ keywords: 'sleeping' }))).toEqual(['cat']);
        expect(names(await catalog().matchFilter({ keywords: 'sleep' }))).toEqual(['cat']);
        expect(names(await catalog().matchFilter({ keywords: 'puppy' }))).toEqual(['dog']);
        expect(names(await catalog().matchFilter({ keywords: 'puppies' }))).toEqual(['dog']);
        expect(names(await catalog().matchFilter({ keywords: 'INK' }))).toEqual(['cat', 'tree']);
        expect(names(await catalog().matchFilter({ keywords: 'ink tall' }))).toEqual(['tree']);
        expect(names(await catalog().matchFilter({ keywords: 'animal ink' }))).toEqual(['cat']); // words across tags
        expect(names(await catalog().matchFilter({ keywords: 'sleeping animal' }))).toEqual(['cat']); // across title and tags
        expect(names(await catalog().matchFilter({ keywords: 'dog puppy' }))).toEqual(['dog']); // across title and keywords
        expect(names(await catalog().matchFilter({ keywords: 'cat dog' }))).toEqual([]);
        expect(names(await catalog().matchFilter({ keywords: 'cafe' }))).toEqual(['cafe']);
        expect(names(await catalog().matchFilter({ keywords: 'CAFÉ' }))).toEqual(['cafe']);
        expect(names(await catalog().matchFilter({ keywords: 'コーヒー' }))).toEqual(['cafe']);
        expect(names(await catalog().matchFilter({ keywords: 'animal', sources: ['demo'], licenses: ['CC-BY'] }))).toEqual(['dog']);
      });

      const hostile: Array<[string, string[]]> = [
        ['"', []],
        ['"cat', ['cat']],
        ['*', []],
        ['ca*', []],
        ['cat OR dog', []],
        ['NOT cat', []],
        ['-cat', ['cat']],
        ['title:cat', []],
        ['(cat', ['cat']],
        ['🐱', []],
        ['\u0000cat', ['cat']],
        ['ink""tree', ['tree']],
        ['near or and not col', ['near']],
        ["'; DROP TABLE items; --", []],
        ['{"match_all":{}}', []],
      ];
      it.each(hostile)('treats %j as plain words', async (text, expected) => {
        expect(names(await catalog().matchFilter({ keywords: text }))).toEqual(expected);
      });

      it('answers a bounded probe: the set when at most `limit` match, null when more do', async () => {
        expect(names(await catalog().matchFilter({ tags: ['ink'] }, { limit: 2 }))).toEqual(['cat', 'tree']);
        expect(names(await catalog().matchFilter({ tags: ['ink'] }, { limit: 5 }))).toEqual(['cat', 'tree']);
        expect(await catalog().matchFilter({ tags: ['ink'] }, { limit: 1 })).toBeNull();
        expect(await catalog().matchFilter({}, { limit: 4 })).toBeNull();
        expect(await catalog().matchFilter({ tags: ['missing'] }, { limit: 0 })).toEqual(new Set());
        expect(await catalog().matchFilter({ tags: ['ink'] }, { limit: 0 })).toBeNull();
      });

      it('drops deleted items from every kind of match', async () => {
        await catalog().delete(idFromHash(hashOf('cat')));
        expect(names(await catalog().matchFilter({ keywords: 'ink' }))).toEqual(['tree']);
        expect(names(await catalog().matchFilter({ tags: ['animal'] }))).toEqual(['dog']);
        expect(names(await catalog().matchFilter({ sources: ['demo'] }, { limit: 1 }))).toEqual(['dog']);
      });
    });

    describe('catalog: facets', () => {
      const sources = ['demo', 'folder', 'web'];
      const licenses = ['CC0', 'CC-BY', ''];
      const tagPool = ['cat', 'dog', 'ink', 'oil', 'red', 'blue'];
      let inputs: ItemInput[];
      let seqs: number[];

      beforeEach(async () => {
        const pick = seededRandom(5);
        inputs = Array.from({ length: 40 }, (_, i) =>
          makeItem(`facet-${i}`, random, {
            source: sources[Math.floor(pick() * sources.length)],
            license: licenses[Math.floor(pick() * licenses.length)],
            // Sometimes a tag twice: an item counts once per value.
            tags: Array.from({ length: Math.floor(pick() * 4) }, () => tagPool[Math.floor(pick() * tagPool.length)]),
          }),
        );
        seqs = (await catalog().addBatch(inputs)).map((result) => result.seq);
        await catalog().delete(idFromHash(inputs[0].contentHash));
        await catalog().delete(idFromHash(inputs[1].contentHash));
      });

      /** The facet by a direct count over the given inputs: count desc, then value. */
      const directCount = (chosen: ItemInput[], field: 'source' | 'license' | 'tags', limit: number) => {
        const counts = new Map<string, number>();
        for (const input of chosen) {
          const values = field === 'tags' ? [...new Set(input.tags)] : [field === 'source' ? input.source : (input.license ?? '')];
          for (const value of values) if (value !== '') counts.set(value, (counts.get(value) ?? 0) + 1);
        }
        return [...counts]
          .map(([value, count]) => ({ value, count }))
          .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1))
          .slice(0, limit);
      };

      it('counts each value over given seqs, live items only, bounded and tie-broken by value', async () => {
        const scope = seqs.filter((_, i) => i % 3 !== 2);
        const live = inputs.filter((_, i) => i % 3 !== 2 && i > 1);
        const all = await catalog().facets({ seqs: [...scope, 99_999, -1] }, ['source', 'license', 'tags'], { limit: 100 });
        expect(all.source).toEqual(directCount(live, 'source', 100));
        expect(all.license).toEqual(directCount(live, 'license', 100));
        expect(all.tags).toEqual(directCount(live, 'tags', 100));
        expect(all.tags!.length).toBeGreaterThan(2);
        const top2 = await catalog().facets({ seqs: scope }, ['tags'], { limit: 2 });
        expect(top2).toEqual({ tags: directCount(live, 'tags', 2) });
      });

      it('counts over a filter the same as over the seqs the filter matches', async () => {
        const filter = { tags: ['ink'] };
        const matched = await catalog().matchFilter(filter);
        const live = inputs.filter((input, i) => i > 1 && input.tags.includes('ink'));
        expect(matched.size).toBe(live.length);
        const byFilter = await catalog().facets({ filter }, ['source', 'tags'], { limit: 10 });
        expect(byFilter).toEqual(await catalog().facets({ seqs: [...matched] }, ['source', 'tags'], { limit: 10 }));
        expect(byFilter.source).toEqual(directCount(live, 'source', 10));
        expect(byFilter.tags?.[0]).toEqual({ value: 'ink', count: live.length });
        expect(await catalog().facets({ filter: {} }, ['source'], { limit: 100 })).toEqual({ source: directCount(inputs.slice(2), 'source', 100) });
      });

      it('answers empty lists for an empty scope and refuses bad limits and fields', async () => {
        expect(await catalog().facets({ seqs: [] }, ['source', 'tags'], { limit: 5 })).toEqual({ source: [], tags: [] });
        expect(await catalog().facets({ filter: { keywords: '!!' } }, ['license'], { limit: 5 })).toEqual({ license: [] });
        await expect(catalog().facets({ seqs }, ['source'], { limit: 0 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
        await expect(catalog().facets({ seqs }, ['source'], { limit: 101 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
        await expect(catalog().facets({ seqs }, ['colour' as 'source'], { limit: 5 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      });
    });

    describe('catalog: lexical search', () => {
      let seqs: Record<string, number>;

      beforeEach(async () => {
        const results = await catalog().addBatch([
          makeItem('title', random, { title: 'Cat', tags: [], source: 'demo' }),
          makeItem('tag', random, { title: 'Sketch', tags: ['cat'], source: 'folder' }),
          makeItem('description', random, {
            title: 'Garden scene',
            tags: ['plant'],
            description: 'A small cat hides behind the roses in the garden',
            source: 'folder',
          }),
          makeItem('dog', random, { title: 'Dog running', tags: ['animal'], keywords: ['puppy'], source: 'demo' }),
          makeItem('cafe', random, { title: 'Café au lait', tags: ['drink'], source: 'demo' }),
        ]);
        seqs = Object.fromEntries(['title', 'tag', 'description', 'dog', 'cafe'].map((n, i) => [n, results[i].seq]));
      });

      const nameOf = (seq: number) => Object.entries(seqs).find(([, s]) => s === seq)?.[0] ?? `#${seq}`;
      const ranked = async (text: string, options: Parameters<Store['catalog']['lexicalSearch']>[1] = { limit: 10 }) =>
        (await catalog().lexicalSearch(text, options)).map((hit) => nameOf(hit.seq));

      it('finds stemmed, case- and accent-folded words, best field first, and nothing else', async () => {
        const hits = await catalog().lexicalSearch('Cats', { limit: 10 });
        const order = hits.map((hit) => nameOf(hit.seq));
        expect([...order].sort()).toEqual(['description', 'tag', 'title']);
        expect(order[0]).toBe('title'); // a word in the title outranks the same word only in a description
        expect(order[2]).toBe('description');
        for (let i = 1; i < hits.length; i++) expect(hits[i - 1].score).toBeGreaterThanOrEqual(hits[i].score);
        expect(hits.every((hit) => hit.score > 0 && hit.terms.length === 1 && hit.terms[0] === 'cat')).toBe(true);
        expect(await ranked('CAFÉ')).toEqual(['cafe']);
        expect(await ranked('cafe')).toEqual(['cafe']);
        expect(await ranked('puppies')).toEqual(['dog']);
        expect(await ranked('zebra')).toEqual([]);
      });

      it('matches any word and ranks items matching more of them higher', async () => {
        const order = await ranked('running dog cafe');
        expect(order[0]).toBe('dog');
        expect([...order].sort()).toEqual(['cafe', 'dog']);
        const hits = await catalog().lexicalSearch('cat garden', { limit: 10 });
        expect(hits.map((hit) => nameOf(hit.seq)).sort()).toEqual(['description', 'tag', 'title']);
        const both = hits.find((hit) => nameOf(hit.seq) === 'description')!;
        expect([...both.terms].sort()).toEqual(['cat', 'garden']);
      });

      it('respects the limit, a filter and an allowed set', async () => {
        expect(await ranked('cat', { limit: 1 })).toEqual(['title']);
        expect(await ranked('cat', { limit: 0 })).toEqual([]);
        expect((await ranked('cat', { limit: 10, filter: { sources: ['folder'] } })).sort()).toEqual(['description', 'tag']);
        expect(await ranked('cat', { limit: 10, filter: { tags: ['plant'] } })).toEqual(['description']);
        expect(await ranked('cat', { limit: 10, filter: { keywords: 'garden' } })).toEqual(['description']);
        expect(await ranked('cat', { limit: 10, allowed: new Set([seqs.tag, seqs.dog]) })).toEqual(['tag']);
        expect(await ranked('cat', { limit: 10, allowed: new Set() })).toEqual([]);
        expect(await ranked('cat', { limit: 10, allowed: new Set([seqs.tag]), filter: { sources: ['demo'] } })).toEqual([]);
      });

      it('rescores given seqs with exactly the scores the search gives them', async () => {
        const hits = await catalog().lexicalSearch('cat drink', { limit: 10 });
        const rescored = await catalog().lexicalScores('cat drink', [...hits.map((hit) => hit.seq), seqs.dog, 999_999]);
        expect([...rescored.keys()].sort((a, b) => a - b)).toEqual(hits.map((hit) => hit.seq).sort((a, b) => a - b));
        for (const hit of hits) {
          const again = rescored.get(hit.seq)!;
          expect(again.score).toBeCloseTo(hit.score, 9);
          expect([...again.terms].sort()).toEqual([...hit.terms].sort());
        }
        expect((await catalog().lexicalScores('cat', [])).size).toBe(0);
        expect((await catalog().lexicalScores('   ', [seqs.title])).size).toBe(0);
      });

      it('lets the keyword filter find description words too, still requiring every word', async () => {
        const named = (set: Set<number>) => [...set].map(nameOf).sort();
        expect(named(await catalog().matchFilter({ keywords: 'rose' }))).toEqual(['description']);
        expect(named(await catalog().matchFilter({ keywords: 'roses garden plant' }))).toEqual(['description']);
        expect(named(await catalog().matchFilter({ keywords: 'roses dog' }))).toEqual([]);
      });

      it('forgets deleted items', async () => {
        await catalog().delete(idFromHash(hashOf('title')));
        expect((await ranked('cat')).sort()).toEqual(['description', 'tag']);
        expect((await catalog().lexicalScores('cat', [seqs.title, seqs.tag])).has(seqs.title)).toBe(false);
      });

      const hostile: Array<[string, string[]]> = [
        ['"', []],
        ['*', []],
        ['ca*', []],
        ['"cat', ['description', 'tag', 'title']],
        ['dog OR zebra', ['dog']],
        ['NOT dog', ['dog']],
        ['title:cafe', ['cafe']],
        ['cafe^10', ['cafe']],
        ['(drink AND', ['cafe']],
        ['{"match_all":{}}', []],
        ["'; DROP TABLE items; --", []],
        ['🐱\u0000', []],
      ];
      it.each(hostile)('treats %j as plain words', async (text, expected) => {
        expect((await ranked(text)).sort()).toEqual(expected);
      });
    });

    describe('catalog: hasText', () => {
      it('is false while every live item carries nothing but its id, true once one has words', async () => {
        expect(await catalog().hasText()).toBe(false);
        await catalog().addBatch([
          makeItem('img-1', random, { id: 'img-1', title: 'img-1', tags: [] }),
          makeItem('img-2', random, { id: 'img-2', title: '', tags: [] }),
        ]);
        expect(await catalog().hasText()).toBe(false);
        await catalog().addBatch([makeItem('words', random, { id: 'w', title: 'w', tags: [], description: 'a red kite' })]);
        expect(await catalog().hasText()).toBe(true);
        await catalog().delete('w');
        expect(await catalog().hasText()).toBe(false);
        await catalog().addBatch([makeItem('titled', random, { title: 'Harbour at dusk', tags: [] })]);
        expect(await catalog().hasText()).toBe(true);
      });
    });

    describe('catalog: search tuning', () => {
      const tuning = {
        format: 1 as const,
        tunedAt: '2026-12-03T12:00:00.000Z',
        items: 3,
        catalogVersion: 1,
        target: 0.98,
        knob: 'efSearch' as const,
        entries: [
          {
            modality: 'semantic' as const,
            kind: 'text' as const,
            ef: 256,
            reached: true,
            queries: 50,
            source: 'titles',
            curve: [
              { ef: 128, recallAt10: 0.9, minRecallAt10: 0.5, p50Ms: 0.2, p95Ms: 0.4 },
              { ef: 256, recallAt10: 0.985, minRecallAt10: 0.8, p50Ms: 0.3, p95Ms: 0.6 },
            ],
          },
        ],
      };

      it('is null on a fresh store, round-trips a record, and is removed by null', async () => {
        expect(await catalog().searchTuning()).toBeNull();
        await catalog().setSearchTuning(tuning);
        expect(await catalog().searchTuning()).toEqual(tuning);
        const retuned = { ...tuning, target: 0.95, entries: [{ ...tuning.entries[0], ef: 128 }] };
        await catalog().setSearchTuning(retuned);
        expect(await catalog().searchTuning()).toEqual(retuned);
        // Tuning is not a catalog change: no version bump, nothing for the indices to replay.
        expect(await catalog().version()).toBe(0);
        await catalog().setSearchTuning(null);
        expect(await catalog().searchTuning()).toBeNull();
        await catalog().setSearchTuning(null);
      });

      it('refuses a malformed record instead of storing it', async () => {
        const broken = { ...tuning, entries: [{ ...tuning.entries[0], ef: 0 }] };
        await expect(catalog().setSearchTuning(broken)).rejects.toThrow();
        expect(await catalog().searchTuning()).toBeNull();
      });
    });

    describe('vector indices', () => {
      let items: ItemInput[];
      let seqOf: Map<string, number>;

      beforeEach(async () => {
        const r = seededRandom(5);
        items = Array.from({ length: 20 }, (_, i) =>
          makeItem(`v${i}`, r, { source: i % 2 === 0 ? 'even' : 'odd', tags: i % 3 === 0 ? ['third'] : ['other'] }),
        );
        const results = await catalog().addBatch(items);
        seqOf = new Map(results.map((result, i) => [items[i].contentHash, result.seq]));
        await store.sync();
      });

      const expected = (query: Float32Array, modality: 'semantic' | 'style', accept: (item: ItemInput, i: number) => boolean = () => true) =>
        items
          .map((item, i) => ({ seq: seqOf.get(item.contentHash) as number, score: dot(query, item[modality]), ok: accept(item, i) }))
          .filter((x) => x.ok)
          .sort((a, b) => b.score - a.score)
          .map(({ seq, score }) => ({ seq, score }));

      const expectHits = (hits: Array<{ seq: number; score: number }>, want: Array<{ seq: number; score: number }>) => {
        expect(hits.map((h) => h.seq)).toEqual(want.map((w) => w.seq));
        hits.forEach((hit, i) => expect(hit.score).toBeCloseTo(want[i].score, 5));
      };

      it('searches best first with cosine scores, in both modalities', async () => {
        const query = randomUnitVector(DIMS.semantic, seededRandom(99));
        expectHits(await store.indices.semantic.search(query, 5), expected(query, 'semantic').slice(0, 5));
        const styleQuery = items[4].style;
        const hits = await store.indices.style.search(styleQuery, 3);
        expectHits(hits, expected(styleQuery, 'style').slice(0, 3));
        expect(hits[0]).toMatchObject({ seq: seqOf.get(items[4].contentHash) });
        expect(hits[0].score).toBeCloseTo(1, 5);
      });

      it('returns every live point when k exceeds the size, and nothing for k < 1', async () => {
        const query = randomUnitVector(DIMS.semantic, seededRandom(3));
        expectHits(await store.indices.semantic.search(query, 1000), expected(query, 'semantic'));
        expect(await store.indices.semantic.search(query, 0)).toEqual([]);
      });

      it('takes a per-search breadth (ef) of any size: below k it is raised to k, above the backend cap it is capped', async () => {
        const query = randomUnitVector(DIMS.semantic, seededRandom(31));
        const want = expected(query, 'semantic').slice(0, 5);
        for (const ef of [1, 5, 64, 50_000]) expectHits(await store.indices.semantic.search(query, 5, { ef }), want);
        const exclude = new Set([want[0].seq]);
        expectHits(await store.indices.semantic.search(query, 4, { ef: 200, exclude }), want.slice(1, 5));
      });

      it('never returns excluded seqs', async () => {
        const query = items[0].semantic;
        const exclude = new Set([seqOf.get(items[0].contentHash) as number, seqOf.get(items[1].contentHash) as number]);
        const want = expected(query, 'semantic', (item) => !exclude.has(seqOf.get(item.contentHash) as number)).slice(0, 4);
        expectHits(await store.indices.semantic.search(query, 4, { exclude }), want);
      });

      it('applies a filter during the search (allowed seqs, or the filter itself where the index filters)', async () => {
        const index = store.indices.semantic;
        const query = randomUnitVector(DIMS.semantic, seededRandom(8));
        const filter = { sources: ['even'], tags: ['third'] };
        const accept = (item: ItemInput) => item.source === 'even' && item.tags.includes('third');
        const constraint = index.filtersItself ? { filter } : { allowed: await catalog().matchFilter(filter) };
        expectHits(await index.search(query, 10, constraint), expected(query, 'semantic', accept));
        // A filter that keeps nothing returns nothing, not everything.
        const none = index.filtersItself ? { filter: { sources: ['nowhere'] } } : { allowed: new Set<number>() };
        expect(await index.search(query, 10, none)).toEqual([]);
      });

      it('accepts an allowed set as well when it filters by itself', async () => {
        const index = store.indices.style;
        const allowed = new Set([...seqOf.values()].slice(0, 5));
        const query = items[7].style;
        expectHits(await index.search(query, 10, { allowed }), expected(query, 'style', (item) => allowed.has(seqOf.get(item.contentHash) as number)));
      });

      it('never returns deleted items and counts only live ones', async () => {
        expect(await store.indices.semantic.size()).toBe(20);
        const victim = items[2];
        await catalog().delete(idFromHash(victim.contentHash));
        await store.sync();
        const hits = await store.indices.semantic.search(victim.semantic, 20);
        expect(hits.map((h) => h.seq)).not.toContain(seqOf.get(victim.contentHash));
        expect(hits).toHaveLength(19);
        expect(await store.indices.semantic.size()).toBe(19);
        expect(await store.indices.style.size()).toBe(19);
        expect(store.indices.semantic.version()).toBe(await catalog().version());
      });

      it('refuses a query vector of the wrong dimension', async () => {
        await expect(store.indices.semantic.search(new Float32Array(3), 5)).rejects.toMatchObject({ code: 'UNPROCESSABLE' });
      });

      it('rebuilds with searches answering the same, reporting progress to the end', async () => {
        await catalog().delete(idFromHash(items[0].contentHash));
        const query = items[9].semantic;
        const before = await store.indices.semantic.search(query, 8);
        const progress: Array<{ done: number; total: number }> = [];
        await store.rebuild((p) => progress.push(p));
        expect(progress.length).toBeGreaterThan(0);
        const last = progress[progress.length - 1];
        expect(last.done).toBe(last.total);
        expect(last.done).toBeGreaterThanOrEqual(19);
        expectHits(await store.indices.semantic.search(query, 8), before);
        expect(await store.indices.semantic.size()).toBe(19);
        expect(await catalog().stats()).toMatchObject({ items: 19, deleted: 1 });
        // Still writable afterwards.
        const [added] = await catalog().addBatch([makeItem('after-rebuild', random)]);
        await store.sync();
        expect((await store.indices.semantic.search((await catalog().getWithVectors(added.id))!.semantic, 1))[0].seq).toBe(added.seq);
      });
    });

    describe('search engine over the store', () => {
      /** Replaces the store with a fresh one holding the contract's corpus, synced. */
      const storeWithCorpus = async () => {
        await opened.cleanup();
        opened = await openFreshStore({ semantic: SEMANTIC_DIM, style: STYLE_DIM });
        store = opened.store;
        const corpus = corpusItems();
        await store.catalog.addBatch(corpus);
        await store.sync();
        return corpus;
      };

      it('ranks like brute force, with exact per-modality cosines, filtered or not', async () => {
        const corpus = await storeWithCorpus();
        const engine = new SearchEngine({ catalog: store.catalog, indices: store.indices, encoders: new FakeEncoders(), options: { oversample: 2, maxCandidates: 200 } });
        const qc = textVector('semantic', 'dog');
        const qs = textVector('style', 'oil');
        const oracle = (accept: (item: (typeof corpus)[number]) => boolean, k: number) =>
          corpus
            .filter(accept)
            .map((item) => ({ id: item.id, content: dot(qc, item.semantic), style: dot(qs, item.style) }))
            .map((x) => ({ ...x, score: (2 * x.content + x.style) / 3 }))
            .sort((a, b) => b.score - a.score)
            .slice(0, k);
        const check = (response: Awaited<ReturnType<SearchEngine['search']>>, want: ReturnType<typeof oracle>) => {
          expect(response.results.map((r) => r.id)).toEqual(want.map((w) => w.id));
          response.results.forEach((r, i) => {
            expect(r.scores.content).toBeCloseTo(want[i].content, 5);
            expect(r.scores.style).toBeCloseTo(want[i].style, 5);
          });
        };
        check(await engine.search({ q: 'dog', style: 'oil', weights: { content: 2, style: 1, text: 0 }, k: 15 }), oracle(() => true, 15));
        check(
          await engine.search({ q: 'dog', style: 'oil', weights: { content: 2, style: 1, text: 0 }, filters: { licenses: ['cc0'], keywords: 'boats' }, k: 10 }),
          oracle((item) => item.license === 'cc0' && item.tags.includes('boat'), 10),
        );
        check(
          await engine.search({ q: 'dog', style: 'oil', weights: { content: 2, style: 1, text: 0 }, filters: { sources: ['demo'], tags: ['ink'] }, k: 40 }),
          oracle((item) => item.source === 'demo' && item.tags.includes('ink'), 40),
        );
      });

      it('a words query whose window holds the whole catalogue ranks it as brute force does, on the store\'s own BM25', async () => {
        const corpus = await storeWithCorpus();
        const engine = new SearchEngine({ catalog: store.catalog, indices: store.indices, encoders: new FakeEncoders(), options: { wordsWindow: 200, maxCandidates: 200 } });
        const q = 'dog boats';
        const qc = textVector('semantic', q);
        const qs = textVector('style', 'oil');
        const pivot = lexicalPivot(await store.catalog.lexicalSearch(q, { limit: 200 }));
        const seqs = new Map((await Promise.all(corpus.map((item) => store.catalog.get(item.id)))).map((item) => [item?.id, item?.seq as number]));
        const words = await store.catalog.lexicalScores(q, [...seqs.values()]);
        const want = corpus
          .map((item) => {
            const text = saturate(words.get(seqs.get(item.id) as number)?.score ?? 0, pivot);
            return { id: item.id, text, score: (2 * dot(qc, item.semantic) + dot(qs, item.style) + text) / 4 };
          })
          .sort((a, b) => b.score - a.score)
          .slice(0, 20);
        const response = await engine.search({ q, style: 'oil', weights: { content: 2, style: 1, text: 1 }, k: 20 });
        expect(response.results.map((r) => r.id)).toEqual(want.map((w) => w.id));
        response.results.forEach((r, i) => {
          expect(r.scores.text).toBeCloseTo(want[i].text, 9);
          expect(r.score).toBeCloseTo(want[i].score, 5);
        });
        expect(want.some((w) => w.text > 0)).toBe(true);
      });
    });
  });
}
