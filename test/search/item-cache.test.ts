import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ItemCache } from '../../src/search/item-cache.js';
import { SqliteCatalog } from '../../src/store/sqlite-catalog.js';
import { DIMS, makeItem, seededRandom, tempDir } from '../store/helpers.js';
import { join } from 'node:path';

describe('ItemCache', () => {
  let catalog: SqliteCatalog;
  let reads: number[][];
  let cache: ItemCache;
  const random = seededRandom(11);

  beforeEach(() => {
    catalog = new SqliteCatalog({ path: ':memory:', dims: DIMS });
    reads = [];
    const counting = Object.assign(Object.create(catalog) as SqliteCatalog, {
      getManyBySeq: (seqs: number[]) => {
        reads.push([...seqs]);
        return catalog.getManyBySeq(seqs);
      },
    });
    cache = new ItemCache(counting, 3);
  });
  afterEach(async () => {
    await catalog.close();
  });

  it('reads only the items it does not hold, and forgets the oldest beyond its capacity', async () => {
    const [a, b, c, d] = await catalog.addBatch(['a', 'b', 'c', 'd'].map((name) => makeItem(name, random)));
    const first = await cache.getMany([a.seq, b.seq]);
    expect([...first.keys()]).toEqual([a.seq, b.seq]);
    expect(first.get(a.seq)?.id).toBe(a.id);
    await cache.getMany([b.seq, c.seq]);
    await cache.getMany([a.seq, d.seq]); // a is used again, so b is the oldest when d comes in
    await cache.getMany([a.seq, b.seq, c.seq, d.seq]);
    expect(reads).toEqual([[a.seq, b.seq], [c.seq], [d.seq], [b.seq]]);
    expect(cache.stats()).toMatchObject({ hits: 5, misses: 5, capacity: 3 });
  });

  it('starts afresh after any committed change, so a page never shows an item as it was before a write', async () => {
    const [a, b] = await catalog.addBatch(['a', 'b'].map((name) => makeItem(name, random)));
    await cache.getMany([a.seq, b.seq]);
    // an alias takes over b's image when b's id is deleted: same seq, other id and title
    await catalog.addBatch([{ ...makeItem('b', random), id: 'b-alias', title: 'The alias' }]);
    await catalog.delete(b.id);
    const after = await cache.getMany([a.seq, b.seq]);
    expect(after.get(b.seq)).toMatchObject({ id: 'b-alias', title: 'The alias' });
    await catalog.delete(a.id);
    expect([...(await cache.getMany([a.seq, b.seq])).keys()]).toEqual([b.seq]);
    expect(reads).toEqual([[a.seq, b.seq], [a.seq, b.seq], [a.seq, b.seq]]);
  });

  it('sees another process\'s writes to the same catalog file', async () => {
    const { dir, cleanup } = tempDir('parasol-item-cache-');
    const path = join(dir, 'catalog.sqlite');
    const mine = new SqliteCatalog({ path, dims: DIMS });
    const theirs = new SqliteCatalog({ path, dims: DIMS });
    try {
      const [a] = await mine.addBatch([makeItem('a', random, { title: 'Before' })]);
      const shared = new ItemCache(mine, 10);
      expect((await shared.getMany([a.seq])).get(a.seq)?.title).toBe('Before');
      await theirs.addBatch([{ ...makeItem('a', random), id: 'a-alias', title: 'After' }]);
      await theirs.delete(a.id);
      expect((await shared.getMany([a.seq])).get(a.seq)).toMatchObject({ id: 'a-alias', title: 'After' });
    } finally {
      await theirs.close();
      await mine.close();
      cleanup();
    }
  });

  it('keeps the pages\' vectors by modality under the same rule', async () => {
    const inputs = ['a', 'b'].map((name) => makeItem(name, random));
    const [a, b] = await catalog.addBatch(inputs);
    const vectorReads: string[] = [];
    const counting = Object.assign(Object.create(catalog) as SqliteCatalog, {
      getVectorsBySeq: (seqs: number[], modality: 'semantic' | 'style') => {
        vectorReads.push(`${modality}:${seqs.join(',')}`);
        return catalog.getVectorsBySeq(seqs, modality);
      },
    });
    const vectors = new ItemCache(counting, 10);
    expect((await vectors.getVectors([a.seq, b.seq], 'style')).get(b.seq)).toEqual(inputs[1].style);
    expect((await vectors.getVectors([b.seq], 'style')).get(b.seq)).toEqual(inputs[1].style);
    expect((await vectors.getVectors([a.seq], 'semantic')).get(a.seq)).toEqual(inputs[0].semantic);
    await catalog.delete(a.id);
    expect([...(await vectors.getVectors([a.seq, b.seq], 'style')).keys()]).toEqual([b.seq]);
    expect(vectorReads).toEqual([`style:${a.seq},${b.seq}`, `semantic:${a.seq}`, `style:${a.seq},${b.seq}`]);
  });

  it('with capacity 0 is the catalog itself', async () => {
    const [a] = await catalog.addBatch([makeItem('a', random)]);
    const off = new ItemCache(catalog, 0);
    expect((await off.getMany([a.seq])).get(a.seq)?.id).toBe(a.id);
    expect(off.stats()).toMatchObject({ hits: 0, size: 0 });
  });
});
