/** `parasol index <folder|manifest.jsonl|manifest.csv> | --demo`: ingest a source into the catalog and indices. */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { IngestSource } from '../services/items.js';
import { folderSource } from '../../indexer/sources/folder.js';
import { manifestSource } from '../../indexer/sources/manifest.js';
import { parse, UsageError } from './args.js';
import { configFor, printIngestSummary, stoppableBatches, withContext, type CliCommand } from './command.js';

async function sourceFor(target: string, sourceName: string | undefined): Promise<IngestSource> {
  let info;
  try {
    info = await stat(target);
  } catch {
    throw new UsageError(`no such file or folder: ${target}`);
  }
  if (info.isDirectory()) return folderSource(target, { source: sourceName });
  const ext = path.extname(target).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.csv') return manifestSource(target, { source: sourceName });
  throw new UsageError(`expected a folder, a .jsonl or a .csv manifest, got ${target}`);
}

export const indexCommand: CliCommand = {
  name: 'index',
  usage:
    '  index <folder|manifest.jsonl|manifest.csv> | --demo [emoji|artwork] [--data DIR] [--source NAME] [--json]\n' +
    '                                                          --demo artwork: the Open Clip Art drawings (corpus fetch first)',
  async run(args) {
    const { values, positionals } = parse(args, { demo: { type: 'boolean', default: false }, source: { type: 'string' } });
    if (!values.demo && positionals.length !== 1) throw new UsageError('index takes one folder or manifest, or --demo [emoji|artwork]');
    if (values.demo && positionals.length > 1) throw new UsageError('index --demo takes at most one corpus: emoji or artwork');
    const demo = values.demo ? (positionals[0] ?? 'emoji') : undefined;
    if (demo !== undefined && demo !== 'emoji' && demo !== 'artwork') throw new UsageError(`unknown demo corpus "${demo}" (emoji or artwork)`);
    const config = configFor(values.data);
    const source = demo ? undefined : await sourceFor(positionals[0], values.source);
    const summary = await withContext(config, async ({ services: { items } }) => {
      const chosen = source ?? (await items.demoSource(demo ?? 'emoji'));
      return stoppableBatches((shouldStop) => items.ingest(chosen, { shouldStop }));
    });
    printIngestSummary(summary);
    if (values.json) process.stdout.write(`${JSON.stringify({ ...summary, addedIds: undefined })}\n`);
  },
};
