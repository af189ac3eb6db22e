import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCorpus } from '../../corpus/corpus.js';
import { exportCorpus } from '../../corpus/export.js';
import { nameVariants, slugify } from '../../corpus/mapping.js';
import { HELD_OUT_SETS, STYLE_SET_IDS } from '../../corpus/sets.js';
import { isUnseenContent, splitOf } from '../../corpus/split.js';
import { codepointOfChar, normalizeCodepoint } from '../../corpus/unicode.js';

const corpus = buildCorpus();
const find = (set: string, iconName: string) => corpus.items.find((i) => i.set === set && i.iconName === iconName);

describe('codepoints', () => {
  it('lowercases, drops FE0F and leading zeros', () => {
    expect(normalizeCodepoint('2764-FE0F')).toBe('2764');
    expect(normalizeCodepoint('0031-FE0F-20E3')).toBe('31-20e3');
    expect(codepointOfChar('❤️')).toBe('2764');
    expect(codepointOfChar('😀')).toBe('1f600');
  });
});

describe('name mapping', () => {
  it('finds the same emoji under different names in different sets', () => {
    // fxemoji runs old Unicode names together; noto ships chars.json with CLDR names.
    expect(find('fxemoji', 'fatherchristmas')?.codepoint).toBe('1f385');
    expect(find('noto', 'santa-claus')?.codepoint).toBe('1f385');
    expect(find('fxemoji', 'alienmonster')?.codepoint).toBe(find('noto', 'alien-monster')?.codepoint);
  });

  it('maps flag-for-X, bare country names and skin-tone suffixes', () => {
    expect(find('emojione', 'flag-for-armenia')?.codepoint).toBe('1f1e6-1f1f2');
    expect(find('streamline-emojis', 'india')?.codepoint).toBe('1f1ee-1f1f3');
    expect(find('emojione', 'ear-medium-light-skin-tone')?.codepoint).toBe('1f442-1f3fc');
  });

  it('sets without chars.json map by name', () => {
    const item = find('fluent-emoji', 'grinning-face');
    expect(item?.codepoint).toBe('1f600');
    expect(item?.match).toBe('name');
  });

  it('builds spelling variants for suffixes', () => {
    expect(nameVariants('man-artist-2')).toContain('man-artist');
    expect(nameVariants('flag-for-japan')).toContain('flag-japan');
    expect(nameVariants('thumbs-up-tone3')).toContain('thumbs-up-medium-skin-tone');
    expect(slugify('Piñata & Co.')).toBe('pinata-and-co');
  });

  it('maps at least 95% of icons and keeps unmapped ones without a codepoint', () => {
    expect(corpus.mappingRate).toBeGreaterThanOrEqual(0.95);
    const unmapped = corpus.items.filter((i) => i.codepoint === null);
    expect(unmapped.length).toBeGreaterThan(0);
    expect(unmapped.every((i) => i.match === null && i.id.includes(':~'))).toBe(true);
  });

  it('draws most contents in many styles', () => {
    const sets = new Map<string, number>();
    for (const item of corpus.items) if (item.codepoint) sets.set(item.codepoint, (sets.get(item.codepoint) ?? 0) + 1);
    const inEightOrMore = [...sets.values()].filter((n) => n >= 8).length;
    const inAll = [...sets.values()].filter((n) => n === STYLE_SET_IDS.length).length;
    expect(inEightOrMore).toBeGreaterThan(1000);
    expect(inAll).toBeGreaterThan(250);
  });

  it('has one item per (set, codepoint) and unique ids', () => {
    const ids = corpus.items.map((i) => i.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('records licence and attribution from the set metadata', () => {
    const licences = new Set(corpus.items.map((i) => i.license));
    expect([...licences].sort()).toEqual(['Apache-2.0', 'CC-BY-4.0', 'CC-BY-SA-4.0', 'MIT']);
    expect(find('openmoji', corpus.items.find((i) => i.set === 'openmoji')!.iconName)?.attribution).toMatch(/OpenMoji/);
  });
});

describe('splits', () => {
  it('holds out three whole sets and about 15% of codepoints', () => {
    expect([...HELD_OUT_SETS].sort()).toEqual(['emojione-monotone', 'fxemoji', 'twemoji']);
    for (const item of corpus.items) {
      const heldSet = HELD_OUT_SETS.has(item.set);
      expect(item.split === 'unseen-style' || item.split === 'unseen-both').toBe(heldSet);
    }
    const codepoints = [...new Set(corpus.items.flatMap((i) => (i.codepoint ? [i.codepoint] : [])))];
    const share = codepoints.filter(isUnseenContent).length / codepoints.length;
    expect(share).toBeGreaterThan(0.12);
    expect(share).toBeLessThan(0.18);
  });

  it('is a pure function of set and codepoint', () => {
    expect(splitOf('noto', '1f600')).toBe(splitOf('noto', '1f600'));
    expect(splitOf('twemoji', null)).toBe('unseen-style');
    expect(splitOf('noto', null)).toBe('train');
    const unseen = corpus.items.find((i) => i.split === 'unseen-content')!;
    expect(corpus.items.filter((i) => i.codepoint === unseen.codepoint && !HELD_OUT_SETS.has(i.set)).every((i) => i.split === 'unseen-content')).toBe(true);
  });
});

describe('corpus export', () => {
  const dirs: string[] = [];
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('writes 64 px images on white and items.jsonl, and resumes without re-rendering', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'parasol-corpus-'));
    dirs.push(out);
    const first = await exportCorpus({ out, size: 64, sets: ['streamline-emojis'], progress: null });
    expect(first.items).toBeGreaterThan(500);
    expect(first.rendered).toBe(first.items);
    const lines = (await readFile(path.join(out, 'items.jsonl'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(first.items);
    const record = JSON.parse(lines[0]) as Record<string, unknown>;
    for (const key of ['id', 'path', 'set', 'codepoint', 'name', 'keywords', 'category', 'license', 'attribution', 'split']) {
      expect(record).toHaveProperty(key);
    }
    const image = sharp(path.join(out, record.path as string));
    const meta = await image.metadata();
    expect([meta.width, meta.height]).toEqual([64, 64]);
    const { data } = await image.raw().toBuffer({ resolveWithObject: true });
    expect([data[0], data[1], data[2]]).toEqual([255, 255, 255]);
    const files = await readdir(path.join(out, 'images', 'streamline-emojis'));
    expect(files.every((f) => f.endsWith('.png'))).toBe(true);

    const second = await exportCorpus({ out, size: 64, sets: ['streamline-emojis'], progress: null });
    expect(second.rendered).toBe(0);
    expect(second.reused).toBe(first.items);
  });
});
