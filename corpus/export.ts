/**
 * `parasol corpus export`: writes the rendered corpus and its `items.jsonl` for training.
 * Resumable: images already on disk are kept, and files are written atomically.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Progress, forEachConcurrent } from '../src/progress.js';
import type { ProgressSink } from '../src/progress.js';
import { buildCorpus, iconOf } from './corpus.js';
import type { Corpus, CorpusItem } from './corpus.js';
import { renderIcon } from './render.js';
import { exists, writeAtomic } from './files.js';

export interface ExportOptions {
  out: string;
  size: number;
  /** Limit the export to these sets (default: all twelve). */
  sets?: string[];
  concurrency?: number;
  progress?: ProgressSink | null;
}

export interface ExportSummary {
  items: number;
  rendered: number;
  reused: number;
  mappingRate: number;
  seconds: number;
}

/** A file name safe on every file system: codepoints are hex already, names are slugs. */
export function imagePathFor(item: CorpusItem): string {
  const key = item.codepoint ?? item.id.slice(item.id.indexOf(':') + 1);
  return path.posix.join('images', item.set, `${key.replace(/[^a-z0-9~-]/g, '_')}.png`);
}

export function itemRecord(item: CorpusItem, imagePath: string): Record<string, unknown> {
  return {
    id: item.id,
    path: imagePath,
    set: item.set,
    codepoint: item.codepoint,
    name: item.name,
    shortNames: item.shortNames,
    keywords: item.keywords,
    category: item.category,
    subcategory: item.subcategory,
    license: item.license,
    attribution: item.attribution,
    split: item.split,
  };
}

export function corpusDescription(corpus: Corpus): Record<string, unknown> {
  return {
    sets: corpus.sets,
    stats: corpus.stats,
    mappingRate: corpus.mappingRate,
    items: corpus.items.length,
  };
}

export async function exportCorpus(options: ExportOptions): Promise<ExportSummary> {
  const started = Date.now();
  const corpus = buildCorpus(options.sets);
  const progress = new Progress('render', corpus.items.length, options.progress);
  let rendered = 0;
  let reused = 0;
  const made = new Set<string>();
  await forEachConcurrent(corpus.items, options.concurrency ?? 8, async (item) => {
    const relative = imagePathFor(item);
    const file = path.join(options.out, relative);
    if (await exists(file)) {
      reused++;
    } else {
      const dir = path.dirname(file);
      if (!made.has(dir)) {
        await mkdir(dir, { recursive: true });
        made.add(dir);
      }
      const { set, icon } = iconOf(corpus, item);
      await writeAtomic(file, await renderIcon(set, icon, options.size));
      rendered++;
    }
    progress.tick();
  });
  const lines = corpus.items.map((item) => JSON.stringify(itemRecord(item, imagePathFor(item))));
  await writeAtomic(path.join(options.out, 'items.jsonl'), `${lines.join('\n')}\n`);
  await writeAtomic(
    path.join(options.out, 'corpus.json'),
    `${JSON.stringify({ ...corpusDescription(corpus), size: options.size }, null, 2)}\n`,
  );
  return {
    items: corpus.items.length,
    rendered,
    reused,
    mappingRate: corpus.mappingRate,
    seconds: (Date.now() - started) / 1000,
  };
}
