/** Shared fixtures for the storage tests: temp directories, seeded random vectors, item inputs. */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalize } from '../../src/vectors.js';
import type { ItemInput } from '../../src/store/types.js';

export const DIMS = { semantic: 16, style: 8 };

/** A fresh directory removed by the returned cleanup. */
export function tempDir(prefix = 'parasol-store-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export { seededRandom } from '../../src/random.js';

export function randomUnitVector(dim: number, random: () => number): Float32Array {
  const v = new Float32Array(dim);
  for (let i = 0; i < dim; i++) {
    // Box-Muller: Gaussian coordinates make directions uniform on the sphere.
    const u = Math.max(random(), 1e-12);
    v[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  }
  return normalize(v);
}

export function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function makeItem(name: string, random: () => number, overrides: Partial<ItemInput> = {}): ItemInput {
  return {
    source: 'test',
    title: `Item ${name}`,
    tags: ['sample'],
    width: 64,
    height: 64,
    contentHash: hashOf(name),
    semantic: randomUnitVector(DIMS.semantic, random),
    style: randomUnitVector(DIMS.style, random),
    ...overrides,
  };
}

/** The path of the HNSW data file the modality's snapshot description names. */
export function snapshotDataFile(dir: string, modality: 'semantic' | 'style'): string {
  const meta = JSON.parse(readFileSync(join(dir, `${modality}.json`), 'utf8')) as { file: string };
  return join(dir, meta.file);
}
