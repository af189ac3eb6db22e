/**
 * The artwork corpus exported for training (corpus/artwork-export.ts): fixed held-out artists and
 * categories, one item per drawing even when the package files it twice, and items.jsonl in the
 * emoji export's shape, through `parasol corpus export --corpus artwork`.
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';
import {
  HELD_OUT_ARTISTS,
  STYLE_MIN_WORKS,
  artworkSplitOf,
  artworkSplits,
  drawingOf,
  exportArtworkCorpus,
} from '../../corpus/artwork-export.js';
import { openClipArtDir } from '../../corpus/openclipart.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PACKAGE = path.join(HERE, 'fixtures', 'openclipart');

const temps: string[] = [];
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

function drawings(artists: Record<string, number>, categories: string[]) {
  const out: { creator?: string; category: string }[] = [];
  let n = 0;
  for (const [creator, works] of Object.entries(artists)) {
    for (let i = 0; i < works; i++) out.push({ creator, category: categories[n++ % categories.length] });
  }
  out.push({ category: categories[0] });
  return out;
}

describe('artwork splits', () => {
  const artists: Record<string, number> = {};
  for (let i = 0; i < 30; i++) artists[`artist ${i}`] = i < 3 ? 400 : i < 20 ? STYLE_MIN_WORKS + i : 5;
  const categories = Array.from({ length: 60 }, (_, i) => `topic${i % 6}/sub${i}`);
  const items = drawings(artists, categories);

  it('holds out a fixed number of mid-sized style artists and about 15% of the categories, the same every time', () => {
    const splits = artworkSplits(items);
    expect(splits.styleArtists).toHaveLength(20);
    expect(splits.heldOutArtists).toHaveLength(HELD_OUT_ARTISTS);
    for (const artist of splits.heldOutArtists) {
      expect(artists[artist]).toBeGreaterThanOrEqual(STYLE_MIN_WORKS);
      expect(artists[artist]).toBeLessThanOrEqual(150); // the largest artists stay in training
    }
    expect(splits.heldOutCategories.length).toBeGreaterThan(2);
    expect(splits.heldOutCategories.length).toBeLessThan(20);
    expect(artworkSplits([...items].reverse())).toEqual(splits);
  });

  it('gives each drawing the split of its artist and its category', () => {
    const splits = artworkSplits(items);
    const artist = splits.heldOutArtists[0];
    const category = splits.heldOutCategories[0];
    const other = categories.find((c) => !splits.heldOutCategories.includes(c)) as string;
    expect(artworkSplitOf({ creator: artist, category: other }, splits)).toBe('unseen-style');
    expect(artworkSplitOf({ creator: 'artist 25', category }, splits)).toBe('unseen-content');
    expect(artworkSplitOf({ creator: artist, category }, splits)).toBe('unseen-both');
    expect(artworkSplitOf({ category: other }, splits)).toBe('train');
  });

  it('compares drawings without their metadata', () => {
    const a = '<svg><metadata><dc:title>frog</dc:title></metadata><path d="M0 0"/></svg>';
    const b = '<svg><metadata>\n<dc:title>frogs</dc:title><dc:subject>bog</dc:subject></metadata><path\n  d="M0 0"/></svg>';
    expect(drawingOf(a)).toBe(drawingOf(b));
    expect(drawingOf(a)).not.toBe(drawingOf(a.replace('M0 0', 'M1 1')));
  });
});

describe('corpus export --corpus artwork', () => {
  async function dataDirWithFixtures(): Promise<string> {
    const data = await tempDir('parasol-artwork-data-');
    const dir = openClipArtDir(data);
    await mkdir(path.dirname(dir), { recursive: true });
    await cp(PACKAGE, dir, { recursive: true });
    // The package files a drawing a second time under another category, with other metadata.
    const svg = await readFile(path.join(dir, 'usr/share/openclipart/svg/food/red_apple_danny_allen_01.svg'), 'utf8');
    await mkdir(path.join(dir, 'usr/share/openclipart/svg/produce'), { recursive: true });
    await writeFile(
      path.join(dir, 'usr/share/openclipart/svg/produce/red_apple_danny_allen_01.svg'),
      svg.replace(/<metadata[\s\S]*?<\/metadata>/, '<metadata><dc:title>apple again</dc:title></metadata>'),
    );
    // A drawing with nothing visible renders blank white: it is left out.
    await writeFile(path.join(dir, 'usr/share/openclipart/svg/unsorted/empty_01.svg'), '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
    return data;
  }

  it('renders every distinct drawing at the size asked and writes items.jsonl in the emoji shape', async () => {
    const data = await dataDirWithFixtures();
    const out = await tempDir('parasol-artwork-out-');
    const summary = await exportArtworkCorpus({ dataDir: data, out, size: 32, progress: null });
    expect(summary).toMatchObject({ items: 4, duplicates: 1, rendered: 5, failed: 0, blank: 1 });
    const lines = (await readFile(path.join(out, 'items.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.id)).toEqual([
      'openclipart:animals~bugs~ladybird_nicu_buculei_01',
      'openclipart:food~cheese_~_crackers_gerald_g_01',
      'openclipart:food~red_apple_danny_allen_01',
      'openclipart:unsorted~scribble_02',
    ]);
    expect(lines[2]).toEqual({
      id: 'openclipart:food~red_apple_danny_allen_01',
      path: 'images/openclipart/food~red_apple_danny_allen_01.png',
      corpus: 'artwork',
      set: 'openclipart',
      codepoint: null,
      name: 'red apple',
      shortNames: [],
      keywords: ['fruit', 'apple', 'food'],
      category: 'food',
      subcategory: '',
      license: 'Creative Commons Public Domain Dedication',
      attribution: 'Danny Allen',
      artist: 'Danny Allen',
      split: expect.stringMatching(/^(train|unseen-content)$/),
    });
    expect(lines[3]).toMatchObject({ attribution: '', artist: null });
    for (const line of lines) {
      const meta = await sharp(path.join(out, line.path)).metadata();
      expect([meta.width, meta.height]).toEqual([32, 32]);
    }
    const description = JSON.parse(await readFile(path.join(out, 'corpus.json'), 'utf8'));
    expect(description).toMatchObject({ corpus: 'artwork', items: 4, duplicates: 1, blank: 1, size: 32, heldOutArtists: [] });

    const again = await exportArtworkCorpus({ dataDir: data, out, size: 32, progress: null });
    expect(again).toMatchObject({ items: 4, rendered: 0, reused: 5, blank: 1 });
  });

  it('is the CLI\'s `corpus export --corpus artwork`, and says what is wrong in one line', async () => {
    const data = await dataDirWithFixtures();
    const out = await tempDir('parasol-artwork-cli-');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['corpus', 'export', '--corpus', 'artwork', '--data', data, '--out', out, '--size', '16'])).toBe(0);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/exported 4 drawings .*1 duplicate files skipped, 0 unrenderable, 1 blank left out/);
      stderr.mockClear();
      expect(await main(['corpus', 'export', '--corpus', 'paintings', '--out', out])).not.toBe(0);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/--corpus must be emoji or artwork/);
    } finally {
      stderr.mockRestore();
    }
    expect((await readFile(path.join(out, 'items.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(4);
  });
});
