/**
 * One modality's kNN over the items index. The vectors live in the item docs themselves, so this
 * index has no state of its own: it filters by itself (`filtersItself`: the ItemFilter, the live
 * flag and exclusions go into the kNN `filter`, evaluated during the HNSW search) and is always
 * as current as the last refresh.
 *
 * ES scores cosine kNN hits as (1 + cos) / 2; hits are turned back into cosines.
 */
import type { Client } from '@elastic/elasticsearch';
import { createError } from '../../errors.js';
import type { Modality, VectorHit, VectorIndex, VectorSearchConstraint } from '../types.js';
import { runBulk, type BulkSettings } from './bulk.js';
import { esCall } from './client.js';
import { assertIndexPoints, assertIndexVector } from '../validate.js';
import { LIVE, liveFilterQuery } from './filters.js';
import { vectorToJson } from './mapping.js';

/** ES caps both k and num_candidates at 10 000. */
const MAX_K = 10_000;

export interface ElasticVectorIndexOptions {
  client: Client;
  alias: string;
  modality: Modality;
  dim: number;
  /** num_candidates = min(10 000, max(k, ceil(k × factor))) unless a search gives its own breadth: recall against latency per shard. */
  numCandidatesFactor: number;
  refresh: 'wait_for' | false;
  bulk: BulkSettings;
}

export class ElasticVectorIndex implements VectorIndex {
  readonly modality: Modality;
  readonly dim: number;
  readonly filtersItself = true;
  private catalogVersion = 0;
  private closed = false;

  constructor(private readonly options: ElasticVectorIndexOptions) {
    this.modality = options.modality;
    this.dim = options.dim;
  }

  /**
   * Replaces the vectors of existing items (partial updates of this modality's field). The vector
   * is the catalog's vector too — there is no separate copy — and an ES index holds only catalog
   * items, so a seq the catalog does not hold is refused.
   */
  async add(points: Array<{ seq: number; vector: Float32Array }>): Promise<void> {
    this.assertOpen();
    if (points.length === 0) return;
    assertIndexPoints(this.modality, this.dim, points);
    const latest = new Map(points.map((point) => [point.seq, point.vector]));
    // updatedAt moves too: a rebuild's catch-up pass finds changed docs by it.
    const now = new Date().toISOString();
    const failures = await runBulk(
      this.options.client,
      [...latest].map(([seq, vector]) => ({ op: 'update', index: this.options.alias, id: String(seq), doc: { [this.modality]: vectorToJson(vector), updatedAt: now } })),
      this.options.bulk,
      this.options.refresh,
      `updating ${this.modality} vectors`,
    );
    if (failures.length > 0) {
      const first = failures[0];
      if (first.status === 404) throw createError('UNPROCESSABLE', `${this.modality} index: no catalog item with seq ${first.op.id}`);
      throw createError('UNPROCESSABLE', `${this.modality} index: updating seq ${first.op.id} failed (${first.status} ${first.type}: ${first.reason})`);
    }
  }

  /**
   * Nothing to do: an item leaves every kNN result when the catalog marks it deleted (the filter
   * requires deleted:false), in the same write. Removing the vector field instead would make the
   * catalog lose the item's vector, which it must keep as the source of truth.
   */
  async remove(_seqs: number[]): Promise<void> {
    this.assertOpen();
  }

  async search(vector: Float32Array, k: number, constraint: VectorSearchConstraint = {}): Promise<VectorHit[]> {
    this.assertOpen();
    this.assertVector(vector);
    const wanted = Math.min(Math.floor(k), MAX_K);
    if (!(wanted > 0)) return [];
    const filter = liveFilterQuery(constraint.filter, { exclude: constraint.exclude, allowed: constraint.allowed });
    if (filter === null) return [];
    // A tuned breadth (constraint.ef) is num_candidates itself: Lucene's HNSW walk keeps that many per shard, as efSearch does.
    const breadth = constraint.ef ?? Math.ceil(wanted * this.options.numCandidatesFactor);
    const numCandidates = Math.min(MAX_K, Math.max(wanted, breadth));
    const response = await esCall(`searching the ${this.modality} vectors`, () =>
      this.options.client.search({
        index: this.options.alias,
        knn: { field: this.modality, query_vector: vectorToJson(vector), k: wanted, num_candidates: numCandidates, filter },
        size: wanted,
        _source: false,
        track_total_hits: false,
      }),
    );
    return response.hits.hits.map((hit) => ({ seq: Number(hit._id), score: 2 * (hit._score ?? 0) - 1 }));
  }

  /** Live items (every live item has both vectors). */
  async size(): Promise<number> {
    this.assertOpen();
    const response = await esCall('counting live items', () => this.options.client.count({ index: this.options.alias, query: LIVE }));
    return response.count;
  }

  /** The last catalog version this process saw committed or synced: the server is always current. */
  version(): number {
    return this.catalogVersion;
  }

  setVersion(version: number): void {
    this.catalogVersion = version;
  }

  /** The cluster persists everything itself. */
  async save(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertVector(vector: Float32Array): void {
    assertIndexVector(this.modality, this.dim, vector);
  }

  private assertOpen(): void {
    if (this.closed) throw createError('NOT_READY', `the ${this.modality} index is closed`);
  }
}
