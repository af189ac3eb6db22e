/**
 * Thumbnails: stored ones come from the catalog; demo items keep no thumbnail (their SVG is the
 * original), so theirs are rendered on demand and the recent ones kept in a small LRU.
 */
import { LruCache } from '../encoders/lru.js';
import type { Catalog } from '../store/types.js';
import { renderDemoThumbnail } from '../../corpus/thumbnails.js';
import { DEMO_SOURCE_KIND } from '../../indexer/sources/demo.js';

export interface ThumbnailServiceOptions {
  catalog: Catalog;
  size: number;
  /** Rendered demo thumbnails kept in memory. */
  cacheSize?: number;
}

export class ThumbnailService {
  private readonly catalog: Catalog;
  private readonly size: number;
  private readonly rendered: LruCache<string, Buffer>;

  constructor(options: ThumbnailServiceOptions) {
    this.catalog = options.catalog;
    this.size = options.size;
    this.rendered = new LruCache(options.cacheSize ?? 512);
  }

  /**
   * WebP bytes for a live item; null when no live item has the id, undefined when it has no picture.
   * The catalog is asked first every time, so a deleted item's cached render is never served.
   */
  async get(id: string): Promise<Buffer | null | undefined> {
    const item = await this.catalog.get(id);
    if (!item) return null;
    const stored = await this.catalog.thumbnail(id);
    if (stored) return stored;
    if (item.extra.kind !== DEMO_SOURCE_KIND) return undefined;
    const { set, iconName } = item.extra;
    if (typeof set !== 'string' || typeof iconName !== 'string') return undefined;
    const cached = this.rendered.get(id);
    if (cached) return cached;
    const bytes = await renderDemoThumbnail(set, iconName, this.size);
    if (bytes) this.rendered.set(id, bytes);
    return bytes;
  }
}
