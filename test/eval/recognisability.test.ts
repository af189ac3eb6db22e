import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chanceLevels, recognisability, sourceCeiling } from '../../src/eval/recognisability.js';
import { openEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.js';
import type { ItemInput } from '../../src/store/types.js';
import { CONTENTS, fakeImage, FakeEncoders, SEMANTIC_DIM, STYLE_DIM, STYLES, textVector } from '../search/helpers.js';

/** Items whose codepoint is their content word and whose source is their style set, as in the demo index. */
function demoLikeItems(): ItemInput[] {
  const items: ItemInput[] = [];
  for (const content of CONTENTS) {
    for (const style of STYLES) {
      for (let variant = 0; variant < 3; variant++) {
        const id = `${style}:${content}:${variant}`;
        items.push({
          id,
          contentHash: createHash('sha256').update(id).digest('hex'),
          source: style,
          title: content,
          tags: [],
          width: 64,
          height: 64,
          extra: { codepoint: content },
          semantic: textVector('semantic', content),
          style: textVector('style', style),
        });
      }
    }
  }
  return items;
}

describe('recognisability through the index', () => {
  let dir: string;
  let store: EmbeddedStore;
  const encoders = new FakeEncoders();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'parasol-recognise-'));
    store = await openEmbeddedStore({ dataDir: dir, dims: { semantic: SEMANTIC_DIM, style: STYLE_DIM }, hnsw: { M: 16, efConstruction: 200, efSearch: 200 } });
    await store.catalog.addBatch(demoLikeItems());
    await store.sync();
  });
  afterAll(async () => {
    await store.close({ save: false });
    await rm(dir, { recursive: true, force: true });
  });

  it('recognises images that show the target content in the target style', async () => {
    const figures = await recognisability(
      store,
      encoders,
      [fakeImage('cat', 'ink'), fakeImage('dog', 'oil')],
      [
        { codepoint: 'cat', set: 'ink' },
        { codepoint: 'dog', set: 'oil' },
      ],
    );
    expect(figures).toEqual({ images: 2, content: 1, styleSet: 1, styleShare: 1 });
  });

  it('counts an image in the wrong style as content-only, and one of other content as style-only', async () => {
    const figures = await recognisability(
      store,
      encoders,
      [fakeImage('cat', 'pixel'), fakeImage('boat', 'ink')],
      [
        { codepoint: 'cat', set: 'ink' },
        { codepoint: 'dog', set: 'ink' },
      ],
    );
    expect(figures.content).toBe(0.5);
    expect(figures.styleSet).toBe(0.5);
    expect(figures.styleShare).toBe(0.5);
  });

  it('judges the sources themselves for the ceiling: y for its content, s for its set', async () => {
    const ceiling = await sourceCeiling(store, encoders, [fakeImage('tree', 'oil')], [fakeImage('bird', 'watercolor')], [{ codepoint: 'tree', set: 'watercolor' }]);
    expect(ceiling).toEqual({ images: 1, content: 1, styleSet: 1, styleShare: 1 });
  });

  it('gives chance levels from the index counts', async () => {
    const chance = await chanceLevels(store.catalog, (c) => (c === 'cat' ? 12 : 0), [{ codepoint: 'cat', set: 'ink' }]);
    const items = CONTENTS.length * STYLES.length * 3;
    expect(chance.styleShare).toBeCloseTo(1 / STYLES.length, 10);
    expect(chance.content).toBeCloseTo(1 - (1 - 12 / items) ** 10, 10);
  });

  it('refuses mismatched images and targets', async () => {
    await expect(recognisability(store, encoders, [fakeImage('cat', 'ink')], [])).rejects.toThrow(/1 images for 0 targets/);
  });
});
