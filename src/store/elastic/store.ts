/**
 * The Elasticsearch backend behind the `Store` contract (DESIGN.md §6): a catalog and two kNN
 * indices over the same items index, opened against an existing layout or creating it.
 */
import type { Client } from '@elastic/elasticsearch';
import { createError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import type { VectorDims } from '../sqlite-catalog.js';
import type { Modality, RebuildProgress, Store } from '../types.js';
import { DEFAULT_BULK, type BulkSettings } from './bulk.js';
import { ElasticCatalog, type RefreshPolicy } from './catalog.js';
import { createElasticClient, esCall, type ElasticConnectionOptions } from './client.js';
import { ensureLayout } from './layout.js';
import { indexNames, MODALITIES, type IndexNames, type ItemsIndexSettings } from './mapping.js';
import { rebuildItemsIndex } from './rebuild.js';
import { assertDims } from '../validate.js';
import type { PackStamp } from '../pack-stamp.js';
import { ElasticVectorIndex } from './vector-index.js';

export interface ElasticStoreOptions extends ElasticConnectionOptions {
  /** A ready client (tests inject a mocked one); otherwise one is built from `node`, `auth`, `tls`. */
  client?: Client;
  /** The alias the items index lives behind; also the prefix of the meta and thumbnails indices. */
  index?: string;
  dims: VectorDims;
  /** The model pack in use: recorded on the items index, and an index another pack built is refused. */
  pack?: PackStamp;
  shards?: number;
  replicas?: number;
  /** 'int8' quantises the HNSW graph (int8_hnsw): ~4× less memory, slightly lower recall. */
  quantization?: 'none' | 'int8';
  hnsw?: { m: number; efConstruction: number };
  /** num_candidates = min(10 000, max(k, ceil(k × factor))). */
  numCandidatesFactor?: number;
  /** 'wait_for': a write returns once searches can see it; 'false': faster, visible after the next refresh. */
  refresh?: RefreshPolicy;
  bulk?: Partial<BulkSettings>;
  /** How long a registry claim without its item counts as a write in progress (default 5 min). */
  staleClaimMs?: number;
  logger?: Pick<Logger, 'info' | 'warn'>;
}

export interface ResolvedElasticOptions {
  names: IndexNames;
  dims: VectorDims;
  index: Omit<ItemsIndexSettings, 'keepVectorsInSource'>;
  numCandidatesFactor: number;
  refresh: RefreshPolicy;
  bulk: BulkSettings;
  staleClaimMs: number;
  logger: Pick<Logger, 'info' | 'warn'>;
}

export interface ElasticStore extends Store {
  readonly backend: 'elastic';
  readonly catalog: ElasticCatalog;
  readonly indices: Record<Modality, ElasticVectorIndex>;
  readonly options: ResolvedElasticOptions;
  /** The server's version (from `info`), for logs and `parasol stats`. */
  readonly serverVersion: string;
  /** Makes every acknowledged write visible to searches (a refresh) and records the catalog version. */
  sync(): Promise<void>;
  /** Fills a new versioned index and moves the alias to it; searches keep working throughout. */
  rebuild(onProgress?: (progress: RebuildProgress) => void): Promise<void>;
  /** Nothing to do: the cluster persists every acknowledged write. */
  save(): Promise<void>;
  /** Closes the client when this store built it. */
  close(options?: { save?: boolean }): Promise<void>;
}

const INDEX_NAME = /^[a-z0-9][a-z0-9._-]{0,200}$/;

export function resolveElasticOptions(options: ElasticStoreOptions): ResolvedElasticOptions {
  assertDims(options.dims);
  const alias = options.index ?? 'parasol-items';
  if (!INDEX_NAME.test(alias)) {
    throw createError('CONFIG_INVALID', `"${alias}" is not a usable Elasticsearch index name (lowercase letters, digits, ".", "_", "-")`);
  }
  const positive = (name: string, value: number | undefined, fallback: number, min = 1): number => {
    const resolved = value ?? fallback;
    if (!Number.isFinite(resolved) || resolved < min) throw createError('CONFIG_INVALID', `elastic ${name} must be at least ${min}, got ${resolved}`);
    return resolved;
  };
  const bulk = { ...DEFAULT_BULK, ...options.bulk };
  return {
    names: indexNames(alias),
    dims: { ...options.dims },
    index: {
      dims: { ...options.dims },
      ...(options.pack ? { pack: { ...options.pack } } : {}),
      shards: positive('shards', options.shards, 1),
      replicas: positive('replicas', options.replicas, 0, 0),
      quantization: options.quantization ?? 'none',
      hnsw: {
        m: positive('hnsw.m', options.hnsw?.m, 16, 2),
        efConstruction: positive('hnsw.efConstruction', options.hnsw?.efConstruction, 100),
      },
    },
    numCandidatesFactor: positive('numCandidatesFactor', options.numCandidatesFactor, 2),
    refresh: options.refresh ?? 'wait_for',
    bulk: {
      flushBytes: positive('bulk.flushBytes', bulk.flushBytes, 1),
      concurrency: positive('bulk.concurrency', bulk.concurrency, 1),
      retries: positive('bulk.retries', bulk.retries, 0, 0),
      wait: positive('bulk.wait', bulk.wait, 0, 0),
    },
    staleClaimMs: positive('staleClaimMs', options.staleClaimMs, 5 * 60_000, 0),
    logger: options.logger ?? silentLogger,
  };
}

export async function openElasticStore(options: ElasticStoreOptions): Promise<ElasticStore> {
  const resolved = resolveElasticOptions(options);
  const ownsClient = options.client === undefined;
  const client = options.client ?? createElasticClient(options);
  try {
    const layout = await ensureLayout(client, resolved.names, resolved.index, resolved.logger);
    const catalog = new ElasticCatalog({
      client,
      names: resolved.names,
      dims: resolved.dims,
      refresh: resolved.refresh,
      bulk: resolved.bulk,
      staleClaimMs: resolved.staleClaimMs,
      logger: resolved.logger,
    });
    await catalog.registry.ensureCounter();
    const indexOf = (modality: Modality) =>
      new ElasticVectorIndex({
        client,
        alias: resolved.names.alias,
        modality,
        dim: resolved.dims[modality],
        numCandidatesFactor: resolved.numCandidatesFactor,
        refresh: resolved.refresh === 'wait_for' ? 'wait_for' : false,
        bulk: resolved.bulk,
      });
    const indices = { semantic: indexOf('semantic'), style: indexOf('style') };
    catalog.onVersion = (version) => {
      for (const modality of MODALITIES) if (indices[modality].version() < version) indices[modality].setVersion(version);
    };
    const store = new Elastic(client, ownsClient, catalog, indices, resolved, layout.serverVersion);
    await store.sync();
    return store;
  } catch (error) {
    if (ownsClient) await client.close().catch(() => undefined);
    throw error;
  }
}

class Elastic implements ElasticStore {
  readonly backend = 'elastic' as const;
  private closed = false;

  constructor(
    private readonly client: Client,
    private readonly ownsClient: boolean,
    readonly catalog: ElasticCatalog,
    readonly indices: Record<Modality, ElasticVectorIndex>,
    readonly options: ResolvedElasticOptions,
    readonly serverVersion: string,
  ) {}

  async sync(): Promise<void> {
    this.assertOpen();
    const alias = this.options.names.alias;
    await esCall(`refreshing ${alias}`, () => this.client.indices.refresh({ index: alias }));
    const version = await this.catalog.version();
    for (const modality of MODALITIES) this.indices[modality].setVersion(version);
  }

  async rebuild(onProgress?: (progress: RebuildProgress) => void): Promise<void> {
    this.assertOpen();
    await rebuildItemsIndex(
      {
        client: this.client,
        alias: this.options.names.alias,
        settings: this.options.index,
        bulk: this.options.bulk,
        writes: this.catalog.writes,
        logger: this.options.logger,
      },
      onProgress,
    );
    await this.sync();
  }

  async save(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(MODALITIES.map((modality) => this.indices[modality].close()));
    await this.catalog.close();
    if (this.ownsClient) await this.client.close();
  }

  private assertOpen(): void {
    if (this.closed) throw createError('NOT_READY', 'the Elasticsearch store is closed');
  }
}
