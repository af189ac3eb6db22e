/**
 * The artwork corpus (corpus/openclipart.ts) on a handful of SVGs written like the files of
 * Debian's openclipart-svg package (fixtures/openclipart mirrors its layout): metadata, licence,
 * fetching with stand-ins for apt-get (no apt in tests), and indexing through the ingest pipeline
 * and `parasol index --demo artwork`.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';
import { loadEncoders, type LoadedEncoders } from '../../src/encoders/index.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import {
  fetchOpenClipArt,
  licenseFromCopyright,
  openClipArtDir,
  parseSvgMetadata,
  readOpenClipArt,
  type ArtworkCorpus,
} from '../../corpus/openclipart.js';
import { ingest } from '../../indexer/ingest.js';
import { artworkSource, renderSvg } from '../../indexer/sources/artwork.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PACKAGE = path.join(HERE, 'fixtures', 'openclipart');
const SVG_DIR = path.join(PACKAGE, 'usr/share/openclipart/svg');
const TINY_PACK = path.resolve(HERE, '../fixtures/tiny-pack');
const LICENSE = 'Creative Commons Public Domain Dedication';

const temps: string[] = [];
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('Open Clip Art metadata', () => {
  it('reads the work\'s title, subjects and creator, not the publisher\'s or rights holder\'s titles', () => {
    const svg = `<svg><metadata><rdf:RDF><cc:Work rdf:about="">
      <dc:publisher><cc:Agent><dc:title>Open Clip Art Library</dc:title></cc:Agent></dc:publisher>
      <dc:title>Fish &amp; chips &#x2014; &lt;takeaway&gt;</dc:title>
      <dc:subject><rdf:Bag><rdf:li>food</rdf:li><rdf:li> fish </rdf:li><rdf:li></rdf:li><rdf:li>unsorted</rdf:li><rdf:li>food</rdf:li></rdf:Bag></dc:subject>
      <dc:creator><cc:Agent><dc:title>A. Artist</dc:title></cc:Agent></dc:creator>
      <dc:rights><cc:Agent><dc:title>Someone Else</dc:title></cc:Agent></dc:rights>
    </cc:Work></rdf:RDF></metadata></svg>`;
    expect(parseSvgMetadata(svg)).toEqual({ title: 'Fish & chips — <takeaway>', subjects: ['food', 'fish'], creator: 'A. Artist' });
  });

  it('takes a plain-text subject list, and gives nothing for what is missing', () => {
    expect(parseSvgMetadata('<svg><metadata><cc:Work><dc:subject>fruit, apple; red</dc:subject></cc:Work></metadata></svg>')).toEqual({
      title: undefined,
      subjects: ['fruit', 'apple', 'red'],
      creator: undefined,
    });
    expect(parseSvgMetadata('<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>')).toEqual({ title: undefined, subjects: [], creator: undefined });
  });

  it('reads the licence from the package\'s copyright file', () => {
    expect(licenseFromCopyright('Upstream Authors:\n x\n\nCopyright:\n\n creative commons Public Domain Dedication\n\n more')).toBe(LICENSE);
    expect(licenseFromCopyright('Copyright:\n\n  CC0 1.0 Universal\n')).toBe('CC0 1.0 Universal');
    expect(licenseFromCopyright('')).toBe('unknown');
  });

  it('lists every drawing of the unpacked package with its category, skipping symlinked duplicates', async () => {
    const dir = await tempDir('parasol-openclipart-');
    await cp(PACKAGE, dir, { recursive: true });
    // The package files some drawings under a second category as a symlink to the first.
    await mkdir(path.join(dir, 'usr/share/openclipart/svg/animals/insects'), { recursive: true });
    await symlink('../bugs/ladybird_nicu_buculei_01.svg', path.join(dir, 'usr/share/openclipart/svg/animals/insects/ladybird_nicu_buculei_01.svg'));
    const corpus = await readOpenClipArt(dir);
    expect(corpus.license).toBe(LICENSE);
    expect(corpus.items).toEqual([
      {
        id: 'openclipart:animals~bugs~ladybird_nicu_buculei_01',
        path: 'animals/bugs/ladybird_nicu_buculei_01.svg',
        title: 'ladybird',
        keywords: ['insect', 'animal', 'bug'],
        creator: 'Nicu Buculei',
        category: 'animals/bugs',
      },
      {
        id: 'openclipart:food~cheese_~_crackers_gerald_g_01',
        path: 'food/cheese_&_crackers_gerald_g_01.svg',
        title: 'Cheese & crackers <snack>',
        keywords: ['food', 'cheese'],
        creator: 'Gerald G.',
        category: 'food',
      },
      {
        id: 'openclipart:food~red_apple_danny_allen_01',
        path: 'food/red_apple_danny_allen_01.svg',
        title: 'red apple',
        keywords: ['fruit', 'apple', 'food'],
        creator: 'Danny Allen',
        category: 'food',
      },
      // No title: the file's name; no creator agent: none.
      { id: 'openclipart:unsorted~scribble_02', path: 'unsorted/scribble_02.svg', title: 'scribble 02', keywords: [], category: 'unsorted' },
    ]);
    for (const item of corpus.items) expect(item.id).toMatch(/^[A-Za-z0-9._:~-]{1,128}$/);
  });

  it('says how to fetch the corpus when it is not there', async () => {
    const dir = await tempDir('parasol-openclipart-none-');
    await expect(readOpenClipArt(dir)).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('parasol corpus fetch openclipart') });
  });
});

describe('fetching the package', () => {
  it('fails with one line naming the package when apt-get cannot be run', async () => {
    const data = await tempDir('parasol-openclipart-data-');
    const error = await fetchOpenClipArt(data, { aptGet: path.join(data, 'no-such-apt-get') }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UNPROCESSABLE' });
    const message = (error as Error).message;
    expect(message).toContain('openclipart-svg');
    expect(message).not.toContain('\n');
  });

  it('fails with the package manager\'s own reason when the download fails, and leaves nothing behind', async () => {
    const data = await tempDir('parasol-openclipart-data-');
    const aptGet = path.join(data, 'apt-get');
    await writeFile(aptGet, '#!/bin/sh\necho "W: a warning that is not the reason" >&2\necho "E: Unable to locate package $2" >&2\nexit 100\n');
    await chmod(aptGet, 0o755);
    const error = (await fetchOpenClipArt(data, { aptGet }).catch((e: unknown) => e)) as Error;
    expect(error.message).toContain('E: Unable to locate package openclipart-svg');
    expect(error.message).not.toContain('\n');
    expect(execFileSync('ls', ['-A', path.join(data, 'corpora')], { encoding: 'utf8' }).trim()).toBe('');
  });

  it.skipIf(!hasCommand('dpkg-deb'))('downloads the .deb into a temp folder and unpacks it into the data dir, replacing an older copy', async () => {
    const data = await tempDir('parasol-openclipart-data-');
    // A real .deb of the fixtures, which a stand-in apt-get "downloads" into its working folder.
    const build = path.join(data, 'build');
    await cp(PACKAGE, build, { recursive: true });
    await mkdir(path.join(build, 'DEBIAN'));
    await writeFile(path.join(build, 'DEBIAN/control'), 'Package: openclipart-svg\nVersion: 1:0.18+dfsg-19\nArchitecture: all\nMaintainer: Test <test@example.org>\nDescription: test copy\n');
    const deb = path.join(data, 'openclipart-svg.deb');
    execFileSync('dpkg-deb', ['--build', '--root-owner-group', build, deb], { stdio: 'ignore' });
    const aptGet = path.join(data, 'apt-get');
    await writeFile(aptGet, `#!/bin/sh\n[ "$1" = download ] && [ "$2" = openclipart-svg ] || exit 1\ncp '${deb}' ./openclipart-svg_1%3a0.18+dfsg-19_all.deb\n`);
    await chmod(aptGet, 0o755);
    await mkdir(path.join(openClipArtDir(data), 'stale'), { recursive: true });

    const corpus = await fetchOpenClipArt(data, { aptGet });
    expect(corpus.dir).toBe(openClipArtDir(data));
    expect(corpus.items.map((item) => item.title)).toEqual(['ladybird', 'Cheese & crackers <snack>', 'red apple', 'scribble 02']);
    expect(corpus.license).toBe(LICENSE);
    const left = execFileSync('ls', ['-A', path.join(data, 'corpora')], { encoding: 'utf8' }).trim().split('\n');
    expect(left).toEqual(['openclipart']); // no temp folder, no .deb
    expect(execFileSync('ls', ['-A', corpus.dir], { encoding: 'utf8' }).trim().split('\n')).toEqual(['usr']);
  });
});

describe('indexing the artwork corpus', () => {
  let encoders: LoadedEncoders;
  let corpus: ArtworkCorpus;

  beforeAll(async () => {
    encoders = await loadEncoders({ packDir: TINY_PACK, device: 'cpu', threads: 1 });
    corpus = await readOpenClipArt(PACKAGE);
  });
  afterAll(async () => {
    await encoders?.dispose();
  });

  it('renders an SVG onto a white square at the size asked, whatever its own size', async () => {
    const tall = await renderSvg(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="40"><rect width="10" height="40" fill="#ff0000"/></svg>'), 64);
    const { data, info } = await sharp(tall).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([64, 64, 3]);
    const pixel = (x: number, y: number) => [...data.subarray((y * 64 + x) * 3, (y * 64 + x) * 3 + 3)];
    expect(pixel(32, 32)).toEqual([255, 0, 0]); // the drawing fills the height, centred
    expect(pixel(2, 32)).toEqual([255, 255, 255]); // white beside it
  });

  it('renders an SVG sized in physical units (cm, pt) without a viewBox, as old Inkscape files are', async () => {
    // A drawing of the package (public domain) whose width/height are "9cm"/"270pt": at a custom density
    // librsvg made it a few pixels wide, and the rendering came out blank white.
    const svg = await readFile(path.join(HERE, 'fixtures', 'apple_bitten_dan_gerhard_01.svg'));
    const { data, info } = await sharp(await renderSvg(svg, 64)).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([64, 64]);
    let drawn = 0;
    for (let i = 0; i < data.length; i += 3) if (Math.min(data[i], data[i + 1], data[i + 2]) < 250) drawn++;
    expect(drawn).toBeGreaterThan(64 * 64 * 0.3);
  });

  it('stores each drawing with its title, keywords as tags, creator, licence and source', async () => {
    const store = await openEmbeddedStore({
      dataDir: await tempDir('parasol-artwork-store-'),
      dims: { semantic: encoders.semanticDim, style: encoders.styleDim },
      hnsw: { M: 16, efConstruction: 100, efSearch: 64 },
    });
    try {
      const summary = await ingest(artworkSource(corpus, { renderSize: 64 }), encoders, store, { batchSize: 2, thumbnailSize: 64, maxPixels: 1_000_000, progress: null });
      expect(summary).toMatchObject({ added: 4, skipped: 0 });
      const ladybird = await store.catalog.get('openclipart:animals~bugs~ladybird_nicu_buculei_01');
      expect(ladybird).toMatchObject({
        title: 'ladybird',
        tags: ['insect', 'animal', 'bug'],
        keywords: ['animals', 'bugs'],
        source: 'openclipart',
        license: LICENSE,
        attribution: 'Nicu Buculei',
        extra: { kind: 'openclipart', category: 'animals/bugs', path: 'animals/bugs/ladybird_nicu_buculei_01.svg' },
      });
      const thumbnail = await store.catalog.thumbnail(ladybird!.id);
      expect(thumbnail).toBeDefined();
      expect((await store.catalog.get('openclipart:unsorted~scribble_02'))?.attribution).toBeFalsy(); // no creator: no attribution
    } finally {
      await store.close();
    }
  });
});

describe('parasol index --demo artwork and parasol corpus', () => {
  async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
    const saved = Object.fromEntries(Object.entries(process.env).filter(([key]) => key.startsWith('PARASOL_')));
    for (const key of Object.keys(saved)) delete process.env[key];
    Object.assign(process.env, { PARASOL_DEVICE: 'cpu', PARASOL_THREADS: '1', PARASOL_PACK: TINY_PACK });
    try {
      const code = await main(args);
      return { code, stdout, stderr };
    } finally {
      out.mockRestore();
      err.mockRestore();
      for (const key of Object.keys(process.env)) if (key.startsWith('PARASOL_')) delete process.env[key];
      Object.assign(process.env, saved);
    }
  }

  it('indexes the fetched corpus from the data dir', async () => {
    const data = await tempDir('parasol-artwork-cli-');
    await cp(PACKAGE, openClipArtDir(data), { recursive: true });
    const { code, stdout, stderr } = await cli(['index', '--demo', 'artwork', '--data', data, '--json']);
    expect(stderr).toContain('indexed: 4 added');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ added: 4, skipped: 0 });
    const search = await cli(['search', '--q', 'apple', '--data', data, '--json']);
    expect(search.code).toBe(0);
    expect(JSON.parse(search.stdout).results.every((r: { source: string }) => r.source === 'openclipart')).toBe(true);
  });

  it('answers in one line what cannot be done', async () => {
    const data = await tempDir('parasol-artwork-cli-');
    const missing = await cli(['index', '--demo', 'artwork', '--data', data]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^parasol index: NOT_FOUND: .*parasol corpus fetch openclipart/)]);
    const unknown = await cli(['index', '--demo', 'paintings', '--data', data]);
    expect(unknown).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown demo corpus "paintings" (emoji or artwork)') });
    expect(await cli(['corpus', 'fetch', 'wikimedia', '--data', data])).toMatchObject({ code: 2, stderr: expect.stringContaining('openclipart') });
    expect(await cli(['corpus', 'sing'])).toMatchObject({ code: 2, stderr: expect.stringContaining('corpus fetch openclipart') });
  });
});
