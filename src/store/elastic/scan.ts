/**
 * Cursor pagination over a consistent view: a point in time (PIT) plus `search_after`, sorted by
 * seq. Unlike from/size it has no 10 000-hit window, and unlike scroll it is the current API.
 * The PIT is closed however the caller stops iterating.
 */
import type { Client, estypes } from '@elastic/elasticsearch';
import { esCall } from './client.js';

/** ES refuses `size` above index.max_result_window (10 000 by default). */
export const MAX_PAGE = 10_000;
const KEEP_ALIVE = '2m';

export interface ScanRequest {
  index: string;
  query: estypes.QueryDslQueryContainer;
  /** Hits per request (at most MAX_PAGE). */
  pageSize: number;
  /** What `_source` to fetch: false for none. */
  source: estypes.SearchSourceConfig;
  what: string;
}

export async function* scanHits<T>(client: Client, request: ScanRequest): AsyncGenerator<Array<estypes.SearchHit<T>>> {
  const size = Math.max(1, Math.min(MAX_PAGE, Math.floor(request.pageSize)));
  const pit = await esCall(`opening a point in time on ${request.index} (${request.what})`, () =>
    client.openPointInTime({ index: request.index, keep_alive: KEEP_ALIVE }),
  );
  let pitId = pit.id;
  try {
    let after: estypes.SortResults | undefined;
    for (;;) {
      const response = await esCall(request.what, () =>
        client.search<T>({
          pit: { id: pitId, keep_alive: KEEP_ALIVE },
          query: request.query,
          size,
          sort: [{ seq: 'asc' }],
          _source: request.source,
          track_total_hits: false,
          ...(after ? { search_after: after } : {}),
        }),
      );
      // The PIT id may change between requests; the latest one is the one to use and close.
      if (response.pit_id) pitId = response.pit_id;
      const hits = response.hits.hits;
      if (hits.length === 0) return;
      yield hits;
      if (hits.length < size) return;
      after = hits[hits.length - 1].sort;
    }
  } finally {
    await esCall('closing a point in time', () => client.closePointInTime({ id: pitId })).catch(() => undefined);
  }
}

/** Regroups a stream of pages into pages of exactly `size` (the last one shorter). */
export async function* rechunk<T>(pages: AsyncIterable<T[]>, size: number): AsyncGenerator<T[]> {
  let buffer: T[] = [];
  for await (const page of pages) {
    buffer.push(...page);
    while (buffer.length >= size) {
      yield buffer.slice(0, size);
      buffer = buffer.slice(size);
    }
  }
  if (buffer.length > 0) yield buffer;
}

/** Every hit of a scan, in seq order. */
export async function collectHits<T>(client: Client, request: ScanRequest): Promise<Array<estypes.SearchHit<T>>> {
  const all: Array<estypes.SearchHit<T>> = [];
  for await (const page of scanHits<T>(client, request)) all.push(...page);
  return all;
}
