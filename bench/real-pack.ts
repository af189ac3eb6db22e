/**
 * Real-size speed on real shapes: one model pack (in practice the random full-size ViT-B/32 packs
 * bench/vit-b32-pack.sh builds), measured through the whole engine and, in the same run, the
 * models alone, so that the engine's overhead is a ratio that survives a loaded machine.
 *
 *   node dist/bench/real-pack.js --pack DIR [--device cpu|cuda|auto] [--images 256] [--duration 20] [--out FILE]
 *
 * 1. models: each tower alone, one input at a time, on the sessions the engine uses (text: fresh
 *    texts, so the LRU cache never answers; images: a 320×240 photo-like PNG at batch 1);
 * 2. ingest: the first N demo icons through ingest() into the context's store (render, decode,
 *    both image towers on the model worker, commit, HNSW), as `parasol index --demo` runs it;
 *    the towers' own seconds come from the engine's inference timings;
 * 3. engine: the same text queries in-process (engine.search), with the engine's own phases;
 * 4. http: `GET /v1/search?q=<fresh text>` one request at a time against the real app (autocannon
 *    in its own process), over the store just ingested; the text tower's own seconds are read
 *    from the same timings over the same requests.
 *
 * It measures, never asserts. `engineOverModel` is wall ÷ model time: ingest wall ÷ both image
 * towers' seconds, and a query's mean HTTP latency ÷ the text tower's mean seconds per query.
 */
import { readFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { loadConfig, PACKAGE_ROOT } from '../src/config.js';
import { openContext } from '../src/context.js';
import { inferenceTimings } from '../src/encoders/timings.js';
import { demoIndexSource } from '../indexer/demo-index.js';
import { ingest } from '../indexer/ingest.js';
import { runHttpScenario, startHttp } from './http.js';
import { gitFacts, machineFacts } from './machine.js';
import { QueryTexts } from './queries.js';
import { round, summarize, type LatencySummary } from './stats.js';

const USAGE = `usage: node dist/bench/real-pack.js --pack DIR [options]
  --pack DIR         the model pack (e.g. from bench/vit-b32-pack.sh)
  --device D         cpu | cuda | auto (default cpu): the onnxruntime execution provider
  --images N         demo icons to ingest (default 256)
  --duration S       seconds of HTTP text queries, one at a time (default 20)
  --model-runs N     runs of each tower alone (default 20 texts, N/2 images; default 20)
  --out FILE         report path (default bench/results/real-pack-<pack>-<provider>-<date>.json)`;

/** Measured on this machine (2-core Xeon, one thread, idle) in issue 14; for comparison only. */
const REFERENCE_MS = {
  note: 'issue 14, one CPU thread: ViT-B/32 image tower per image, CLIP text tower at 16 tokens',
  image: { fp32: 150, int8: 85 },
  text16Tokens: { fp32: 32, int8: 13 },
};

const started = performance.now();
const log = (message: string): void => {
  process.stderr.write(`[real-pack ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
};

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      pack: { type: 'string' },
      device: { type: 'string', default: 'cpu' },
      images: { type: 'string', default: '256' },
      duration: { type: 'string', default: '20' },
      'model-runs': { type: 'string', default: '20' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help || !values.pack) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(values.help ? 0 : 2);
  }
  const int = (name: string, value: string, min: number): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got "${value}"`);
    return n;
  };
  if (!['cpu', 'cuda', 'auto'].includes(values.device)) throw new Error(`--device must be cpu, cuda or auto, got "${values.device}"`);
  return {
    pack: resolve(values.pack),
    device: values.device as 'cpu' | 'cuda' | 'auto',
    images: int('images', values.images, 1),
    durationS: int('duration', values.duration, 1),
    modelRuns: int('model-runs', values['model-runs'], 2),
    out: values.out ? resolve(values.out) : undefined,
  };
}

/** Seconds inside one model file so far (timings.ts), by the file's name without .onnx. */
function modelSeconds(model: string): { calls: number; seconds: number } {
  return inferenceTimings().get(model) ?? { calls: 0, seconds: 0 };
}

/** Runs `work` and returns its wall ms and the ms `model` spent inside onnxruntime meanwhile. */
async function withModelTime(model: string, work: () => Promise<unknown>): Promise<{ wallMs: number; modelMs: number; calls: number }> {
  const before = modelSeconds(model);
  const t0 = performance.now();
  await work();
  const wallMs = performance.now() - t0;
  const after = modelSeconds(model);
  return { wallMs, modelMs: (after.seconds - before.seconds) * 1000, calls: after.calls - before.calls };
}

/** A 320×240 smooth colour field with noise: not square (the resize and crop run) and not flat. */
async function probeImage(): Promise<Buffer> {
  const width = 320;
  const height = 240;
  const pixels = Buffer.alloc(width * height * 3);
  let seed = 12345;
  for (let i = 0; i < pixels.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const x = (i / 3) % width;
    pixels[i] = (x + (seed >>> 24) / 4) & 0xff;
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

function ratio(wall: number, model: number): number {
  return model > 0 ? round(wall / model, 3) : Number.NaN;
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const manifest = JSON.parse(await readFile(join(opts.pack, 'pack.json'), 'utf8')) as { name: string; precision?: string };
  const precision = manifest.precision ?? 'fp32';
  const tmp = await mkdtemp(join(os.tmpdir(), 'parasol-real-pack-'));
  const machine = machineFacts();
  const config = loadConfig({ dataDir: join(tmp, 'data'), packDir: opts.pack, device: opts.device });
  log(`pack ${manifest.name} (${precision}) on ${opts.device}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; data in ${tmp}`);
  const context = await openContext(config);
  const { encoders } = context;
  const names = {
    semanticImage: encoders.manifest.semantic.image.file.replace(/\.onnx$/, ''),
    styleImage: encoders.manifest.style.image.file.replace(/\.onnx$/, ''),
    semanticText: encoders.manifest.semantic.text.file.replace(/\.onnx$/, ''),
  };
  const texts = new QueryTexts(14);
  const loadAverage: Record<string, number[]> = { start: os.loadavg().map((x) => round(x, 2)) };
  try {
    // 1. Each tower alone, one input at a time: the first run of each pays for allocation.
    log(`models alone: ${opts.modelRuns} texts, ${Math.max(2, opts.modelRuns >> 1)} images per image tower`);
    const textRuns = texts.content(opts.modelRuns + 1);
    const textModelMs: number[] = [];
    const textCallMs: number[] = [];
    for (const [i, text] of textRuns.entries()) {
      const run = await withModelTime(names.semanticText, () => encoders.semanticText.embedTexts([text]));
      if (i === 0) continue;
      textModelMs.push(run.modelMs);
      textCallMs.push(run.wallMs);
    }
    const image = await probeImage();
    const imageModel = async (tower: 'semanticImage' | 'styleImage'): Promise<LatencySummary> => {
      const samples: number[] = [];
      for (let i = 0; i <= Math.max(2, opts.modelRuns >> 1); i++) {
        const run = await withModelTime(names[tower], () => encoders[tower].embedImages([image]));
        if (i > 0) samples.push(run.modelMs);
      }
      return summarize(samples);
    };
    const models = {
      text: { maxTokens: encoders.manifest.semantic.text.maxTokens, model: summarize(textModelMs), call: summarize(textCallMs) },
      semanticImage: await imageModel('semanticImage'),
      styleImage: await imageModel('styleImage'),
    };
    loadAverage.afterModels = os.loadavg().map((x) => round(x, 2));
    log(`models alone: text p50 ${models.text.model.p50Ms.toFixed(1)} ms (${models.text.maxTokens} tokens), ` +
      `image p50 ${models.semanticImage.p50Ms.toFixed(1)} ms semantic, ${models.styleImage.p50Ms.toFixed(1)} ms style`);

    // 2. Ingest into the context's store: the items the HTTP queries then search. Its first batch
    // would start the model worker (a thread that opens its own copy of both image towers); that
    // one-time cost is timed apart here so that img/s is the steady pipeline.
    const workerStart = performance.now();
    await encoders.describeImages([image]);
    const workerStartSeconds = round((performance.now() - workerStart) / 1000, 2);
    log(`ingest: model worker started and warmed in ${workerStartSeconds} s; ${opts.images} demo icons, batch ${config.ingest.batchSize}`);
    const source = demoIndexSource(encoders, { limit: opts.images });
    const before = { semantic: modelSeconds(names.semanticImage), style: modelSeconds(names.styleImage) };
    const summary = await ingest(source, encoders, context.store, {
      batchSize: config.ingest.batchSize,
      thumbnailSize: config.ingest.thumbnailSize,
      maxPixels: config.limits.maxPixels,
      progress: { write: (line) => process.stderr.write(`  ${line}`) },
    });
    const towerSeconds = {
      semantic: modelSeconds(names.semanticImage).seconds - before.semantic.seconds,
      style: modelSeconds(names.styleImage).seconds - before.style.seconds,
    };
    const encoderSeconds = towerSeconds.semantic + towerSeconds.style;
    const ingestResult = {
      images: summary.added,
      skipped: summary.skipped,
      seconds: round(summary.seconds, 2),
      imagesPerSecond: round(summary.added / summary.seconds, 2),
      encoderSeconds: round(encoderSeconds, 2),
      encoderShare: round(encoderSeconds / summary.seconds, 3),
      engineOverModel: ratio(summary.seconds, encoderSeconds),
      msPerImage: {
        semantic: round((towerSeconds.semantic * 1000) / Math.max(1, summary.added), 1),
        style: round((towerSeconds.style * 1000) / Math.max(1, summary.added), 1),
      },
      encoderImagesPerSecond: round(summary.added / encoderSeconds, 2),
      batchSize: config.ingest.batchSize,
      /** Before the clock: starting the model worker, opening both image towers there, one image through them. */
      workerStartSeconds,
    };
    loadAverage.afterIngest = os.loadavg().map((x) => round(x, 2));
    log(`ingest: ${ingestResult.imagesPerSecond} img/s, encoders ${(ingestResult.encoderShare * 100).toFixed(1)}% of wall, ` +
      `wall ÷ models ${ingestResult.engineOverModel}`);

    // 3. Where a text query's time goes inside the engine (in-process, fresh texts): its own phases.
    const engineRuns = texts.content(opts.modelRuns + 1);
    const phases = { totalMs: [] as number[], modelMs: [] as number[], encodeMs: [] as number[], retrieveMs: [] as number[], fuseMs: [] as number[], hydrateMs: [] as number[] };
    for (const [i, q] of engineRuns.entries()) {
      let timing!: Awaited<ReturnType<typeof context.engine.search>>['timing'];
      const run = await withModelTime(names.semanticText, async () => {
        timing = (await context.engine.search({ q, k: config.search.defaultK })).timing;
      });
      if (i === 0) continue;
      phases.totalMs.push(run.wallMs);
      phases.modelMs.push(run.modelMs);
      phases.encodeMs.push(timing.encodeMs);
      phases.retrieveMs.push(timing.retrieveMs);
      phases.fuseMs.push(timing.fuseMs);
      phases.hydrateMs.push(timing.hydrateMs);
    }
    const mean = (xs: number[]) => round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length), 2);
    const engine = {
      queries: phases.totalMs.length,
      meanMs: {
        total: mean(phases.totalMs),
        textModel: mean(phases.modelMs),
        encodeBesidesModel: round(mean(phases.encodeMs) - mean(phases.modelMs), 2),
        retrieve: mean(phases.retrieveMs),
        fuse: mean(phases.fuseMs),
        hydrate: mean(phases.hydrateMs),
      },
      engineOverModel: ratio(mean(phases.totalMs), mean(phases.modelMs)),
    };
    log(`engine (in-process): ${engine.meanMs.total} ms per text query, text tower ${engine.meanMs.textModel} ms, ` +
      `retrieve ${engine.meanMs.retrieve}, fuse ${engine.meanMs.fuse}, hydrate ${engine.meanMs.hydrate}`);

    // 4. Text queries over HTTP, one at a time, every text fresh.
    log(`http: ${opts.durationS} s of GET /v1/search?q=<fresh text>, one connection`);
    const server = await startHttp(context);
    let http;
    try {
      // The warm-up runs here, outside the model-time window, so that the model seconds and the
      // latencies cover exactly the same requests (the client's own warm-up would mix them).
      const budget = { connections: 1, durationS: opts.durationS, warmupS: 0 };
      const k = config.search.defaultK;
      const path = (q: string) => `/v1/search?${new URLSearchParams({ q, k: String(k) }).toString()}`;
      for (const q of texts.content(5)) {
        const response = await fetch(server.url + path(q));
        if (!response.ok) throw new Error(`warm-up ${path(q)}: HTTP ${response.status} ${await response.text()}`);
        await response.arrayBuffer();
      }
      const paths = texts.content(Math.ceil(opts.durationS * 400)).map(path);
      const scenario = { name: 'text:cold', description: 'GET /v1/search?q=<distinct text>&k: the text tower runs for every request', paths, prefetch: [], distinct: true };
      let result!: Awaited<ReturnType<typeof runHttpScenario>>;
      const during = await withModelTime(names.semanticText, async () => {
        result = await runHttpScenario(server.url, scenario, 1, budget, tmp);
      });
      const modelMeanMs = during.calls > 0 ? during.modelMs / during.calls : Number.NaN;
      http = {
        k,
        requests: result.requests,
        errors: result.errors + result.non2xx,
        wrapped: result.wrapped,
        latency: result.latency,
        textModelCalls: during.calls,
        textModelMeanMs: round(modelMeanMs, 2),
        encoderShare: round(modelMeanMs / result.latency.meanMs, 3),
        engineOverModel: ratio(result.latency.meanMs, modelMeanMs),
        p50OverModelAloneP50: ratio(result.latency.p50Ms, models.text.model.p50Ms),
      };
    } finally {
      await server.close();
    }
    loadAverage.end = os.loadavg().map((x) => round(x, 2));
    log(`http: p50 ${http.latency.p50Ms} ms (text tower ${http.textModelMeanMs} ms per query), wall ÷ model ${http.engineOverModel}`);

    const report = {
      schema: 'parasol-real-pack-bench/1',
      createdAt: new Date().toISOString(),
      command: `node dist/bench/real-pack.js ${process.argv.slice(2).join(' ')}`,
      machine,
      loadAverage,
      git: gitFacts(PACKAGE_ROOT),
      pack: { name: manifest.name, dir: opts.pack, precision, semanticDim: encoders.semanticDim, styleDim: encoders.styleDim },
      device: opts.device,
      provider: encoders.provider,
      threads: { text: 1, image: 1, note: "the engine's defaults (DEFAULT_TEXT_THREADS, DEFAULT_IMAGE_THREADS)" },
      models,
      ingest: ingestResult,
      engine,
      http,
      reference: REFERENCE_MS,
    };
    const date = new Date().toISOString().slice(0, 10);
    const out = opts.out ?? join(PACKAGE_ROOT, 'bench', 'results', `real-pack-${manifest.name}-${encoders.provider}-${date}.json`);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${out}`);
    process.stdout.write(
      `${manifest.name} (${precision}, ${encoders.provider}): ingest ${ingestResult.imagesPerSecond} img/s ` +
        `(encoders ${(ingestResult.encoderShare * 100).toFixed(0)}% of wall, ×${ingestResult.engineOverModel}); ` +
        `text query p50 ${http.latency.p50Ms} ms over HTTP (text tower ${http.textModelMeanMs} ms, ×${http.engineOverModel}); ` +
        `load ${loadAverage.start[0]} → ${loadAverage.end[0]}\n`,
    );
  } finally {
    await context.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`real-pack bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
