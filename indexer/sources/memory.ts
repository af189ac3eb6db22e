/**
 * Items already at hand as an ingestion source: uploaded files, a rendered evaluation sample, a
 * chosen part of another source. Nothing is rejected while reading it: each item's own bytes()
 * and metadata are checked by the ingest like any other source's.
 */
import type { IngestSource, SourceItem } from './types.js';

export function memorySource(label: string, items: readonly SourceItem[]): IngestSource {
  return {
    label,
    total: items.length,
    rejected: [],
    async *items(): AsyncIterable<SourceItem> {
      yield* items;
    },
  };
}
