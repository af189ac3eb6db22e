/**
 * Packs imported from tiny random checkpoints of the real classes (transformers CLIPModel, an
 * OpenCLIP model, a timm ViT, a CSD-shaped CLIP tower) by `python -m parasol_export`, then used by
 * the TypeScript runtime: tokenizer ids identical to OpenCLIP's own tokenizer, text embeddings
 * identical to PyTorch's, and an index -> search round trip through the engine.
 * The Python side (check_export.py) asserts ONNX vs PyTorch parity and the importer's refusals.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEncoders, type LoadedEncoders } from '../../src/encoders/index.js';
import { readPack } from '../../src/encoders/pack.js';
import { loadTokenizer } from '../../src/encoders/text.js';
import { SearchEngine } from '../../src/search/engine.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import sharp from 'sharp';
import { packCommand } from '../../src/cli/pack.js';
import { buildTinyPacks, ROOT } from './python.js';

const IMAGES = path.join(ROOT, 'test/fixtures/tiny-pack/images');

interface Reference {
  strings: string[];
  context: number;
  openClipIds: number[][];
  packs: { hf: { ids: number[][]; text: number[][] }; openClip: { text: number[][] } };
  refusals: Record<string, string>;
}

let work: string;
let reference: Reference;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'parasol-export-'));
  await buildTinyPacks(work);
  reference = JSON.parse(await readFile(path.join(work, 'reference.json'), 'utf8')) as Reference;
}, 900_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe('an imported OpenCLIP pack', () => {
  it('tokenizes like OpenCLIP itself on punctuation, accents, emoji and a 100-word text', async () => {
    const pack = await readPack(path.join(work, 'open-clip-pack'));
    const spec = pack.manifest.semantic.text;
    expect(spec.specialTokens).toEqual({ start: 49406, end: 49407, pad: 0 });
    const tokenizer = await loadTokenizer(pack.dir, spec.tokenizer, pack.manifest.name, spec.specialTokens);
    expect(reference.strings.length).toBeGreaterThanOrEqual(20);
    reference.strings.forEach((text, i) => {
      expect(tokenizer.tokenize(text, spec.maxTokens).ids, text).toEqual(reference.openClipIds[i]);
    });
    const long = tokenizer.tokenize(reference.strings.at(-1) as string, spec.maxTokens);
    expect(long.length).toBe(spec.maxTokens);
    expect(long.ids.at(-1)).toBe(49407);
  });

  it('embeds texts as the PyTorch model does (<= 1e-4)', async () => {
    const encoders = await loadEncoders({ packDir: path.join(work, 'open-clip-pack'), device: 'cpu', threads: 1, cacheSize: 0 });
    try {
      const vectors = await encoders.semanticText.embedTexts(reference.strings);
      vectors.forEach((v, i) => expect(maxDiff(v, reference.packs.openClip.text[i])).toBeLessThanOrEqual(1e-4));
    } finally {
      await encoders.dispose();
    }
  });
});

describe('an imported Hugging Face CLIP pack with a CSD style tower', () => {
  it('frames, pads and embeds texts as transformers does (<= 1e-4), padding a batch only to its longest text', async () => {
    const packDir = path.join(work, 'hf-pack');
    const pack = await readPack(packDir);
    const spec = pack.manifest.semantic.text;
    // The references are PyTorch's embeddings of fully padded ids: the trimmed feeds must match them.
    expect(spec.trimPadding).toBe(true);
    const tokenizer = await loadTokenizer(pack.dir, spec.tokenizer, pack.manifest.name, spec.specialTokens);
    reference.strings.forEach((text, i) => expect(tokenizer.tokenize(text, spec.maxTokens).ids, text).toEqual(reference.packs.hf.ids[i]));
    expect(pack.manifest.semantic.image.preprocess).toMatchObject({ size: 32, resize: 'shortest', shortestSide: 36 });
    const encoders = await loadEncoders({ packDir, device: 'cpu', threads: 1, cacheSize: 0 });
    try {
      const vectors = await encoders.semanticText.embedTexts(reference.strings);
      vectors.forEach((v, i) => expect(maxDiff(v, reference.packs.hf.text[i])).toBeLessThanOrEqual(1e-4));
      expect(encoders.styleDim).toBe(12);
    } finally {
      await encoders.dispose();
    }
  });
});

describe('search with an imported pack (OpenCLIP + timm ViT style)', () => {
  let encoders: LoadedEncoders;
  let dataDir: string;

  afterAll(async () => {
    await encoders?.dispose();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('indexes images and finds each by its own bytes; text queries score every result', async () => {
    encoders = await loadEncoders({ packDir: path.join(work, 'open-clip-pack'), device: 'cpu', threads: 1 });
    dataDir = await mkdtemp(path.join(tmpdir(), 'parasol-export-store-'));
    const dims = { semantic: encoders.semanticDim, style: encoders.styleDim };
    expect(dims).toEqual({ semantic: 24, style: 20 });
    const store = await openEmbeddedStore({ dataDir, dims, hnsw: { M: 16, efConstruction: 100, efSearch: 100 } });
    try {
      const files = (await readdir(IMAGES)).filter((f) => f.endsWith('.png')).sort();
      const originals = await Promise.all(files.map(async (name) => ({ name, bytes: await readFile(path.join(IMAGES, name)) })));
      // Hue-rotated copies: enough distinct images to fit text -> style on (at least 10).
      const variants = await Promise.all(
        originals.flatMap((image) =>
          [90, 200].map(async (hue) => ({
            name: image.name.replace('.png', `-hue${hue}.png`),
            bytes: await sharp(image.bytes).modulate({ hue }).png().toBuffer(),
          })),
        ),
      );
      const images = [...originals, ...variants];
      const descriptors = await encoders.describeImages(images.map((i) => i.bytes));
      await store.catalog.addBatch(
        images.map((image, i) => ({
          id: image.name.replace('.png', ''),
          contentHash: createHash('sha256').update(image.bytes).digest('hex'),
          source: 'fixtures',
          title: image.name,
          tags: [],
          width: 32,
          height: 32,
          semantic: descriptors[i].semantic,
          style: descriptors[i].style,
        })),
      );
      await store.sync();
      const engine = new SearchEngine({ catalog: store.catalog, indices: store.indices, encoders });
      const query = images[2];
      const own = await engine.search({ contentImage: query.bytes, styleImage: query.bytes, k: 3 });
      expect(own.results[0].id).toBe(query.name.replace('.png', ''));
      expect(own.results[0].scores.content).toBeCloseTo(1, 4);
      expect(own.results[0].scores.style).toBeCloseTo(1, 4);

      const text = await engine.search({ q: 'cat', k: images.length });
      expect(text.results).toHaveLength(images.length);
      for (const r of text.results) expect(Number.isFinite(r.scores.content)).toBe(true);

      // No text-to-style model was imported: a style text query says so, in one line.
      await expect(engine.search({ style: 'ink wash', k: 3 })).rejects.toMatchObject({
        code: 'UNPROCESSABLE',
        message: expect.stringMatching(/has no text-to-style model \(style\.text in pack\.json\)/),
      });
    } finally {
      await store.close({ save: false });
    }
  });

  it('answers style text queries after fit-text-style maps the semantic space to the style space', async () => {
    const packDir = path.join(work, 'open-clip-pack');
    await packCommand.run(['fit-text-style', '--pack', packDir, '--data', dataDir]);
    const manifest = (await readPack(packDir)).manifest;
    expect(manifest.style.textMap).toMatchObject({ file: 'style_text_map.bin' });
    expect(manifest.style.textMap?.pairs).toBeGreaterThanOrEqual(10);
    const fitted = await loadEncoders({ packDir, device: 'cpu', threads: 1 });
    const store = await openEmbeddedStore({
      dataDir,
      dims: { semantic: fitted.semanticDim, style: fitted.styleDim },
      hnsw: { M: 16, efConstruction: 100, efSearch: 100 },
    });
    try {
      const [style] = await fitted.styleText.embedTexts(['ink wash']);
      expect(style).toHaveLength(20);
      expect(Math.hypot(...style)).toBeCloseTo(1, 5);
      const engine = new SearchEngine({ catalog: store.catalog, indices: store.indices, encoders: fitted });
      const response = await engine.search({ style: 'ink wash', k: 5 });
      expect(response.results).toHaveLength(5);
      for (const r of response.results) expect(Number.isFinite(r.scores.style)).toBe(true);
    } finally {
      await store.close({ save: false });
      await fitted.dispose();
    }
  });

  it('refuses a stored index whose dimensions differ from the pack', async () => {
    const tiny = await loadEncoders({ packDir: path.join(ROOT, 'test/fixtures/tiny-pack'), device: 'cpu', threads: 1 });
    const dims = { semantic: tiny.semanticDim, style: tiny.styleDim };
    await tiny.dispose();
    expect(dims).not.toEqual({ semantic: 24, style: 20 });
    const error = await openEmbeddedStore({ dataDir, dims, hnsw: { M: 16, efConstruction: 100, efSearch: 100 } }).then(
      async (store) => {
        await store.close({ save: false });
        return undefined;
      },
      (e: unknown) => e as Error & { code?: string },
    );
    expect(error?.code).toBe('CONFIG_INVALID');
    expect(error?.message).toMatch(/holds 24-d semantic and 20-d style vectors/);
    expect(error?.message).not.toContain('\n');
  });
});

describe('the importer refuses in one line', () => {
  it('an unsupported architecture, and a truncated weights file, leaving no pack behind', () => {
    for (const line of Object.values(reference.refusals)) expect(line).not.toContain('\n');
    expect(reference.refusals.architecture).toMatch(/^error: unsupported architecture 'resnet50'/);
    expect(reference.refusals.openClipArchitecture).toMatch(/^error: unsupported architecture 'RN50'/);
    expect(reference.refusals.truncated).toMatch(/model\.safetensors: cannot read the weights \(truncated or corrupt file\?/);
  });

  it('a pack with neither a style tower nor style statistics, naming both ways to get one', async () => {
    const { cp, writeFile } = await import('node:fs/promises');
    const dir = path.join(work, 'clip-only');
    await cp(path.join(work, 'hf-pack'), dir, { recursive: true });
    const manifest = JSON.parse(await readFile(path.join(dir, 'pack.json'), 'utf8')) as Record<string, unknown>;
    delete manifest.style;
    await writeFile(path.join(dir, 'pack.json'), JSON.stringify(manifest));
    await expect(readPack(dir)).rejects.toThrow(
      /has no style tower \("style"\) and no style statistics from its vision tower; add a style encoder with `parasol pack import style.*or re-import the CLIP checkpoint/,
    );
  });
});

/** Fixture images and hue-rotated copies: distinct pictures to fit on. */
async function fixtureImages(): Promise<Array<{ name: string; bytes: Buffer }>> {
  const files = (await readdir(IMAGES)).filter((f) => f.endsWith('.png')).sort();
  const originals = await Promise.all(files.map(async (name) => ({ name, bytes: await readFile(path.join(IMAGES, name)) })));
  const variants = await Promise.all(
    originals.flatMap((image) =>
      [60, 140, 220].map(async (hue) => ({ name: image.name.replace('.png', `-hue${hue}.png`), bytes: await sharp(image.bytes).modulate({ hue }).png().toBuffer() })),
    ),
  );
  return [...originals, ...variants];
}

describe('a CLIP-only pack: the weights-free style descriptor from its vision tower', () => {
  it('is refused until its projection is fitted, naming the command; pack check says so and times the statistics', async () => {
    await expect(loadEncoders({ packDir: path.join(work, 'clip-only-pack'), device: 'cpu', threads: 1 })).rejects.toThrow(
      /describes styles by its vision tower's statistics \(style_stats\.onnx\) but has no projection fitted yet; run `parasol pack fit-style --pack /,
    );
    const { vi } = await import('vitest');
    let stdout = '';
    const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
    try {
      await packCommand.run(['check', path.join(work, 'clip-only-pack'), '--json', '--runs', '1', '--device', 'cpu']);
    } finally {
      out.mockRestore();
    }
    const report = JSON.parse(stdout) as { style: { imageMs: number; statistics?: string } };
    expect(report.style.statistics).toBe('128 statistics, projection NOT fitted: run `parasol pack fit-style`');
    expect(report.style.imageMs).toBeGreaterThan(0);
  });

  it('fit-style fits PCA-whitening on a folder; styles are then described, searched and refined by', async () => {
    const packDir = path.join(work, 'clip-only-copy');
    const { cp, mkdir, writeFile } = await import('node:fs/promises');
    await cp(path.join(work, 'clip-only-pack'), packDir, { recursive: true });
    const folder = path.join(work, 'fit-images');
    await mkdir(folder, { recursive: true });
    const images = await fixtureImages();
    for (const image of images) await writeFile(path.join(folder, image.name), image.bytes);
    await packCommand.run(['fit-style', '--pack', packDir, '--images', folder, '--dim', '8']);
    const manifest = (await readPack(packDir)).manifest;
    expect(manifest.style.dim).toBe(8);
    expect(manifest.style.statistics).toMatchObject({ dim: 2 * 2 * 32, projection: { file: 'style_projection.bin', kind: 'pca-whiten', power: 1, images: images.length } });

    const encoders = await loadEncoders({ packDir, device: 'cpu', threads: 1 });
    const dataDir = await mkdtemp(path.join(tmpdir(), 'parasol-clip-only-'));
    const store = await openEmbeddedStore({ dataDir, dims: { semantic: encoders.semanticDim, style: 8 }, hnsw: { M: 16, efConstruction: 100, efSearch: 100 }, pack: encoders.stamp });
    try {
      const descriptors = await encoders.describeImages(images.map((i) => i.bytes));
      for (const d of descriptors) expect(Math.hypot(...d.style)).toBeCloseTo(1, 5);
      // Single queries (main thread) and batches (worker) give the same style vector.
      const [single] = await encoders.styleImage.embedImages([images[1].bytes]);
      expect(maxDiff(single, descriptors[1].style)).toBeLessThan(1e-5);
      await store.catalog.addBatch(
        images.map((image, i) => ({
          id: image.name.replace('.png', ''),
          contentHash: createHash('sha256').update(image.bytes).digest('hex'),
          source: 'fixtures',
          title: image.name,
          tags: [],
          width: 32,
          height: 32,
          semantic: descriptors[i].semantic,
          style: descriptors[i].style,
        })),
      );
      await store.sync();
      const engine = new SearchEngine({ catalog: store.catalog, indices: store.indices, encoders });
      const own = await engine.search({ styleImage: images[4].bytes, k: 3 });
      expect(own.results[0].id).toBe(images[4].name.replace('.png', ''));
      expect(own.results[0].scores.style).toBeCloseTo(1, 4);
      // "More like this style": an item's stored style vector as the query, and as refinement feedback.
      const byItem = await engine.search({ styleItemId: own.results[0].id, k: 5 });
      expect(byItem.results).toHaveLength(5);
      expect(byItem.results.map((r) => r.id)).not.toContain(own.results[0].id);
      const styleScores = byItem.results.map((r) => r.scores.style as number);
      for (const score of styleScores) expect(Number.isFinite(score)).toBe(true);
      expect([...styleScores].sort((a, b) => b - a)).toEqual(styleScores);
      const refined = await engine.search({ q: 'cat', like: { style: [byItem.results[1].id] }, k: 5 });
      for (const r of refined.results) expect(Number.isFinite(r.scores.style)).toBe(true);
      // No text-to-style model: style text queries still answer the one-line refusal until fit-text-style.
      await expect(engine.search({ style: 'ink wash', k: 3 })).rejects.toMatchObject({ code: 'UNPROCESSABLE' });
    } finally {
      await store.close({ save: false });
      await encoders.dispose();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

/** Runs `parasol <args>` in this process with PARASOL_PACK set, capturing its output. */
async function parasol(pack: string, args: string[], onStderr?: (line: string) => void): Promise<{ code: number; stdout: string; stderr: string }> {
  const { main } = await import('../../src/cli.js');
  const { vi } = await import('vitest');
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    onStderr?.(String(chunk));
    return true;
  });
  const before = process.env.PARASOL_PACK;
  process.env.PARASOL_PACK = pack;
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    if (before === undefined) delete process.env.PARASOL_PACK;
    else process.env.PARASOL_PACK = before;
    out.mockRestore();
    err.mockRestore();
  }
}

describe('a demo index moved to an imported tiny random CLIP pack with `parasol reindex`', () => {
  it('is refused before, re-encoded from its stored images, and then answers `parasol search --q "cat" --json` with finite scores', async () => {
    const { cp } = await import('node:fs/promises');
    const { loadConfig } = await import('../../src/config.js');
    const { openContext } = await import('../../src/context.js');
    const { buildDemoIndex } = await import('../../indexer/demo-index.js');
    const tinyPack = path.join(ROOT, 'test/fixtures/tiny-pack');
    const clipPack = path.join(work, 'clip-for-demo');
    await cp(path.join(work, 'clip-only-pack'), clipPack, { recursive: true });
    const dataDir = await mkdtemp(path.join(tmpdir(), 'parasol-demo-reindex-'));
    try {
      const context = await openContext(loadConfig({ dataDir, packDir: tinyPack, device: 'cpu' }));
      try {
        const summary = await buildDemoIndex(context, { limit: 30, progress: null });
        expect(summary.added).toBeGreaterThanOrEqual(20);
      } finally {
        await context.close();
      }
      // The CLIP-only pack's style projection, fitted on the demo index's stored images (re-rendered SVGs).
      await packCommand.run(['fit-style', '--pack', clipPack, '--data', dataDir, '--dim', '8']);

      const refused = await parasol(clipPack, ['search', '--q', 'cat', '--json', '--data', dataDir]);
      expect(refused.code).toBe(1);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      expect(refused.stderr).toMatch(/built with the model pack "tiny" \([0-9a-f]{16}\), not "[^"]+" \([0-9a-f]{16}\); run `parasol reindex`/);

      // Ctrl-C after the first batch: it stops cleanly, the half re-encoded index refuses to open, a rerun resumes.
      const { writeFile } = await import('node:fs/promises');
      const configFile = path.join(dataDir, 'small-batches.json');
      await writeFile(configFile, JSON.stringify({ ingest: { batchSize: 8 } }));
      process.env.PARASOL_CONFIG = configFile;
      try {
        let interrupted = false;
        const stopped = await parasol(clipPack, ['reindex', '--data', dataDir], (line) => {
          if (interrupted || !/^re-encoded [1-9]\d*\/\d+ /.test(line)) return;
          interrupted = true;
          process.emit('SIGINT');
        });
        expect(stopped.code).toBe(0);
        expect(stopped.stderr).toMatch(/re-encoding the index \(built with "tiny" \([0-9a-f]{16}\)\) with the model pack/);
        expect(stopped.stderr).toMatch(/re-encoding interrupted after 8 items .*run `parasol reindex` again to resume/);
        const half = await parasol(clipPack, ['search', '--q', 'cat', '--json', '--data', dataDir]);
        expect(half.code).toBe(1);
        expect(half.stderr).toMatch(/is half re-encoded with the model pack "[^"]+" \([0-9a-f]{16}\); run `parasol reindex` with that pack to finish/);

        const reindexed = await parasol(clipPack, ['reindex', '--data', dataDir]);
        expect(reindexed.stderr).toMatch(/re-encoded \d+ items in [\d.]+ s, resuming after 8 done before/);
        expect(reindexed.code).toBe(0);
      } finally {
        delete process.env.PARASOL_CONFIG;
      }

      const searched = await parasol(clipPack, ['search', '--q', 'cat', '--json', '--data', dataDir]);
      expect(searched.code).toBe(0);
      const { results } = JSON.parse(searched.stdout) as { results: Array<{ score: number; scores: Record<string, number | null> }> };
      expect(results.length).toBeGreaterThan(0);
      for (const r of results) {
        expect(Number.isFinite(r.score)).toBe(true);
        expect(Number.isFinite(r.scores.content)).toBe(true);
      }
      // Back to the pack it was built with: now that one is refused.
      const back = await parasol(tinyPack, ['search', '--q', 'cat', '--json', '--data', dataDir]);
      expect(back.code).toBe(1);
      expect(back.stderr).toMatch(/built with the model pack "[^"]+" \([0-9a-f]{16}\), not "tiny"/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
