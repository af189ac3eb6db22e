/** A folder walked recursively for images; sharp decides what is an image, the extension only filters the walk. */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { IngestSource, SkippedRow, SourceItem } from './types.js';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.avif', '.tif', '.tiff', '.svg']);

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await walk(full)));
    else if (entry.isFile() && IMAGE_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) files.push(full);
  }
  return files;
}

export function titleFromFileName(file: string): string {
  return path
    .basename(file, path.extname(file))
    .replace(/[_-]+/g, ' ')
    .trim();
}

export async function folderSource(dir: string, options: { source?: string } = {}): Promise<IngestSource> {
  const root = path.resolve(dir);
  const files = await walk(root);
  const source = options.source ?? path.basename(root);
  const rejected: SkippedRow[] = [];
  return {
    label: `folder ${root}`,
    total: files.length,
    rejected,
    async *items(): AsyncIterable<SourceItem> {
      for (const file of files) {
        const relative = path.relative(root, file).split(path.sep).join('/');
        yield {
          key: relative,
          meta: { externalId: relative, title: titleFromFileName(file), source },
          bytes: () => readFile(file),
          storeThumbnail: true,
        };
      }
    },
  };
}
