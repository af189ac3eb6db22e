/**
 * Synthetic, clustered unit vectors for scale runs: the encoders are far too slow to embed 100k
 * images on a laptop, and HNSW only sees vectors anyway.
 *
 * Uniform random vectors are the worst case for HNSW (every point is about equally far from every
 * other) and say little about real embeddings, which crowd around concepts and vary along few
 * directions. So each modality gets `clusters` random unit centres, each with a random low-rank
 * subspace; a point is centre + noise along that subspace + a little isotropic noise, normalised.
 * Every parameter is recorded in the report, since recall depends on the data.
 */
import { createHash } from 'node:crypto';
import type { ItemInput, Modality, Store } from '../src/store/types.js';
import { Rng } from './rng.js';

export interface GeneratorParams {
  clusters: number;
  /** Rank of each cluster's own subspace of variation. */
  subspaceRank: number;
  /** Norm (before normalising) of the deviation along the subspace, relative to the unit centre. */
  subspaceNoise: number;
  /** Norm of the isotropic deviation, relative to the unit centre. */
  isotropicNoise: number;
  /** Each cluster's spread is scaled by a factor drawn uniformly from this range. */
  spreadRange: [number, number];
  /**
   * Norm of the isotropic noise around a centre for "off-distribution" queries: like text queries
   * against image embeddings (CLIP's modality gap), they sit well away from every stored point.
   */
  farQueryNoise: number;
  seed: number;
}

export const DEFAULT_GENERATOR: GeneratorParams = {
  clusters: 200,
  subspaceRank: 16,
  subspaceNoise: 0.7,
  isotropicNoise: 0.35,
  spreadRange: [0.6, 1.4],
  farQueryNoise: 1.5,
  seed: 20240601,
};

/** The mixture of one modality. */
export class ClusteredSpace {
  private readonly centres: Float32Array;
  private readonly bases: Float32Array;
  private readonly spreads: Float64Array;
  private readonly scratch: Float64Array;

  constructor(
    readonly dim: number,
    private readonly params: GeneratorParams,
    rng: Rng,
  ) {
    const { clusters, subspaceRank } = params;
    this.centres = new Float32Array(clusters * dim);
    this.bases = new Float32Array(clusters * subspaceRank * dim);
    this.spreads = new Float64Array(clusters);
    this.scratch = new Float64Array(dim);
    for (let c = 0; c < clusters; c++) {
      const centre = this.centres.subarray(c * dim, (c + 1) * dim);
      for (let i = 0; i < dim; i++) centre[i] = rng.gaussian();
      normalizeInPlace(centre);
      // Gaussian directions scaled by 1/√dim are nearly orthonormal in high dimension.
      const basis = this.bases.subarray(c * subspaceRank * dim, (c + 1) * subspaceRank * dim);
      for (let i = 0; i < basis.length; i++) basis[i] = rng.gaussian() / Math.sqrt(dim);
      const [lo, hi] = params.spreadRange;
      this.spreads[c] = lo + (hi - lo) * rng.next();
    }
  }

  /** Writes one unit vector, drawn with `rng`, into `out` (length dim). */
  sample(out: Float32Array, rng: Rng): void {
    const { dim, params } = this;
    const { subspaceRank } = params;
    const c = rng.int(params.clusters);
    const spread = this.spreads[c];
    const v = this.scratch;
    const centre = this.centres.subarray(c * dim, (c + 1) * dim);
    for (let i = 0; i < dim; i++) v[i] = centre[i] + ((spread * params.isotropicNoise) / Math.sqrt(dim)) * rng.gaussian();
    const along = (spread * params.subspaceNoise) / Math.sqrt(subspaceRank);
    for (let r = 0; r < subspaceRank; r++) {
      const coefficient = along * rng.gaussian();
      const offset = (c * subspaceRank + r) * dim;
      for (let i = 0; i < dim; i++) v[i] += coefficient * this.bases[offset + i];
    }
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += v[i] * v[i];
    const scale = 1 / Math.sqrt(sum);
    for (let i = 0; i < dim; i++) out[i] = v[i] * scale;
  }

  /** A unit vector near a random centre but off every cluster's subspace (see farQueryNoise). */
  far(rng: Rng): Float32Array {
    const { dim, params } = this;
    const c = rng.int(params.clusters);
    const out = new Float32Array(dim);
    for (let i = 0; i < dim; i++) out[i] = this.centres[c * dim + i] + (params.farQueryNoise / Math.sqrt(dim)) * rng.gaussian();
    normalizeInPlace(out);
    return out;
  }

  fresh(rng: Rng): Float32Array {
    const out = new Float32Array(this.dim);
    this.sample(out, rng);
    return out;
  }
}

export type Dims = Record<Modality, number>;
export type QueryKind = 'data' | 'far';

/**
 * The growing synthetic corpus: what was added to the store, kept here (flat, row-major) so that
 * recall can be checked against exact search without reading the catalog back.
 */
export class SyntheticCorpus {
  readonly spaces: Record<Modality, ClusteredSpace>;
  readonly vectors: Record<Modality, Float32Array>;
  /** The catalog seq of each row. */
  readonly seqs: Int32Array;
  private added = 0;
  private readonly dataRng: Rng;
  /** Queries come from their own stream so that adding more data never changes them. */
  private readonly queryRng: Rng;

  constructor(
    readonly dims: Dims,
    readonly capacity: number,
    readonly params: GeneratorParams = DEFAULT_GENERATOR,
  ) {
    this.dataRng = new Rng(params.seed);
    // Semantic and style get independent mixtures: an item's content cluster says nothing of its style.
    this.spaces = {
      semantic: new ClusteredSpace(dims.semantic, params, this.dataRng),
      style: new ClusteredSpace(dims.style, params, this.dataRng),
    };
    this.queryRng = new Rng(params.seed ^ 0x5eed);
    this.vectors = {
      semantic: new Float32Array(capacity * dims.semantic),
      style: new Float32Array(capacity * dims.style),
    };
    this.seqs = new Int32Array(capacity);
  }

  get count(): number {
    return this.added;
  }

  /** Bytes held here for the exact-search check (to be discounted from in-process RSS). */
  get heldBytes(): number {
    return this.vectors.semantic.byteLength + this.vectors.style.byteLength;
  }

  /** Vector `row` of a modality (a view, no copy). */
  row(modality: Modality, row: number): Float32Array {
    const dim = this.dims[modality];
    return this.vectors[modality].subarray(row * dim, (row + 1) * dim);
  }

  /** A query drawn from the same mixture as the data ('data'), or away from it ('far'); never a stored point. */
  query(modality: Modality, kind: QueryKind = 'data'): Float32Array {
    return kind === 'data' ? this.spaces[modality].fresh(this.queryRng) : this.spaces[modality].far(this.queryRng);
  }

  /**
   * Adds items until the store holds `target` synthetic ones: one catalog transaction per batch,
   * then the indices are synced, as ingestion does.
   */
  async growTo(
    store: Store,
    target: number,
    options: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<void> {
    if (target > this.capacity) throw new RangeError(`capacity ${this.capacity} < ${target}`);
    const batchSize = options.batchSize ?? 1000;
    while (this.added < target) {
      const n = Math.min(batchSize, target - this.added);
      const batch: ItemInput[] = [];
      for (let j = 0; j < n; j++) {
        const row = this.added + j;
        this.sampleRow(row);
        batch.push(syntheticItem(row, this.row('semantic', row), this.row('style', row)));
      }
      const results = await store.catalog.addBatch(batch);
      results.forEach((result, j) => {
        if (result.status !== 'added') throw new Error(`synthetic row ${this.added + j} was not added (${result.status})`);
        this.seqs[this.added + j] = result.seq;
      });
      await store.sync();
      this.added += n;
      options.onProgress?.(this.added, target);
    }
  }

  /**
   * Generates rows up to `target` without a store (the same vectors, in the same order, as growTo
   * adds): for benchmarks that build a bare vector index. Row r is seq r + 1 in a store grown fresh.
   */
  generateTo(target: number): void {
    if (target > this.capacity) throw new RangeError(`capacity ${this.capacity} < ${target}`);
    for (let row = this.added; row < target; row++) {
      this.sampleRow(row);
      this.seqs[row] = row + 1;
    }
    this.added = Math.max(this.added, target);
  }

  private sampleRow(row: number): void {
    // Semantic then style from one stream: the order fixes every later row.
    this.spaces.semantic.sample(this.row('semantic', row), this.dataRng);
    this.spaces.style.sample(this.row('style', row), this.dataRng);
  }
}

const WORDS = ['red', 'blue', 'cat', 'dog', 'tree', 'house', 'sun', 'moon', 'star', 'flower', 'car', 'boat', 'bird', 'fish'];

function syntheticItem(row: number, semantic: Float32Array, style: Float32Array): ItemInput {
  const contentHash = createHash('sha256').update(`parasol-bench-${row}`).digest('hex');
  const tags = [WORDS[row % WORDS.length], WORDS[(row * 7 + 3) % WORDS.length]];
  return {
    contentHash,
    source: `bench-${row % 8}`,
    title: `synthetic ${tags.join(' ')} ${row}`,
    tags,
    license: 'CC0-1.0',
    width: 256,
    height: 256,
    semantic,
    style,
  };
}

function normalizeInPlace(v: Float32Array): void {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  const scale = 1 / Math.sqrt(sum);
  for (let i = 0; i < v.length; i++) v[i] *= scale;
}
