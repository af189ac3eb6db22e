/**
 * The search breadth (HNSW efSearch; Elasticsearch num_candidates) of one kNN search, from the
 * store's tuning (`parasol tune`): per modality and per kind of query vector. Text-tower
 * vectors sit off the image embeddings' distribution (the modality gap) and need a wider search
 * than image-like ones for the same recall, so one global efSearch is either too slow for image
 * queries or too narrow for text queries at a million items.
 *
 * An untuned store (or an untuned modality/kind) answers undefined: the index's configured default,
 * exactly as before tuning existed.
 */
import type { DescriptorSource, SearchRequest } from './query.js';
import { SEARCH_MODALITIES, type SearchModality } from './fusion.js';
import { QUERY_KINDS, type QueryKind, type SearchTuning } from '../store/tuning.js';

export type { QueryKind } from '../store/tuning.js';

/** The kinds of vector that went into each modality's descriptor; absent: unknown (both). */
export type QueryKinds = Partial<Record<SearchModality, readonly QueryKind[]>>;

export class SearchBreadth {
  private tuned = new Map<string, number>();
  private current: SearchTuning | null = null;

  /**
   * @param fallbackEf the breadth an untuned kind gets when another kind of the same descriptor is
   * tuned (the embedded index's configured efSearch; none for a backend without one).
   */
  constructor(
    tuning: SearchTuning | null,
    private readonly fallbackEf?: number,
  ) {
    this.set(tuning);
  }

  /** Takes a new tuning (after `parasol tune` ran in this process); null: untuned. */
  set(tuning: SearchTuning | null): void {
    this.current = tuning;
    this.tuned = new Map((tuning?.entries ?? []).map((entry) => [key(entry.modality === 'semantic' ? 'content' : 'style', entry.kind), entry.ef]));
  }

  get tuning(): SearchTuning | null {
    return this.current;
  }

  /**
   * The breadth for a descriptor built from vectors of these kinds (unknown: both): the widest
   * any of them needs, so that a mixed query (a text plus liked images) keeps the recall of its
   * hardest part. Undefined when none of the kinds is tuned.
   */
  ef(modality: SearchModality, kinds: readonly QueryKind[] | undefined): number | undefined {
    let widest: number | undefined;
    let anyTuned = false;
    for (const kind of kinds && kinds.length > 0 ? kinds : QUERY_KINDS) {
      const tuned = this.tuned.get(key(modality, kind));
      if (tuned !== undefined) anyTuned = true;
      const ef = tuned ?? this.fallbackEf;
      if (ef !== undefined) widest = Math.max(widest ?? 0, ef);
    }
    return anyTuned ? widest : undefined;
  }
}

function key(modality: SearchModality, kind: QueryKind): string {
  return `${modality}:${kind}`;
}

/** The kinds behind each descriptor of a search request (texts are text-like; images, items and liked items image-like). */
export function requestKinds(request: SearchRequest): QueryKinds {
  const kinds: QueryKinds = {};
  for (const modality of SEARCH_MODALITIES) {
    const found = new Set<QueryKind>();
    if (modality === 'content' ? request.q : request.style) found.add('text');
    const image = modality === 'content' ? request.contentImage : request.styleImage;
    const itemId = modality === 'content' ? request.contentItemId : request.styleItemId;
    if (image || itemId || (request.like?.[modality]?.length ?? 0) > 0) found.add('image');
    if (found.size > 0) kinds[modality] = [...found];
  }
  return kinds;
}

/** The kinds behind an interpolation's endpoints (a raw vector is of unknown kind). */
export function sourceKinds(pair: { a: DescriptorSource; b: DescriptorSource } | undefined): readonly QueryKind[] | undefined {
  if (!pair) return undefined;
  const found = new Set<QueryKind>();
  for (const source of [pair.a, pair.b]) {
    if ('text' in source) found.add('text');
    else if ('itemId' in source || 'image' in source) found.add('image');
    else return undefined;
  }
  return [...found];
}
