/**
 * Ingestion: source → read → hash (dedupe) → probe → decode/resize → thumbnail → batch encode →
 * one catalog transaction per batch → vector indices. Idempotent (content hash) and resumable: a
 * re-run skips what is stored without decoding or encoding it again. A bad file is skipped with
 * its reason and never stops the run.
 *
 * Small images (icons: the demo corpus) are decoded once, for the blank check and for both towers
 * (opaque ones at the model's size go to the models without another sharp pipeline); a source
 * that rasterises its images itself hands over just the pixels (SourceItem.rendered), which are
 * hashed, checked and encoded as they are: no PNG is written, probed or decoded for them.
 *
 * Both cores work: the encoders run a batch's models on their worker threads while the next
 * batches are read, rendered, probed and decoded on sharp's threads and the JS thread commits the
 * batch encoded before. A batch goes to the encoders as soon as it is decoded, its runs queued
 * behind the earlier batches', so the models never wait for a commit nor for a batch's last run. At most PREPARED_AHEAD batches are in flight besides the
 * one committing, and the encoders bound the pixels decoded at once, so memory stays bounded.
 */
import sharp from 'sharp';
import { decodeImage, type DecodedImage } from '../src/encoders/image.js';
import type { ImageDescriptors, PreparedImage, StagedImageDescriber } from '../src/encoders/types.js';
import { idFromHash } from '../src/store/sqlite-catalog.js';
import type { Catalog, Item, ItemInput } from '../src/store/types.js';
import { Progress } from '../src/progress.js';
import type { ProgressSink } from '../src/progress.js';
import { BLANK_CHECK_SIDE, isBlankImage, isBlankPixels } from './blank.js';
import { bytesHash, pixelsHash } from './content-hash.js';
import type { IngestSource, SkippedRow, SourceItem } from './sources/types.js';

export interface IngestTarget {
  catalog: Catalog;
  /** Brings the vector indices up to the catalog (after each committed batch). */
  sync(): Promise<void>;
  /** Persists index snapshots. */
  save(): Promise<void>;
}

export interface IngestOptions {
  batchSize: number;
  thumbnailSize: number;
  maxPixels: number;
  /** Snapshot the indices every this many batches (and at the end). */
  saveEvery?: number;
  progress?: ProgressSink | null;
  /** Checked between batches: a true value stops the run cleanly after the current batch. */
  shouldStop?: () => boolean;
  /** Called after each batch is committed and indexed, with the items seen so far. */
  onBatch?: (seen: number, total: number) => void;
}

export interface IngestSummary {
  seen: number;
  added: number;
  duplicates: number;
  skipped: number;
  /** Skip counts by reason class (unreadable, corrupt, empty, too-large, unsupported, blank, invalid-row). */
  skippedBy: Record<string, number>;
  /** The first skipped rows with their reasons (bounded). */
  skippedRows: SkippedRow[];
  addedIds: string[];
  /** The first duplicates (bounded; `duplicates` counts them all): each input's id and the stored item's id holding its image. */
  duplicateRows: DuplicateRow[];
  seconds: number;
  itemsPerSecond: number;
  /** Share of wall time spent inside the encoders' models (both image towers). */
  encoderShare: number;
  stopped: boolean;
}

export interface DuplicateRow {
  key: string;
  /** The id the input answers under: its own explicit id (kept as an alias), else the stored item's. */
  id: string;
  existingId: string;
}

const MAX_REPORTED_SKIPS = 200;
const MAX_REPORTED_DUPLICATES = 1_000;
const MAX_REPORTED_IDS = 10_000;
/**
 * Batches read, decoded and encoded ahead of the one being committed: while the models encode
 * one, the next is decoded and the one after is read (or rendered), so neither the models nor
 * sharp's threads wait for the JS thread at a batch boundary. Each item in flight holds its
 * file's bytes, its model inputs and, once encoded, its descriptors.
 */
const PREPARED_AHEAD = 2;

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** A batch's descriptors (or why an image has none), by prepared item. */
type Encoded = Map<Prepared, Settled<ImageDescriptors>>;

interface Prepared {
  item: SourceItem;
  /** The encoded image, read once when first needed: a rendered item's only for a thumbnail or a late decode. */
  bytes: () => Promise<Buffer>;
  hash: string;
  width: number;
  height: number;
  /** The model inputs, decoded ahead; absent when the content is already stored. */
  pixels: Promise<Settled<PreparedImage>> | undefined;
}

/** `read` called at most once, its promise shared. */
function once<T>(read: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= read());
}

function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );
}

export class SkipError extends Error {
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads just the header to learn the size and reject what cannot or must not be decoded.
 * `metadata()` decodes no pixels, so a decompression bomb is caught here by its declared size.
 */
export async function probeImage(bytes: Buffer, maxPixels: number): Promise<{ width: number; height: number }> {
  if (bytes.length === 0) throw new SkipError('empty', 'empty file');
  let meta: { width?: number; height?: number };
  try {
    meta = await sharp(bytes, { limitInputPixels: false, pages: 1 }).metadata();
  } catch (error) {
    const message = (error as Error).message;
    const kind = /unsupported image format/i.test(message) ? 'unsupported' : 'corrupt';
    throw new SkipError(kind, kind === 'unsupported' ? 'not an image format Parasol reads' : `corrupt image (${message})`);
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width <= 0 || height <= 0) throw new SkipError('corrupt', 'image has no dimensions');
  if (width * height > maxPixels) {
    throw new SkipError('too-large', `${width}×${height} exceeds the ${maxPixels}-pixel limit`);
  }
  return { width, height };
}

/** The size of pixels a source rendered itself, held to the same limit as a probed image. */
function checkSize(image: DecodedImage, maxPixels: number): { width: number; height: number } {
  const { width, height } = image;
  if (width * height > maxPixels) throw new SkipError('too-large', `${width}×${height} exceeds the ${maxPixels}-pixel limit`);
  return { width, height };
}

export async function makeThumbnail(bytes: Buffer, size: number, maxPixels: number): Promise<Buffer> {
  return sharp(bytes, { limitInputPixels: maxPixels, pages: 1 })
    .rotate()
    .resize(size, size, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 80 })
    .toBuffer();
}

function classify(error: unknown): { kind: string; reason: string } {
  if (error instanceof SkipError) return { kind: error.kind, reason: error.message };
  const code = (error as { code?: string }).code;
  if (code === 'IMAGE_TOO_LARGE') return { kind: 'too-large', reason: (error as Error).message };
  if (code === 'UNSUPPORTED_IMAGE') return { kind: 'corrupt', reason: (error as Error).message };
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') return { kind: 'unreadable', reason: (error as Error).message };
  return { kind: 'corrupt', reason: (error as Error).message ?? String(error) };
}

export async function ingest(
  source: IngestSource,
  encoders: StagedImageDescriber,
  target: IngestTarget,
  options: IngestOptions,
): Promise<IngestSummary> {
  const started = performance.now();
  let encoderMs = 0;
  const summary: IngestSummary = {
    seen: 0,
    added: 0,
    duplicates: 0,
    skipped: 0,
    skippedBy: {},
    skippedRows: [],
    addedIds: [],
    duplicateRows: [],
    seconds: 0,
    itemsPerSecond: 0,
    encoderShare: 0,
    stopped: false,
  };
  const skip = (key: string, kind: string, reason: string): void => {
    summary.skipped++;
    summary.skippedBy[kind] = (summary.skippedBy[kind] ?? 0) + 1;
    if (summary.skippedRows.length < MAX_REPORTED_SKIPS) summary.skippedRows.push({ key, reason });
  };
  const duplicate = (row: DuplicateRow): void => {
    summary.duplicates++;
    if (summary.duplicateRows.length < MAX_REPORTED_DUPLICATES) summary.duplicateRows.push(row);
  };
  for (const row of source.rejected) skip(row.key, 'invalid-row', row.reason);

  const progress = new Progress(`index ${source.label}`, source.total, options.progress);
  const saveEvery = options.saveEvery ?? 20;
  let batchesSinceSave = 0;

  /**
   * Whether the store holds rendered items hashed by their PNG bytes, as every store did before
   * pixel hashes (content-hash.ts): then the whole run keeps that scheme, so repeats and aliases
   * still dedupe against what is stored. The first batch holding a rendered item already stored
   * under its explicit id tells, by which of the two hashes that item is stored under; until one
   * does (a fresh store), the pixels are hashed. Batches ask in order, each after the one before.
   */
  let renderedScheme: Promise<'pixels' | 'bytes' | undefined> = Promise.resolve(undefined);
  const schemeOf = async (items: SourceItem[]): Promise<'pixels' | 'bytes' | undefined> => {
    for (const item of items) {
      if (!item.rendered || item.meta.id === undefined) continue;
      const owner = await target.catalog.get(item.meta.id);
      if (!owner) continue;
      try {
        if (owner.contentHash === pixelsHash(await item.rendered())) return 'pixels';
        if (owner.contentHash === bytesHash(await item.bytes())) return 'bytes';
      } catch {
        // An item that fails to render tells nothing; it is skipped with its reason when prepared.
      }
    }
    return undefined;
  };
  const schemeFor = (items: SourceItem[]): Promise<'pixels' | 'bytes' | undefined> => {
    if (!items.some((item) => item.rendered)) return renderedScheme;
    renderedScheme = renderedScheme.then((known) => known ?? schemeOf(items));
    return renderedScheme;
  };

  const prepare = async (item: SourceItem, hashRenderedBytes: boolean): Promise<Prepared | undefined> => {
    try {
      const bytes = once(() => item.bytes());
      const rendered = item.rendered ? await item.rendered() : undefined;
      let hash: string;
      let size: { width: number; height: number };
      if (rendered) {
        size = checkSize(rendered, options.maxPixels);
        hash = hashRenderedBytes ? bytesHash(await bytes()) : pixelsHash(rendered);
      } else {
        const read = await bytes();
        hash = bytesHash(read);
        size = await probeImage(read, options.maxPixels);
      }
      const { width, height } = size;
      // Stored content is counted as a duplicate at commit: no need to decode it (nor to check it is blank).
      const stored = (await target.catalog.findByHash(hash)) !== undefined;
      if (stored) return { item, bytes, hash, width, height, pixels: undefined };
      if (width <= BLANK_CHECK_SIDE && height <= BLANK_CHECK_SIDE) {
        // Small enough for the blank check to read every pixel: decode once (if the source has not), for it and for the towers.
        const decoded = rendered ?? (await decodeImage(await bytes(), { limitInputPixels: options.maxPixels }));
        if (isBlankPixels(decoded.pixels)) throw new SkipError('blank', 'blank image');
        return { item, bytes, hash, width, height, pixels: settle(encoders.prepareDecoded(decoded)) };
      }
      if (await isBlankImage(await bytes(), { maxPixels: options.maxPixels })) throw new SkipError('blank', 'blank image');
      const pixels = rendered ? encoders.prepareDecoded(rendered) : encoders.prepareImage(await bytes());
      return { item, bytes, hash, width, height, pixels: settle(pixels) };
    } catch (error) {
      const { kind, reason } = classify(error);
      skip(item.key, kind, reason);
      return undefined;
    }
  };

  /** Encoder time: while any batch is with the encoders (batches overlap there: one's runs queue behind another's). */
  let encoding = 0;
  let encodingSince = 0;
  const encoderBusy = (change: 1 | -1): void => {
    if (change > 0 && encoding++ === 0) encodingSince = performance.now();
    if (change < 0 && --encoding === 0) encoderMs += performance.now() - encodingSince;
  };

  /**
   * The descriptors of `batch` (decoded now where they were not ahead), or why an image has none:
   * skips are reported at commit, for the images that turn out new. Only the models count as
   * encoder time.
   */
  const encode = async (batch: Prepared[]): Promise<Encoded> => {
    const out: Encoded = new Map();
    const pixels = await Promise.all(batch.map((p) => p.pixels ?? settle(p.bytes().then((bytes) => encoders.prepareImage(bytes)))));
    const ready: Array<{ p: Prepared; image: PreparedImage }> = [];
    batch.forEach((p, i) => {
      const settled = pixels[i];
      if (settled.ok) ready.push({ p, image: settled.value });
      else out.set(p, settled);
    });
    if (ready.length === 0) return out;
    encoderBusy(+1);
    try {
      const descriptors = await encoders.describePrepared(ready.map((r) => r.image));
      ready.forEach((r, j) => out.set(r.p, { ok: true, value: descriptors[j] }));
    } catch {
      // One bad image must not sink its batch: retry one by one to find it.
      for (const r of ready) out.set(r.p, await settle(encoders.describePrepared([r.image]).then(([d]) => d)));
    } finally {
      encoderBusy(-1);
    }
    return out;
  };

  /**
   * A batch goes to the encoders as soon as it is decoded, ahead of its commit: the encoders queue
   * its model runs behind the earlier batches', so the workers go from one batch to the next
   * without waiting for either. Everything not stored when it was read is encoded; the few that
   * a batch committed meanwhile turns into duplicates only cost their encoding.
   */
  const encodeWhenPrepared = async (prepared: Promise<Prepared[]>): Promise<Encoded> =>
    encode((await prepared).filter((p) => p.pixels !== undefined));

  /** The batch's descriptors (undefined where an image is skipped), encoding what was not encoded ahead. */
  const describe = async (fresh: Prepared[], ahead: Encoded): Promise<Array<ImageDescriptors | undefined>> => {
    const missing = fresh.filter((p) => !ahead.has(p));
    const late = missing.length > 0 ? await encode(missing) : new Map<Prepared, Settled<ImageDescriptors>>();
    return fresh.map((p) => {
      const settled = ahead.get(p) ?? late.get(p);
      if (settled?.ok) return settled.value;
      const { kind, reason } = classify(settled?.error);
      skip(p.item.key, kind, reason);
      return undefined;
    });
  };

  const prepareBatch = async (pending: SourceItem[]): Promise<Prepared[]> => {
    const hashRenderedBytes = (await schemeFor(pending)) === 'bytes';
    return (await Promise.all(pending.map((item) => prepare(item, hashRenderedBytes)))).filter((p): p is Prepared => p !== undefined);
  };

  /** Dedupes against the catalog (which earlier batches have just changed), encodes, commits. */
  const commit = async (pending: SourceItem[], prepared: Prepared[], encoded: Encoded): Promise<void> => {
    const fresh: Prepared[] = [];
    const hashes = new Map<string, Prepared>();
    const ids = new Set<string>();
    const aliases: Array<{ p: Prepared; stored?: Item; first?: Prepared }> = [];
    for (const p of prepared) {
      const wantedId = p.item.meta.id;
      const first = hashes.get(p.hash);
      const stored = first ? undefined : await target.catalog.findByHash(p.hash);
      if (first || stored) {
        // Same bytes again: a plain repeat, or a new explicit id kept as an alias of the stored image.
        const existingId = stored ? stored.id : (first?.item.meta.id ?? idFromHash(p.hash));
        if (wantedId === undefined || wantedId === existingId || stored?.aliases?.includes(wantedId)) {
          duplicate({ key: p.item.key, id: wantedId ?? existingId, existingId });
          continue;
        }
      }
      if (wantedId !== undefined) {
        const owner = ids.has(wantedId) ? undefined : await target.catalog.get(wantedId);
        if (ids.has(wantedId) || (owner && owner.contentHash !== p.hash)) {
          // The id is taken by other content: skip this one rather than fail its whole batch.
          skip(p.item.key, 'id-conflict', `id "${wantedId}" already belongs to a different image`);
          continue;
        }
        ids.add(wantedId);
      }
      if (first || stored) {
        aliases.push({ p, stored, first });
        continue;
      }
      hashes.set(p.hash, p);
      fresh.push(p);
    }
    if (fresh.length > 0 || aliases.length > 0) {
      const [descriptors, thumbnails] = await Promise.all([
        fresh.length > 0 ? describe(fresh, encoded) : Promise.resolve([]),
        Promise.all(
          fresh.map((p) =>
            p.item.storeThumbnail
              ? p.bytes().then((bytes) => makeThumbnail(bytes, options.thumbnailSize, options.maxPixels)).catch(() => undefined)
              : Promise.resolve(undefined),
          ),
        ),
      ]);
      const inputs: ItemInput[] = [];
      const toInput = (p: Prepared, d: ImageDescriptors, thumbnail: Buffer | undefined): ItemInput => {
        const meta = p.item.meta;
        return {
          id: meta.id,
          externalId: meta.externalId,
          source: meta.source ?? 'upload',
          title: meta.title ?? '',
          tags: meta.tags ?? [],
          keywords: meta.keywords,
          license: meta.license,
          attribution: meta.attribution,
          url: meta.url,
          width: p.width,
          height: p.height,
          extra: meta.extra,
          contentHash: p.hash,
          semantic: d.semantic,
          style: d.style,
          thumbnail,
        };
      };
      const keys: string[] = [];
      fresh.forEach((p, i) => {
        const d = descriptors[i];
        if (!d) return;
        inputs.push(toInput(p, d, thumbnails[i]));
        keys.push(p.item.key);
      });
      // An alias needs no encoding: the catalog keeps the stored image's vectors (these only satisfy
      // the input's shape, and keep the item whole should the stored one be deleted meanwhile).
      for (const { p, stored, first } of aliases) {
        const d = first ? descriptors[fresh.indexOf(first)] : stored && (await target.catalog.getWithVectors(stored.id));
        if (!d) {
          // The same bytes failed to encode under the first id (that skip is reported) or vanished meanwhile.
          skip(p.item.key, 'corrupt', 'the image could not be encoded');
          continue;
        }
        inputs.push(toInput(p, d, undefined));
        keys.push(p.item.key);
      }
      if (inputs.length > 0) {
        const results = await target.catalog.addBatch(inputs);
        results.forEach((r, i) => {
          if (r.status === 'added') {
            summary.added++;
            if (summary.addedIds.length < MAX_REPORTED_IDS) summary.addedIds.push(r.id);
          } else duplicate({ key: keys[i], id: r.id, existingId: r.existingId ?? r.id });
        });
        await target.sync();
        if (++batchesSinceSave >= saveEvery) {
          await target.save();
          batchesSinceSave = 0;
        }
      }
    }
    progress.tick(pending.length);
    options.onBatch?.(progress.count, source.total);
  };

  // Batches are prepared (read, hashed, probed, decoded) as they are read and encoded in turn,
  // up to PREPARED_AHEAD ahead of the oldest, which is then committed: the catalog still sees one
  // transaction per batch, in source order.
  let pending: SourceItem[] = [];
  const ahead: Array<{ items: SourceItem[]; prepared: Promise<Prepared[]>; encoded: Promise<Encoded> }> = [];
  const startBatch = (items: SourceItem[]): void => {
    const prepared = prepareBatch(items);
    ahead.push({ items, prepared, encoded: encodeWhenPrepared(prepared) });
  };
  const commitOldest = async (): Promise<void> => {
    const batch = ahead.shift();
    if (batch) await commit(batch.items, await batch.prepared, await batch.encoded);
  };
  for await (const item of source.items()) {
    summary.seen++;
    pending.push(item);
    if (pending.length >= options.batchSize) {
      startBatch(pending);
      pending = [];
      if (ahead.length > PREPARED_AHEAD) await commitOldest();
      if (options.shouldStop?.()) {
        summary.stopped = true;
        break;
      }
    }
  }
  if (pending.length > 0 && !summary.stopped) startBatch(pending);
  // A stop still commits what was read: those items are counted as seen.
  while (ahead.length > 0) await commitOldest();
  await target.save();

  const wallMs = performance.now() - started;
  summary.seconds = wallMs / 1000;
  summary.itemsPerSecond = summary.seen / Math.max(summary.seconds, 1e-9);
  summary.encoderShare = wallMs > 0 ? encoderMs / wallMs : 0;
  return summary;
}
