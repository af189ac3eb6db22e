import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEmbeddedStore, type EmbeddedStore, type RebuildProgress } from '../../src/store/embedded.js';
import { dot, jointVector } from '../../src/vectors.js';
import { DIMS, makeItem, seededRandom, snapshotDataFile, tempDir } from './helpers.js';

const HNSW = { M: 16, efConstruction: 100, efSearch: 64 };

describe('openEmbeddedStore', () => {
  let dir: string;
  let cleanup: () => void;
  const random = seededRandom(3);
  let open: EmbeddedStore[];

  beforeEach(() => {
    ({ dir, cleanup } = tempDir('parasol-embedded-'));
    open = [];
  });
  afterEach(async () => {
    await Promise.all(open.map((store) => store.close({ save: false })));
    cleanup();
  });

  async function openStore(dataDir = dir, hnsw = HNSW, joint = true): Promise<EmbeddedStore> {
    const store = await openEmbeddedStore({ dataDir, dims: DIMS, hnsw, joint });
    open.push(store);
    return store;
  }

  async function ingest(store: EmbeddedStore, names: string[]) {
    const results = await store.catalog.addBatch(names.map((name) => makeItem(name, random)));
    await store.sync();
    return results;
  }

  /** The invariant of the backend: each index holds exactly the catalog's live items, at its version. */
  async function expectConsistent(store: EmbeddedStore): Promise<void> {
    const live = [...(await store.catalog.matchFilter({}))].sort((a, b) => a - b);
    const version = await store.catalog.version();
    for (const name of ['semantic', 'style', 'joint'] as const) {
      const index = store.indices[name];
      if (name === 'joint' && !index) continue;
      expect(index!.liveSeqs()).toEqual(live);
      expect(index!.version()).toBe(version);
    }
  }

  it('starts empty, indexes committed batches on sync and finds them', async () => {
    const store = await openStore();
    expect(store.startup).toEqual({ semantic: { status: 'missing' }, style: { status: 'missing' }, joint: { status: 'missing' } });
    const [a] = await ingest(store, ['a', 'b', 'c']);
    await expectConsistent(store);
    const item = await store.catalog.getWithVectors(a.id);
    const [semanticHit] = await store.indices.semantic.search(item!.semantic, 1);
    const [styleHit] = await store.indices.style.search(item!.style, 1);
    expect(semanticHit).toMatchObject({ seq: a.seq, score: expect.closeTo(1, 5) });
    expect(styleHit).toMatchObject({ seq: a.seq, score: expect.closeTo(1, 5) });
  });

  it('keeps snapshots on close and loads them without replay on reopen', async () => {
    const first = await openStore();
    await ingest(first, ['a', 'b']);
    await first.close();
    const second = await openStore();
    expect(second.startup.semantic).toEqual({ status: 'loaded', version: 1, count: 2 });
    expect(second.startup.style).toEqual({ status: 'loaded', version: 1, count: 2 });
    expect(second.startup.joint).toEqual({ status: 'loaded', version: 1, count: 2 });
    await expectConsistent(second);
  });

  it('ranks the joint index by the weighted sum of both cosines', async () => {
    const store = await openStore();
    const names = Array.from({ length: 60 }, (_, i) => `j${i}`);
    await ingest(store, names);
    const items = await Promise.all(names.map(async (name) => store.catalog.getWithVectors((await store.catalog.findByHash(makeItem(name, random).contentHash))!.id)));
    const [a, b] = [items[3]!, items[40]!];
    for (const [wc, ws] of [[1, 1], [3, 1], [1, 4]]) {
      // the query [wc·a.semantic, ws·b.style]: the best item by wc·cos(a) + ws·cos(b) comes first
      const query = new Float32Array([...a.semantic.map((x) => wc * x), ...b.style.map((x) => ws * x)]);
      const hits = await store.indices.joint!.search(query, 10);
      const expected = items
        .map((item) => ({ seq: item!.seq, score: wc * dot(a.semantic, item!.semantic) + ws * dot(b.style, item!.style) }))
        .sort((x, y) => y.score - x.score)
        .slice(0, 10)
        .map((x) => x.seq);
      expect(hits.map((hit) => hit.seq)).toEqual(expected);
    }
    const [self] = await store.indices.joint!.search(jointVector(a.semantic, a.style), 1);
    expect(self).toMatchObject({ seq: a.seq, score: expect.closeTo(1, 5) });
  });

  it('gives the joint graph its own degree, and rebuilds only it when that changes', async () => {
    const first = await openEmbeddedStore({ dataDir: dir, dims: DIMS, hnsw: HNSW, jointM: 24 });
    await ingest(first, ['a', 'b']);
    await first.close();
    const meta = (name: string) => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as { M: number };
    expect([meta('semantic').M, meta('joint').M]).toEqual([16, 24]);
    const second = await openStore(); // jointM defaults to hnsw.M
    expect(second.startup.joint).toMatchObject({ status: 'unusable', reason: expect.stringMatching(/M 24, expected 16/) });
    expect(second.startup.semantic).toMatchObject({ status: 'loaded' });
    await expectConsistent(second);
    expect(meta('joint').M).toBe(16);
  });

  it('gives the joint graph its own efConstruction, and rebuilds only it when that changes', async () => {
    const first = await openEmbeddedStore({ dataDir: dir, dims: DIMS, hnsw: HNSW, jointEfConstruction: 40 });
    await ingest(first, ['a', 'b']);
    await first.close();
    const meta = (name: string) => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as { efConstruction: number };
    expect([meta('semantic').efConstruction, meta('style').efConstruction, meta('joint').efConstruction]).toEqual([100, 100, 40]);
    const second = await openStore(); // jointEfConstruction defaults to hnsw.efConstruction
    expect(second.startup.joint).toMatchObject({ status: 'unusable', reason: expect.stringMatching(/efConstruction 40, expected 100/) });
    expect(second.startup.style).toMatchObject({ status: 'loaded' });
    await expectConsistent(second);
    expect(meta('joint').efConstruction).toBe(100);
  });

  it('builds the joint index from the catalog for a store that had none, and leaves it out when turned off', async () => {
    const first = await openStore(dir, HNSW, false);
    expect(first.indices.joint).toBeUndefined();
    expect(first.startup.joint).toBeUndefined();
    await ingest(first, ['a', 'b', 'c']);
    await first.close();
    expect(readdirSync(dir).filter((name) => name.startsWith('joint'))).toEqual([]);
    const second = await openStore();
    expect(second.startup.joint).toEqual({ status: 'missing' });
    expect(second.startup.semantic).toMatchObject({ status: 'loaded' });
    await expectConsistent(second);
    expect(await second.indices.joint!.size()).toBe(3);
    expect(readdirSync(dir)).toContain('joint.json');
  });

  it('replays adds and deletes committed after the snapshot', async () => {
    const first = await openStore();
    const early = await ingest(first, ['a', 'b', 'c']);
    await first.save(); // snapshot at version 1
    const late = await ingest(first, ['d', 'e']);
    await first.catalog.delete(early[0].id); // older than the snapshot
    await first.catalog.delete(late[0].id); // newer than the snapshot
    await first.catalog.addBatch([makeItem('never-synced', random)]); // committed, never reached an index
    await first.close({ save: false }); // as if killed

    const second = await openStore();
    expect(second.startup.semantic).toMatchObject({ status: 'loaded', version: 1 });
    await expectConsistent(second);
    expect(await second.indices.semantic.size()).toBe(4); // b, c, e, never-synced
  });

  it('replays idempotently from a version older than the index content', async () => {
    const store = await openStore();
    const results = await ingest(store, ['a', 'b', 'c']);
    await store.catalog.delete(results[1].id);
    await store.sync();
    // Pretend the snapshot was taken before all of that: the replay re-adds and re-deletes.
    store.indices.semantic.setVersion(0);
    store.indices.style.setVersion(0);
    await store.sync();
    await expectConsistent(store);
    expect(await store.indices.style.size()).toBe(2);
  });

  it('makes sync a no-op when the indices are current', async () => {
    const store = await openStore();
    await ingest(store, ['a']);
    await store.save();
    const started = performance.now();
    for (let i = 0; i < 200; i++) await store.sync();
    const perSync = (performance.now() - started) / 200;
    console.info(`no-op sync: ${(perSync * 1000).toFixed(0)} µs`);
    expect(store.indices.semantic.isDirty()).toBe(false);
  });

  describe('rebuilds an unusable snapshot from the catalog', () => {
    async function damagedReopen(damage: () => void) {
      const first = await openStore();
      await ingest(first, ['a', 'b', 'c', 'd']);
      await first.catalog.delete((await first.catalog.findByHash(makeItem('b', random).contentHash))!.id);
      await first.sync();
      await first.close();
      damage();
      const second = await openStore();
      await expectConsistent(second);
      return second;
    }

    it('when the .hnsw is deleted', async () => {
      const store = await damagedReopen(() => rmSync(snapshotDataFile(dir, 'semantic')));
      expect(store.startup.semantic).toMatchObject({ status: 'unusable', reason: expect.stringMatching(/missing/) });
      expect(store.startup.style.status).toBe('loaded');
      expect(await store.indices.semantic.size()).toBe(3);
      // The rebuilt snapshot was saved: the next open loads it.
      await store.close();
      expect((await openStore()).startup.semantic.status).toBe('loaded');
    });

    it('when the .hnsw is corrupted', async () => {
      const store = await damagedReopen(() => {
        const path = snapshotDataFile(dir, 'style');
        const bytes = readFileSync(path);
        bytes.fill(7, 64, 256);
        writeFileSync(path, bytes);
      });
      expect(store.startup.style).toMatchObject({ status: 'unusable', reason: expect.stringMatching(/checksum/) });
      expect(await store.indices.style.size()).toBe(3);
    });

    it('when both snapshots are gone', async () => {
      const store = await damagedReopen(() => {
        for (const name of readdirSync(dir).filter((n) => !n.startsWith('catalog'))) rmSync(join(dir, name));
      });
      expect(store.startup.semantic.status).toBe('missing');
      expect(await store.indices.semantic.size()).toBe(3);
    });

    it('when the HNSW parameters changed', async () => {
      const first = await openStore();
      await ingest(first, ['a', 'b']);
      await first.close();
      const second = await openStore(dir, { ...HNSW, M: 8 });
      expect(second.startup.semantic).toMatchObject({ status: 'unusable', reason: expect.stringMatching(/M 16, expected 8/) });
      await expectConsistent(second);
    });

    it('when the snapshot is ahead of the catalog', async () => {
      const { dir: otherDir, cleanup: cleanupOther } = tempDir('parasol-embedded-other-');
      try {
        const bigger = await openStore(otherDir);
        await ingest(bigger, ['x']);
        await ingest(bigger, ['y']);
        await bigger.close();
        const smaller = await openStore();
        await ingest(smaller, ['a']);
        await smaller.close();
        const data = snapshotDataFile(otherDir, 'semantic');
        copyFileSync(data, join(dir, data.split('/').pop()!));
        copyFileSync(join(otherDir, 'semantic.json'), join(dir, 'semantic.json'));
        const reopened = await openStore();
        expect(reopened.startup.semantic).toMatchObject({
          status: 'unusable',
          reason: expect.stringMatching(/version 2, the catalog at 1/),
        });
        await expectConsistent(reopened);
      } finally {
        cleanupOther();
      }
    });
  });

  it('rebuilds on demand, reporting progress, while keeping the indices usable', async () => {
    const store = await openStore();
    const names = Array.from({ length: 1200 }, (_, i) => `r${i}`);
    for (let i = 0; i < names.length; i += 400) await ingest(store, names.slice(i, i + 400));
    const progress: RebuildProgress[] = [];
    await store.rebuild((p) => progress.push(p));
    expect(progress[0]).toEqual({ done: 0, total: 1200 });
    expect(progress.at(-1)).toEqual({ done: 1200, total: 1200 });
    await expectConsistent(store);
    expect(store.indices.semantic.isDirty()).toBe(false);
  });

  it('refuses a data directory built with other dimensions', async () => {
    const store = await openStore();
    await ingest(store, ['a']);
    await store.close();
    const attempt = openEmbeddedStore({ dataDir: dir, dims: { semantic: DIMS.semantic, style: 4 }, hnsw: HNSW });
    await expect(attempt).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/8-d style/) });
    // The failed open released the database: a correct open still works.
    await expectConsistent(await openStore());
  });

  it('fails clearly after close and tolerates a second close', async () => {
    const store = await openStore();
    await store.close();
    await store.close();
    await expect(store.sync()).rejects.toMatchObject({ code: 'NOT_READY' });
    await expect(store.indices.semantic.search(new Float32Array(DIMS.semantic), 1)).rejects.toMatchObject({ code: 'NOT_READY' });
  });
});
