import { readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HnswIndex, type HnswIndexOptions } from '../../src/store/hnsw-index.js';
import { dot } from '../../src/vectors.js';
import { randomUnitVector, seededRandom, snapshotDataFile, tempDir } from './helpers.js';

const PARAMS = { M: 16, efConstruction: 200, efSearch: 64 };

describe('HnswIndex', () => {
  let dir: string;
  let cleanup: () => void;
  let options: HnswIndexOptions;

  beforeEach(() => {
    ({ dir, cleanup } = tempDir('parasol-hnsw-'));
    options = { modality: 'semantic', dim: 8, dir, ...PARAMS, capacity: 4 };
  });
  afterEach(() => cleanup());

  function points(count: number, seed: number, firstSeq = 1, dim = 8) {
    const random = seededRandom(seed);
    return Array.from({ length: count }, (_, i) => ({ seq: firstSeq + i, vector: randomUnitVector(dim, random) }));
  }

  describe('in memory', () => {
    it('finds a stored point first with cosine similarity 1', async () => {
      const index = HnswIndex.create(options);
      const data = points(50, 1);
      await index.add(data); // capacity 4 grows by doubling
      expect(await index.size()).toBe(50);
      const hits = await index.search(data[10].vector, 5);
      expect(hits[0].seq).toBe(11);
      expect(hits[0].score).toBeCloseTo(1, 5);
      expect(hits[1].score).toBeCloseTo(dot(data[10].vector, data[hits[1].seq - 1].vector), 5);
      for (let i = 1; i < hits.length; i++) expect(hits[i].score).toBeLessThanOrEqual(hits[i - 1].score);
    });

    it('returns only live points when k exceeds them, and nothing when empty', async () => {
      const index = HnswIndex.create(options);
      const query = points(1, 9)[0].vector;
      expect(await index.search(query, 10)).toEqual([]);
      await index.add(points(3, 2));
      expect(await index.search(query, 1000)).toHaveLength(3);
      await index.remove([1]);
      expect((await index.search(query, 1000)).map((h) => h.seq).sort()).toEqual([2, 3]);
      expect(await index.search(query, 0)).toEqual([]);
    });

    it('removes idempotently and ignores unknown labels', async () => {
      const index = HnswIndex.create(options);
      await index.add(points(5, 3));
      await index.remove([2, 2, 99]);
      await index.remove([2]);
      expect(await index.size()).toBe(4);
      expect(index.liveSeqs()).toEqual([1, 3, 4, 5]);
    });

    it('replaces an existing label instead of duplicating it', async () => {
      const index = HnswIndex.create(options);
      const [a, b] = points(2, 4);
      await index.add([a, b]);
      await index.add([{ seq: a.seq, vector: b.vector }]);
      expect(await index.size()).toBe(2);
      const hits = await index.search(b.vector, 2);
      expect(hits.map((h) => h.score)).toEqual([expect.closeTo(1, 5), expect.closeTo(1, 5)]);
    });

    it('reuses deleted slots for new labels and can revive a deleted label', async () => {
      const index = HnswIndex.create({ ...options, capacity: 8 });
      await index.add(points(8, 5));
      await index.remove([1, 2, 3]);
      await index.add(points(3, 6, 100));
      expect(await index.size()).toBe(8);
      expect(index.liveSeqs()).toEqual([4, 5, 6, 7, 8, 100, 101, 102]);
      await index.remove([4]);
      const revived = points(1, 7, 4)[0];
      await index.add([revived]);
      expect(index.liveSeqs()).toContain(4);
      expect((await index.search(revived.vector, 1))[0]).toMatchObject({ seq: 4, score: expect.closeTo(1, 5) });
    });

    it('applies allowed and excluded seqs during the search', async () => {
      const index = HnswIndex.create(options);
      const data = points(200, 8);
      await index.add(data);
      const even = new Set(data.map((p) => p.seq).filter((seq) => seq % 2 === 0));
      const exclude = new Set([...even].slice(0, 50));
      const hits = await index.search(data[0].vector, 10, { allowed: even, exclude });
      expect(hits).toHaveLength(10);
      expect(hits.every((h) => even.has(h.seq) && !exclude.has(h.seq))).toBe(true);
      const odd = await index.searchAccepting(data[0].vector, 10, (seq) => seq % 2 === 1);
      expect(odd).toHaveLength(10);
      expect(odd.every((h) => h.seq % 2 === 1)).toBe(true);
    });

    it('refuses an item filter (it filters by label, not by metadata)', async () => {
      const index = HnswIndex.create(options);
      await index.add(points(5, 8));
      await expect(index.search(points(1, 8)[0].vector, 3, { filter: { sources: ['x'] } })).rejects.toThrow(/filters by label/);
    });

    it('rejects vectors of the wrong dimension', async () => {
      const index = HnswIndex.create(options);
      await expect(index.add([{ seq: 1, vector: new Float32Array(3) }])).rejects.toMatchObject({ code: 'UNPROCESSABLE' });
      await expect(index.search(new Float32Array(9), 1)).rejects.toMatchObject({ code: 'UNPROCESSABLE' });
    });

    it('reaches recall@10 >= 0.98 against exact search on 5k random 64-d vectors', async () => {
      const dim = 64;
      const index = HnswIndex.create({ ...options, dim, capacity: 1024, efSearch: 256 });
      const data = points(5000, 11, 1, dim);
      for (let i = 0; i < data.length; i += 1000) await index.add(data.slice(i, i + 1000));
      const queries = points(100, 12, 1, dim);
      let found = 0;
      for (const { vector } of queries) {
        const exact = data
          .map((p) => ({ seq: p.seq, score: dot(vector, p.vector) }))
          .sort((x, y) => y.score - x.score)
          .slice(0, 10);
        const approx = new Set((await index.search(vector, 10)).map((h) => h.seq));
        found += exact.filter((h) => approx.has(h.seq)).length;
      }
      const recall = found / (queries.length * 10);
      console.info(`HNSW recall@10 on 5k random 64-d vectors (M=16, efC=200, ef=256): ${recall.toFixed(4)}`);
      expect(recall).toBeGreaterThanOrEqual(0.98);
    });
  });

  describe('search breadth', () => {
    it('searches at the breadth a query asks for, and at the configured one otherwise', async () => {
      const dim = 32;
      // A sparse graph (M 4, efConstruction 8): a breadth of 10 misses many neighbours that 1000 finds.
      const index = HnswIndex.create({ ...options, dim, M: 4, efConstruction: 8, efSearch: 10, capacity: 2000 });
      const data = points(2000, 21, 1, dim);
      await index.add(data);
      const queries = points(40, 22, 1, dim);
      const recall = async (ef: number | undefined) => {
        let found = 0;
        for (const { vector } of queries) {
          const exact = data.map((p) => ({ seq: p.seq, score: dot(vector, p.vector) })).sort((x, y) => y.score - x.score).slice(0, 10);
          const hits = new Set((await index.search(vector, 10, ef === undefined ? {} : { ef })).map((h) => h.seq));
          found += exact.filter((h) => hits.has(h.seq)).length;
        }
        return found / (queries.length * 10);
      };
      const narrow = await recall(10);
      const wide = await recall(1000);
      expect(wide).toBeGreaterThanOrEqual(0.95);
      expect(narrow).toBeLessThan(wide - 0.05);
      // A query without a breadth is back at the configured efSearch (10), not the last one asked for.
      expect(await recall(undefined)).toBe(narrow);
      index.setEfSearch(1000);
      expect(await recall(undefined)).toBe(wide);
      await expect(index.search(queries[0].vector, 10, { ef: 0 })).rejects.toThrow(RangeError);
    });
  });

  describe('snapshots', () => {
    it('round-trips content, deletes and version', async () => {
      const index = HnswIndex.create(options);
      const data = points(40, 20);
      await index.add(data);
      await index.remove([5, 6]);
      index.setVersion(7);
      expect(index.isDirty()).toBe(true);
      await index.save();
      expect(index.isDirty()).toBe(false);
      expect(readdirSync(dir).sort()).toEqual([expect.stringMatching(/^semantic\.\d+-\w+\.hnsw$/), 'semantic.json']);
      const meta = JSON.parse(readFileSync(join(dir, 'semantic.json'), 'utf8'));
      expect(meta).toMatchObject({ version: 7, dim: 8, count: 38, M: 16, efConstruction: 200, deleted: [5, 6] });

      const { index: reopened, snapshot } = await HnswIndex.open(options);
      expect(snapshot).toEqual({ status: 'loaded', version: 7, count: 38 });
      expect(reopened.version()).toBe(7);
      expect(reopened.isDirty()).toBe(false);
      expect(reopened.liveSeqs()).toEqual(index.liveSeqs());
      expect((await reopened.search(data[9].vector, 1))[0]).toMatchObject({ seq: 10 });
      // The deleted slots are still reusable after a reload.
      await reopened.add(points(2, 21, 500));
      expect(await reopened.size()).toBe(40);
      await reopened.remove([5]); // already deleted: harmless
    });

    it('reports a missing snapshot and starts empty', async () => {
      const { index, snapshot } = await HnswIndex.open(options);
      expect(snapshot).toEqual({ status: 'missing' });
      expect(index.version()).toBe(0);
      expect(await index.size()).toBe(0);
    });

    async function savedSnapshot() {
      const index = HnswIndex.create(options);
      await index.add(points(30, 30));
      index.setVersion(3);
      await index.save();
    }

    const damages: Array<[string, () => void, RegExp]> = [
      ['a truncated data file', () => truncateSync(snapshotDataFile(dir, 'semantic'), 100), /truncated/],
      [
        'a corrupted data file of the same size',
        () => {
          const path = snapshotDataFile(dir, 'semantic');
          const bytes = readFileSync(path);
          bytes.fill(0xff, 200, 400);
          writeFileSync(path, bytes);
        },
        /checksum/,
      ],
      ['a missing data file', () => rmSync(snapshotDataFile(dir, 'semantic')), /missing/],
      ['a garbled .json', () => writeFileSync(join(dir, 'semantic.json'), '{"format":'), /not a valid/],
    ];
    it.each(damages)('reports %s as unusable', async (_name, damage, reason) => {
      await savedSnapshot();
      damage();
      const { index, snapshot } = await HnswIndex.open(options);
      expect(snapshot.status).toBe('unusable');
      expect(snapshot.status === 'unusable' && snapshot.reason).toMatch(reason);
      expect(await index.size()).toBe(0);
      expect(index.version()).toBe(0);
    });

    it('treats a data file without its .json as no snapshot', async () => {
      await savedSnapshot();
      rmSync(join(dir, 'semantic.json'));
      const { snapshot } = await HnswIndex.open(options);
      expect(snapshot).toEqual({ status: 'missing' });
    });

    it('reports a snapshot built with another dimension or other parameters', async () => {
      await savedSnapshot();
      const otherDim = await HnswIndex.open({ ...options, dim: 16 });
      expect(otherDim.snapshot).toMatchObject({ status: 'unusable', reason: expect.stringMatching(/dim 8, expected 16/) });
      const otherM = await HnswIndex.open({ ...options, M: 8 });
      expect(otherM.snapshot).toMatchObject({ status: 'unusable', reason: expect.stringMatching(/M 16, expected 8/) });
      // efSearch is a query-time setting: changing it keeps the snapshot.
      const otherEf = await HnswIndex.open({ ...options, efSearch: 10 });
      expect(otherEf.snapshot.status).toBe('loaded');
    });

    it('keeps one data file: a save removes the previous one once the new .json is in place', async () => {
      await savedSnapshot();
      const first = snapshotDataFile(dir, 'semantic');
      const { index } = await HnswIndex.open(options);
      await index.add(points(10, 31, 100));
      await index.save();
      expect(snapshotDataFile(dir, 'semantic')).not.toBe(first);
      expect(readdirSync(dir).filter((name) => name.endsWith('.hnsw'))).toHaveLength(1);
    });

    it('loads the previous snapshot after a crash mid-save and removes what the dead writer left', async () => {
      await savedSnapshot();
      const data = snapshotDataFile(dir, 'semantic');
      const size = statSync(data).size;
      // What a process killed before its .json rename leaves behind (pid 999999999 is not running).
      writeFileSync(join(dir, 'semantic.999999999-zz1.hnsw'), 'partial');
      writeFileSync(join(dir, 'semantic.json.tmp-999999999-zz1'), 'partial');
      const { snapshot } = await HnswIndex.open(options);
      expect(snapshot).toEqual({ status: 'loaded', version: 3, count: 30 });
      expect(readdirSync(dir).sort()).toEqual([data.split('/').pop(), 'semantic.json']);
      expect(statSync(data).size).toBe(size);
    });

    it('serialises a save with concurrent adds', async () => {
      const index = HnswIndex.create(options);
      await index.add(points(100, 40));
      index.setVersion(1);
      const saving = index.save();
      const adding = index.add(points(100, 41, 1000));
      await Promise.all([saving, adding]);
      const { index: reopened } = await HnswIndex.open(options);
      // The snapshot holds the state when the save began; the add waited for it.
      expect(await reopened.size()).toBe(100);
      expect(await index.size()).toBe(200);
      expect(index.isDirty()).toBe(true);
    });
  });
});
