/**
 * loadEncoders(): a model pack turned into the four towers the rest of Parasol uses.
 *
 * Loading validates the pack against its model files (see pack.ts), so a running Encoders can
 * only produce unit vectors of the declared dimensions. Inputs are embedded in batches of
 * `batchSize`; text queries, which repeat, are served from an LRU cache.
 */
import { modelName, timed } from './timings.js';
import * as ort from 'onnxruntime-node';
import { createError } from '../errors.js';
import { normalize } from '../vectors.js';
import { prepareImage, DEFAULT_LIMIT_INPUT_PIXELS } from './image.js';
import { LruCache, type CacheStats } from './lru.js';
import {
  TOWERS,
  openPackSessions,
  outputProblem,
  packInvalid,
  readPack,
  type PackManifest,
  type PackSessions,
  type TextModelSpec,
  type TowerName,
} from './pack.js';
import { createSessionFactory, type Device, type Logger, type Provider } from './runtime.js';
import { loadTokenizer, textFeeds, type TextTokenizer } from './text.js';
import { applyMap, readMap } from './text-style-map.js';
import type { Encoders, ImageDescriptors, ImageEmbedder, ImageInput, TextEmbedder } from './types.js';

export type { Device, Logger, Provider } from './runtime.js';
export type { PackManifest, Preprocess } from './pack.js';
export type { CacheStats } from './lru.js';

export const DEFAULT_BATCH_SIZE = 64;
export const DEFAULT_TEXT_CACHE_SIZE = 1024;
/** Text towers answer single queries: one thread is faster than a pool (see openPackSessions). */
export const DEFAULT_TEXT_THREADS = 1;
/** Images decoded at once: each may hold up to limitInputPixels × 4 bytes while it is resized. */
const DECODE_CONCURRENCY = 4;

export interface LoadEncodersOptions {
  /** The pack's folder (holding pack.json). */
  packDir: string;
  /** 'auto' (default) tries CUDA and falls back to the CPU; 'cuda' fails when CUDA is unavailable. */
  device?: Device | string;
  /** onnxruntime threads per operator; its default when absent. */
  threads?: number;
  /** Threads for the text towers (default 1; 0 means onnxruntime's default). */
  textThreads?: number;
  logger?: Logger;
  /** Text query embeddings kept in the LRU cache; 0 disables it. */
  cacheSize?: number;
  /** Inputs per model run. */
  batchSize?: number;
  /** Images with more pixels are refused with IMAGE_TOO_LARGE (default 40 megapixels). */
  limitInputPixels?: number;
}

export interface LoadedEncoders extends Encoders {
  /** The validated pack.json, including the `parasol` block for the generator. */
  readonly manifest: PackManifest;
  /** The pack's absolute folder. */
  readonly packDir: string;
  textCacheStats(): CacheStats;
}

export async function loadEncoders(options: LoadEncodersOptions): Promise<LoadedEncoders> {
  const batchSize = positiveInteger('batchSize', options.batchSize ?? DEFAULT_BATCH_SIZE);
  const cacheSize = nonNegativeInteger('cacheSize', options.cacheSize ?? DEFAULT_TEXT_CACHE_SIZE);
  const limitInputPixels = positiveInteger('limitInputPixels', options.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS);

  const pack = await readPack(options.packDir);
  const { manifest } = pack;
  const runtime = createSessionFactory({ device: options.device, threads: options.threads, logger: options.logger });
  let sessions: PackSessions;
  let tokenizers: Partial<Record<TowerName, TextTokenizer>>;
  try {
    sessions = await openPackSessions(pack, runtime, { textThreads: options.textThreads ?? DEFAULT_TEXT_THREADS });
    const byKey = new Map<string, Promise<TextTokenizer>>();
    const tokenizerFor = (spec: TextModelSpec) => {
      const key = JSON.stringify([spec.tokenizer, spec.specialTokens ?? null]);
      if (!byKey.has(key)) byKey.set(key, loadTokenizer(pack.dir, spec.tokenizer, manifest.name, spec.specialTokens));
      return byKey.get(key) as Promise<TextTokenizer>;
    };
    tokenizers = { semantic: await tokenizerFor(manifest.semantic.text) };
    if (manifest.style.text) tokenizers.style = await tokenizerFor(manifest.style.text);
  } catch (error) {
    await runtime.dispose();
    throw error;
  }
  const styleTextMap = manifest.style.textMap
    ? await readMap(pack.dir, manifest.style.textMap.file, manifest.name, manifest.semantic.dim, manifest.style.dim).catch(
        async (error: unknown) => {
          await runtime.dispose();
          throw error;
        },
      )
    : undefined;
  const provider = runtime.provider as Provider;
  const textCache = new LruCache<string, Float32Array>(cacheSize);
  let disposed = false;

  function ensureOpen(): void {
    if (disposed) throw createError('NOT_READY', 'the encoders have been disposed');
  }

  /** Runs one model on a batch and returns its rows, renormalised, after checking the shape. */
  async function run(
    tower: TowerName,
    session: ort.InferenceSession,
    file: string,
    output: string,
    feeds: Record<string, ort.Tensor>,
    batch: number,
  ): Promise<Float32Array[]> {
    const dim = manifest[tower].dim;
    const result = (await timed(modelName(file), () => session.run(feeds, [output])))[output];
    const problem = outputProblem(result, batch, dim);
    if (problem) throw packInvalid(manifest.name, `${file}: ${problem}`);
    const data = result.data as Float32Array;
    return Array.from({ length: batch }, (_, row) => normalize(data.subarray(row * dim, (row + 1) * dim)));
  }

  async function embedPrepared(tower: TowerName, inputs: Float32Array[]): Promise<Float32Array[]> {
    const spec = manifest[tower].image;
    const size = spec.preprocess.size;
    const stacked = new Float32Array(inputs.length * 3 * size * size);
    inputs.forEach((input, i) => stacked.set(input, i * input.length));
    const feeds = { [spec.input]: new ort.Tensor('float32', stacked, [inputs.length, 3, size, size]) };
    return run(tower, sessions[tower].image, spec.file, spec.output, feeds, inputs.length);
  }

  function imageEmbedder(tower: TowerName): ImageEmbedder {
    const preprocess = manifest[tower].image.preprocess;
    return {
      dim: manifest[tower].dim,
      async embedImages(images) {
        ensureOpen();
        const out: Float32Array[] = [];
        for (const chunk of chunks(images, batchSize)) {
          const inputs = await mapLimit(chunk, DECODE_CONCURRENCY, async (image) =>
            (await prepareImage(image, [preprocess], { limitInputPixels }))[0],
          );
          out.push(...(await embedPrepared(tower, inputs)));
        }
        return out;
      },
    };
  }

  function textEmbedder(tower: TowerName): TextEmbedder {
    const spec = manifest[tower].text;
    const tokenizer = tokenizers[tower];
    const session = sessions[tower].text;
    if (tower === 'style' && !spec && styleTextMap) {
      const map = styleTextMap;
      return {
        dim: manifest.style.dim,
        async embedTexts(texts) {
          const semantic = await semanticText.embedTexts(texts);
          return semantic.map((vector) => applyMap(map, vector));
        },
      };
    }
    if (!spec || !tokenizer || !session) {
      return {
        dim: manifest[tower].dim,
        async embedTexts() {
          throw createError(
            'UNPROCESSABLE',
            `The model pack "${manifest.name}" has no text-to-${tower} model (${tower}.text in pack.json), so it cannot answer ${tower} text queries; ` +
              'fit a map from the semantic space with `parasol pack fit-text-style`, or query the style with an image or an item',
          );
        },
      };
    }
    const cacheKey = (text: string) => `${manifest.name}@${manifest.version}\u0000${tower}\u0000${text}`;
    return {
      dim: manifest[tower].dim,
      async embedTexts(texts) {
        ensureOpen();
        const out = new Array<Float32Array>(texts.length);
        const missing = new Map<string, number[]>();
        texts.forEach((text, i) => {
          const cached = textCache.get(cacheKey(text));
          if (cached) out[i] = cached.slice();
          else missing.set(text, [...(missing.get(text) ?? []), i]);
        });
        for (const chunk of chunks([...missing.keys()], batchSize)) {
          const feeds = textFeeds(chunk.map((text) => tokenizer.tokenize(text, spec.maxTokens)), spec);
          const vectors = await run(tower, session, spec.file, spec.output, feeds, chunk.length);
          chunk.forEach((text, j) => {
            textCache.set(cacheKey(text), vectors[j]);
            // Callers own what they get: a copy each, never the cached array.
            for (const i of missing.get(text) ?? []) out[i] = vectors[j].slice();
          });
        }
        return out;
      },
    };
  }

  async function describeImages(images: ImageInput[]): Promise<ImageDescriptors[]> {
    ensureOpen();
    const preprocesses = TOWERS.map((tower) => manifest[tower].image.preprocess);
    const out: ImageDescriptors[] = [];
    for (const chunk of chunks(images, batchSize)) {
      const prepared = await mapLimit(chunk, DECODE_CONCURRENCY, (image) =>
        prepareImage(image, preprocesses, { limitInputPixels }),
      );
      const [semantic, style] = await Promise.all(
        TOWERS.map((tower, t) => embedPrepared(tower, prepared.map((inputs) => inputs[t]))),
      );
      chunk.forEach((_, i) => out.push({ semantic: semantic[i], style: style[i] }));
    }
    return out;
  }

  const semanticText = textEmbedder('semantic');
  return {
    packName: manifest.name,
    semanticDim: manifest.semantic.dim,
    styleDim: manifest.style.dim,
    manifest,
    packDir: pack.dir,
    provider,
    semanticImage: imageEmbedder('semantic'),
    semanticText,
    styleImage: imageEmbedder('style'),
    styleText: textEmbedder('style'),
    describeImages,
    textCacheStats: () => textCache.stats(),
    async dispose() {
      disposed = true;
      textCache.clear();
      await runtime.dispose();
    },
  };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Like Promise.all(items.map(fn)) with at most `limit` calls in flight; results keep their order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw createError('CONFIG_INVALID', `${name} must be a positive integer, got ${value}`);
  return value;
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw createError('CONFIG_INVALID', `${name} must be a non-negative integer, got ${value}`);
  return value;
}
