/**
 * `parasol tune`: chooses the search breadth per modality and per query kind from a sample of real
 * queries against this store, and stores the choice with the curve it came from.
 *
 * - image-like queries: stored items' own vectors, each held out of its own answer (what "more like
 *   this" and image uploads search with);
 * - text-like queries: the text towers' embeddings of the catalogue's own words (titles, else tags),
 *   or of the texts an operator gives (e.g. a query log) — content through the semantic text tower,
 *   style through the style text encoder.
 *
 * For each, recall@10 against exact brute force over every stored vector is measured over a ladder
 * of breadths and the smallest reaching the target is chosen. The engine then searches each
 * modality at the breadth of the query's kind (search/breadth.ts).
 */
import type { Encoders } from '../encoders/types.js';
import { createError } from '../errors.js';
import type { SearchBreadth } from '../search/breadth.js';
import { chooseEf, DEFAULT_LADDER, DEFAULT_TARGET, ExactMatrix, exactTopK, measureCurve, RECALL_AT, type TuneQuery } from '../search/tune.js';
import { QUERY_KINDS, TUNING_FORMAT, type QueryKind, type SearchTuning, type TuningEntry } from '../store/tuning.js';
import type { ItemWithVectors, Modality, Store } from '../store/types.js';
import { seededRandom } from '../random.js';

export type { QueryKind, SearchTuning, TuningEntry } from '../store/tuning.js';
export type { Modality } from '../store/types.js';

export const MODALITIES: readonly Modality[] = ['semantic', 'style'];
const SCAN_PAGE = 2048;
const EMBED_BATCH = 64;

/** The phases a tune goes through, for progress lines. */
export type TunePhase = 'read' | 'embed' | 'exact' | 'ladder';

export interface TuneProgress {
  /** Starts a phase of `total` units ("read 120000 vectors", "ladder semantic/text"). */
  begin(phase: TunePhase, label: string, total: number): void;
  tick(units: number): void;
}

export interface TuneOptions {
  /** recall@10 to reach (0, 1]. */
  target?: number;
  /** Breadths to try, ascending. */
  ladder?: readonly number[];
  /** Queries per (modality, kind). */
  queries?: number;
  modalities?: readonly Modality[];
  kinds?: readonly QueryKind[];
  /** Texts to embed as the text-like sample instead of the catalogue's own words. */
  texts?: readonly string[];
  /** Seed of the item sample (the same store and seed measure the same queries). */
  seed?: number;
  /** Measure and report, store nothing. */
  dryRun?: boolean;
  progress?: TuneProgress;
  shouldStop?: () => boolean;
}

export interface TuneReport {
  /** What is stored now (merged with earlier entries for what was not re-measured). */
  tuning: SearchTuning;
  /** The entries this run measured. */
  measured: TuningEntry[];
  written: boolean;
  /** Interrupted: only the (modality, kind) pairs finished before the stop were measured. */
  stopped: boolean;
}

export interface TuneServiceDeps {
  store: Store;
  encoders: Pick<Encoders, 'semanticText' | 'styleText'>;
  /** The live engine's breadth: updated after a tune so this process searches with it at once. */
  breadth?: Pick<SearchBreadth, 'set'>;
}

export class TuneService {
  constructor(private readonly deps: TuneServiceDeps) {}

  /** The stored tuning, or null. */
  current(): Promise<SearchTuning | null> {
    return this.deps.store.catalog.searchTuning();
  }

  /** Forgets the tuning: every search uses the configured default again. */
  async reset(): Promise<void> {
    await this.deps.store.catalog.setSearchTuning(null);
    this.deps.breadth?.set(null);
  }

  async tune(options: TuneOptions = {}): Promise<TuneReport> {
    const settings = checkOptions(options);
    const { store } = this.deps;
    const stopRequested = () => options.shouldStop?.() ?? false;
    const { items, version } = await store.catalog.stats();
    if (items <= RECALL_AT) throw createError('UNPROCESSABLE', `the store holds ${items} items; tuning needs more than ${RECALL_AT}`);

    // The sample is drawn by row position in the scan, so it is fixed by the store and the seed.
    const random = seededRandom(settings.seed);
    const imageRows = sampleRows(items, settings.queries, random);
    const textRows = settings.texts ? new Set<number>() : sampleRows(items, settings.queries * 3, random);
    const matrices = new Map(settings.modalities.map((m) => [m, new ExactMatrix(store.indices[m].dim, items)]));
    const words: string[] = [];
    options.progress?.begin('read', `read ${items} items' vectors`, items);
    let row = 0;
    for await (const page of store.catalog.scan(SCAN_PAGE)) {
      if (stopRequested()) return this.finish([], true, settings, items, version);
      for (const item of page) {
        if (row >= items) break; // items added while reading are not part of this tune
        for (const [modality, matrix] of matrices) matrix.push(item.seq, item[modality]);
        if (textRows.has(row)) {
          const text = wordsOf(item);
          if (text) words.push(text);
        }
        row++;
      }
      options.progress?.tick(page.length);
    }

    const texts = settings.texts ? [...settings.texts] : [...new Set(words)].slice(0, settings.queries);
    const measured: TuningEntry[] = [];
    for (const [modality, matrix] of matrices) {
      const sets: Partial<Record<QueryKind, { queries: TuneQuery[]; source: string }>> = {};
      if (settings.kinds.includes('image')) {
        const rows = [...imageRows].filter((r) => r < matrix.rows);
        sets.image = { queries: rows.map((r) => ({ vector: matrix.row(r), exclude: matrix.seqs[r] })), source: 'stored items, each held out of its own answer' };
      }
      if (settings.kinds.includes('text') && texts.length > 0) {
        const vectors = await this.embed(modality, texts, options.progress, stopRequested);
        if (!vectors) return this.finish(measured, true, settings, items, version);
        sets.text = {
          queries: vectors.map((vector) => ({ vector })),
          source: settings.texts ? 'texts given to tune' : `the ${modality === 'semantic' ? 'semantic text tower' : 'style text encoder'} on the catalogue's titles and tags`,
        };
      }
      const all = [...(sets.image?.queries ?? []), ...(sets.text?.queries ?? [])];
      if (all.length === 0) continue;
      options.progress?.begin('exact', `exact top-${RECALL_AT} ${modality} (${all.length} queries)`, matrix.rows);
      const truths = await exactTopK(matrix, all, RECALL_AT, { tick: (n) => options.progress?.tick(n), shouldStop: stopRequested });
      if (!truths) return this.finish(measured, true, settings, items, version);
      let offset = 0;
      for (const kind of QUERY_KINDS) {
        const set = sets[kind];
        if (!set) continue;
        const kindTruths = truths.slice(offset, offset + set.queries.length);
        offset += set.queries.length;
        options.progress?.begin('ladder', `ladder ${modality}/${kind}`, set.queries.length * settings.ladder.length);
        const curve = await measureCurve(store.indices[modality], set.queries, kindTruths, settings.ladder, {
          tick: (n) => options.progress?.tick(n),
          shouldStop: stopRequested,
        });
        if (!curve) return this.finish(measured, true, settings, items, version);
        const { ef, reached } = chooseEf(curve, settings.target);
        measured.push({ modality, kind, ef, reached, queries: set.queries.length, source: set.source, curve });
      }
    }
    return this.finish(measured, false, settings, items, version);
  }

  /** Merges what was measured into the stored tuning and writes it (unless a dry run or nothing was measured). */
  private async finish(measured: TuningEntry[], stopped: boolean, settings: Settings, items: number, catalogVersion: number): Promise<TuneReport> {
    const { store, breadth } = this.deps;
    const previous = await store.catalog.searchTuning();
    const replaced = new Set(measured.map((entry) => `${entry.modality}:${entry.kind}`));
    const kept = (previous?.entries ?? []).filter((entry) => !replaced.has(`${entry.modality}:${entry.kind}`));
    const tuning: SearchTuning = {
      format: TUNING_FORMAT,
      tunedAt: new Date().toISOString(),
      items,
      catalogVersion,
      target: settings.target,
      knob: store.backend === 'elastic' ? 'num_candidates' : 'efSearch',
      entries: [...kept, ...measured].sort((a, b) => a.modality.localeCompare(b.modality) || a.kind.localeCompare(b.kind)),
    };
    const write = !settings.dryRun && measured.length > 0;
    if (write) {
      await store.catalog.setSearchTuning(tuning);
      breadth?.set(tuning);
    }
    return { tuning: write ? tuning : (previous ?? tuning), measured, written: write, stopped };
  }

  private async embed(modality: Modality, texts: string[], progress: TuneProgress | undefined, stop: () => boolean): Promise<Float32Array[] | null> {
    const embedder = modality === 'semantic' ? this.deps.encoders.semanticText : this.deps.encoders.styleText;
    progress?.begin('embed', `embed ${texts.length} texts (${modality})`, texts.length);
    const vectors: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += EMBED_BATCH) {
      if (stop()) return null;
      const batch = texts.slice(i, i + EMBED_BATCH);
      vectors.push(...(await embedder.embedTexts(batch)));
      progress?.tick(batch.length);
    }
    return vectors;
  }
}

interface Settings {
  target: number;
  ladder: number[];
  queries: number;
  modalities: Modality[];
  kinds: QueryKind[];
  texts?: string[];
  seed: number;
  dryRun: boolean;
}

function checkOptions(options: TuneOptions): Settings {
  const target = options.target ?? DEFAULT_TARGET;
  if (!(target > 0 && target <= 1)) throw createError('BAD_REQUEST', `the recall target must be in (0, 1], got ${target}`);
  const ladder = [...new Set(options.ladder ?? DEFAULT_LADDER)].sort((a, b) => a - b);
  if (ladder.length === 0 || !ladder.every((ef) => Number.isInteger(ef) && ef >= 1 && ef <= 10_000)) {
    throw createError('BAD_REQUEST', 'the ladder takes integers from 1 to 10000');
  }
  const queries = options.queries ?? 200;
  if (!(Number.isInteger(queries) && queries >= 1 && queries <= 100_000)) throw createError('BAD_REQUEST', `queries must be an integer from 1 to 100000, got ${queries}`);
  const modalities = [...new Set(options.modalities ?? MODALITIES)];
  const kinds = [...new Set(options.kinds ?? QUERY_KINDS)];
  if (modalities.length === 0 || kinds.length === 0) throw createError('BAD_REQUEST', 'nothing to tune: give at least one modality and one query kind');
  const texts = options.texts?.map((text) => text.trim()).filter((text) => text.length > 0);
  if (options.texts && texts?.length === 0) throw createError('BAD_REQUEST', 'the texts to tune with are all empty');
  return { target, ladder, queries, modalities, kinds, texts, seed: options.seed ?? 1, dryRun: options.dryRun ?? false };
}

/** What a text query about this item would say: its title, else its tags. */
function wordsOf(item: ItemWithVectors): string {
  return (item.title.trim() || item.tags.join(' ')).slice(0, 200);
}

/** `count` distinct row positions below `rows` (all of them when fewer). */
function sampleRows(rows: number, count: number, random: () => number): Set<number> {
  const picked = new Set<number>();
  if (count >= rows) {
    for (let r = 0; r < rows; r++) picked.add(r);
    return picked;
  }
  while (picked.size < count) picked.add(Math.floor(random() * rows));
  return picked;
}
