/**
 * A manifest: one item per line (JSONL) or row (CSV with a header). `path` is required and
 * relative to the manifest; `id`, `title`, `tags`, `source`, `license`, `attribution`, `url`
 * are optional. A bad row is rejected with its reason and the rest still ingest.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { parseCsv } from './csv.js';
import { titleFromFileName } from './folder.js';
import type { IngestSource, SkippedRow, SourceItem } from './types.js';

export const ITEM_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}$/;

const text = (max: number) => z.string().trim().max(max);

export const manifestRowSchema = z.object({
  path: z.string().trim().min(1).max(4096),
  id: z.string().regex(ITEM_ID_PATTERN, 'ids are 1-128 of A-Z a-z 0-9 . _ : ~ -').optional(),
  title: text(500).optional(),
  tags: z.array(text(100).min(1)).max(100).optional(),
  source: text(200).optional(),
  license: text(200).optional(),
  attribution: text(1000).optional(),
  url: z.string().url().max(2000).optional(),
});

export type ManifestRow = z.infer<typeof manifestRowSchema>;

function csvRecords(content: string): Array<{ line: number; value: unknown }> {
  const [header, ...rows] = parseCsv(content);
  if (!header) return [];
  const names = header.map((h) => h.trim().toLowerCase());
  return rows.map((cells, index) => {
    const record: Record<string, unknown> = {};
    names.forEach((name, column) => {
      const cell = cells[column]?.trim();
      if (cell === undefined || cell === '') return;
      record[name] = name === 'tags' ? cell.split(/[|;]/).map((t) => t.trim()).filter(Boolean) : cell;
    });
    return { line: index + 2, value: record };
  });
}

function jsonlRecords(content: string, rejected: SkippedRow[]): Array<{ line: number; value: unknown }> {
  const records: Array<{ line: number; value: unknown }> = [];
  content.split(/\r?\n/).forEach((raw, index) => {
    if (raw.trim() === '') return;
    try {
      records.push({ line: index + 1, value: JSON.parse(raw) });
    } catch {
      rejected.push({ key: `line ${index + 1}`, reason: 'not valid JSON' });
    }
  });
  return records;
}

export async function manifestSource(file: string, options: { source?: string } = {}): Promise<IngestSource> {
  const manifestPath = path.resolve(file);
  const base = path.dirname(manifestPath);
  const content = await readFile(manifestPath, 'utf8');
  const rejected: SkippedRow[] = [];
  const isCsv = path.extname(manifestPath).toLowerCase() === '.csv';
  const records = isCsv ? csvRecords(content) : jsonlRecords(content, rejected);
  const rows: Array<{ line: number; row: ManifestRow }> = [];
  for (const { line, value } of records) {
    const parsed = manifestRowSchema.safeParse(value);
    if (parsed.success) rows.push({ line, row: parsed.data });
    else {
      const issue = parsed.error.issues[0];
      rejected.push({ key: `line ${line}`, reason: `${issue.path.join('.') || 'row'}: ${issue.message}` });
    }
  }
  const defaultSource = options.source ?? path.basename(manifestPath, path.extname(manifestPath));
  return {
    label: `manifest ${manifestPath}`,
    total: rows.length,
    rejected,
    async *items(): AsyncIterable<SourceItem> {
      for (const { line, row } of rows) {
        const imagePath = path.resolve(base, row.path);
        yield {
          key: `line ${line} (${row.path})`,
          meta: {
            id: row.id,
            externalId: row.id ?? row.path,
            title: row.title ?? titleFromFileName(row.path),
            tags: row.tags,
            source: row.source ?? defaultSource,
            license: row.license,
            attribution: row.attribution,
            url: row.url,
          },
          bytes: () => readFile(imagePath),
          storeThumbnail: true,
        };
      }
    },
  };
}
