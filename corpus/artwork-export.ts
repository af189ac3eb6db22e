/**
 * `parasol corpus export --corpus artwork`: the Open Clip Art drawings (corpus/openclipart.ts,
 * fetched by `parasol corpus fetch openclipart`) rendered for training, in the same items.jsonl
 * shape as the emoji export: title as name, keywords, creator as attribution and `artist`,
 * category, licence and a fixed evaluation split.
 *
 * Splits hold out whole artists (their style is unseen) and whole categories (their content is
 * unseen), chosen by a seeded hash so the choice never changes. Only artists with at least
 * STYLE_MIN_WORKS drawings are style labels (and so candidates for holding out); the largest
 * artists stay in training, so no artist dominates the held-out metrics (or their chance level). The package
 * files some drawings twice, under two categories, as separate files that differ only in their
 * metadata: a drawing (its SVG without the <metadata> element) is exported once, under its first
 * path, so no copy of a held-out drawing is trained on. A drawing whose rendering is blank white is left
 * out (the splits are drawn before, so they do not depend on the renderer).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Progress, forEachConcurrent, type ProgressSink } from '../src/progress.js';
import sharp from 'sharp';
import { renderSvg } from '../indexer/sources/artwork.js';
import { OPENCLIPART_SOURCE, openClipArtDir, readOpenClipArt, type ArtworkItem } from './openclipart.js';
import { fnv1a, type Split } from './split.js';
import { exists, writeAtomic } from './files.js';

const ARTWORK_SPLIT_SEED = 'parasol-artwork-split-v1';
/** Artists with at least this many drawings are style labels. */
export const STYLE_MIN_WORKS = 20;
/** Held-out artists are drawn among style-label artists with at most this many drawings. */
export const HELD_OUT_ARTIST_MAX_WORKS = 150;
export const HELD_OUT_ARTISTS = 7;
export const UNSEEN_CATEGORY_PERCENT = 15;
const SVG_LIMIT = 8 << 20;

export interface ArtworkSplits {
  heldOutArtists: string[];
  heldOutCategories: string[];
  styleArtists: string[];
}

/** The fixed held-out artists and categories of a list of drawings. */
export function artworkSplits(items: readonly Pick<ArtworkItem, 'creator' | 'category'>[]): ArtworkSplits {
  const works = new Map<string, number>();
  for (const item of items) if (item.creator) works.set(item.creator, (works.get(item.creator) ?? 0) + 1);
  const styleArtists = [...works].filter(([, n]) => n >= STYLE_MIN_WORKS).map(([a]) => a).sort();
  const heldOutArtists = styleArtists
    .filter((artist) => (works.get(artist) ?? 0) <= HELD_OUT_ARTIST_MAX_WORKS)
    .sort((a, b) => fnv1a(`${ARTWORK_SPLIT_SEED}:${a}`) - fnv1a(`${ARTWORK_SPLIT_SEED}:${b}`) || a.localeCompare(b))
    .slice(0, HELD_OUT_ARTISTS)
    .sort();
  const categories = [...new Set(items.map((item) => item.category))].sort();
  const heldOutCategories = categories.filter(
    (category) => fnv1a(`${ARTWORK_SPLIT_SEED}:category:${category}`) % 100 < UNSEEN_CATEGORY_PERCENT,
  );
  return { heldOutArtists, heldOutCategories, styleArtists };
}

export function artworkSplitOf(item: Pick<ArtworkItem, 'creator' | 'category'>, splits: ArtworkSplits): Split {
  const unseenStyle = item.creator !== undefined && splits.heldOutArtists.includes(item.creator);
  const unseenContent = splits.heldOutCategories.includes(item.category);
  if (unseenStyle && unseenContent) return 'unseen-both';
  if (unseenStyle) return 'unseen-style';
  if (unseenContent) return 'unseen-content';
  return 'train';
}

/** The drawing itself: the SVG without its metadata (title, keywords, creator) and without whitespace runs. */
export function drawingOf(svg: string): string {
  return svg.replace(/<metadata[\s\S]*?<\/metadata>/g, '').replace(/\s+/g, ' ');
}

/** Keywords that only repeat the creator's name say nothing about the drawing. */
function contentKeywords(item: ArtworkItem): string[] {
  const creator = item.creator?.toLowerCase();
  return item.keywords.filter((keyword) => keyword.toLowerCase() !== creator);
}

export function artworkRecord(item: ArtworkItem, imagePath: string, license: string, split: Split): Record<string, unknown> {
  return {
    id: item.id,
    path: imagePath,
    corpus: 'artwork',
    set: OPENCLIPART_SOURCE,
    codepoint: null,
    name: item.title,
    shortNames: [],
    keywords: contentKeywords(item),
    category: item.category,
    subcategory: '',
    license,
    attribution: item.creator ?? '',
    artist: item.creator ?? null,
    split,
  };
}

export interface ArtworkExportOptions {
  dataDir: string;
  out: string;
  size: number;
  concurrency?: number;
  progress?: ProgressSink | null;
}

export interface ArtworkExportSummary {
  items: number;
  duplicates: number;
  rendered: number;
  reused: number;
  failed: number;
  /** Drawings whose rendering has no pixel that is not white (nothing to learn from, nothing to find). */
  blank: number;
  seconds: number;
}

/** True when no pixel of the PNG is darker than near-white in any channel. */
async function isBlank(png: Buffer): Promise<boolean> {
  const { channels } = await sharp(png).stats();
  return channels.slice(0, 3).every((channel) => channel.min >= 250);
}

/** Renders every distinct drawing at `size` px onto white and writes items.jsonl + corpus.json (resumable). */
export async function exportArtworkCorpus(options: ArtworkExportOptions): Promise<ArtworkExportSummary> {
  const started = Date.now();
  const corpus = await readOpenClipArt(openClipArtDir(options.dataDir));
  const seen = new Set<string>();
  const distinct: ArtworkItem[] = [];
  for (const item of corpus.items) {
    const svg = await readFile(path.join(corpus.svgDir, item.path), 'utf8');
    const digest = createHash('sha1').update(drawingOf(svg)).digest('hex');
    if (seen.has(digest)) continue;
    seen.add(digest);
    distinct.push(item);
  }
  const splits = artworkSplits(distinct);
  const dir = path.join(options.out, 'images', OPENCLIPART_SOURCE);
  await mkdir(dir, { recursive: true });
  const progress = new Progress('render', distinct.length, options.progress);
  const records = new Map<string, string>();
  let rendered = 0;
  let reused = 0;
  let failed = 0;
  let blank = 0;
  await forEachConcurrent(distinct, options.concurrency ?? 4, async (item) => {
    const relative = path.posix.join('images', OPENCLIPART_SOURCE, `${item.id.slice(item.id.indexOf(':') + 1).replace(/[^A-Za-z0-9~-]/g, '_')}.png`);
    const file = path.join(options.out, relative);
    try {
      let png: Buffer;
      if (await exists(file)) {
        png = await readFile(file);
        reused++;
      } else {
        const svg = await readFile(path.join(corpus.svgDir, item.path));
        if (svg.length > SVG_LIMIT) throw new Error(`${svg.length} bytes`);
        png = await renderSvg(svg, options.size);
        await writeAtomic(file, png);
        rendered++;
      }
      if (await isBlank(png)) {
        blank++;
        progress.tick();
        return;
      }
      records.set(item.id, JSON.stringify(artworkRecord(item, relative, corpus.license, artworkSplitOf(item, splits))));
    } catch {
      failed++; // a drawing librsvg cannot render is left out of the training corpus
    }
    progress.tick();
  });
  const lines = distinct.map((item) => records.get(item.id)).filter((line): line is string => line !== undefined);
  await writeAtomic(path.join(options.out, 'items.jsonl'), `${lines.join('\n')}\n`);
  const description = {
    corpus: 'artwork',
    source: OPENCLIPART_SOURCE,
    license: corpus.license,
    drawings: corpus.items.length,
    items: lines.length,
    duplicates: corpus.items.length - distinct.length,
    failed,
    blank,
    styleMinWorks: STYLE_MIN_WORKS,
    ...splits,
    size: options.size,
  };
  await writeAtomic(path.join(options.out, 'corpus.json'), `${JSON.stringify(description, null, 2)}\n`);
  return {
    items: lines.length,
    duplicates: corpus.items.length - distinct.length,
    rendered,
    reused,
    failed,
    blank,
    seconds: (Date.now() - started) / 1000,
  };
}
