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

  it('a CLIP-only pack, naming the missing style tower', async () => {
    const { cp, writeFile } = await import('node:fs/promises');
    const dir = path.join(work, 'clip-only');
    await cp(path.join(work, 'hf-pack'), dir, { recursive: true });
    const manifest = JSON.parse(await readFile(path.join(dir, 'pack.json'), 'utf8')) as Record<string, unknown>;
    delete manifest.style;
    await writeFile(path.join(dir, 'pack.json'), JSON.stringify(manifest));
    await expect(readPack(dir)).rejects.toThrow(/has no style tower \("style"\); add one with `parasol pack import style/);
  });
});
