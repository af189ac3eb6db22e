import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isParasolError } from '../../src/errors.js';
import { SqliteCatalog, idFromHash, toFtsQuery } from '../../src/store/sqlite-catalog.js';
import type { ItemInput, ItemWithVectors } from '../../src/store/types.js';
import { DIMS, hashOf, makeItem, seededRandom, tempDir } from './helpers.js';

describe('SqliteCatalog', () => {
  let dir: string;
  let cleanup: () => void;
  let catalog: SqliteCatalog;
  const random = seededRandom(7);

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    catalog = new SqliteCatalog({ path: join(dir, 'catalog.sqlite'), dims: DIMS });
  });

  afterEach(async () => {
    await catalog.close();
    cleanup();
  });

  describe('addBatch and reads', () => {
    it('stores metadata, vectors and thumbnails and reads them back', async () => {
      const input = makeItem('a', random, {
        externalId: 'ext-1',
        tags: ['cat', 'ink'],
        keywords: ['feline'],
        license: 'CC0',
        attribution: 'someone',
        url: 'https://example.org/a',
        extra: { codepoint: '1F431', split: 'train' },
        thumbnail: Buffer.from([1, 2, 3]),
      });
      const [result] = await catalog.addBatch([input]);
      expect(result).toEqual({ id: idFromHash(input.contentHash), seq: 1, status: 'added' });

      const item = await catalog.get(result.id);
      expect(item).toMatchObject({
        id: result.id,
        seq: 1,
        externalId: 'ext-1',
        source: 'test',
        title: 'Item a',
        tags: ['cat', 'ink'],
        keywords: ['feline'],
        license: 'CC0',
        attribution: 'someone',
        url: 'https://example.org/a',
        width: 64,
        height: 64,
        contentHash: input.contentHash,
        extra: { codepoint: '1F431', split: 'train' },
      });
      expect(Date.parse(item!.createdAt)).not.toBeNaN();
      expect(item).not.toHaveProperty('semantic');

      const withVectors = await catalog.getWithVectors(result.id);
      expect(Array.from(withVectors!.semantic)).toEqual(Array.from(input.semantic));
      expect(Array.from(withVectors!.style)).toEqual(Array.from(input.style));
      expect(await catalog.thumbnail(result.id)).toEqual(Buffer.from([1, 2, 3]));
      expect(await catalog.findByHash(input.contentHash)).toMatchObject({ id: result.id });
    });

    it('fills optional metadata with empty values', async () => {
      const [{ id }] = await catalog.addBatch([makeItem('plain', random)]);
      expect(await catalog.get(id)).toMatchObject({
        externalId: '',
        keywords: [],
        license: '',
        attribution: '',
        url: '',
        extra: {},
      });
      expect(await catalog.thumbnail(id)).toBeUndefined();
    });

    it('keeps an explicit id', async () => {
      const [result] = await catalog.addBatch([makeItem('x', random, { id: 'my-id' })]);
      expect(result.id).toBe('my-id');
      expect(await catalog.get('my-id')).toBeDefined();
    });

    it('returns undefined for unknown ids and hashes', async () => {
      expect(await catalog.get('nope')).toBeUndefined();
      expect(await catalog.getWithVectors('nope')).toBeUndefined();
      expect(await catalog.findByHash(hashOf('nope'))).toBeUndefined();
      expect(await catalog.thumbnail('nope')).toBeUndefined();
    });

    it('reads many by seq, skipping missing and deleted seqs', async () => {
      const results = await catalog.addBatch(['a', 'b', 'c'].map((n) => makeItem(n, random)));
      await catalog.delete(results[1].id);
      const items = await catalog.getManyBySeq([1, 2, 3, 99]);
      expect([...items.keys()].sort()).toEqual([1, 3]);
      expect(items.get(3)?.id).toBe(results[2].id);

      const vectors = await catalog.getVectorsBySeq([1, 2, 3], 'style');
      expect([...vectors.keys()].sort()).toEqual([1, 3]);
      expect(vectors.get(1)).toHaveLength(DIMS.style);
      expect(await catalog.getManyBySeq([])).toEqual(new Map());
    });
  });

  describe('de-duplication and conflicts', () => {
    it('reports a duplicate of a stored item without adding or bumping the version', async () => {
      const input = makeItem('dup', random);
      const [first] = await catalog.addBatch([input]);
      const version = await catalog.version();
      const [second] = await catalog.addBatch([{ ...input, title: 'other title' }]);
      expect(second).toEqual({ id: first.id, seq: first.seq, status: 'duplicate', existingId: first.id });
      expect(await catalog.version()).toBe(version);
      expect((await catalog.stats()).items).toBe(1);
    });

    it('de-duplicates within one batch', async () => {
      const input = makeItem('twice', random);
      const results = await catalog.addBatch([input, makeItem('other', random), { ...input }]);
      expect(results.map((r) => r.status)).toEqual(['added', 'added', 'duplicate']);
      expect(results[2].seq).toBe(results[0].seq);
      expect((await catalog.stats()).items).toBe(2);
    });

    it('rejects an explicit id already used by other content, rolling back the whole batch', async () => {
      await catalog.addBatch([makeItem('one', random, { id: 'taken' })]);
      const version = await catalog.version();
      const attempt = catalog.addBatch([makeItem('fresh', random), makeItem('two', random, { id: 'taken' })]);
      await expect(attempt).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(await catalog.findByHash(hashOf('fresh'))).toBeUndefined();
      expect(await catalog.version()).toBe(version);
    });

    it('rejects two different contents with the same explicit id in one batch', async () => {
      const attempt = catalog.addBatch([makeItem('p', random, { id: 'same' }), makeItem('q', random, { id: 'same' })]);
      await expect(attempt).rejects.toMatchObject({ code: 'CONFLICT' });
      expect((await catalog.stats()).items).toBe(0);
    });

    it('rejects vectors of the wrong dimension or with non-finite values', async () => {
      const short = makeItem('short', random, { semantic: new Float32Array(3) });
      await expect(catalog.addBatch([short])).rejects.toMatchObject({ code: 'UNPROCESSABLE' });
      const nan = makeItem('nan', random, { style: new Float32Array(DIMS.style).fill(Number.NaN) });
      await expect(catalog.addBatch([nan])).rejects.toMatchObject({ code: 'UNPROCESSABLE' });
      expect(await catalog.version()).toBe(0);
    });

    it('rejects malformed metadata before touching the database', async () => {
      const noWidth = { ...makeItem('w', random), width: undefined } as unknown as ItemInput;
      await expect(catalog.addBatch([noWidth])).rejects.toMatchObject({ code: 'UNPROCESSABLE', message: /width/ });
      const badTags = { ...makeItem('t', random), tags: 'cat' } as unknown as ItemInput;
      await expect(catalog.addBatch([badTags])).rejects.toMatchObject({ code: 'UNPROCESSABLE', message: /tags/ });
      await expect(catalog.addBatch([makeItem('h', random, { contentHash: '' })])).rejects.toMatchObject({
        code: 'UNPROCESSABLE',
      });
    });

    it('lets deleted content be ingested again under a new seq', async () => {
      const input = makeItem('again', random);
      const [first] = await catalog.addBatch([input]);
      await catalog.delete(first.id);
      const [second] = await catalog.addBatch([input]);
      expect(second.status).toBe('added');
      expect(second.id).toBe(first.id);
      expect(second.seq).toBeGreaterThan(first.seq);
      expect((await catalog.get(first.id))?.seq).toBe(second.seq);
    });
  });

  describe('deletes, versions and changesSince', () => {
    it('bumps the version once per committed change', async () => {
      expect(await catalog.version()).toBe(0);
      await catalog.addBatch(['a', 'b', 'c'].map((n) => makeItem(n, random)));
      expect(await catalog.version()).toBe(1);
      await catalog.addBatch([makeItem('d', random)]);
      expect(await catalog.version()).toBe(2);
      expect(await catalog.delete(idFromHash(hashOf('a')))).toBe(true);
      expect(await catalog.version()).toBe(3);
      expect(await catalog.delete(idFromHash(hashOf('a')))).toBe(false);
      expect(await catalog.delete('unknown')).toBe(false);
      expect(await catalog.version()).toBe(3);
      await catalog.addBatch([]);
      expect(await catalog.version()).toBe(3);
    });

    it('hides deleted items from every read and drops their thumbnail', async () => {
      const [{ id }] = await catalog.addBatch([makeItem('gone', random, { thumbnail: Buffer.from('x') })]);
      await catalog.delete(id);
      expect(await catalog.get(id)).toBeUndefined();
      expect(await catalog.getWithVectors(id)).toBeUndefined();
      expect(await catalog.findByHash(hashOf('gone'))).toBeUndefined();
      expect(await catalog.thumbnail(id)).toBeUndefined();
      expect(await catalog.matchFilter({})).toEqual(new Set());
      expect(await catalog.stats()).toMatchObject({ items: 0, deleted: 1 });
    });

    it('reports changes after a version, with vectors, and deletes of older items', async () => {
      const first = await catalog.addBatch(['a', 'b'].map((n) => makeItem(n, random))); // v1
      const second = await catalog.addBatch(['c', 'd'].map((n) => makeItem(n, random))); // v2
      await catalog.delete(first[0].id); // v3: an item older than v1
      await catalog.delete(second[1].id); // v4: an item added after v1

      const sinceV1 = await catalog.changesSince(1);
      expect(sinceV1.version).toBe(4);
      expect(sinceV1.added.map((i) => i.seq)).toEqual([second[0].seq]);
      expect(sinceV1.added[0].semantic).toHaveLength(DIMS.semantic);
      expect(sinceV1.deleted).toEqual([first[0].seq, second[1].seq]);

      const all = await catalog.changesSince(0);
      expect(all.added.map((i) => i.seq)).toEqual([first[1].seq, second[0].seq]);

      const none = await catalog.changesSince(4);
      expect(none).toEqual({ added: [], deleted: [], version: 4 });
    });

    it('scans live items in seq order, in pages', async () => {
      const results = await catalog.addBatch(Array.from({ length: 7 }, (_, i) => makeItem(`s${i}`, random)));
      await catalog.delete(results[3].id);
      const pages: ItemWithVectors[][] = [];
      for await (const page of catalog.scan(2)) pages.push(page);
      expect(pages.map((p) => p.length)).toEqual([2, 2, 2]);
      expect(pages.flat().map((i) => i.seq)).toEqual([1, 2, 3, 5, 6, 7]);
      expect(pages[0][0].style).toHaveLength(DIMS.style);
    });

    it('reports stats by source', async () => {
      await catalog.addBatch([
        makeItem('s1', random, { source: 'demo' }),
        makeItem('s2', random, { source: 'demo' }),
        makeItem('s3', random, { source: 'folder' }),
      ]);
      expect(await catalog.stats()).toEqual({ items: 3, deleted: 0, sources: { demo: 2, folder: 1 }, version: 1 });
    });
  });

  describe('matchFilter', () => {
    let seqs: Record<string, number>;

    beforeEach(async () => {
      const results = await catalog.addBatch([
        makeItem('cat', random, { title: 'A sleeping cat', tags: ['animal', 'ink'], source: 'demo', license: 'CC0' }),
        makeItem('dog', random, { title: 'Dog running', tags: ['animal'], keywords: ['puppy'], source: 'demo', license: 'CC-BY' }),
        makeItem('tree', random, { title: 'Tall tree', tags: ['plant', 'ink'], source: 'folder', license: 'CC0' }),
        makeItem('cafe', random, { title: 'Café au lait', tags: ['drink'], keywords: ['日本語 コーヒー'], source: 'folder' }),
        makeItem('near', random, { title: 'NEAR OR AND NOT col', tags: ['words'], source: 'folder' }),
      ]);
      seqs = Object.fromEntries(['cat', 'dog', 'tree', 'cafe', 'near'].map((n, i) => [n, results[i].seq]));
    });

    const names = (set: Set<number>) =>
      Object.entries(seqs)
        .filter(([, seq]) => set.has(seq))
        .map(([name]) => name)
        .sort();

    it('returns every live item for an empty filter', async () => {
      expect(names(await catalog.matchFilter({}))).toEqual(['cafe', 'cat', 'dog', 'near', 'tree']);
      expect(names(await catalog.matchFilter({ sources: [], tags: [], keywords: '  ' }))).toHaveLength(5);
    });

    it('filters by source, license and all listed tags', async () => {
      expect(names(await catalog.matchFilter({ sources: ['demo'] }))).toEqual(['cat', 'dog']);
      expect(names(await catalog.matchFilter({ licenses: ['CC0'] }))).toEqual(['cat', 'tree']);
      expect(names(await catalog.matchFilter({ tags: ['ink'] }))).toEqual(['cat', 'tree']);
      expect(names(await catalog.matchFilter({ tags: ['ink', 'animal'] }))).toEqual(['cat']);
      expect(names(await catalog.matchFilter({ tags: ['ink', 'ink'] }))).toEqual(['cat', 'tree']);
      expect(names(await catalog.matchFilter({ tags: ['missing'] }))).toEqual([]);
      expect(names(await catalog.matchFilter({ tags: ['ink'], sources: ['folder'], licenses: ['CC0'] }))).toEqual(['tree']);
    });

    it('matches keywords over title, tags and keywords, requiring every word', async () => {
      expect(names(await catalog.matchFilter({ keywords: 'cat' }))).toEqual(['cat']);
      expect(names(await catalog.matchFilter({ keywords: 'cats' }))).toEqual(['cat']); // stemmed
      expect(names(await catalog.matchFilter({ keywords: 'puppy' }))).toEqual(['dog']);
      expect(names(await catalog.matchFilter({ keywords: 'INK' }))).toEqual(['cat', 'tree']);
      expect(names(await catalog.matchFilter({ keywords: 'ink tall' }))).toEqual(['tree']);
      expect(names(await catalog.matchFilter({ keywords: 'cafe' }))).toEqual(['cafe']); // diacritics folded
      expect(names(await catalog.matchFilter({ keywords: 'コーヒー' }))).toEqual(['cafe']);
      expect(names(await catalog.matchFilter({ keywords: 'animal', sources: ['demo'], licenses: ['CC-BY'] }))).toEqual(['dog']);
    });

    it('drops deleted items from keyword matches', async () => {
      await catalog.delete(idFromHash(hashOf('cat')));
      expect(names(await catalog.matchFilter({ keywords: 'ink' }))).toEqual(['tree']);
    });

    const hostile: Array<[string, string[]]> = [
      ['"', []],
      ['"cat', ['cat']],
      ['cat"', ['cat']],
      ['*', []],
      ['ca*', []],
      ['NEAR(', ['near']],
      ['NEAR(cat dog)', []],
      ['cat OR dog', []],
      ['cat AND', []],
      ['NOT cat', []],
      ['-cat', ['cat']],
      ['cat -dog', []],
      ['title:cat', []],
      ['col:x', []],
      ['tags:ink', []],
      ['(cat', ['cat']],
      ['^cat', ['cat']],
      ['cat)', ['cat']],
      ['{title tags}: cat', []],
      ['cat + dog', []],
      ["'; DROP TABLE items; --", []],
      ['🐱', []],
      ['\u0000cat', ['cat']],
      ['Café"', ['cafe']],
      ['ink""tree', ['tree']],
      ['NEAR OR', ['near']],
    ];
    it.each(hostile)('treats %j as plain words', async (text, expected) => {
      expect(names(await catalog.matchFilter({ keywords: text }))).toEqual(expected);
    });

    it('never widens a query: operators are words that must all match', async () => {
      const both = await catalog.matchFilter({ keywords: 'cat OR tree' });
      expect(both.size).toBe(0);
      const withNear = await catalog.matchFilter({ keywords: 'near or and not col' });
      expect(names(withNear)).toEqual(['near']);
    });

    it('builds FTS queries of quoted words only', () => {
      expect(toFtsQuery('a "b" OR c*')).toBe('"a" "b" "OR" "c"');
      expect(toFtsQuery('  ')).toBeUndefined();
      expect(toFtsQuery('*"(')).toBeUndefined();
      expect(toFtsQuery('x x x')).toBe('"x"');
    });
  });

  describe('lexical search', () => {
    let seqs: Record<string, number>;

    beforeEach(async () => {
      const results = await catalog.addBatch([
        makeItem('cat', random, { title: 'A sleeping cat', tags: ['animal', 'ink'] }),
        makeItem('dog', random, { title: 'Dog running', tags: ['animal'], keywords: ['puppy'], description: 'A happy dog chasing cats' }),
        makeItem('cafe', random, { title: 'Café au lait', tags: ['drink'] }),
        makeItem('near', random, { title: 'NEAR OR AND NOT col', tags: ['words'] }),
      ]);
      seqs = Object.fromEntries(['cat', 'dog', 'cafe', 'near'].map((n, i) => [n, results[i].seq]));
    });

    const nameOf = (seq: number) => Object.entries(seqs).find(([, s]) => s === seq)?.[0];
    const found = async (text: string) => (await catalog.lexicalSearch(text, { limit: 10 })).map((hit) => nameOf(hit.seq)).sort();

    const hostile: Array<[string, string[]]> = [
      ['"', []],
      ['"cat', ['cat', 'dog']],
      ['*', []],
      ['ca*', []],
      ['NEAR(cat dog)', ['cat', 'dog', 'near']],
      ['title:cafe', ['cafe']],
      ['{title tags}: lait', ['cafe']],
      ['cat NOT dog', ['cat', 'dog', 'near']],
      ['- cat', ['cat', 'dog']],
      ['^lait', ['cafe']],
      ["'; DROP TABLE items_fts; --", []],
      ['\u0000cafe""', ['cafe']],
      ['🐱', []],
    ];
    it.each(hostile)('treats %j as plain words OR-ed together', async (text, expected) => {
      expect(await found(text)).toEqual(expected);
    });

    it("scores exactly as FTS5's bm25() of the words OR-ed together, in the same order", async () => {
      const random = seededRandom(78);
      const words = ['red', 'cat', 'tree', 'boat', 'sun'];
      await catalog.addBatch(
        Array.from({ length: 150 }, (_, i) =>
          makeItem(`bm25-${i}`, random, {
            title: `${words[i % 5]} ${words[(i * 3) % 5]} ${i}`,
            tags: i % 4 === 0 ? ['cats', words[(i + 1) % 5]] : [],
            description: i % 7 === 0 ? 'a long description about a red boat under the sun in a harbour' : '',
          }),
        ),
      );
      const db = new Database(join(dir, 'catalog.sqlite'), { readonly: true });
      const direct = db.prepare(
        `SELECT rowid AS seq, -bm25(items_fts, 3, 2, 1.5, 1) AS score FROM items_fts WHERE items_fts MATCH ? ORDER BY bm25(items_fts, 3, 2, 1.5, 1), rowid LIMIT ?`,
      );
      for (const text of ['cat', 'red boat', 'sun tree cats red', 'harbour cat', 'boat']) {
        const query = text.split(' ').map((w) => `"${w}"`).join(' OR ');
        for (const limit of [7, 500]) {
          const hits = await catalog.lexicalSearch(text, { limit });
          expect(hits.map(({ seq, score }) => ({ seq, score }))).toEqual(direct.all(query, limit));
        }
      }
      db.close();
    });

    it("forgets its cached words when another connection or an alias' promotion changes them", async () => {
      expect(await found('sleeping')).toEqual(['cat']);
      const db = new Database(join(dir, 'catalog.sqlite'));
      db.prepare("UPDATE items SET title = 'A sleeping fox' WHERE seq = ?").run(seqs.dog);
      db.close();
      expect(await found('sleeping')).toEqual(['cat', 'dog']);
      const [stored] = await catalog.addBatch([makeItem('heron', random, { id: 'heron', title: 'Grey heron' })]);
      await catalog.addBatch([makeItem('heron', random, { id: 'egret', title: 'White egret' })]);
      const heronHits = async (text: string) => (await catalog.lexicalSearch(text, { limit: 10 })).map((hit) => hit.seq);
      expect(await heronHits('heron egret')).toEqual([stored.seq]);
      await catalog.delete('heron');
      expect(await heronHits('heron')).toEqual([]);
      expect(await heronHits('egret')).toEqual([stored.seq]);
    });

    it('reports the matched terms as the index stores them (stemmed, folded)', async () => {
      const hits = await catalog.lexicalSearch('Cats CAFÉ sleeping zebra', { limit: 10 });
      const terms = new Map(hits.map((hit) => [nameOf(hit.seq), [...hit.terms].sort()]));
      expect(terms.get('cat')).toEqual(['cat', 'sleep']);
      expect(terms.get('dog')).toEqual(['cat']);
      expect(terms.get('cafe')).toEqual(['cafe']);
      expect(hits.every((hit) => hit.score > 0)).toBe(true);
    });

    it('rescores any seqs with exactly the scores of the search', async () => {
      const hits = await catalog.lexicalSearch('cat animal', { limit: 10 });
      const rescored = await catalog.lexicalScores('cat animal', [...hits.map((hit) => hit.seq), seqs.cafe, 9999]);
      expect(rescored.size).toBe(hits.length);
      for (const hit of hits) expect(rescored.get(hit.seq)).toEqual(hit);
    });

    it('rescores and reports terms the same way for many seqs and few', async () => {
      const random = seededRandom(77);
      const many = Array.from({ length: 120 }, (_, i) =>
        makeItem(`many-${i}`, random, { title: i % 3 === 0 ? `striped cat ${i}` : `striped ${i}`, tags: i % 2 === 0 ? ['cats'] : ['plain'] }),
      );
      await catalog.addBatch(many);
      const hits = await catalog.lexicalSearch('cat striped', { limit: 200 });
      expect(hits.length).toBeGreaterThan(100);
      const rescored = await catalog.lexicalScores('cat striped', [...hits.map((hit) => hit.seq), 9999]);
      expect(rescored.size).toBe(hits.length);
      for (const hit of hits) expect(rescored.get(hit.seq)).toEqual(hit);
      const few = await catalog.lexicalScores('cat striped', hits.slice(0, 5).map((hit) => hit.seq));
      for (const hit of hits.slice(0, 5)) expect(few.get(hit.seq)).toEqual(hit);
    });

    it('follows an edit of a live item\'s words (the FTS row is replaced by a trigger)', async () => {
      const db = new Database(join(dir, 'catalog.sqlite'));
      db.prepare("UPDATE items SET title = 'Grey heron', description = 'wading bird' WHERE seq = ?").run(seqs.cat);
      db.close();
      expect(await found('heron bird')).toEqual(['cat']);
      expect(await found('sleeping')).toEqual([]);
    });
  });

  describe('migrating a version-1 catalog', () => {
    it('adds descriptions and rebuilds the full-text index from the items, in one step, losing nothing', async () => {
      await catalog.close();
      const path = join(dir, 'old.sqlite');
      writeFileSync(path, '');
      const db = new Database(path);
      db.exec(VERSION_1_DDL);
      db.exec("INSERT INTO meta (key, value) VALUES ('version', '2'), ('dims', '{\"semantic\":16,\"style\":8}')");
      const insert = db.prepare(
        `INSERT INTO items (id, source, title, tags, keywords, width, height, content_hash, created_at, updated_at, added_version, semantic, style)
         VALUES (?, 'old', ?, ?, ?, 1, 1, ?, 'then', 'then', 1, ?, ?)`,
      );
      const vector = (n: number) => Buffer.from(new Float32Array(n).fill(0.25).buffer);
      insert.run('cats', 'Two cats', '["animal"]', '["feline"]', 'h1', vector(16), vector(8));
      insert.run('gone', 'A lost cat', '[]', '[]', 'h2', vector(16), vector(8));
      insert.run('tree', 'Tall tree', '["plant"]', '[]', 'h3', vector(16), vector(8));
      db.prepare("UPDATE items SET deleted = 1, deleted_version = 2 WHERE id = 'gone'").run();
      db.pragma('user_version = 1');
      db.close();

      catalog = new SqliteCatalog({ path, dims: DIMS });
      const check = new Database(path, { readonly: true });
      expect(check.pragma('user_version', { simple: true })).toBe(3);
      const ftsRows = check.prepare('SELECT rowid, title, tags, keywords, description FROM items_fts ORDER BY rowid').all();
      check.close();
      expect(ftsRows).toEqual([
        { rowid: 1, title: 'Two cats', tags: 'animal', keywords: 'feline', description: '' },
        { rowid: 3, title: 'Tall tree', tags: 'plant', keywords: '', description: '' },
      ]);
      expect(await catalog.get('cats')).toMatchObject({ title: 'Two cats', tags: ['animal'], keywords: ['feline'], description: '' });
      expect(await catalog.version()).toBe(2);
      expect((await catalog.lexicalSearch('cat', { limit: 5 })).map((hit) => hit.seq)).toEqual([1]);
      expect([...(await catalog.matchFilter({ keywords: 'feline animals' }))]).toEqual([1]);
      const [added] = await catalog.addBatch([makeItem('new', random, { description: 'a cat by the window' })]);
      expect((await catalog.lexicalSearch('window', { limit: 5 })).map((hit) => hit.seq)).toEqual([added.seq]);
      // Schema 3: the alias table came in the same open.
      await catalog.addBatch([makeItem('new', random, { id: 'new-alias' })]);
      expect(await catalog.get('new-alias')).toMatchObject({ aliasOf: added.id, seq: added.seq });
    });

    it('leaves the catalog at version 1 when the migration fails', async () => {
      await catalog.close();
      const path = join(dir, 'half.sqlite');
      const db = new Database(path);
      db.exec(VERSION_1_DDL);
      db.exec("INSERT INTO meta (key, value) VALUES ('version', '0')");
      // A column the migration is about to add makes its ALTER TABLE fail midway through the step.
      db.exec("ALTER TABLE items ADD COLUMN description TEXT NOT NULL DEFAULT ''");
      db.pragma('user_version = 1');
      db.close();
      expect(() => new SqliteCatalog({ path, dims: DIMS })).toThrow(/duplicate column/);
      const check = new Database(path, { readonly: true });
      expect(check.pragma('user_version', { simple: true })).toBe(1);
      expect(check.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'items_fts_on_insert'").get()).toEqual({ n: 1 });
      check.close();
      catalog = new SqliteCatalog({ path: join(dir, 'catalog.sqlite'), dims: DIMS });
    });
  });

  describe('opening', () => {
    it('persists across reopen', async () => {
      const [{ id }] = await catalog.addBatch([makeItem('kept', random)]);
      await catalog.close();
      catalog = new SqliteCatalog({ path: join(dir, 'catalog.sqlite'), dims: DIMS });
      expect(await catalog.get(id)).toBeDefined();
      expect(await catalog.version()).toBe(1);
    });

    it('refuses to open with other dimensions, saying which', async () => {
      await catalog.close();
      let error: unknown;
      try {
        catalog = new SqliteCatalog({ path: join(dir, 'catalog.sqlite'), dims: { semantic: 32, style: 8 } });
      } catch (e) {
        error = e;
      }
      expect(isParasolError(error) && error.code).toBe('CONFIG_INVALID');
      expect((error as Error).message).toMatch(/16-d semantic.*32-d/);
      catalog = new SqliteCatalog({ path: join(dir, 'catalog.sqlite'), dims: DIMS });
    });

    it('refuses a schema newer than it understands', async () => {
      await catalog.close();
      const db = new Database(join(dir, 'catalog.sqlite'));
      db.pragma('user_version = 99');
      db.close();
      expect(() => new SqliteCatalog({ path: join(dir, 'catalog.sqlite'), dims: DIMS })).toThrow(/schema version 99/);
      const fix = new Database(join(dir, 'catalog.sqlite'));
      fix.pragma('user_version = 3');
      fix.close();
      catalog = new SqliteCatalog({ path: join(dir, 'catalog.sqlite'), dims: DIMS });
    });

    it('reports a file that is not a SQLite database as a corrupt store', async () => {
      const path = join(dir, 'garbage.sqlite');
      writeFileSync(path, Buffer.alloc(4096, 0x5a));
      expect(() => new SqliteCatalog({ path, dims: DIMS })).toThrow(
        expect.objectContaining({ code: 'STORE_CORRUPT', message: expect.stringMatching(/not a readable SQLite catalog/) }),
      );
    });

    it('uses WAL with full synchronous commits', () => {
      const db = new Database(join(dir, 'catalog.sqlite'), { readonly: true });
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(3);
      db.close();
    });
  });
});

/** The schema of a version-1 catalog, as Parasol created it before descriptions (for the migration tests). */
const VERSION_1_DDL = `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE items (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL,
    external_id     TEXT    NOT NULL DEFAULT '',
    source          TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    tags            TEXT    NOT NULL DEFAULT '[]',
    keywords        TEXT    NOT NULL DEFAULT '[]',
    license         TEXT    NOT NULL DEFAULT '',
    attribution     TEXT    NOT NULL DEFAULT '',
    url             TEXT    NOT NULL DEFAULT '',
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    content_hash    TEXT    NOT NULL,
    extra           TEXT    NOT NULL DEFAULT '{}',
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    deleted         INTEGER NOT NULL DEFAULT 0,
    added_version   INTEGER NOT NULL,
    deleted_version INTEGER,
    semantic        BLOB    NOT NULL,
    style           BLOB    NOT NULL
  );
  CREATE UNIQUE INDEX items_live_id   ON items(id)           WHERE deleted = 0;
  CREATE UNIQUE INDEX items_live_hash ON items(content_hash) WHERE deleted = 0;
  CREATE INDEX items_added_version    ON items(added_version);
  CREATE INDEX items_deleted_version  ON items(deleted_version) WHERE deleted_version IS NOT NULL;
  CREATE INDEX items_source           ON items(source);
  CREATE TABLE thumbnails (seq INTEGER PRIMARY KEY REFERENCES items(seq), bytes BLOB NOT NULL);
  CREATE VIRTUAL TABLE items_fts USING fts5(title, tags, keywords, tokenize = 'porter unicode61 remove_diacritics 2');
  CREATE TRIGGER items_fts_on_insert AFTER INSERT ON items WHEN new.deleted = 0 BEGIN
    INSERT INTO items_fts (rowid, title, tags, keywords) VALUES (
      new.seq, new.title,
      (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(new.tags)),
      (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(new.keywords))
    );
  END;
  CREATE TRIGGER items_fts_on_delete AFTER UPDATE OF deleted ON items
    WHEN new.deleted = 1 AND old.deleted = 0 BEGIN
    DELETE FROM items_fts WHERE rowid = old.seq;
  END;
`;
