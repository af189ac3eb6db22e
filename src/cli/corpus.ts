/**
 * `parasol corpus export | fetch`: the demo corpora outside the index.
 *
 *   corpus export --out DIR [--size 64] [--sets a,b]   render the emoji corpus with items.jsonl (training)
 *   corpus fetch openclipart [--data DIR]              unpack Debian's openclipart-svg into the data dir
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { exportCorpus } from '../../corpus/export.js';
import { fetchOpenClipArt, OPENCLIPART_PACKAGE } from '../../corpus/openclipart.js';
import { loadConfig } from '../config.js';
import { UsageError } from './usage.js';

const USAGE = 'usage: parasol corpus export --out DIR [--size 64] [--sets a,b] | corpus fetch openclipart [--data DIR]';

function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options: { data: { type: 'string' }, json: { type: 'boolean', default: false }, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function exportCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { out: { type: 'string' }, size: { type: 'string' }, sets: { type: 'string' } });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (!values.out) throw new UsageError('corpus export needs --out DIR');
  const size = values.size === undefined ? 64 : Number(values.size);
  if (!Number.isInteger(size)) throw new UsageError(`--size must be an integer, got "${values.size}"`);
  if (size < 8 || size > 1024) throw new UsageError('--size must be between 8 and 1024');
  const summary = await exportCorpus({ out: values.out, size, sets: values.sets?.split(',') });
  process.stderr.write(
    `exported ${summary.items} items (${summary.rendered} rendered, ${summary.reused} already there, ` +
      `${(summary.mappingRate * 100).toFixed(1)}% mapped to Unicode) in ${summary.seconds.toFixed(1)} s\n`,
  );
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
}

async function fetchCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {});
  if (positionals.length !== 1 || positionals[0] !== 'openclipart') throw new UsageError('corpus fetch takes one corpus: openclipart');
  const config = loadConfig(values.data ? { dataDir: values.data } : {});
  const started = Date.now();
  process.stderr.write(`fetching the Debian package ${OPENCLIPART_PACKAGE} (about 25 MB)…\n`);
  const corpus = await fetchOpenClipArt(config.dataDir);
  const artists = new Set(corpus.items.map((item) => item.creator).filter(Boolean)).size;
  const categories = new Set(corpus.items.map((item) => item.category)).size;
  process.stderr.write(
    `fetched ${corpus.items.length} drawings by ${artists} artists in ${categories} categories (${corpus.license}) ` +
      `into ${corpus.dir} in ${((Date.now() - started) / 1000).toFixed(1)} s; index them with \`parasol index --demo artwork\`\n`,
  );
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ dir: corpus.dir, items: corpus.items.length, artists, categories, license: corpus.license })}\n`);
  }
}

export async function corpusCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'export') return exportCommand(rest);
  if (sub === 'fetch') return fetchCommand(rest);
  throw new UsageError(USAGE);
}
