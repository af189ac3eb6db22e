/**
 * `parasol pack import …` and `parasol pack check <pack>`.
 *
 * import runs the Python exporter (models/export, `python -m parasol_export`) with the same
 * arguments, streaming its progress lines; its one-line refusal becomes this command's error.
 * check loads every model of a pack through src/encoders (the only owner of onnxruntime),
 * probes each, and prints dimensions, precision and milliseconds per image and per text.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { loadEncoders, type LoadedEncoders } from '../encoders/index.js';
import { readPack } from '../encoders/pack.js';
import { fitRidge, mapBytes } from '../encoders/text-style-map.js';
import { fitProjection, projectionBytes } from '../encoders/style-projection.js';
import { readIndexedItems, renderSizeFor, storedImageReader } from '../services/reindex.js';
import { folderSource } from '../../indexer/sources/folder.js';
import { loadConfig } from '../config.js';
import { openStore } from '../context.js';
import { createError } from '../errors.js';
import type { CliCommand } from './command.js';

const USAGE = `Usage:
  parasol pack import hf-clip <folder> --out <pack> [--precision fp32|fp16|int8] [--name N]
  parasol pack import open-clip --model <name|config.json> --checkpoint <file> --out <pack> [--precision …]
  parasol pack import style --arch <timm ViT> --checkpoint <file> [--head <file>] [--heads N] --into <pack> [--precision …]
  parasol pack import style --kind csd --checkpoint <file> --into <pack> [--precision …]
  parasol pack import statistics --into <pack> [--replace-style]
                          the weights-free style descriptor from a pack's conv semantic tower (graph surgery)
  parasol pack check <pack> [--device auto|cpu|cuda] [--runs N] [--json]
  parasol pack fit-text-style --pack <pack> --data <dir> [--json]
                          fit text -> style (semantic space -> style space, ridge) on the images indexed in <dir>
  parasol pack fit-style --pack <pack> (--images <folder> | --data <dir>) [--dim N] [--power P] [--sample N] [--json]
                          a CLIP-only pack's weights-free style descriptor: fit the projection (PCA-whitening) of its
                          vision tower's per-layer statistics on a folder's images or an index's stored images
The importer needs Python with models/export/requirements.txt installed (PARASOL_PYTHON names the interpreter).`;

export const packCommand: CliCommand = {
  name: 'pack',
  usage:
    '  pack import hf-clip|open-clip|style|statistics … | pack check <pack> | pack fit-text-style --pack P --data DIR\n' +
    '  pack fit-style --pack P --images DIR|--data DIR           fit a CLIP-only pack\'s weights-free style descriptor\n' +
    '                                                          model packs from public checkpoints (parasol pack --help)',
  run: runPack,
};

async function runPack(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'import') return importPack(rest);
  if (sub === 'check') return checkPack(rest);
  if (sub === 'fit-text-style') return fitTextStyle(rest);
  if (sub === 'fit-style') return fitStyle(rest);
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  throw createError('BAD_REQUEST', `unknown pack command "${sub}" (import | check | fit-text-style | fit-style)`);
}

/** PARASOL_PYTHON, else the environment `npm test` and scripts/python-env.sh create beside models/, else python3. */
function importerPython(): string {
  if (process.env.PARASOL_PYTHON) return process.env.PARASOL_PYTHON;
  const venv = path.join(path.dirname(path.dirname(exporterDir())), '.venv-export', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

/** models/export, found from this file both in src/cli (tsx) and in dist/src/cli. */
function exporterDir(): string {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'models', 'export');
    if (existsSync(path.join(candidate, 'parasol_export', '__main__.py'))) return candidate;
    if (path.dirname(dir) === dir) throw createError('NOT_FOUND', 'models/export (the pack importer) is not installed beside Parasol');
  }
}

async function importPack(args: string[]): Promise<void> {
  const python = importerPython();
  const cwd = exporterDir();
  // Output folders are taken relative to where parasol runs, not to models/export.
  const absolute = absolutePaths(args);
  const refusal = await new Promise<string | undefined>((resolve, reject) => {
    const child = spawn(python, ['-m', 'parasol_export', ...absolute], { cwd, stdio: ['ignore', 'inherit', 'pipe'] });
    let last: string | undefined;
    let pending = '';
    child.stderr.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('error: ')) last = line.slice('error: '.length);
        else if (line.startsWith('parasol-export: ')) process.stderr.write(`${line.slice('parasol-export: '.length)}\n`);
        else if (line.startsWith('usage:') || /^(Traceback|\w*Error)/.test(line)) last = line;
      }
    });
    child.on('error', (error) =>
      reject(createError('BAD_REQUEST', `cannot run ${python} (${error.message}); install Python and models/export/requirements.txt, or set PARASOL_PYTHON`)),
    );
    child.on('close', (code) => {
      if (pending.startsWith('error: ')) last = pending.slice('error: '.length);
      resolve(code === 0 ? undefined : (last ?? `the importer exited with code ${code}`));
    });
  });
  if (refusal !== undefined) {
    if (/No module named/.test(refusal)) {
      throw createError('BAD_REQUEST', `${refusal}: install the importer's environment (README "Use a real model") or set PARASOL_PYTHON`);
    }
    throw createError('BAD_REQUEST', refusal);
  }
}

const PATH_FLAGS = new Set(['--out', '--into', '--checkpoint', '--head']);

function absolutePaths(args: string[]): string[] {
  return args.map((arg, i) => {
    const previous = args[i - 1];
    if (previous && PATH_FLAGS.has(previous)) return path.resolve(arg);
    if (previous === '--model' && arg.endsWith('.json')) return path.resolve(arg);
    // hf-clip's folder is its one positional argument.
    if (i === 1 && args[0] === 'hf-clip' && !arg.startsWith('-')) return path.resolve(arg);
    return arg;
  });
}

interface CheckReport {
  pack: string;
  dir: string;
  precision: string;
  provider: string;
  semantic: { dim: number; imageMs: number; textMs: number };
  style: { dim: number; imageMs: number; textMs: number | null; statistics?: string };
}

async function checkPack(args: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { device: { type: 'string', default: 'auto' }, runs: { type: 'string', default: '5' }, json: { type: 'boolean', default: false } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw createError('BAD_REQUEST', (error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw createError('BAD_REQUEST', 'pack check takes one pack folder');
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw createError('BAD_REQUEST', `--runs must be a positive integer, got "${values.runs}"`);
  const packDir = path.resolve(positionals[0]);
  // A CLIP-only pack is checked before its style projection is fitted too (its statistics are timed).
  const encoders = await loadEncoders({ packDir, device: values.device, cacheSize: 0, textThreads: 1, allowUnfittedStyle: true });
  try {
    const report = await measure(encoders, runs);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      return;
    }
    const ms = (value: number | null) => (value === null ? 'none (no style.text)' : `${value.toFixed(1)} ms/text`);
    process.stdout.write(
      `pack ${report.pack} (${report.dir}), ${report.precision}, on ${report.provider}\n` +
        `  semantic: ${report.semantic.dim}-d, ${report.semantic.imageMs.toFixed(1)} ms/image, ${ms(report.semantic.textMs)}\n` +
        `  style:    ${report.style.dim}-d, ${report.style.imageMs.toFixed(1)} ms/image, ${ms(report.style.textMs)}` +
        `${report.style.statistics ? ` (weights-free: ${report.style.statistics})` : ''}\n`,
    );
  } finally {
    await encoders.dispose();
  }
}

async function measure(encoders: LoadedEncoders, runs: number): Promise<CheckReport> {
  const image = await probeImage();
  const text = 'a watercolour painting of a lighthouse at dusk';
  const time = async (fn: () => Promise<unknown>): Promise<number> => {
    await fn(); // the first run pays for allocation; measure the rest
    const started = performance.now();
    for (let i = 0; i < runs; i++) await fn();
    return (performance.now() - started) / runs;
  };
  const styleText = encoders.manifest.style.text
    ? await time(() => encoders.styleText.embedTexts([`${text} ${Math.random()}`]))
    : null;
  return {
    pack: encoders.packName,
    dir: encoders.packDir,
    precision: await declaredPrecision(encoders.packDir),
    provider: encoders.provider,
    semantic: {
      dim: encoders.semanticDim,
      imageMs: await time(() => encoders.semanticImage.embedImages([image])),
      textMs: await time(() => encoders.semanticText.embedTexts([`${text} ${Math.random()}`])),
    },
    style: await styleReport(encoders, image, time, styleText),
  };
}

/** The style tower's timing; for the weights-free descriptor, what it is and whether its projection is fitted. */
async function styleReport(
  encoders: LoadedEncoders,
  image: Buffer,
  time: (fn: () => Promise<unknown>) => Promise<number>,
  textMs: number | null,
): Promise<CheckReport['style']> {
  const statistics = encoders.manifest.style.statistics;
  if (!statistics) return { dim: encoders.styleDim, imageMs: await time(() => encoders.styleImage.embedImages([image])), textMs };
  if (statistics.projection) {
    return {
      dim: encoders.styleDim,
      imageMs: await time(() => encoders.styleImage.embedImages([image])),
      textMs,
      statistics: `${statistics.dim} statistics, PCA-whitened on ${statistics.projection.images} images`,
    };
  }
  const prepared = await encoders.prepareImage(image);
  return {
    dim: encoders.styleDim,
    imageMs: await time(() => encoders.styleStatistics([prepared])),
    textMs,
    statistics: `${statistics.dim} statistics, projection NOT fitted: run \`parasol pack fit-style\``,
  };
}

/** Imported packs record their precision in pack.json; the bundled packs are fp32. */
async function declaredPrecision(packDir: string): Promise<string> {
  const manifest = JSON.parse(await readFile(path.join(packDir, 'pack.json'), 'utf8')) as { precision?: unknown };
  return typeof manifest.precision === 'string' ? manifest.precision : 'fp32';
}

/** A 320×240 gradient: a non-square image, so the resize and crop paths run as on real photos. */
async function probeImage(): Promise<Buffer> {
  const width = 320;
  const height = 240;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      pixels[i] = (x * 255) / width;
      pixels[i + 1] = (y * 255) / height;
      pixels[i + 2] = ((x + y) * 255) / (width + height);
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

const MAP_FILE = 'style_text_map.bin';

/**
 * Fits the semantic -> style map on every indexed image's pair of vectors and stores it in the
 * pack; style text queries then run the semantic text tower and the map.
 */
async function fitTextStyle(args: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { pack: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean', default: false } },
      strict: true,
    });
  } catch (error) {
    throw createError('BAD_REQUEST', (error as Error).message);
  }
  const { values } = parsed;
  if (!values.pack || !values.data) throw createError('BAD_REQUEST', 'fit-text-style needs --pack <pack> and --data <dir>');
  const pack = await readPack(values.pack);
  if (pack.manifest.style.text) {
    throw createError('BAD_REQUEST', `the pack "${pack.manifest.name}" already has a text-to-style model (style.text: ${pack.manifest.style.text.file})`);
  }
  const dataDir = path.resolve(values.data);
  // Opening a store creates one: refuse a folder that holds no index rather than make an empty one.
  if (!existsSync(dataDir)) throw createError('BAD_REQUEST', `${values.data}: no such data directory`);
  const dims = { semanticDim: pack.manifest.semantic.dim, styleDim: pack.manifest.style.dim };
  const store = await openStore(loadConfig({ dataDir, packDir: pack.dir }), dims);
  const semantic: Float32Array[] = [];
  const style: Float32Array[] = [];
  try {
    for await (const batch of store.catalog.scan(512)) {
      for (const item of batch) {
        semantic.push(item.semantic);
        style.push(item.style);
      }
    }
  } finally {
    await store.close();
  }
  if (semantic.length < 10) {
    throw createError('BAD_REQUEST', `${values.data} holds ${semantic.length} indexed images; fitting text -> style needs at least 10`);
  }
  const fit = fitRidge(semantic, style);
  // Written beside the live files, then renamed: a failed fit leaves the pack as it was.
  const mapPath = path.join(pack.dir, MAP_FILE);
  await writeFile(`${mapPath}.tmp`, mapBytes(fit.map));
  await rename(`${mapPath}.tmp`, mapPath);
  const manifestPath = path.join(pack.dir, 'pack.json');
  const raw = JSON.parse(await readFile(manifestPath, 'utf8')) as { style: Record<string, unknown> };
  raw.style.textMap = { file: MAP_FILE, lambda: fit.lambda, pairs: fit.pairs, heldOutCosine: Number(fit.heldOutCosine.toFixed(4)) };
  await writeFile(`${manifestPath}.tmp`, `${JSON.stringify(raw, null, 2)}\n`);
  await rename(`${manifestPath}.tmp`, manifestPath);
  const summary = { pack: pack.manifest.name, pairs: fit.pairs, lambda: fit.lambda, heldOutCosine: fit.heldOutCosine };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(
      `fitted text -> style on ${fit.pairs} images (ridge, lambda ${fit.lambda}); held-out cosine ${fit.heldOutCosine.toFixed(3)}\n`,
    );
  }
}

const PROJECTION_FILE = 'style_projection.bin';
const DEFAULT_FIT_SAMPLE = 5000;

/**
 * Fits the projection of a CLIP-only pack's style statistics (see src/encoders/style-projection.ts)
 * on up to --sample images, evenly spread over a folder or an index's stored images, and stores it
 * in the pack; the pack then describes styles, and indices built before must be re-encoded.
 */
async function fitStyle(args: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        pack: { type: 'string' },
        images: { type: 'string' },
        data: { type: 'string' },
        dim: { type: 'string', default: '128' },
        power: { type: 'string', default: '1' },
        sample: { type: 'string', default: String(DEFAULT_FIT_SAMPLE) },
        json: { type: 'boolean', default: false },
      },
      strict: true,
    });
  } catch (error) {
    throw createError('BAD_REQUEST', (error as Error).message);
  }
  const { values } = parsed;
  if (!values.pack || (!values.images && !values.data) || (values.images && values.data)) {
    throw createError('BAD_REQUEST', 'fit-style needs --pack <pack> and one of --images <folder> or --data <dir>');
  }
  const dim = Number(values.dim);
  const power = Number(values.power);
  const sample = Number(values.sample);
  if (!Number.isInteger(dim) || dim < 2) throw createError('BAD_REQUEST', `--dim must be an integer of at least 2, got "${values.dim}"`);
  if (!(power >= 0 && power <= 1)) throw createError('BAD_REQUEST', `--power must be between 0 and 1, got "${values.power}"`);
  if (!Number.isInteger(sample) || sample < 3) throw createError('BAD_REQUEST', `--sample must be an integer of at least 3, got "${values.sample}"`);
  const pack = await readPack(values.pack);
  if (!pack.manifest.style.statistics) {
    throw createError('BAD_REQUEST', `the pack "${pack.manifest.name}" has a trained style encoder (${pack.manifest.style.image.file}), not style statistics to fit`);
  }
  const encoders = await loadEncoders({ packDir: pack.dir, allowUnfittedStyle: true, cacheSize: 0 });
  let statistics: Float32Array[];
  let lastLine = Date.now();
  try {
    const describe = async (images: Array<() => Promise<Buffer | undefined>>): Promise<Float32Array[]> => {
      const chosen = spread(images, sample);
      const out: Float32Array[] = [];
      for (let i = 0; i < chosen.length; i += 64) {
        const prepared = [];
        for (const read of chosen.slice(i, i + 64)) {
          const bytes = await read().catch(() => undefined);
          if (!bytes) continue;
          prepared.push(await encoders.prepareImage(bytes).catch(() => undefined));
        }
        out.push(...(await encoders.styleStatistics(prepared.filter((p) => p !== undefined))));
        const done = Math.min(i + 64, chosen.length);
        if (done === chosen.length || Date.now() - lastLine > 2000) {
          lastLine = Date.now();
          process.stderr.write(`style statistics ${done}/${chosen.length}\n`);
        }
      }
      return out;
    };
    if (values.images) {
      const source = await folderSource(values.images);
      const reads: Array<() => Promise<Buffer | undefined>> = [];
      for await (const item of source.items()) reads.push(() => item.bytes());
      statistics = await describe(reads);
    } else {
      const read = storedImageReader(renderSizeFor(encoders));
      statistics = await readIndexedItems(path.resolve(values.data as string), (items, catalog) =>
        describe(items.map((item) => () => read(item, catalog))),
      );
    }
  } finally {
    await encoders.dispose();
  }
  if (statistics.length < 3) throw createError('BAD_REQUEST', `found ${statistics.length} readable images; fitting the style projection needs at least 3`);
  const fit = fitProjection(statistics, dim, power);
  const filePath = path.join(pack.dir, PROJECTION_FILE);
  await writeFile(`${filePath}.tmp`, projectionBytes(fit.projection));
  await rename(`${filePath}.tmp`, filePath);
  const manifestPath = path.join(pack.dir, 'pack.json');
  const raw = JSON.parse(await readFile(manifestPath, 'utf8')) as { style: Record<string, unknown> & { statistics: Record<string, unknown> } };
  raw.style.dim = fit.projection.outDim;
  raw.style.statistics.projection = {
    file: PROJECTION_FILE,
    kind: 'pca-whiten',
    power,
    images: fit.images,
    explained: Number(fit.explained.toFixed(4)),
  };
  // The style dimension may have changed: a text -> style map fitted before no longer fits.
  delete raw.style.textMap;
  await writeFile(`${manifestPath}.tmp`, `${JSON.stringify(raw, null, 2)}\n`);
  await rename(`${manifestPath}.tmp`, manifestPath);
  const summary = { pack: pack.manifest.name, images: fit.images, dim: fit.projection.outDim, statisticsDim: fit.projection.inDim, power, explained: fit.explained };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(
      `fitted the style projection on ${fit.images} images: ${fit.projection.inDim} statistics -> ${fit.projection.outDim} dims ` +
        `(PCA-whitening, power ${power}; ${(100 * fit.explained).toFixed(1)}% of the variance); re-encode indices built before with \`parasol reindex\`\n`,
    );
  }
}

/** Up to `count` of `items`, evenly spread (all of them when there are fewer). */
function spread<T>(items: T[], count: number): T[] {
  if (items.length <= count) return items;
  return Array.from({ length: count }, (_, i) => items[Math.floor((i * items.length) / count)]);
}
