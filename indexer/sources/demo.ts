/**
 * The demo corpus as an ingestion source: every icon of the twelve emoji sets, rendered from
 * its SVG at the encoders' input size. Thumbnails are not stored: the SVG is the original and
 * is re-rendered at any size on demand (see corpus/thumbnails.ts).
 */
import { buildCorpus, iconOf } from '../../corpus/corpus.js';
import type { CorpusItem } from '../../corpus/corpus.js';
import { createIconPixelRenderer, renderIcon } from '../../corpus/render.js';
import type { IngestSource, SourceItem } from './types.js';

export const DEMO_SOURCE_KIND = 'emoji-demo';

export function demoKeywords(item: CorpusItem): string[] {
  return [...new Set([...item.shortNames, ...item.keywords, item.subcategory.replace(/-/g, ' ')].filter(Boolean))];
}

/**
 * The contents drawn in most sets come first, each in all its styles together, so that any
 * prefix of the ingest (a first start serves while the rest is indexed) already shows every
 * style and many contents across styles. Icons without a codepoint come last.
 */
export function demoOrder(items: readonly CorpusItem[]): CorpusItem[] {
  const styles = new Map<string, number>();
  for (const item of items) if (item.codepoint) styles.set(item.codepoint, (styles.get(item.codepoint) ?? 0) + 1);
  const rank = (item: CorpusItem) => (item.codepoint ? (styles.get(item.codepoint) as number) : 0);
  return [...items].sort(
    (a, b) => rank(b) - rank(a) || (a.codepoint ?? a.id).localeCompare(b.codepoint ?? b.id) || a.set.localeCompare(b.set),
  );
}

export function demoSource(options: { renderSize: number; sets?: string[]; limit?: number }): IngestSource {
  const corpus = buildCorpus(options.sets);
  const ordered = demoOrder(corpus.items);
  const items = options.limit ? ordered.slice(0, options.limit) : ordered;
  // A batch asks for its icons' pixels at once: the simple ones are drawn several to a sheet.
  const renderPixels = createIconPixelRenderer(options.renderSize);
  return {
    label: 'demo corpus (12 emoji sets)',
    total: items.length,
    rejected: [],
    async *items(): AsyncIterable<SourceItem> {
      for (const item of items) {
        const { set, icon } = iconOf(corpus, item);
        yield {
          key: item.id,
          meta: {
            id: item.id,
            externalId: item.id,
            title: item.name,
            tags: [item.set, item.category, item.subcategory].filter(Boolean),
            keywords: demoKeywords(item),
            source: item.set,
            license: item.license,
            attribution: item.attribution,
            extra: {
              kind: DEMO_SOURCE_KIND,
              set: item.set,
              iconName: item.iconName,
              codepoint: item.codepoint,
              category: item.category,
              split: item.split,
            },
          },
          bytes: () => renderIcon(set, icon, options.renderSize),
          rendered: () => renderPixels(set, icon),
          storeThumbnail: false,
        };
      }
    },
  };
}
