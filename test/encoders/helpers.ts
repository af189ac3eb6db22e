/** Shared by the encoder tests: the tiny pack, its reference embeddings, and vector comparisons. */
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { expect } from 'vitest';
import { isParasolError, type ErrorCode } from '../../src/errors.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TINY_PACK = path.join(ROOT, 'test/fixtures/tiny-pack');
export const MINI_PACK = path.join(ROOT, 'models/mini');

export interface ReferenceImage {
  file: string;
  semantic?: number[];
  style?: number[];
}

export interface ReferenceText {
  text: string;
  /** Padded to the semantic tower's maxTokens (mini packs may store them unpadded). */
  ids: number[];
  /** Padded to the style tower's maxTokens (tiny pack only). */
  styleIds?: number[];
  semantic: number[];
  style: number[];
}

export interface Reference {
  images: ReferenceImage[];
  texts: ReferenceText[];
}

export async function readReference(packDir: string): Promise<Reference> {
  return JSON.parse(await readFile(path.join(packDir, 'reference.json'), 'utf8')) as Reference;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-4): void {
  expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(tolerance);
}

export function expectUnit(v: Float32Array, dim: number): void {
  expect(v).toBeInstanceOf(Float32Array);
  expect(v.length).toBe(dim);
  let sum = 0;
  for (const x of v) sum += x * x;
  expect(Math.abs(Math.sqrt(sum) - 1)).toBeLessThan(1e-5);
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

/** Resolves to the ParasolError a promise rejects with, failing when it resolves or throws something else. */
export async function rejectionOf(promise: Promise<unknown>, code: ErrorCode): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (!isParasolError(error)) throw error;
    expect(error.code).toBe(code);
    return error;
  }
  throw new Error(`expected a ${code} rejection, but it resolved`);
}

/** A copy of the tiny pack in a temp folder, to break. */
export async function copyOfTinyPack(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const parent = await mkdtemp(path.join(tmpdir(), 'parasol-pack-'));
  const dir = path.join(parent, 'tiny-pack');
  await cp(TINY_PACK, dir, { recursive: true });
  return { dir, cleanup: () => rm(parent, { recursive: true, force: true }) };
}

/** A w×h image of vertical colour bands, as raw RGB, for building test files. */
export function bands(width: number, height: number, colours: Array<[number, number, number]>): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const colour = colours[Math.floor((x * colours.length) / width)];
      data.set(colour, (y * width + x) * 3);
    }
  }
  return data;
}

export function rawImage(data: Buffer, width: number, height: number, channels: 3 | 4 = 3) {
  return sharp(data, { raw: { width, height, channels } });
}
