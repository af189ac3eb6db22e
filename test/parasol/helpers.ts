/** Shared by the sampler tests: the tiny random generator pack, its reference, probe inputs. */
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { GeneratorModels, NoiseInput } from '../../src/encoders/generator.js';
import type { NoiseModel } from '../../src/parasol/guidance.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TINY_GENERATOR = path.join(ROOT, 'test/fixtures/tiny-generator');
export const MINI_PACK = path.join(ROOT, 'models/mini');

/** Whether the bundled pack carries a trained generator (a `parasol` block). */
export const MINI_HAS_GENERATOR = (() => {
  try {
    return (JSON.parse(readFileSync(path.join(MINI_PACK, 'pack.json'), 'utf8')) as { parasol?: unknown }).parasol !== undefined;
  } catch {
    return false;
  }
})();

export interface ScheduleReference {
  betaStart: number;
  betaEnd: number;
  timesteps: number;
  at: number[];
  betas: number[];
  alphasCumprod: number[];
}

export interface GeneratorReference {
  unet: { timestep: number[]; contentMask: number[]; styleMask: number[]; noise: number[][] };
  projector: number[][];
  encoder: number[];
  decoder: { stride: number; values: number[]; sum: number };
  schedule: Record<'linear' | 'scaled-linear', ScheduleReference>;
}

export async function readGeneratorReference(): Promise<GeneratorReference> {
  return JSON.parse(await readFile(path.join(TINY_GENERATOR, 'reference.json'), 'utf8')) as GeneratorReference;
}

/** rows × n float32 values fn(i, row), as probe_inputs() in make_tiny_generator.py builds them. */
export function wave(n: number, rows: number, fn: (i: number, row: number) => number): Float32Array {
  const out = new Float32Array(rows * n);
  for (let b = 0; b < rows; b++) for (let i = 0; i < n; i++) out[b * n + i] = fn(i, b);
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

export function maxAbs(a: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]));
  return max;
}

/** A NoiseModel that counts the UNet calls (and their batch sizes) it passes on. */
export function countingModel(models: GeneratorModels): NoiseModel & { calls: number[] } {
  const calls: number[] = [];
  return {
    dims: models.dims,
    calls,
    predictNoise(input: NoiseInput) {
      calls.push(input.batch);
      return models.predictNoise(input);
    },
  };
}

/** A unit vector of `dim` values from a formula. */
export function unitVector(dim: number, phase: number): Float32Array {
  const v = wave(dim, 1, (i) => Math.sin(0.9 * i + phase) + 0.3);
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  return v.map((x) => x / n);
}

/** A size × size PNG of random-ish colour blocks, seeded by `seed`. */
export async function testImage(size: number, seed: number): Promise<Buffer> {
  const data = Buffer.alloc(size * size * 3);
  let s = seed * 2654435761;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const block = Math.floor(x / 8) + 8 * Math.floor(y / 8);
      for (let c = 0; c < 3; c++) {
        s = (Math.imul(s ^ (block * 31 + c), 1103515245) + 12345) >>> 0;
        data[(y * size + x) * 3 + c] = ((block * 37 * (c + 1) + seed * 53) % 200) + (s % 40) + (x + y) % 16;
      }
    }
  }
  return sharp(data, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
}

/** A copy of the tiny generator pack in a temp folder, to break. */
export async function copyOfTinyGenerator(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const parent = await mkdtemp(path.join(tmpdir(), 'parasol-generator-'));
  const dir = path.join(parent, 'tiny-generator');
  await cp(TINY_GENERATOR, dir, { recursive: true });
  return { dir, cleanup: () => rm(parent, { recursive: true, force: true }) };
}
