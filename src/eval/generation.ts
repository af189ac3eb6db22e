/**
 * `parasol eval generation`: how the PARASOL sampler's controls move its output (DESIGN.md §8).
 *
 * Held-out (content, style) pairs from the demo corpus — y: an item whose content (codepoint) was
 * never trained on, drawn in a training style; s: an item of one of the three unseen style sets —
 * rendered at the generator's image size. For each setting, every pair is generated (one batch,
 * a fixed seed per pair) and scored:
 *   style   = MSE between the style-encoder descriptors of the output and of s (lower: closer to s's style)
 *   content = MSE between the semantic descriptors of the output and of y (lower: closer to y's content)
 *   colour  = ‖μ_out − μ_s‖ + ‖Σ_out − Σ_s‖_F over RGB in [0, 1] (lower: closer to s's colours)
 * Sweeps of λ, g_s and g_y around the defaults, and ablations: no inversion (seeded noise under
 * y's content condition), a single shared guidance scale g_s = g_y = g, and no colour transfer.
 * The paper's trends (lower λ: closer to s, farther from y; higher g_s: closer to s; higher g_y:
 * closer to y; colour transfer: lower colour distance) are reported, never asserted: a small or
 * random pack need not show them.
 *
 * Writes a plot of the sweeps (an SVG drawn here, rendered by sharp), a contact sheet of examples
 * and the report as JSON into the output folder.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type OverlayOptions } from 'sharp';
import type { Config } from '../config.js';
import { createError } from '../errors.js';
import { loadGenerator, type GeneratorModels } from '../encoders/generator.js';
import { loadEncoders, type LoadedEncoders } from '../encoders/index.js';
import type { ImageDescriptors } from '../encoders/types.js';
import type { ColourStats } from '../parasol/colour.js';
import { DEFAULT_GENERATOR_DEFAULTS, Generator, type ColourMethod, type GenerateRequest } from '../parasol/generate.js';
import { imageColourStats } from '../parasol/image.js';
import { buildCorpus, iconOf, type Corpus, type CorpusItem } from '../../corpus/corpus.js';
import { renderIcon } from '../../corpus/render.js';
import { HELD_OUT_SETS } from '../../corpus/sets.js';
import { fnv1a } from '../../corpus/split.js';
import { mean } from './metrics.js';
import {
  chanceLevels,
  recognisability,
  RECOGNISABILITY_K,
  sourceCeiling,
  STYLE_MAJORITY,
  type RecognisabilityFigures,
  type RecognitionIndex,
  type RecognitionTarget,
} from './recognisability.js';
import { comparisonLines, type GenerationComparison } from './generation-compare.js';
import { loadHeldOutParaphrases } from './retrieval.js';

export interface GenerationMetrics {
  style: number;
  content: number;
  colour: number;
}

export interface SweepRow extends GenerationMetrics {
  value: number;
}

export interface GenerationReport {
  pack: string;
  pairs: Array<{ content: string; style: string }>;
  steps: number;
  /** The settings every sweep holds fixed except its own. */
  /** colourMethod: absent in reports written before palette transfer (all of them used the moments). */
  defaults: { lambda: number; gs: number; gy: number; colour: boolean; colourMethod?: ColourMethod };
  lambda: SweepRow[];
  gs: SweepRow[];
  gy: SweepRow[];
  ablations: {
    full: GenerationMetrics;
    noInversion: GenerationMetrics;
    singleScale: GenerationMetrics & { g: number };
    noColour: GenerationMetrics;
  };
  /** Judged through the demo index at the defaults; absent when no index was given. */
  recognisability?: RecognisabilityReport;
  /** An earlier report's recognisability beside this one (`--baseline`). */
  comparison?: GenerationComparison;
  files: { plot: string; sheet: string; report: string };
  seconds: number;
}

export interface RecognisabilityReport {
  pairs: number;
  k: number;
  /** Style neighbours from the target set needed for `styleSet` to count an image. */
  majority: number;
  /** Generated from the content image y and the style image s (held-out pairs). */
  image: RecognisabilityFigures;
  /** Generated from words only: y's name through the semantic text tower, a held-out paraphrase of a set's style through the style text tower. */
  text: RecognisabilityFigures;
  /** The sources themselves judged the same way (the ceiling). */
  ceiling: RecognisabilityFigures;
  /** Random images from the index (counted from the corpus). */
  chance: { content: number; styleShare: number };
}

export interface GenerationEvalOptions {
  /** Held-out pairs (default 16). */
  pairs?: number;
  /** Reverse steps (default the config's generate.defaultSteps). */
  steps?: number;
  /** Output folder (default <dataDir>/eval). */
  out?: string;
  /** Progress lines on stderr. */
  progress?: boolean;
  /** The demo index to judge recognisability with (an opened store); none: that section is skipped. */
  index?: RecognitionIndex;
  /** Held-out pairs for recognisability (default 100). */
  recognitionPairs?: number;
  /**
   * Colour transfer at the defaults (default true, the engine's). False judges what the UNet does alone: the sweeps
   * and recognisability then run without it (and the no-colour ablation equals the full setting).
   */
  colour?: boolean;
  /** Its method (default: the generator's, palette). */
  colourMethod?: ColourMethod;
}

export const GUIDANCE_SWEEP = [0, 1, 3, 5, 8] as const;
export const LAMBDA_FRACTIONS = [0, 0.25, 0.5, 0.75, 1] as const;
/** Pairs generated in one batch (three UNet rows each per step). */
const BATCH = 8;

interface Pair {
  content: CorpusItem;
  style: CorpusItem;
  y: Buffer;
  s: Buffer;
  yDescriptors: ImageDescriptors;
  sDescriptors: ImageDescriptors;
  sColour: ColourStats;
  seed: number;
}

interface Setting {
  lambda: number;
  gs: number;
  gy: number;
  colour: boolean;
  invert: boolean;
}

interface Outcome {
  metrics: GenerationMetrics;
  images: Buffer[];
}

/** The first `n` items by a fixed hash order: the same pairs on every run. */
function pick(items: CorpusItem[], n: number, salt: string): CorpusItem[] {
  return [...items].sort((a, b) => fnv1a(`${salt}:${a.id}`) - fnv1a(`${salt}:${b.id}`) || a.id.localeCompare(b.id)).slice(0, n);
}

export function heldOutPairs(corpus: Corpus, n: number): Array<{ content: CorpusItem; style: CorpusItem }> {
  const contents = pick(
    corpus.items.filter((i) => i.split === 'unseen-content' && i.codepoint !== null),
    n,
    'eval-generation-content',
  );
  const styles = pick(
    corpus.items.filter((i) => HELD_OUT_SETS.has(i.set)),
    n,
    'eval-generation-style',
  );
  return contents.slice(0, Math.min(contents.length, styles.length)).map((content, i) => ({ content, style: styles[i] }));
}

function mse(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  return sum / a.length;
}

export function colourDistance(a: ColourStats, b: ColourStats): number {
  let means = 0;
  for (let c = 0; c < 3; c++) means += (a.mean[c] - b.mean[c]) ** 2;
  let covs = 0;
  for (let k = 0; k < 9; k++) covs += (a.cov[k] - b.cov[k]) ** 2;
  return Math.sqrt(means) + Math.sqrt(covs);
}

export async function evaluateGeneration(config: Config, options: GenerationEvalOptions = {}): Promise<GenerationReport> {
  const started = Date.now();
  const n = options.pairs ?? 16;
  if (!(Number.isInteger(n) && n >= 1 && n <= 256)) throw createError('BAD_REQUEST', `pairs must be an integer in 1..256, got ${n}`);
  const log = (line: string) => {
    if (options.progress) process.stderr.write(`${line}\n`);
  };
  let encoders: LoadedEncoders | undefined;
  let models: GeneratorModels | undefined;
  try {
    encoders = await loadEncoders({ packDir: config.packDir, device: config.device, threads: config.threads || undefined });
    if (encoders.manifest.parasol === undefined) {
      throw createError('GENERATION_UNAVAILABLE', `the model pack "${encoders.packName}" has no generator (no "parasol" block)`);
    }
    models = await loadGenerator({ packDir: config.packDir, device: config.device, threads: config.threads || undefined });
    const generator = new Generator({ models, encoders });
    const steps = options.steps ?? Math.min(config.generate.defaultSteps, models.dims.timesteps);
    if (!(Number.isInteger(steps) && steps >= 1 && steps <= models.dims.timesteps)) {
      throw createError('BAD_REQUEST', `steps must be an integer in 1..${models.dims.timesteps}, got ${steps}`);
    }

    log(`eval generation: ${n} held-out pairs, ${steps} steps, pack ${encoders.packName}`);
    const size = models.dims.imageSize;
    const corpus = buildCorpus();
    const chosen = heldOutPairs(corpus, n);
    const enc = encoders;
    const pairs: Pair[] = await Promise.all(
      chosen.map(async ({ content, style }, i) => {
        const render = (item: CorpusItem) => {
          const { set, icon } = iconOf(corpus, item);
          return renderIcon(set, icon, size);
        };
        const [y, s] = await Promise.all([render(content), render(style)]);
        const [yDescriptors, sDescriptors] = await enc.describeImages([y, s]);
        return { content, style, y, s, yDescriptors, sDescriptors, sColour: await imageColourStats(s), seed: 1000 + i };
      }),
    );

    const defaults = {
      lambda: Math.round(DEFAULT_GENERATOR_DEFAULTS.lambdaFraction * steps),
      gs: DEFAULT_GENERATOR_DEFAULTS.guidance.style,
      gy: DEFAULT_GENERATOR_DEFAULTS.guidance.content,
      colour: options.colour ?? true,
      colourMethod: options.colourMethod ?? DEFAULT_GENERATOR_DEFAULTS.colourMethod,
    };
    const base: Setting = { ...defaults, invert: true };
    const cache = new Map<string, Promise<Outcome>>();
    const run = (setting: Setting): Promise<Outcome> => {
      const key = JSON.stringify(setting);
      let outcome = cache.get(key);
      if (!outcome) {
        outcome = (async () => {
          const requests: GenerateRequest[] = pairs.map((p) => ({
            content: setting.invert ? { image: p.y, id: p.content.id } : { semantic: p.yDescriptors.semantic, id: p.content.id },
            style: { image: p.s, id: p.style.id },
            steps,
            lambda: setting.lambda,
            guidance: { style: setting.gs, content: setting.gy },
            seed: p.seed,
            colour: setting.colour,
            colourMethod: defaults.colourMethod,
          }));
          const images: Buffer[] = [];
          for (let i = 0; i < requests.length; i += BATCH) {
            for (const result of await generator.generateBatch(requests.slice(i, i + BATCH))) images.push(result.png);
          }
          const described = await enc.describeImages(images);
          const colours = await Promise.all(images.map((png) => imageColourStats(png)));
          const metrics = {
            style: mean(pairs.map((p, i) => mse(described[i].style, p.sDescriptors.style))),
            content: mean(pairs.map((p, i) => mse(described[i].semantic, p.yDescriptors.semantic))),
            colour: mean(pairs.map((p, i) => colourDistance(colours[i], p.sColour))),
          };
          log(`  ${key}: style ${metrics.style.toFixed(5)} content ${metrics.content.toFixed(5)} colour ${metrics.colour.toFixed(4)}`);
          return { metrics, images };
        })();
        cache.set(key, outcome);
      }
      return outcome;
    };
    // One setting at a time: the batches already fill the model.
    const sweep = async (values: readonly number[], apply: (value: number) => Partial<Setting>): Promise<SweepRow[]> => {
      const rows: SweepRow[] = [];
      for (const value of values) rows.push({ value, ...(await run({ ...base, ...apply(value) })).metrics });
      return rows;
    };
    const lambdaValues = [...new Set(LAMBDA_FRACTIONS.map((f) => Math.round(f * steps)))];
    const lambda = await sweep(lambdaValues, (value) => ({ lambda: value }));
    const gs = await sweep(GUIDANCE_SWEEP, (value) => ({ gs: value }));
    const gy = await sweep(GUIDANCE_SWEEP, (value) => ({ gy: value }));
    const g = (defaults.gs + defaults.gy) / 2;
    const ablations = {
      full: (await run(base)).metrics,
      noInversion: (await run({ ...base, invert: false })).metrics,
      singleScale: { ...(await run({ ...base, gs: g, gy: g })).metrics, g },
      noColour: (await run({ ...base, colour: false })).metrics,
    };

    const out = options.out ?? path.join(config.dataDir, 'eval');
    await mkdir(out, { recursive: true });
    const files = {
      plot: path.join(out, 'generation-sweeps.png'),
      sheet: path.join(out, 'generation-examples.png'),
      report: path.join(out, 'generation.json'),
    };
    await sharp(Buffer.from(sweepPlotSvg({ lambda, gs, gy }, steps))).png().toFile(files.plot);
    const columns: Array<{ label: string; images: Buffer[] }> = [
      { label: 'content y', images: pairs.map((p) => p.y) },
      { label: 'style s', images: pairs.map((p) => p.s) },
      { label: 'PARASOL', images: (await run(base)).images },
      { label: `λ = 0`, images: (await run({ ...base, lambda: 0 })).images },
      { label: `λ = ${steps}`, images: (await run({ ...base, lambda: steps })).images },
      { label: 'no inversion', images: (await run({ ...base, invert: false })).images },
      { label: `g_s = g_y = ${g}`, images: (await run({ ...base, gs: g, gy: g })).images },
      { label: 'no colour', images: (await run({ ...base, colour: false })).images },
    ];
    await writeFile(files.sheet, await contactSheet(columns, Math.min(pairs.length, 6)));

    let recognised: RecognisabilityReport | undefined;
    if (options.index) {
      const m = options.recognitionPairs ?? 100;
      if (!(Number.isInteger(m) && m >= 1 && m <= 1000)) throw createError('BAD_REQUEST', `recognition pairs must be an integer in 1..1000, got ${m}`);
      log(`recognisability: ${m} held-out pairs through the index`);
      recognised = await judgeRecognisability({ index: options.index, corpus, generator, encoders: enc, pairs: m, steps, size, defaults });
      log(`  image: content ${recognised.image.content.toFixed(3)} style set ${recognised.image.styleSet.toFixed(3)}; text: content ${recognised.text.content.toFixed(3)} style set ${recognised.text.styleSet.toFixed(3)}`);
    }

    const report: GenerationReport = {
      pack: encoders.packName,
      pairs: pairs.map((p) => ({ content: p.content.id, style: p.style.id })),
      steps,
      defaults,
      lambda,
      gs,
      gy,
      ablations,
      recognisability: recognised,
      files,
      seconds: (Date.now() - started) / 1000,
    };
    await writeFile(files.report, `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    await models?.dispose();
    await encoders?.dispose();
  }
}

interface RecognitionRun {
  index: RecognitionIndex;
  corpus: Corpus;
  generator: Generator;
  encoders: LoadedEncoders;
  pairs: number;
  steps: number;
  size: number;
  defaults: { lambda: number; gs: number; gy: number; colour: boolean; colourMethod: ColourMethod };
}

/** Generates held-out pairs at the defaults, from images and from words, and judges them through the index. */
async function judgeRecognisability(run: RecognitionRun): Promise<RecognisabilityReport> {
  const { corpus, generator, encoders, steps, defaults } = run;
  const chosen = heldOutPairs(corpus, run.pairs).filter((p) => p.content.codepoint !== null);
  const render = (item: CorpusItem) => {
    const { set, icon } = iconOf(corpus, item);
    return renderIcon(set, icon, run.size);
  };
  const ys = await Promise.all(chosen.map((p) => render(p.content)));
  const ss = await Promise.all(chosen.map((p) => render(p.style)));
  const imageTargets: RecognitionTarget[] = chosen.map((p) => ({ codepoint: p.content.codepoint!, set: p.style.set }));
  const guidance = { style: defaults.gs, content: defaults.gy };
  const generateAll = async (requests: GenerateRequest[]): Promise<Buffer[]> => {
    const images: Buffer[] = [];
    for (let i = 0; i < requests.length; i += BATCH) {
      for (const result of await generator.generateBatch(requests.slice(i, i + BATCH))) images.push(result.png);
    }
    return images;
  };
  const fromImages = await generateAll(
    chosen.map((p, i) => ({
      content: { image: ys[i], id: p.content.id },
      style: { image: ss[i], id: p.style.id },
      steps,
      lambda: defaults.lambda,
      guidance,
      seed: 5000 + i,
      colour: defaults.colour,
      colourMethod: defaults.colourMethod,
    })),
  );

  // Words only: y's name, and a held-out paraphrase of a training set's look (unseen sets have no words).
  const paraphrases = await loadHeldOutParaphrases();
  const textTargets: RecognitionTarget[] = chosen.map((p, i) => ({
    codepoint: p.content.codepoint!,
    set: paraphrases[i % paraphrases.length].set,
  }));
  const semantics = await encoders.semanticText.embedTexts(chosen.map((p) => p.content.name));
  const styles = await encoders.styleText.embedTexts(chosen.map((_, i) => paraphrases[i % paraphrases.length].text));
  const fromWords = await generateAll(
    chosen.map((p, i) => ({
      content: { semantic: semantics[i], id: p.content.id },
      style: { vector: styles[i] },
      steps,
      lambda: defaults.lambda,
      guidance,
      seed: 7000 + i,
      colour: false,
    })),
  );

  const perCodepoint = new Map<string, number>();
  for (const item of corpus.items) if (item.codepoint) perCodepoint.set(item.codepoint, (perCodepoint.get(item.codepoint) ?? 0) + 1);
  return {
    pairs: chosen.length,
    k: RECOGNISABILITY_K,
    majority: STYLE_MAJORITY,
    image: await recognisability(run.index, encoders, fromImages, imageTargets),
    text: await recognisability(run.index, encoders, fromWords, textTargets),
    ceiling: await sourceCeiling(run.index, encoders, ys, ss, imageTargets),
    chance: await chanceLevels(run.index.catalog, (c) => perCodepoint.get(c) ?? 0, imageTargets),
  };
}

// ---- pictures ----

const METRICS = ['style', 'content', 'colour'] as const;
const COLOURS: Record<(typeof METRICS)[number], string> = { style: '#c2410c', content: '#1d4ed8', colour: '#15803d' };

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Three sweeps × three metrics as small line charts: one column per sweep, one row per metric. */
export function sweepPlotSvg(sweeps: { lambda: SweepRow[]; gs: SweepRow[]; gy: SweepRow[] }, steps: number): string {
  const panelW = 240;
  const panelH = 150;
  const margin = { left: 64, right: 16, top: 28, bottom: 34 };
  const titles = { lambda: `λ (of ${steps} steps)`, gs: 'g_s (style guidance)', gy: 'g_y (content guidance)' };
  const names = ['lambda', 'gs', 'gy'] as const;
  const width = names.length * (panelW + margin.left + margin.right);
  const height = 40 + METRICS.length * (panelH + margin.top + margin.bottom);
  const fmt = (x: number, digits = 3) => (Math.abs(x) >= 100 || x === 0 ? x.toFixed(0) : x.toPrecision(digits));
  /** Enough digits that the two ends of an axis read differently. */
  const ends = (lo: number, hi: number): [string, string] => {
    let digits = 3;
    while (digits < 8 && fmt(lo, digits) === fmt(hi, digits)) digits++;
    return [fmt(lo, digits), fmt(hi, digits)];
  };
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16">PARASOL generation sweeps (lower is closer)</text>`,
  ];
  names.forEach((name, col) => {
    const rows = sweeps[name];
    const xs = rows.map((r) => r.value);
    const xMin = Math.min(...xs);
    const xMax = Math.max(...xs);
    METRICS.forEach((metric, row) => {
      const ox = col * (panelW + margin.left + margin.right) + margin.left;
      const oy = 40 + row * (panelH + margin.top + margin.bottom) + margin.top;
      const ys = rows.map((r) => r[metric]);
      let yMin = Math.min(...ys);
      let yMax = Math.max(...ys);
      if (!(yMax > yMin)) {
        yMin -= 1e-6;
        yMax += 1e-6;
      }
      const px = (x: number) => ox + (xMax > xMin ? ((x - xMin) / (xMax - xMin)) * panelW : panelW / 2);
      const py = (y: number) => oy + panelH - ((y - yMin) / (yMax - yMin)) * panelH;
      parts.push(`<rect x="${ox}" y="${oy}" width="${panelW}" height="${panelH}" fill="#f8fafc" stroke="#94a3b8"/>`);
      parts.push(`<text x="${ox + panelW / 2}" y="${oy - 8}" text-anchor="middle">${escapeXml(`${metric} distance vs ${titles[name]}`)}</text>`);
      const [low, high] = ends(yMin, yMax);
      parts.push(`<text x="${ox - 6}" y="${oy + 10}" text-anchor="end" font-size="10">${high}</text>`);
      parts.push(`<text x="${ox - 6}" y="${oy + panelH}" text-anchor="end" font-size="10">${low}</text>`);
      for (const x of xs) {
        parts.push(`<text x="${px(x)}" y="${oy + panelH + 14}" text-anchor="middle" font-size="10">${String(Number(x.toFixed(3)))}</text>`);
      }
      const points = rows.map((r) => `${px(r.value).toFixed(1)},${py(r[metric]).toFixed(1)}`).join(' ');
      parts.push(`<polyline points="${points}" fill="none" stroke="${COLOURS[metric]}" stroke-width="2"/>`);
      for (const r of rows) {
        parts.push(`<circle cx="${px(r.value).toFixed(1)}" cy="${py(r[metric]).toFixed(1)}" r="3" fill="${COLOURS[metric]}"/>`);
      }
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Rows of examples (one per pair), one labelled column per setting; pixels scaled up without smoothing. */
async function contactSheet(columns: Array<{ label: string; images: Buffer[] }>, rows: number): Promise<Buffer> {
  const cell = 112;
  const gap = 6;
  const header = 26;
  const width = columns.length * (cell + gap) + gap;
  const height = header + rows * (cell + gap) + gap;
  const labels = columns
    .map((c, i) => `<text x="${gap + i * (cell + gap) + cell / 2}" y="18" text-anchor="middle">${escapeXml(c.label)}</text>`)
    .join('');
  const overlay = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${header}" font-family="DejaVu Sans, sans-serif" font-size="12">${labels}</svg>`,
  );
  const tiles: OverlayOptions[] = [{ input: overlay, left: 0, top: 0 }];
  for (let r = 0; r < rows; r++) {
    for (const [i, column] of columns.entries()) {
      const input = await sharp(column.images[r]).resize(cell, cell, { fit: 'contain', background: '#ffffff', kernel: 'nearest' }).png().toBuffer();
      tiles.push({ input, left: gap + i * (cell + gap), top: header + gap + r * (cell + gap) });
    }
  }
  return sharp({ create: { width, height, channels: 3, background: '#e2e8f0' } }).composite(tiles).png().toBuffer();
}

export function formatGenerationReport(report: GenerationReport): string {
  const f = (x: number) => x.toFixed(5);
  const table = (name: string, rows: SweepRow[]) => [
    `${name}:`,
    ...rows.map((r) => `  ${String(r.value).padStart(5)}  style ${f(r.style)}  content ${f(r.content)}  colour ${f(r.colour)}`),
  ];
  const a = report.ablations;
  const line = (name: string, m: GenerationMetrics) => `  ${name.padEnd(22)} style ${f(m.style)}  content ${f(m.content)}  colour ${f(m.colour)}`;
  return [
    `pack ${report.pack} — generation on ${report.pairs.length} held-out pairs, ${report.steps} steps (${report.seconds.toFixed(0)} s)`,
    `defaults: λ ${report.defaults.lambda}, g_s ${report.defaults.gs}, g_y ${report.defaults.gy}, colour transfer ${report.defaults.colour ? (report.defaults.colourMethod ?? 'moments') : 'off'}`,
    `(style: style-encoder MSE to s; content: semantic MSE to y; colour: RGB mean + covariance distance to s; lower is closer)`,
    ...table('λ sweep', report.lambda),
    ...table('g_s sweep', report.gs),
    ...table('g_y sweep', report.gy),
    'ablations:',
    line('PARASOL (defaults)', a.full),
    line('no inversion', a.noInversion),
    line(`single scale g = ${a.singleScale.g}`, a.singleScale),
    line('no colour transfer', a.noColour),
    ...recognisabilityLines(report.recognisability),
    ...(report.comparison ? comparisonLines(report.comparison, report) : []),
    `plot: ${report.files.plot}`,
    `examples: ${report.files.sheet}`,
    '',
  ].join('\n');
}

function recognisabilityLines(r: RecognisabilityReport | undefined): string[] {
  if (!r) return ['recognisability: skipped (no index given)'];
  const f = (x: number) => x.toFixed(3);
  const row = (name: string, x: RecognisabilityFigures) =>
    `  ${name.padEnd(22)} content ${f(x.content)}  style set ${f(x.styleSet)}  style share ${f(x.styleShare)}`;
  return [
    `recognisability (${r.pairs} held-out pairs, top ${r.k} neighbours in the index; style set: ≥ ${r.majority} of ${r.k} from s's set):`,
    row('from images', r.image),
    row('from words', r.text),
    row('the sources (ceiling)', r.ceiling),
    `  chance                 content ${f(r.chance.content)}  style share ${f(r.chance.styleShare)}`,
  ];
}
