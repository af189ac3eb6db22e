/**
 * loadEncoders(): a model pack turned into the four towers the rest of Parasol uses.
 *
 * Loading validates the pack against its model files (see pack.ts), so a running Encoders can
 * only produce unit vectors of the declared dimensions. Inputs are embedded in batches of
 * `batchSize`; text queries, which repeat, are served from an LRU cache.
 */
import * as ort from 'onnxruntime-node';
import { createError } from '../errors.js';
import { normalize } from '../vectors.js';
import { prepareDecoded, prepareImage, DEFAULT_LIMIT_INPUT_PIXELS, type DecodedImage } from './image.js';
import { LruCache, type CacheStats } from './lru.js';
import {
  TOWERS,
  openPackSessions,
  readPack,
  type PackManifest,
  type TextModelSpec,
  type TowerName,
} from './pack.js';
import type { Logger } from '../log.js';
import { openWithFactory, type Device, type PackModel, type Provider } from './runtime.js';
import { loadTokenizer, textFeeds, type TextTokenizer } from './text.js';
import { startModelWorker, type ModelWorker } from './model-worker.js';
import { createPixelBudget } from './pixel-budget.js';
import type {
  Encoders,
  ImageDescriptors,
  ImageEmbedder,
  ImageInput,
  PreparedImage,
  StagedImageDescriber,
  TextEmbedder,
} from './types.js';
import { applyMap, readMap } from './text-style-map.js';
import { applyProjection, readProjection, type StyleProjection } from './style-projection.js';
import { packStamp, type PackStamp } from './stamp.js';

export type { Device, Provider } from './runtime.js';
export type { PackManifest, Preprocess } from './pack.js';
export type { PackStamp } from './stamp.js';
export type { CacheStats } from './lru.js';

export const DEFAULT_BATCH_SIZE = 64;
export const DEFAULT_TEXT_CACHE_SIZE = 1024;
/** Text towers answer single queries: one thread is faster than a pool (see openPackSessions). */
export const DEFAULT_TEXT_THREADS = 1;
/**
 * Ingestion decodes the next images on sharp's threads while the image towers encode these: one
 * intra-op thread leaves the other core to sharp, where a pool would fight it and spin (measured
 * on the demo corpus, 2 loaded cores: 106-120 img/s on one thread against 73-83 with
 * onnxruntime's default).
 */
export const DEFAULT_IMAGE_THREADS = 1;
/**
 * Model worker threads for batches of images, each with its own copy of both image towers: a
 * batch's runs go to whichever is free, so on two cores both can run the models while sharp's
 * threads render and decode in the gaps (measured beside one worker: bench/README.md, ingest).
 */
export const DEFAULT_IMAGE_WORKERS = 2;
/**
 * Images per model run on a worker. onnxruntime's memory arena keeps the largest run's
 * activations (mini pack, both towers: ~45 MB at 8 images, ~90 at 16, ~385 at 64, per worker),
 * and small runs cost no more CPU per image (both towers alone: 3.8, 4.1, 4.1 and 4.5 ms at 8,
 * 16, 32 and 64; without the arena 15-25% more at every size). Whole demo ingest, 2 workers,
 * interleaved on a loaded machine: 7.8-9.1 CPU ms an image and +205 MiB RSS in runs of 8,
 * 8.9 and +300 MiB in runs of 16.
 */
export const DEFAULT_IMAGE_RUN_SIZE = 8;
/**
 * Runs handed to a model worker before it finishes the one it is on: the next waits in its
 * message queue, so a worker goes straight on to it even while the JS thread is busy (a batch's
 * commit and graph inserts hold it for tens of milliseconds, longer than a run of 8 takes) and
 * never waits at a batch's end for the other worker's last run.
 */
const RUNS_AHEAD_PER_WORKER = 2;
/**
 * Pixels decoded at once, in images at the pixel limit: each holds up to limitInputPixels × 4
 * bytes while it is resized. Small images share the budget, so a batch of icons decodes at once.
 */
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
  /** Threads for the image towers (default `threads` when given, else 1; 0 means onnxruntime's default). */
  imageThreads?: number;
  /** Model worker threads sharing each batch of images (default 2; CPU only: on CUDA batches run in place). */
  imageWorkers?: number;
  /** Images per model run on a worker (default 8). */
  imageRunSize?: number;
  logger?: Logger;
  /** Text query embeddings kept in the LRU cache; 0 disables it. */
  cacheSize?: number;
  /** Inputs per model run. */
  batchSize?: number;
  /** Images with more pixels are refused with IMAGE_TOO_LARGE (default 40 megapixels). */
  limitInputPixels?: number;
  /**
   * Opens a pack whose weights-free style descriptor has no fitted projection yet (`parasol pack
   * fit-style` reads the raw statistics through `styleStatistics`); its style embedders then refuse.
   */
  allowUnfittedStyle?: boolean;
}

export interface LoadedEncoders extends Encoders, StagedImageDescriber {
  /** The validated pack.json, including the `parasol` block for the generator. */
  readonly manifest: PackManifest;
  /** The pack's absolute folder. */
  readonly packDir: string;
  /** The pack's name and the fingerprint of what decides stored vectors (see stamp.ts). */
  readonly stamp: PackStamp;
  /**
   * The raw per-layer statistics of the weights-free style descriptor (`style.statistics`), before
   * the projection; throws when the pack's style tower is a trained encoder.
   */
  styleStatistics(images: PreparedImage[]): Promise<Float32Array[]>;
  textCacheStats(): CacheStats;
  /** How batches of images run: model workers (0 on CUDA), intra-op threads each, images per run. */
  readonly imageSettings: { workers: number; threads: number; runSize: number };
}

export async function loadEncoders(options: LoadEncodersOptions): Promise<LoadedEncoders> {
  const batchSize = positiveInteger('batchSize', options.batchSize ?? DEFAULT_BATCH_SIZE);
  const cacheSize = nonNegativeInteger('cacheSize', options.cacheSize ?? DEFAULT_TEXT_CACHE_SIZE);
  const limitInputPixels = positiveInteger('limitInputPixels', options.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS);
  const workerCount = positiveInteger('imageWorkers', options.imageWorkers ?? DEFAULT_IMAGE_WORKERS);
  const runSize = positiveInteger('imageRunSize', options.imageRunSize ?? DEFAULT_IMAGE_RUN_SIZE);

  const pack = await readPack(options.packDir);
  const { manifest } = pack;
  const statistics = manifest.style.statistics;
  if (statistics && !statistics.projection && !options.allowUnfittedStyle) {
    throw createError(
      'CONFIG_INVALID',
      `the model pack "${manifest.name}" describes styles by its vision tower's statistics (${manifest.style.image.file}) but has no ` +
        `projection fitted yet; run \`parasol pack fit-style --pack ${pack.dir} --images <folder>\` (or --data <an index's dir>)`,
    );
  }
  const stamp = await packStamp(pack);
  const { factory: runtime, opened } = await openWithFactory(
    { device: options.device, threads: options.threads, logger: options.logger },
    async (factory) => {
      const sessions = await openPackSessions(pack, factory, {
        textThreads: options.textThreads ?? DEFAULT_TEXT_THREADS,
        imageThreads: options.imageThreads ?? options.threads ?? DEFAULT_IMAGE_THREADS,
      });
      const byKey = new Map<string, Promise<TextTokenizer>>();
      const tokenizerFor = (spec: TextModelSpec) => {
        const key = JSON.stringify([spec.tokenizer, spec.specialTokens ?? null]);
        if (!byKey.has(key)) byKey.set(key, loadTokenizer(pack.dir, spec.tokenizer, manifest.name, spec.specialTokens));
        return byKey.get(key) as Promise<TextTokenizer>;
      };
      const tokenizers: Partial<Record<TowerName, TextTokenizer>> = { semantic: await tokenizerFor(manifest.semantic.text) };
      if (manifest.style.text) tokenizers.style = await tokenizerFor(manifest.style.text);
      const styleTextMap = manifest.style.textMap
        ? await readMap(pack.dir, manifest.style.textMap.file, manifest.name, manifest.semantic.dim, manifest.style.dim)
        : undefined;
      const styleProjection = statistics?.projection
        ? await readProjection(pack.dir, statistics.projection.file, manifest.name, statistics.dim, manifest.style.dim)
        : undefined;
      return { sessions, tokenizers, styleTextMap, styleProjection };
    },
  );
  const { sessions, tokenizers, styleTextMap, styleProjection } = opened;
  const provider = runtime.provider as Provider;
  const imageThreads = options.imageThreads ?? options.threads ?? DEFAULT_IMAGE_THREADS;
  /**
   * Batches of images (describePrepared, describeImages) run on worker threads, each with its own
   * copy of the image towers, started on first use; single queries stay on the sessions here. On
   * CUDA the GPU does the work and there is nothing to gain.
   */
  const onWorkers = provider === 'cpu';
  const workerSlots: Array<{ started?: ModelWorker; ready?: Promise<ModelWorker> }> = Array.from({ length: workerCount }, () => ({}));
  function imageWorker(slot: number): Promise<ModelWorker> {
    const entry = workerSlots[slot];
    // A worker that died (out of memory, a native crash) is replaced, not left to fail every batch.
    if (entry.started && !entry.started.alive) entry.ready = undefined;
    if (!entry.ready) {
      const worker = startModelWorker(provider);
      entry.started = worker;
      entry.ready = Promise.all(TOWERS.map((tower) => worker.open(sessions[tower].image.path, imageThreads))).then(
        () => worker,
        async (error: unknown) => {
          await worker.terminate();
          throw error;
        },
      );
    }
    return entry.ready;
  }
  const textCache = new LruCache<string, Float32Array>(cacheSize);
  const budget = createPixelBudget(DECODE_CONCURRENCY * limitInputPixels);
  const prepareOptions = { limitInputPixels, budget };
  let disposed = false;

  function ensureOpen(): void {
    if (disposed) throw createError('NOT_READY', 'the encoders have been disposed');
  }

  /** Runs one model on a batch and returns its rows, renormalised. */
  async function run(
    tower: TowerName,
    model: PackModel,
    feeds: Record<string, ort.Tensor>,
    batch: number,
  ): Promise<Float32Array[]> {
    const dim = manifest[tower].dim;
    const data = await model.run(feeds, [batch, dim]);
    return Array.from({ length: batch }, (_, row) => normalize(data.subarray(row * dim, (row + 1) * dim)));
  }

  /** The image model's rows as it outputs them (embeddings, or the statistics of the weights-free style tower). */
  async function runImageModel(tower: TowerName, inputs: Float32Array[], worker?: ModelWorker): Promise<Float32Array[]> {
    const spec = manifest[tower].image;
    const size = spec.preprocess.size;
    const length = 3 * size * size;
    const stacked = new Float32Array(inputs.length * length);
    inputs.forEach((input, i) => {
      if (input.length !== length) {
        throw createError('UNPROCESSABLE', `a prepared ${tower} input holds ${input.length} values, the ${tower} image tower takes ${length}`);
      }
      stacked.set(input, i * length);
    });
    const dims = [inputs.length, 3, size, size];
    const dim = tower === 'style' && statistics ? statistics.dim : manifest[tower].dim;
    const model = sessions[tower].image;
    const data = worker
      ? await model.runOn(worker, { [spec.input]: { data: stacked, dims } }, [inputs.length, dim])
      : await model.run({ [spec.input]: new ort.Tensor('float32', stacked, dims) }, [inputs.length, dim]);
    return Array.from({ length: inputs.length }, (_, row) => data.subarray(row * dim, (row + 1) * dim));
  }

  async function embedPrepared(tower: TowerName, inputs: Float32Array[], worker?: ModelWorker): Promise<Float32Array[]> {
    if (tower === 'style' && statistics) {
      const projection = fittedProjection();
      return (await runImageModel(tower, inputs, worker)).map((row) => applyProjection(projection, row));
    }
    return (await runImageModel(tower, inputs, worker)).map((row) => normalize(row));
  }

  function fittedProjection(): StyleProjection {
    if (!styleProjection) {
      throw createError(
        'UNPROCESSABLE',
        `The model pack "${manifest.name}" has no style projection fitted (style.statistics.projection in pack.json), so it cannot describe styles yet; run \`parasol pack fit-style\``,
      );
    }
    return styleProjection;
  }

  function imageEmbedder(tower: TowerName): ImageEmbedder {
    const preprocess = manifest[tower].image.preprocess;
    return {
      dim: manifest[tower].dim,
      async embedImages(images) {
        ensureOpen();
        const out: Float32Array[] = [];
        for (const chunk of chunks(images, batchSize)) {
          const inputs = await Promise.all(chunk.map(async (image) => (await prepareImage(image, [preprocess], prepareOptions))[0]));
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
          const vectors = await run(tower, session, feeds, chunk.length);
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

  const imagePreprocesses = TOWERS.map((tower) => manifest[tower].image.preprocess);

  async function prepareForTowers(image: ImageInput): Promise<PreparedImage> {
    ensureOpen();
    const [semantic, style] = await prepareImage(image, imagePreprocesses, prepareOptions);
    return { semantic, style };
  }

  async function prepareFromPixels(image: DecodedImage): Promise<PreparedImage> {
    ensureOpen();
    const [semantic, style] = await prepareDecoded(image, imagePreprocesses);
    return { semantic, style };
  }

  /**
   * Both towers on a slice. A worker runs one session at a time, each on the configured threads,
   * so both runs are handed to it at once (it runs them in order); in place they run in turn.
   */
  async function describeSlice(slice: PreparedImage[], worker?: ModelWorker): Promise<ImageDescriptors[]> {
    const towers = (tower: TowerName) => embedPrepared(tower, slice.map((image) => image[tower]), worker);
    const [semantic, style] = worker ? await Promise.all([towers('semantic'), towers('style')]) : [await towers('semantic'), await towers('style')];
    return slice.map((_, i) => ({ semantic: semantic[i], style: style[i] }));
  }

  /**
   * Runs waiting for a worker, from every describePrepared call in call order, each handed to the
   * worker with the fewest in hand (up to RUNS_AHEAD_PER_WORKER). A call whose run failed has
   * rejected already: its runs still waiting are dropped.
   */
  interface WaitingRun {
    images: PreparedImage[];
    call: { failed: boolean };
    resolve: (described: ImageDescriptors[]) => void;
    reject: (error: unknown) => void;
  }
  const waitingRuns: WaitingRun[] = [];
  const runsInHand = new Array<number>(workerCount).fill(0);
  function dispatchRuns(): void {
    for (;;) {
      const first = waitingRuns[0];
      if (!first) return;
      if (first.call.failed || disposed) {
        waitingRuns.shift();
        first.reject(createError('NOT_READY', disposed ? 'the encoders have been disposed' : 'another run of this batch failed'));
        continue;
      }
      const slot = runsInHand.indexOf(Math.min(...runsInHand));
      if (runsInHand[slot] >= RUNS_AHEAD_PER_WORKER) return;
      waitingRuns.shift();
      runsInHand[slot]++;
      imageWorker(slot)
        .then((worker) => describeSlice(first.images, worker))
        .then(first.resolve, (error: unknown) => {
          first.call.failed = true;
          first.reject(error);
        })
        .finally(() => {
          runsInHand[slot]--;
          dispatchRuns();
        });
    }
  }

  async function describePrepared(images: PreparedImage[]): Promise<ImageDescriptors[]> {
    ensureOpen();
    if (!onWorkers) {
      const out: ImageDescriptors[] = [];
      for (const chunk of chunks(images, batchSize)) out.push(...(await describeSlice(chunk)));
      return out;
    }
    // Runs of runSize images, both towers each, queue behind earlier calls' runs for whichever worker is free.
    const call = { failed: false };
    const described = chunks(images, runSize).map(
      (run) =>
        new Promise<ImageDescriptors[]>((resolve, reject) => {
          waitingRuns.push({ images: run, call, resolve, reject });
        }),
    );
    dispatchRuns();
    return (await Promise.all(described)).flat();
  }

  async function describeImages(images: ImageInput[]): Promise<ImageDescriptors[]> {
    ensureOpen();
    const out: ImageDescriptors[] = [];
    for (const chunk of chunks(images, batchSize)) {
      out.push(...(await describePrepared(await Promise.all(chunk.map(prepareForTowers)))));
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
    stamp,
    provider,
    semanticImage: imageEmbedder('semantic'),
    semanticText,
    styleImage: imageEmbedder('style'),
    styleText: textEmbedder('style'),
    describeImages,
    prepareImage: prepareForTowers,
    prepareDecoded: prepareFromPixels,
    describePrepared,
    imageSettings: { workers: onWorkers ? workerCount : 0, threads: imageThreads, runSize },
    async styleStatistics(images) {
      ensureOpen();
      if (!statistics) throw createError('BAD_REQUEST', `the model pack "${manifest.name}" has a trained style encoder, not style statistics`);
      const worker = onWorkers ? await imageWorker(0) : undefined;
      const out: Float32Array[] = [];
      for (const chunk of chunks(images, batchSize)) {
        out.push(...(await runImageModel('style', chunk.map((image) => image.style), worker)).map((row) => Float32Array.from(row)));
      }
      return out;
    },
    textCacheStats: () => textCache.stats(),
    async dispose() {
      disposed = true;
      textCache.clear();
      dispatchRuns();
      const ready = workerSlots.map((entry) => entry.ready);
      for (const entry of workerSlots) entry.ready = undefined;
      await Promise.all(ready.map((worker) => worker?.then((w) => w.terminate(), () => undefined)));
      await runtime.dispose();
    },
  };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw createError('CONFIG_INVALID', `${name} must be a positive integer, got ${value}`);
  return value;
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw createError('CONFIG_INVALID', `${name} must be a non-negative integer, got ${value}`);
  return value;
}
