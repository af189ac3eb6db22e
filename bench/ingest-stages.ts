/**
 * Where an ingested image's CPU time goes: each step of the pipeline run alone, one after the
 * other, over the same demo items in the ingest's batches, with the process's CPU time (every
 * thread: JS, sharp's, onnxruntime's) read around each. The steps' sum beside a whole ingest's CPU
 * per image says what the pipeline itself adds (worker messaging, copies, contention, spinning).
 *
 * The image towers run twice: in place on this thread (the models' own cost, one intra-op thread,
 * one session run per batch and tower) and through one model worker as ingestion runs them (the
 * same work plus the messages and copies).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Config } from '../src/config.js';
import type { LoadedEncoders } from '../src/encoders/index.js';
import type { DecodedImage } from '../src/encoders/image.js';
import type { ImageDescriptors, PreparedImage } from '../src/encoders/types.js';
import { openStore } from '../src/context.js';
import { HnswIndex } from '../src/store/hnsw-index.js';
import type { ItemInput } from '../src/store/types.js';
import { jointVector } from '../src/vectors.js';
import { isBlankPixels } from '../indexer/blank.js';
import { bytesHash, pixelsHash } from '../indexer/content-hash.js';
import type { IngestSource, SourceItem } from '../indexer/sources/types.js';
import { round } from './stats.js';

export interface StageCost {
  /** CPU milliseconds of the whole process per image (every thread). */
  cpuMsPerImage: number;
  /** Wall milliseconds per image. */
  wallMsPerImage: number;
}

export interface IngestStages {
  images: number;
  batchSize: number;
  /** Each step alone, per image. */
  stages: Record<string, StageCost>;
  /** The steps one ingest runs (the towers through a worker, not in place), summed. */
  pipelineCpuMsPerImage: number;
  /** What the steps cost beside the towers in place: the part of an image that is not the models. */
  notEncoderCpuMsPerImage: number;
}

async function measure<T>(images: number, work: () => Promise<T>): Promise<{ cost: StageCost; value: T }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const value = await work();
  const used = process.cpuUsage(cpu);
  const wallMs = performance.now() - started;
  return {
    cost: { cpuMsPerImage: round((used.user + used.system) / 1000 / images, 3), wallMsPerImage: round(wallMs / images, 3) },
    value,
  };
}

function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The steps one by one over the source's first items (all of them: the source is limited by its caller). */
export async function measureIngestStages(
  config: Config,
  encoders: LoadedEncoders,
  source: IngestSource,
  dir: string,
  options: { batchSize: number; saveEvery?: number },
): Promise<IngestStages> {
  const { batchSize } = options;
  const saveEvery = options.saveEvery ?? 20;
  const items: SourceItem[] = [];
  for await (const item of source.items()) items.push(item);
  const n = items.length;
  const stages: Record<string, StageCost> = {};

  const render = (item: SourceItem): Promise<DecodedImage> => {
    if (!item.rendered) throw new Error(`measureIngestStages: ${item.key} is not rasterised by its source (the demo corpus is)`);
    return item.rendered();
  };
  const rendered = await measure(n, async () => {
    const out: DecodedImage[] = [];
    for (const batch of batches(items, batchSize)) out.push(...(await Promise.all(batch.map(render))));
    return out;
  });
  stages.render = rendered.cost;
  const hashes = await measure(n, async () => rendered.value.map((image) => pixelsHash(image)));
  stages.hash = hashes.cost;
  // What a store hashed by PNG bytes (built before pixel hashes) still pays an item instead: the PNG and its hash.
  stages.renderPngAndHash = (
    await measure(n, async () => {
      for (const batch of batches(items, batchSize)) await Promise.all(batch.map(async (item) => bytesHash(await item.bytes())));
    })
  ).cost;
  stages.blankCheck = (await measure(n, async () => rendered.value.filter((image) => isBlankPixels(image.pixels)).length)).cost;
  const prepared = await measure(n, async () => {
    const out: PreparedImage[] = [];
    for (const batch of batches(rendered.value, batchSize)) out.push(...(await Promise.all(batch.map((image) => encoders.prepareDecoded(image)))));
    return out;
  });
  stages.prepare = prepared.cost;

  // The towers in place: one session per tower on this thread, one intra-op thread, a run per batch.
  const manifest = encoders.manifest;
  for (const tower of ['semantic', 'style'] as const) {
    const spec = manifest[tower].image;
    const session = await ort.InferenceSession.create(join(encoders.packDir, spec.file), {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: 1,
    });
    const size = spec.preprocess.size;
    const length = 3 * size * size;
    const stacked = batches(prepared.value, batchSize).map((batch) => {
      const data = new Float32Array(batch.length * length);
      batch.forEach((p, i) => data.set(p[tower], i * length));
      return new ort.Tensor('float32', data, [batch.length, 3, size, size]);
    });
    await session.run({ [spec.input]: stacked[0] });
    stages[`${tower}Tower`] = (
      await measure(n, async () => {
        for (const tensor of stacked) await session.run({ [spec.input]: tensor }, [spec.output]);
      })
    ).cost;
    await session.release();
  }

  // The towers as ingestion runs them: through the model worker(s) the encoders were loaded with.
  const viaWorkers = await measure(n, async () => {
    const out: ImageDescriptors[] = [];
    for (const batch of batches(prepared.value, batchSize)) out.push(...(await encoders.describePrepared(batch)));
    return out;
  });
  stages.towersOnWorkers = viaWorkers.cost;

  // The catalog, each graph alone, then the store's own sync and snapshots.
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const store = await openStore({ ...config, backend: 'sqlite', dataDir: join(dir, 'store') }, encoders);
  try {
    const inputs: ItemInput[] = items.map((item, i) => ({
      id: item.meta.id,
      externalId: item.meta.externalId,
      source: item.meta.source ?? 'upload',
      title: item.meta.title ?? '',
      tags: item.meta.tags ?? [],
      keywords: item.meta.keywords,
      license: item.meta.license,
      attribution: item.meta.attribution,
      extra: item.meta.extra,
      width: rendered.value[i].width,
      height: rendered.value[i].height,
      contentHash: hashes.value[i],
      semantic: viaWorkers.value[i].semantic,
      style: viaWorkers.value[i].style,
    }));
    stages.catalog = (
      await measure(n, async () => {
        for (const batch of batches(inputs, batchSize)) await store.catalog.addBatch(batch);
      })
    ).cost;
    const { M, efConstruction, efSearch, jointM } = config.hnsw;
    const jointEfConstruction = config.hnsw.jointEfConstruction ?? efConstruction;
    const graphs = [
      { name: 'semantic', dim: encoders.semanticDim, M, efConstruction, point: (d: ImageDescriptors) => d.semantic },
      { name: 'style', dim: encoders.styleDim, M, efConstruction, point: (d: ImageDescriptors) => d.style },
      {
        name: 'joint',
        dim: encoders.semanticDim + encoders.styleDim,
        M: jointM,
        efConstruction: jointEfConstruction,
        point: (d: ImageDescriptors) => jointVector(d.semantic, d.style),
      },
    ] as const;
    for (const graph of config.hnsw.joint ? graphs : graphs.slice(0, 2)) {
      const { name, dim, efConstruction } = graph;
      const index = HnswIndex.create({ modality: name, dim, dir: join(dir, name), capacity: 1024, M: graph.M, efConstruction, efSearch });
      const points = viaWorkers.value.map((d, i) => ({ seq: i + 1, vector: graph.point(d) }));
      stages[`${graph.name}Graph`] = (
        await measure(n, async () => {
          for (const batch of batches(points, batchSize)) await index.add(batch);
        })
      ).cost;
      await index.close();
    }
    // The store's own sync (all graphs) and its snapshots at ingestion's cadence (every saveEvery batches and at the end).
    stages.storeSync = (await measure(n, async () => store.sync())).cost;
    const saves = Math.ceil(Math.ceil(n / batchSize) / saveEvery);
    stages.snapshots = (
      await measure(n, async () => {
        for (let i = 0; i < saves; i++) await store.save();
      })
    ).cost;
  } finally {
    await store.close({ save: false });
    await rm(dir, { recursive: true, force: true });
  }

  const pipeline = ['render', 'hash', 'blankCheck', 'prepare', 'towersOnWorkers', 'catalog', 'storeSync', 'snapshots'];
  const sum = (keys: string[]) => round(keys.reduce((total, key) => total + (stages[key]?.cpuMsPerImage ?? 0), 0), 2);
  return {
    images: n,
    batchSize,
    stages,
    pipelineCpuMsPerImage: sum(pipeline),
    notEncoderCpuMsPerImage: sum(pipeline.filter((key) => key !== 'towersOnWorkers')),
  };
}
