/**
 * The artwork demo corpus (Open Clip Art, corpus/openclipart.ts) as an ingestion source: every
 * drawing rendered from its SVG with sharp (librsvg) onto white, at `renderSize` on its longer
 * side. The rendering is stored as the item's thumbnail: unlike the emoji sets, the SVGs live in
 * the data dir, not in an npm package the server can re-render from.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { OPENCLIPART_KIND, OPENCLIPART_SOURCE, type ArtworkCorpus } from '../../corpus/openclipart.js';
import type { IngestSource, SourceItem } from './types.js';

/** SVGs past this many bytes are not rendered (the largest drawing in the package is ~1.7 MB). */
const MAX_SVG_BYTES = 8 << 20;

/** An SVG as a square PNG of `size` pixels: rasterised at that size (crisp), centred on white. */
export async function renderSvg(svg: Buffer, size: number): Promise<Buffer> {
  const { width, height } = await sharp(svg).metadata();
  const longest = Math.max(width ?? size, height ?? size, 1);
  // librsvg rasterises at 72 dpi by default: scale the density so the drawing comes out at `size`.
  const density = Math.min(2400, Math.max(1, (72 * size) / longest));
  let raster = await sharp(svg, { density }).raw().toBuffer({ resolveWithObject: true });
  if (Math.max(raster.info.width, raster.info.height) < size / 2) {
    // An SVG whose width/height are in physical units (cm, pt, ...) comes out a few pixels wide, and blank, at
    // a custom density: rasterise it at the default density (the size metadata reports) and let resize scale it.
    raster = await sharp(svg).raw().toBuffer({ resolveWithObject: true });
  }
  const { width: w, height: h, channels } = raster.info;
  return sharp(raster.data, { raw: { width: w, height: h, channels } })
    .resize(size, size, { fit: 'contain', background: '#ffffff' })
    .flatten({ background: '#ffffff' })
    .png()
    .toBuffer();
}

export function artworkSource(corpus: ArtworkCorpus, options: { renderSize: number; limit?: number }): IngestSource {
  const items = options.limit ? corpus.items.slice(0, options.limit) : corpus.items;
  return {
    label: `Open Clip Art (${corpus.items.length} drawings)`,
    total: items.length,
    rejected: [],
    async *items(): AsyncIterable<SourceItem> {
      for (const item of items) {
        yield {
          key: item.path,
          meta: {
            id: item.id,
            externalId: item.path,
            title: item.title,
            tags: item.keywords,
            keywords: item.category ? item.category.split('/').map((part) => part.replace(/_/g, ' ')) : [],
            source: OPENCLIPART_SOURCE,
            license: corpus.license,
            ...(item.creator ? { attribution: item.creator } : {}),
            extra: { kind: OPENCLIPART_KIND, category: item.category, path: item.path },
          },
          bytes: async () => {
            const svg = await readFile(path.join(corpus.svgDir, item.path));
            if (svg.length > MAX_SVG_BYTES) throw new Error(`the SVG has ${svg.length} bytes, more than ${MAX_SVG_BYTES}`);
            return renderSvg(svg, options.renderSize);
          },
          storeThumbnail: true,
        };
      }
    },
  };
}
