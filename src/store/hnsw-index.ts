/**
 * A cosine HNSW index (hnswlib-node) for one modality, labelled by catalog `seq`, with atomic
 * on-disk snapshots. The index is derived data: a snapshot that is missing, damaged or built with
 * other parameters is reported by `open` so that the caller rebuilds it from the catalog.
 *
 * Snapshot = `<dir>/<modality>.json`, the single commit point, naming a data file
 * `<dir>/<modality>.<pid>-<stamp>.hnsw` (hnswlib's own format) with its size and sha256, plus the
 * catalog version, dim, params and deleted labels. A save writes and fsyncs a new data file, then
 * writes the .json to a temp name, fsyncs it, renames it over the old one and fsyncs the directory;
 * only then is the previous data file removed. A crash at any point leaves either the old pair or
 * the new one, never a .json describing other bytes (as two files renamed one after the other could).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import hnswlib from 'hnswlib-node';
import { z } from 'zod';
import { createError } from '../errors.js';
import type { IndexName, VectorHit, VectorIndex, VectorSearchConstraint } from './types.js';
import { assertIndexPoints, assertIndexVector } from './validate.js';

const { HierarchicalNSW } = hnswlib;
type NativeIndex = InstanceType<typeof HierarchicalNSW>;

export interface HnswParams {
  /** Graph degree: higher = better recall, more memory. */
  M: number;
  /** Candidate list size while building. */
  efConstruction: number;
  /** Candidate list size while searching (at least k is used). */
  efSearch: number;
}

export interface HnswIndexOptions extends HnswParams {
  /** A modality, or 'joint' for the index over [semantic, style]/√2 (its points come from jointVector). */
  modality: IndexName;
  dim: number;
  /** Where the snapshot files live. */
  dir: string;
  /** Initial capacity in points; it doubles as needed. */
  capacity?: number;
  /** Seed of hnswlib's level generator, for reproducible graphs. */
  randomSeed?: number;
}

export type SnapshotState =
  | { status: 'loaded'; version: number; count: number }
  | { status: 'missing' }
  | { status: 'unusable'; reason: string };

const SNAPSHOT_FORMAT = 1;
const DEFAULT_CAPACITY = 1024;

const snapshotMetaSchema = z.object({
  format: z.literal(SNAPSHOT_FORMAT),
  modality: z.enum(['semantic', 'style', 'joint']),
  space: z.literal('cosine'),
  dim: z.number().int().positive(),
  M: z.number().int().positive(),
  efConstruction: z.number().int().positive(),
  version: z.number().int().nonnegative(),
  count: z.number().int().nonnegative(),
  deleted: z.array(z.number().int().nonnegative()),
  file: z.string().regex(/^(semantic|style|joint)\.\d+-[0-9a-z]+\.hnsw$/),
  hnswBytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  savedAt: z.string(),
});
type SnapshotMeta = z.infer<typeof snapshotMetaSchema>;

export class HnswIndex implements VectorIndex {
  readonly modality: IndexName;
  readonly dim: number;
  readonly filtersItself = false;
  readonly exactScores = true;
  private readonly options: HnswIndexOptions;
  private native: NativeIndex;
  /** Labels present and not marked deleted: exactly what a search can return. */
  private live: Set<number>;
  /** Labels that may still occupy a deleted slot (a superset; hnswlib reuses slots silently). */
  private maybeDeleted: Set<number>;
  private catalogVersion = 0;
  /** The data file of the snapshot this index was loaded from or last saved to. */
  private snapshotFile: string | undefined;
  private dirty = false;
  private closed = false;
  /** Mutations and snapshot writes take turns: hnswlib must not change while a worker thread writes it. */
  private turn: Promise<unknown> = Promise.resolve();

  private constructor(options: HnswIndexOptions, native: NativeIndex, live: Set<number>, maybeDeleted: Set<number>) {
    this.options = { ...options };
    this.modality = options.modality;
    this.dim = options.dim;
    this.native = native;
    this.live = live;
    this.maybeDeleted = maybeDeleted;
  }

  /** An empty index at catalog version 0; nothing is read from or written to disk. */
  static create(options: HnswIndexOptions): HnswIndex {
    validateOptions(options);
    const native = new HierarchicalNSW('cosine', options.dim);
    native.initIndex({
      maxElements: Math.max(1, options.capacity ?? DEFAULT_CAPACITY),
      m: options.M,
      efConstruction: options.efConstruction,
      randomSeed: options.randomSeed ?? 100,
      allowReplaceDeleted: true,
    });
    native.setEf(options.efSearch);
    return new HnswIndex(options, native, new Set(), new Set());
  }

  /**
   * Loads the snapshot in `options.dir`. When there is none, or it cannot be trusted, returns an
   * empty index (version 0) and says why, so the caller can rebuild it from the catalog.
   */
  static async open(options: HnswIndexOptions): Promise<{ index: HnswIndex; snapshot: SnapshotState }> {
    validateOptions(options);
    await mkdir(options.dir, { recursive: true });
    const loaded = await loadSnapshot(options);
    await removeOrphanFiles(options.dir, options.modality);
    if (loaded.status !== 'loaded') {
      return { index: HnswIndex.create(options), snapshot: loaded };
    }
    const index = new HnswIndex(options, loaded.native, loaded.live, new Set(loaded.meta.deleted));
    index.catalogVersion = loaded.meta.version;
    index.snapshotFile = loaded.meta.file;
    return { index, snapshot: { status: 'loaded', version: loaded.meta.version, count: loaded.live.size } };
  }

  async add(points: Array<{ seq: number; vector: Float32Array }>): Promise<void> {
    this.assertOpen();
    if (points.length === 0) return;
    assertIndexPoints(this.modality, this.dim, points);
    await this.inTurn(() => {
      const newLabels = new Set(points.map((p) => p.seq).filter((seq) => !this.live.has(seq)));
      this.ensureCapacity(newLabels.size);
      for (const { seq, vector } of points) {
        const values = Array.from(vector);
        if (this.live.has(seq)) {
          this.native.addPoint(values, seq, false); // hnswlib updates an existing label in place
        } else if (this.maybeDeleted.has(seq) && this.tryUndelete(seq)) {
          this.native.addPoint(values, seq, false);
        } else {
          // A new label takes a deleted point's slot when there is one, so deletes do not leak memory.
          this.native.addPoint(values, seq, true);
        }
        this.maybeDeleted.delete(seq);
        this.live.add(seq);
      }
      this.dirty = true;
    });
  }

  async remove(seqs: number[]): Promise<void> {
    this.assertOpen();
    if (!seqs.some((seq) => this.live.has(seq))) return;
    await this.inTurn(() => {
      for (const seq of seqs) {
        if (!this.live.has(seq)) continue; // unknown or already deleted: removing is idempotent
        this.native.markDelete(seq);
        this.live.delete(seq);
        this.maybeDeleted.add(seq);
      }
      this.dirty = true;
    });
  }

  async search(vector: Float32Array, k: number, constraint: VectorSearchConstraint = {}): Promise<VectorHit[]> {
    this.assertOpen();
    this.assertVector(vector);
    if (constraint.filter) throw new TypeError('an HNSW index filters by label: resolve the filter to allowed seqs first');
    return this.searchAccepting(vector, k, acceptOf(constraint), constraint.ef);
  }

  /**
   * A search with any label predicate, checked during the graph walk (evaluations use it; not part
   * of VectorIndex), at breadth `ef` (default: the configured efSearch).
   */
  async searchAccepting(vector: Float32Array, k: number, accept?: (seq: number) => boolean, ef?: number): Promise<VectorHit[]> {
    this.assertOpen();
    this.assertVector(vector);
    if (ef !== undefined && !(Number.isInteger(ef) && ef >= 1)) throw new RangeError(`efSearch must be a positive integer, got ${ef}`);
    // hnswlib rejects k above its capacity and pads nothing: ask for at most what exists.
    const wanted = Math.min(Math.floor(k), this.live.size);
    if (!(wanted > 0)) return [];
    const values = plainArray(vector);
    // searchKnn is synchronous, so the breadth set here is the one this search runs at.
    this.native.setEf(ef ?? this.options.efSearch);
    const result = accept
      ? this.native.searchKnn(values, wanted, (label) => accept(label))
      : this.native.searchKnn(values, wanted);
    return result.neighbors.map((seq, i) => ({ seq, score: 1 - result.distances[i] }));
  }

  async size(): Promise<number> {
    return this.live.size;
  }

  /** The labels a search can return, ascending (for consistency checks and tests). */
  liveSeqs(): number[] {
    return [...this.live].sort((a, b) => a - b);
  }

  /** The default search breadth from now on (recall against latency; benchmarks sweep it on one loaded graph). */
  setEfSearch(efSearch: number): void {
    if (!Number.isInteger(efSearch) || efSearch < 1) throw createError('CONFIG_INVALID', `HNSW efSearch must be a positive integer, got ${efSearch}`);
    this.options.efSearch = efSearch;
    this.native.setEf(efSearch);
  }

  version(): number {
    return this.catalogVersion;
  }

  setVersion(version: number): void {
    if (version !== this.catalogVersion) this.dirty = true;
    this.catalogVersion = version;
  }

  /** True when the in-memory index differs from the last snapshot written or read. */
  isDirty(): boolean {
    return this.dirty;
  }

  /** Takes over another index's content (a rebuilt one) in one step, so readers never see a half-built index. */
  async replaceContents(source: HnswIndex): Promise<void> {
    this.assertOpen();
    if (source.dim !== this.dim || source.modality !== this.modality) {
      throw createError('UNPROCESSABLE', `cannot replace a ${this.dim}-d ${this.modality} index with a ${source.dim}-d ${source.modality} one`);
    }
    await this.inTurn(() => {
      this.native = source.native;
      this.live = source.live;
      this.maybeDeleted = source.maybeDeleted;
      this.catalogVersion = source.catalogVersion;
      this.dirty = true;
      source.closed = true;
    });
  }

  async save(): Promise<void> {
    this.assertOpen();
    await this.inTurn(async () => {
      const { dir, modality } = this.options;
      const file = dataFileName(modality);
      const dataPath = join(dir, file);
      const metaPath = join(dir, `${modality}.json`);
      const metaTemp = `${metaPath}.tmp-${file.slice(modality.length + 1, -'.hnsw'.length)}`;
      // Content cannot change until this turn ends, but the version can be set meanwhile: take it now.
      const version = this.catalogVersion;
      const present = this.native.getIdsList();
      const deleted = present.filter((label) => !this.live.has(label)).sort((a, b) => a - b);
      let committed = false;
      try {
        await mkdir(dir, { recursive: true });
        await this.native.writeIndex(dataPath);
        await fsyncFile(dataPath);
        const { bytes, sha256 } = await digestFile(dataPath);
        const meta: SnapshotMeta = {
          format: SNAPSHOT_FORMAT,
          modality,
          space: 'cosine',
          dim: this.dim,
          M: this.options.M,
          efConstruction: this.options.efConstruction,
          version,
          count: present.length - deleted.length,
          deleted,
          file,
          hnswBytes: bytes,
          sha256,
          savedAt: new Date().toISOString(),
        };
        await writeFileDurably(metaTemp, `${JSON.stringify(meta)}\n`);
        await rename(metaTemp, metaPath);
        committed = true;
        await fsyncDirectory(dir);
        const previous = this.snapshotFile;
        this.snapshotFile = file;
        if (previous && previous !== file) await rm(join(dir, previous), { force: true });
        // The snapshot lists the deleted labels exactly; forget the ones hnswlib has reused since.
        this.maybeDeleted = new Set(deleted);
        this.dirty = this.catalogVersion !== version;
      } finally {
        await rm(metaTemp, { force: true });
        if (!committed) await rm(dataPath, { force: true });
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.inTurn(() => {
      this.closed = true;
    });
  }

  private ensureCapacity(newPoints: number): void {
    const needed = this.native.getCurrentCount() + newPoints;
    const capacity = this.native.getMaxElements();
    if (needed > capacity) this.native.resizeIndex(Math.max(needed, capacity * 2));
  }

  /** Revives a label that is still in a deleted slot; false when hnswlib has reused that slot. */
  private tryUndelete(seq: number): boolean {
    try {
      this.native.unmarkDelete(seq);
      return true;
    } catch {
      return false;
    }
  }

  private assertVector(vector: Float32Array): void {
    assertIndexVector(this.modality, this.dim, vector);
  }

  private assertOpen(): void {
    if (this.closed) throw createError('NOT_READY', `the ${this.modality} index is closed`);
  }

  private inTurn<T>(task: () => T | Promise<T>): Promise<T> {
    const result = this.turn.then(task);
    this.turn = result.catch(() => undefined);
    return result;
  }
}

type LoadResult =
  | { status: 'missing' }
  | { status: 'unusable'; reason: string }
  | { status: 'loaded'; native: NativeIndex; meta: SnapshotMeta; live: Set<number> };

async function loadSnapshot(options: HnswIndexOptions): Promise<LoadResult> {
  const metaPath = join(options.dir, `${options.modality}.json`);
  const metaText = await readFile(metaPath, 'utf8').catch(() => undefined);
  if (metaText === undefined) return { status: 'missing' };

  let meta: SnapshotMeta;
  try {
    meta = snapshotMetaSchema.parse(JSON.parse(metaText));
  } catch {
    return unusable(`${metaPath} is not a valid snapshot description`);
  }
  const expected = { modality: options.modality, dim: options.dim, M: options.M, efConstruction: options.efConstruction };
  for (const [key, value] of Object.entries(expected)) {
    const actual = meta[key as keyof typeof expected];
    if (actual !== value) return unusable(`snapshot has ${key} ${actual}, expected ${value}`);
  }
  const dataPath = join(options.dir, meta.file);
  const dataStat = await stat(dataPath).catch(() => undefined);
  if (!dataStat) return unusable(`${dataPath} is missing`);
  if (dataStat.size !== meta.hnswBytes) {
    return unusable(`${dataPath} has ${dataStat.size} bytes, its description says ${meta.hnswBytes} (truncated?)`);
  }
  const { sha256 } = await digestFile(dataPath);
  if (sha256 !== meta.sha256) return unusable(`${dataPath} does not match its checksum`);

  const native = new HierarchicalNSW('cosine', options.dim);
  try {
    await native.readIndex(dataPath, true);
  } catch (error) {
    return unusable(`hnswlib could not read ${dataPath}: ${(error as Error).message}`);
  }
  native.setEf(options.efSearch);
  const deleted = new Set(meta.deleted);
  const live = new Set(native.getIdsList().filter((label) => !deleted.has(label)));
  if (live.size !== meta.count) return unusable(`snapshot holds ${live.size} live points, its description says ${meta.count}`);
  return { status: 'loaded', native, meta, live };
}

function unusable(reason: string): LoadResult {
  return { status: 'unusable', reason };
}

function validateOptions(options: HnswIndexOptions): void {
  const positive: Array<[string, number]> = [
    ['dim', options.dim],
    ['M', options.M],
    ['efConstruction', options.efConstruction],
    ['efSearch', options.efSearch],
  ];
  for (const [name, value] of positive) {
    if (!Number.isInteger(value) || value < 1) {
      throw createError('CONFIG_INVALID', `HNSW ${name} must be a positive integer, got ${value}`);
    }
  }
}

let saves = 0;

/** Unique per save; the pid tells a later open whether the writer is gone (see removeOrphanFiles). */
function dataFileName(modality: IndexName): string {
  saves += 1;
  return `${modality}.${process.pid}-${Date.now().toString(36)}${saves.toString(36)}.hnsw`;
}

/**
 * Data files no .json refers to, and .json temp files, are left by a process killed mid-save.
 * Those of a process still running are left alone: it may be saving right now. The file the
 * .json names is kept even when the snapshot is unusable here (it may suit other parameters).
 */
async function removeOrphanFiles(dir: string, modality: IndexName): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const referenced = await readFile(join(dir, `${modality}.json`), 'utf8')
    .then((text) => (JSON.parse(text) as { file?: unknown }).file)
    .catch(() => undefined);
  const pattern = new RegExp(`^${modality}\\.(?:json\\.tmp-)?(\\d+)-[0-9a-z]+(?:\\.hnsw)?$`);
  const orphans = names.filter((name) => {
    const match = pattern.exec(name);
    return match !== null && name !== referenced && !isProcessAlive(Number(match[1]));
  });
  await Promise.all(orphans.map((name) => rm(join(dir, name), { force: true })));
}

function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function digestFile(path: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeFileDurably(path: string, text: string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes the renames themselves durable. */
async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** hnswlib-node takes a plain array; Array.from goes through the iterator, ~15× slower than this loop (9 µs for 256-d). */
function plainArray(vector: Float32Array): number[] {
  const values = new Array<number>(vector.length);
  for (let i = 0; i < vector.length; i++) values[i] = vector[i];
  return values;
}

function acceptOf({ allowed, exclude }: VectorSearchConstraint): ((seq: number) => boolean) | undefined {
  const excluded = exclude && exclude.size > 0 ? exclude : undefined;
  if (allowed && excluded) return (seq) => allowed.has(seq) && !excluded.has(seq);
  if (allowed) return (seq) => allowed.has(seq);
  if (excluded) return (seq) => !excluded.has(seq);
  return undefined;
}
