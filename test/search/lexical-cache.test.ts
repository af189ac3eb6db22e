import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LexicalCache } from '../../src/search/lexical-cache.js';
import { SqliteCatalog } from '../../src/store/sqlite-catalog.js';
import { DIMS, makeItem, seededRandom } from '../store/helpers.js';

describe('LexicalCache', () => {
  let catalog: SqliteCatalog;
  let asked: string[];
  let counting: SqliteCatalog;
  const random = seededRandom(7);

  beforeEach(() => {
    catalog = new SqliteCatalog({ path: ':memory:', dims: DIMS });
    asked = [];
    counting = Object.assign(Object.create(catalog) as SqliteCatalog, {
      lexicalSearch: (text: string, options: { limit: number }) => {
        asked.push(`${options.limit}:${text}`);
        return catalog.lexicalSearch(text, options);
      },
    });
  });
  afterEach(async () => {
    await catalog.close();
  });

  it('asks the catalog once per text and limit, and answers as the catalog does', async () => {
    await catalog.addBatch([makeItem('a', random, { title: 'Red pizza' }), makeItem('b', random, { title: 'Pizza' }), makeItem('c', random, { title: 'Boat' })]);
    const cache = new LexicalCache(counting, 4);
    const first = await cache.search('pizza', 10);
    expect(first).toEqual(await catalog.lexicalSearch('pizza', { limit: 10 }));
    expect(first).toHaveLength(2);
    expect(await cache.search('pizza', 10)).toBe(first);
    await cache.search('pizza', 1);
    await cache.search('red', 10);
    expect(asked).toEqual(['10:pizza', '1:pizza', '10:red']);
  });

  it('forgets every list at the next write: a new match is found, a deleted one is gone', async () => {
    const [a] = await catalog.addBatch([makeItem('a', random, { title: 'Pizza' })]);
    const cache = new LexicalCache(counting, 4);
    expect((await cache.search('pizza', 10)).map((hit) => hit.seq)).toEqual([a.seq]);
    const [b] = await catalog.addBatch([makeItem('b', random, { title: 'Pizza' })]);
    expect((await cache.search('pizza', 10)).map((hit) => hit.seq).sort()).toEqual([a.seq, b.seq].sort());
    await catalog.delete(a.id);
    expect((await cache.search('pizza', 10)).map((hit) => hit.seq)).toEqual([b.seq]);
    expect(asked).toEqual(['10:pizza', '10:pizza', '10:pizza']);
  });

  it('takes the stamp its caller read: a list read after a later write is not kept under the older stamp', async () => {
    await catalog.addBatch([makeItem('a', random, { title: 'Pizza' })]);
    const cache = new LexicalCache(counting, 4);
    const stale = catalog.writeStamp();
    await catalog.addBatch([makeItem('b', random, { title: 'Pizza' })]);
    expect(await cache.search('pizza', 10, stale)).toHaveLength(2);
    await cache.search('pizza', 10, stale);
    expect(asked).toEqual(['10:pizza', '10:pizza']);
    const kept = await cache.search('pizza', 10, catalog.writeStamp());
    expect(await cache.search('pizza', 10)).toBe(kept);
    expect(asked).toEqual(['10:pizza', '10:pizza', '10:pizza']);
  });

  it('with capacity 0, or over a catalog without a write stamp, asks every time', async () => {
    await catalog.addBatch([makeItem('a', random, { title: 'Pizza' })]);
    const off = new LexicalCache(counting, 0);
    const unstamped = new LexicalCache({ lexicalSearch: (text, options) => counting.lexicalSearch(text, options) }, 4);
    for (const cache of [off, unstamped]) {
      asked.length = 0;
      await cache.search('pizza', 5);
      await cache.search('pizza', 5);
      expect(asked).toEqual(['5:pizza', '5:pizza']);
    }
  });
});
