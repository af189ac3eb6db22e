/**
 * Building the demo index (the emoji corpus) into an opened context: `parasol index --demo` and
 * `parasol serve` on an empty data dir both start here; `parasol index --demo artwork` indexes the
 * Open Clip Art drawings instead.
 */
import type { ParasolContext } from '../src/context.js';
import type { LoadedEncoders } from '../src/encoders/index.js';
import type { ProgressSink } from '../src/progress.js';
import { ingest, type IngestSummary } from './ingest.js';
import { openClipArtDir, readOpenClipArt } from '../corpus/openclipart.js';
import { artworkSource } from './sources/artwork.js';
import { demoSource } from './sources/demo.js';
import type { IngestSource } from './sources/types.js';

/** The encoders' largest input size: demo SVGs are rendered straight to it. */
export function demoRenderSize(encoders: Pick<LoadedEncoders, 'manifest'>): number {
  const sizes = [encoders.manifest.semantic.image, encoders.manifest.style.image].map((model) => model.preprocess.size);
  return Math.max(...sizes);
}

export function demoIndexSource(encoders: Pick<LoadedEncoders, 'manifest'>, options: { limit?: number } = {}): IngestSource {
  return demoSource({ renderSize: demoRenderSize(encoders), limit: options.limit });
}

export interface DemoIndexOptions {
  /** Index only the first this many items (tests, quick starts). */
  limit?: number;
  /** Checked between batches: true stops cleanly (a later run resumes). */
  shouldStop?: () => boolean;
  /** Where progress lines go (null: nowhere; absent: the ingest default). */
  progress?: ProgressSink | null;
  /** After each committed batch: items seen so far and in all. */
  onBatch?: (seen: number, total: number) => void;
}

export async function buildDemoIndex(
  context: Pick<ParasolContext, 'config' | 'encoders' | 'store'>,
  options: DemoIndexOptions = {},
): Promise<IngestSummary> {
  return ingest(demoIndexSource(context.encoders, options), context.encoders, context.store, {
    batchSize: context.config.ingest.batchSize,
    thumbnailSize: context.config.ingest.thumbnailSize,
    maxPixels: context.config.limits.maxPixels,
    shouldStop: options.shouldStop,
    progress: options.progress,
    onBatch: options.onBatch,
  });
}

/** The demo corpora `parasol index --demo <name>` knows. */
export type DemoCorpusName = 'emoji' | 'artwork';

/**
 * The emoji corpus (from npm, always there), or the artwork corpus (Open Clip Art, fetched into
 * the data dir by `parasol corpus fetch openclipart`; NOT_FOUND until then). Artwork is rendered
 * at the thumbnail size, since its rendering is also its stored thumbnail.
 */
export async function demoSourceNamed(
  name: DemoCorpusName,
  context: Pick<ParasolContext, 'config' | 'encoders'>,
  options: { limit?: number } = {},
): Promise<IngestSource> {
  if (name === 'emoji') return demoIndexSource(context.encoders, options);
  const corpus = await readOpenClipArt(openClipArtDir(context.config.dataDir));
  const renderSize = Math.max(demoRenderSize(context.encoders), context.config.ingest.thumbnailSize);
  return artworkSource(corpus, { renderSize, limit: options.limit });
}
