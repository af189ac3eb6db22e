/**
 * A pack's identity as an index sees it: its name and a fingerprint of everything that decides
 * the vectors an index stores — each image model's weights, input/output names and preprocessing,
 * the dimensions, and the style projection when the style descriptor is the weights-free one.
 * Text models and the text → style map are left out: they change queries, not stored vectors,
 * so refitting `fit-text-style` does not ask for a reindex.
 *
 * Large model files are fingerprinted by their size and their first and last 4 MiB (any two
 * checkpoints of the same architecture differ there); smaller ones are hashed whole.
 */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import type { LoadedPack, TowerName } from './pack.js';
import { TOWERS } from './pack.js';

/** The same shape as the store's PackStamp (src/store/pack-stamp.ts); the layers do not import each other. */
export interface PackStamp {
  name: string;
  /** 16 hex digits. */
  fingerprint: string;
}

const WHOLE_FILE_LIMIT = 64 * 1024 * 1024;
const EDGE = 4 * 1024 * 1024;

export async function packStamp(pack: LoadedPack): Promise<PackStamp> {
  const { manifest } = pack;
  const hash = createHash('sha256');
  const describe = (tower: TowerName) => {
    const spec = manifest[tower];
    const image = spec.image;
    return { dim: spec.dim, image: { input: image.input, output: image.output, preprocess: image.preprocess } };
  };
  hash.update(JSON.stringify(TOWERS.map(describe)));
  const files = TOWERS.map((tower) => manifest[tower].image.file);
  const statistics = manifest.style.statistics;
  if (statistics) {
    hash.update(JSON.stringify({ statistics: statistics.dim, projection: statistics.projection ?? null }));
    if (statistics.projection) files.push(statistics.projection.file);
  }
  for (const file of files) {
    const full = path.join(pack.dir, file);
    await fileDigest(full, hash);
    // ONNX external data (towers over 2 GB) holds the weights themselves.
    await fileDigest(`${full}.data`, hash, true);
  }
  return { name: manifest.name, fingerprint: hash.digest('hex').slice(0, 16) };
}

async function fileDigest(file: string, hash: ReturnType<typeof createHash>, optional = false): Promise<void> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (error) {
    if (optional) return;
    throw error;
  }
  hash.update(`${path.basename(file)}:${size}:`);
  const handle = await open(file, 'r');
  try {
    const ranges: Array<[number, number]> = size <= WHOLE_FILE_LIMIT ? [[0, size]] : [[0, EDGE], [size - EDGE, EDGE]];
    for (const [position, length] of ranges) {
      const buffer = Buffer.alloc(length);
      let read = 0;
      while (read < length) {
        const { bytesRead } = await handle.read(buffer, read, length - read, position + read);
        if (bytesRead === 0) break;
        read += bytesRead;
      }
      hash.update(buffer.subarray(0, read));
    }
  } finally {
    await handle.close();
  }
}
