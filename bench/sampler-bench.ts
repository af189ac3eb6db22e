/**
 * The PARASOL sampler: seconds per image at 25 and 50 steps, one image and a batch, and the share
 * of wall time spent inside the UNet (every predictNoise call is timed through a thin wrapper).
 */
import type { LoadedEncoders } from '../src/encoders/index.js';
import { loadGenerator, type GeneratorModels } from '../src/encoders/generator.js';
import { Generator, type GenerateRequest } from '../src/parasol/generate.js';
import { buildCorpus, iconOf } from '../corpus/corpus.js';
import { renderIcon } from '../corpus/render.js';
import { round } from './stats.js';

export interface SamplerRun {
  steps: number;
  batch: number;
  /** Wall seconds for the whole batch, and per image. */
  seconds: number;
  secondsPerImage: number;
  /** UNet calls and the seconds spent inside them. */
  unetCalls: number;
  unetSeconds: number;
  /** wall / UNet time (1.0 = no overhead outside the UNet). */
  wallOverUnet: number;
}

export interface SamplerResult {
  pack: string;
  provider: string;
  imageSize: number;
  /** Milliseconds per batch-of-3 UNet call (one image, one step), median over the 25-step run. */
  unetCallMs: number;
  runs: SamplerRun[];
}

/** Times every UNet call without changing what it computes. */
function timedModels(models: GeneratorModels, calls: number[]): GeneratorModels {
  return Object.assign(Object.create(models) as GeneratorModels, {
    predictNoise: async (input: Parameters<GeneratorModels['predictNoise']>[0]) => {
      const started = performance.now();
      try {
        return await models.predictNoise(input);
      } finally {
        calls.push(performance.now() - started);
      }
    },
  });
}

async function demoImages(count: number, size: number): Promise<Buffer[]> {
  const corpus = buildCorpus(['noto', 'openmoji', 'fluent-emoji-flat']);
  const picks = corpus.items.filter((item) => item.codepoint !== null).filter((_, i) => i % 97 === 0).slice(0, count);
  return Promise.all(picks.map((item) => {
    const { set, icon } = iconOf(corpus, item);
    return renderIcon(set, icon, size);
  }));
}

export async function benchSampler(
  packDir: string,
  encoders: LoadedEncoders,
  options: { steps: number[]; batch: number },
): Promise<SamplerResult> {
  const models = await loadGenerator({ packDir });
  try {
    const calls: number[] = [];
    const generator = new Generator({ models: timedModels(models, calls), encoders });
    const images = await demoImages(options.batch * 2, models.dims.imageSize);
    const request = (i: number, steps: number): GenerateRequest => ({
      content: { image: images[i] },
      style: { image: images[options.batch + i] },
      steps,
      lambda: Math.round(steps / 2),
      seed: 1234 + i,
      colour: true,
    });
    // One untimed image first: session warm-up (allocation, kernel selection) is not per-image cost.
    await generator.generate(request(0, 2));

    const runs: SamplerRun[] = [];
    let unetCallMs = 0;
    for (const steps of options.steps) {
      for (const batch of [1, options.batch]) {
        calls.length = 0;
        const started = performance.now();
        await generator.generateBatch(Array.from({ length: batch }, (_, i) => request(i, steps)));
        const seconds = (performance.now() - started) / 1000;
        const unetSeconds = calls.reduce((a, b) => a + b, 0) / 1000;
        if (batch === 1 && unetCallMs === 0) unetCallMs = round([...calls].sort((a, b) => a - b)[Math.floor(calls.length / 2)], 2);
        runs.push({
          steps,
          batch,
          seconds: round(seconds, 3),
          secondsPerImage: round(seconds / batch, 3),
          unetCalls: calls.length,
          unetSeconds: round(unetSeconds, 3),
          wallOverUnet: round(seconds / unetSeconds, 3),
        });
      }
    }
    return { pack: models.packName, provider: models.provider, imageSize: models.dims.imageSize, unetCallMs, runs };
  } finally {
    await models.dispose();
  }
}
