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
      getResultItemsBySeq: (seqs: number[]) => {
        reads.push([...seqs]);
        return catalog.getResultItemsBySeq(seqs);
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

  it('takes the write stamp a query has just read instead of reading it again; a later stamp empties it', async () => {
    let stampReads = 0;
    const stamped = Object.assign(Object.create(catalog) as SqliteCatalog, {
      getResultItemsBySeq: (seqs: number[]) => {
        reads.push([...seqs]);
        return catalog.getResultItemsBySeq(seqs);
      },
      writeStamp: () => {
        stampReads++;
        return catalog.writeStamp();
      },
    });
    const given = new ItemCache(stamped, 10);
    const [a, b] = await catalog.addBatch(['a', 'b'].map((name) => makeItem(name, random)));
    const stamp = catalog.writeStamp();
    await given.getMany([a.seq, b.seq], stamp);
    await given.getMany([a.seq, b.seq], stamp);
    expect(stampReads).toBe(0);
    expect(reads).toEqual([[a.seq, b.seq]]);
    await catalog.delete(a.id);
    expect([...(await given.getMany([a.seq, b.seq], catalog.writeStamp())).keys()]).toEqual([b.seq]);
    expect(reads).toEqual([[a.seq, b.seq], [a.seq, b.seq]]);
    // Without a stamp it reads its own.
    await given.getMany([b.seq]);
    expect(stampReads).toBe(1);
    given.dispose();
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

  it('reads a page with both vectors in one read, and serves later pages of those items from it', async () => {
    const inputs = ['a', 'b'].map((name) => makeItem(name, random));
    const [a, b] = await catalog.addBatch(inputs);
    const log: string[] = [];
    const counting = Object.assign(Object.create(catalog) as SqliteCatalog, {
      getResultItemsBySeq: (seqs: number[]) => {
        log.push(`items:${seqs.join(',')}`);
        return catalog.getResultItemsBySeq(seqs);
      },
      getResultItemsWithVectorsBySeq: (seqs: number[]) => {
        log.push(`vectors:${seqs.join(',')}`);
        return catalog.getResultItemsWithVectorsBySeq(seqs);
      },
    });
    const pages = new ItemCache(counting, 10);
    await pages.getMany([b.seq]);
    const first = await pages.getManyWithVectors([a.seq, b.seq]);
    expect(first.get(a.seq)).toMatchObject({ id: a.id, semantic: inputs[0].semantic, style: inputs[0].style });
    expect(first.get(b.seq)?.style).toEqual(inputs[1].style);
    expect((await pages.getMany([a.seq, b.seq])).get(b.seq)?.id).toBe(b.id);
    expect((await pages.getManyWithVectors([b.seq])).get(b.seq)?.semantic).toEqual(inputs[1].semantic);
    await catalog.delete(a.id);
    expect([...(await pages.getManyWithVectors([a.seq, b.seq])).keys()]).toEqual([b.seq]);
    // b was held without vectors, so the joint page read it again; after the delete, both again.
    expect(log).toEqual([`items:${b.seq}`, `vectors:${a.seq},${b.seq}`, `vectors:${a.seq},${b.seq}`]);
  });

  it('never serves a page\'s vectors as they were before a re-encode wrote new ones', async () => {
    const [a] = await catalog.addBatch([makeItem('a', random)]);
    const pages = new ItemCache(catalog, 10);
    await pages.getManyWithVectors([a.seq]);
    const replacement = makeItem('a2', random);
    catalog.beginReencode({ name: 'next', fingerprint: '0123456789abcdef' }, DIMS);
    catalog.commitReencoded([{ seq: a.seq, semantic: replacement.semantic, style: replacement.style }], a.seq);
    const after = (await pages.getManyWithVectors([a.seq])).get(a.seq);
    expect(after?.semantic).toEqual(replacement.semantic);
    expect(after?.style).toEqual(replacement.style);
  });

  it('reads through getManyBySeq and getVectorsBySeq where the catalog has no page read', async () => {
    const inputs = [makeItem('a', random), makeItem('b', random, { license: 'CC0-1.0', attribution: 'A. Painter', tags: ['x', 'y'], extra: { year: 1901 } })];
    const [a, b] = await catalog.addBatch(inputs);
    await catalog.addBatch([{ ...makeItem('a', random), contentHash: inputs[0].contentHash, id: 'a-alias', title: 'Alias' }]);
    const plain = {
      getManyBySeq: (seqs: number[]) => catalog.getManyBySeq(seqs),
      getVectorsBySeq: (seqs: number[], modality: 'semantic' | 'style') => catalog.getVectorsBySeq(seqs, modality),
    };
    const fallback = new ItemCache(plain, 10);
    const narrow = new ItemCache(catalog, 10);
    const wide = await fallback.getManyWithVectors([a.seq, b.seq]);
    expect(wide.get(a.seq)).toMatchObject({ id: a.id, aliases: ['a-alias'], semantic: inputs[0].semantic, style: inputs[0].style });
    // The narrow read shows the same fields as the full item for every result field.
    const fields = ['seq', 'id', 'title', 'source', 'license', 'attribution', 'tags', 'extra', 'aliases'] as const;
    const pick = (item: object | undefined) => Object.fromEntries(fields.map((f) => [f, (item as Record<string, unknown>)?.[f]]));
    const viaNarrow = await narrow.getMany([a.seq, b.seq]);
    for (const seq of [a.seq, b.seq]) expect(pick(viaNarrow.get(seq))).toEqual(pick(wide.get(seq)));
    expect(viaNarrow.get(b.seq)).not.toHaveProperty('aliases');
  });

  it('with capacity 0 is the catalog itself', async () => {
    const [a] = await catalog.addBatch([makeItem('a', random)]);
    const off = new ItemCache(catalog, 0);
    expect((await off.getMany([a.seq])).get(a.seq)?.id).toBe(a.id);
    expect(off.stats()).toMatchObject({ hits: 0, size: 0 });
  });
});

describe('ItemCache, warmed', () => {
  let catalog: SqliteCatalog;
  let reads: string[];
  let counting: SqliteCatalog;
  const random = seededRandom(12);

  beforeEach(() => {
    catalog = new SqliteCatalog({ path: ':memory:', dims: DIMS });
    reads = [];
    counting = Object.assign(Object.create(catalog) as SqliteCatalog, {
      getResultItemsBySeq: (seqs: number[]) => {
        reads.push(`items:${seqs.join(',')}`);
        return catalog.getResultItemsBySeq(seqs);
      },
      getResultItemsWithVectorsBySeq: (seqs: number[]) => {
        reads.push(`vectors:${seqs.join(',')}`);
        return catalog.getResultItemsWithVectorsBySeq(seqs);
      },
    });
  });
  afterEach(async () => {
    await catalog.close();
  });

  it('holds every item with both vectors, so pages and joint pages read nothing', async () => {
    const inputs = ['a', 'b', 'c', 'd', 'e'].map((name) => makeItem(name, random, { tags: [name] }));
    const added = await catalog.addBatch(inputs);
    await catalog.addBatch([{ ...makeItem('b', random), id: 'b-alias' }]);
    const cache = new ItemCache(counting, { capacity: 10, vectors: true, warmBatch: 2 });
    await cache.warm();
    const seqs = added.map((a) => a.seq);
    const withVectors = await cache.getManyWithVectors(seqs);
    const plain = await cache.getMany(seqs);
    expect(reads).toEqual([]);
    added.forEach((a, i) => {
      expect(withVectors.get(a.seq)).toMatchObject({ id: a.id, tags: [`${'abcde'[i]}`], semantic: inputs[i].semantic, style: inputs[i].style });
      expect(plain.get(a.seq)?.title).toBe(inputs[i].title);
    });
    expect(plain.get(added[1].seq)?.aliases).toEqual(['b-alias']);
    expect(plain.get(added[0].seq)).not.toHaveProperty('aliases');
    // The narrow read and the warm show the same result fields.
    const fresh = await catalog.getResultItemsBySeq(seqs);
    for (const seq of seqs) {
      const { semantic: _s, style: _t, ...fields } = withVectors.get(seq) as unknown as Record<string, unknown>;
      expect(fields).toEqual(fresh.get(seq));
    }
  });

  it('stops at its capacity, and without vectors a joint page still reads them', async () => {
    const added = await catalog.addBatch(['a', 'b', 'c'].map((name) => makeItem(name, random)));
    const cache = new ItemCache(counting, { capacity: 2, warmBatch: 1 });
    await cache.warm();
    expect(cache.stats().size).toBe(2);
    await cache.getMany(added.map((a) => a.seq));
    await cache.getManyWithVectors([added[0].seq]);
    expect(reads).toEqual([`items:${added[2].seq}`, `vectors:${added[0].seq}`]);
  });

  it('holds a catalog exactly its capacity whole, counts its hits, and after a write evicts by use again', async () => {
    const [a, b, c] = await catalog.addBatch(['a', 'b', 'c'].map((name) => makeItem(name, random)));
    const cache = new ItemCache(counting, { capacity: 3, warmBatch: 3 });
    await cache.warm();
    const page = await cache.getMany([c.seq, a.seq, b.seq, 999]);
    expect([...page.keys()]).toEqual([c.seq, a.seq, b.seq]);
    // Only the seq no item has is read; a joint page reads the vectors the warm did not keep, once.
    await cache.getManyWithVectors([a.seq]);
    expect((await cache.getManyWithVectors([a.seq])).get(a.seq)?.semantic).toBeInstanceOf(Float32Array);
    expect(reads).toEqual(['items:999', `vectors:${a.seq}`]);
    expect(cache.stats()).toMatchObject({ hits: 5, misses: 1, size: 3 });
    const [d] = await catalog.addBatch([makeItem('d', random)]);
    reads.length = 0;
    await cache.getMany([a.seq, b.seq, c.seq]);
    await cache.getMany([a.seq, c.seq, d.seq]); // b is the least recently used when d comes in
    await cache.getMany([b.seq]);
    expect(reads).toEqual([`items:${a.seq},${b.seq},${c.seq}`, `items:${d.seq}`, `items:${b.seq}`]);
  });

  it('after a write serves the written state, and refills by itself once writes pause', async () => {
    const [a, b] = await catalog.addBatch(['a', 'b'].map((name) => makeItem(name, random)));
    const cache = new ItemCache(counting, { capacity: 10, vectors: true, autoWarm: true, rewarmDelayMs: 20 });
    await cache.warm();
    await catalog.addBatch([{ ...makeItem('b', random), id: 'b-alias', title: 'The alias' }]);
    await catalog.delete(b.id);
    const [c] = await catalog.addBatch([makeItem('c', random)]);
    // The first query after the writes reads what it needs; the cache refills in the background.
    expect((await cache.getMany([b.seq])).get(b.seq)).toMatchObject({ id: 'b-alias', title: 'The alias' });
    expect(reads).toEqual([`items:${b.seq}`]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await cache.warm();
    const after = await cache.getManyWithVectors([a.seq, b.seq, c.seq]);
    expect(reads).toEqual([`items:${b.seq}`]);
    expect(after.get(b.seq)?.id).toBe('b-alias');
    expect(after.get(c.seq)?.id).toBe(c.id);
  });

  it('keeps nothing a write overtook while a batch was read', async () => {
    const [a, b] = await catalog.addBatch([makeItem('a', random, { title: 'Before' }), makeItem('b', random)]);
    let cache: ItemCache | undefined;
    const racing = Object.assign(Object.create(counting) as SqliteCatalog, {
      async *scan(size: number) {
        for await (const batch of catalog.scan(size)) {
          // The batch is read; before the warm takes it, a's id goes to an alias and a query sees the write.
          await catalog.addBatch([{ ...makeItem('a', random), id: 'a-alias', title: 'After' }]);
          await catalog.delete(a.id);
          await cache?.getMany([b.seq]);
          yield batch;
        }
      },
    });
    cache = new ItemCache(racing, { capacity: 10, vectors: true });
    await cache.warm();
    expect((await cache.getMany([a.seq])).get(a.seq)).toMatchObject({ id: 'a-alias', title: 'After' });
  });
});
