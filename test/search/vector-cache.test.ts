import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VectorCache } from '../../src/search/vector-cache.js';
import { SqliteCatalog } from '../../src/store/sqlite-catalog.js';
import type { Modality } from '../../src/store/types.js';
import { DIMS, makeItem, seededRandom } from '../store/helpers.js';

describe('VectorCache', () => {
  let catalog: SqliteCatalog;
  let reads: string[];
  let counting: SqliteCatalog;
  const random = seededRandom(5);

  beforeEach(() => {
    catalog = new SqliteCatalog({ path: ':memory:', dims: DIMS });
    reads = [];
    counting = Object.assign(Object.create(catalog) as SqliteCatalog, {
      getVectorsBySeq: (seqs: number[], modality: Modality) => {
        reads.push(`${modality}:${seqs.join(',')}`);
        return catalog.getVectorsBySeq(seqs, modality);
      },
    });
  });
  afterEach(async () => {
    await catalog.close();
  });

  it('reads each modality\'s missing vectors only, and returns the catalog\'s own', async () => {
    const inputs = ['a', 'b', 'c'].map((name) => makeItem(name, random));
    const [a, b, c] = await catalog.addBatch(inputs);
    const cache = new VectorCache(counting, 10);
    const first = await cache.get([a.seq, b.seq], 'semantic');
    expect(first.get(a.seq)).toEqual(inputs[0].semantic);
    const second = await cache.get([a.seq, b.seq, c.seq], 'semantic');
    expect(second.get(c.seq)).toEqual(inputs[2].semantic);
    expect(second.get(a.seq)).toBe(first.get(a.seq));
    const style = await cache.get([b.seq], 'style');
    expect(style.get(b.seq)).toEqual(inputs[1].style);
    await cache.get([b.seq, 999], 'style');
    expect(reads).toEqual([`semantic:${a.seq},${b.seq}`, `semantic:${c.seq}`, `style:${b.seq}`, 'style:999']);
  });

  it('forgets everything at the next write: a deleted item is never scored as live', async () => {
    const [a, b] = await catalog.addBatch(['a', 'b'].map((name) => makeItem(name, random)));
    const cache = new VectorCache(counting, 10);
    await cache.get([a.seq, b.seq], 'semantic');
    await catalog.delete(a.id);
    expect([...(await cache.get([a.seq, b.seq], 'semantic')).keys()]).toEqual([b.seq]);
    expect(reads).toEqual([`semantic:${a.seq},${b.seq}`, `semantic:${a.seq},${b.seq}`]);
  });

  it('keeps at most its capacity per modality, the least recently used going first', async () => {
    const [a, b, c] = await catalog.addBatch(['a', 'b', 'c'].map((name) => makeItem(name, random)));
    const cache = new VectorCache(counting, 2);
    await cache.get([a.seq, b.seq], 'semantic');
    await cache.get([a.seq], 'semantic');
    await cache.get([c.seq], 'semantic'); // b is the oldest: it goes
    await cache.get([a.seq, b.seq, c.seq], 'semantic');
    expect(reads).toEqual([`semantic:${a.seq},${b.seq}`, `semantic:${c.seq}`, `semantic:${b.seq}`]);
    expect(cache.stats().semantic).toMatchObject({ size: 2, capacity: 2 });
  });

  it('with capacity 0, or over a catalog without a write stamp, reads every time', async () => {
    const [a] = await catalog.addBatch([makeItem('a', random)]);
    const off = new VectorCache(counting, 0);
    const unstamped = new VectorCache({ getVectorsBySeq: (seqs, modality) => counting.getVectorsBySeq(seqs, modality) }, 10);
    for (const cache of [off, unstamped]) {
      reads.length = 0;
      await cache.get([a.seq], 'style');
      await cache.get([a.seq], 'style');
      expect(reads).toEqual([`style:${a.seq}`, `style:${a.seq}`]);
    }
  });

  it('takes vectors another cache holds instead of reading them, and does not keep them twice', async () => {
    const inputs = ['a', 'b'].map((name) => makeItem(name, random));
    const [a, b] = await catalog.addBatch(inputs);
    const held = new Map([[a.seq, inputs[0].semantic]]);
    const asked: number[][] = [];
    const cache = new VectorCache(counting, 10, (seqs, modality) => {
      asked.push([...seqs]);
      return modality === 'semantic' ? new Map([...held].filter(([seq]) => seqs.includes(seq))) : new Map();
    });
    const got = await cache.get([a.seq, b.seq], 'semantic');
    expect(got.get(a.seq)).toBe(inputs[0].semantic);
    expect(got.get(b.seq)).toEqual(inputs[1].semantic);
    expect(reads).toEqual([`semantic:${b.seq}`]);
    held.clear();
    await cache.get([a.seq, b.seq], 'semantic');
    // a was only borrowed, so it is read now; b was read and kept
    expect(reads).toEqual([`semantic:${b.seq}`, `semantic:${a.seq}`]);
    expect(asked).toEqual([[a.seq, b.seq], [a.seq]]);
  });
});
