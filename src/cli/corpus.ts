/**
 * `parasol corpus export | fetch`: the demo corpora outside the index.
 *
 *   corpus export --out DIR [--size 64] [--sets a,b]   render the emoji corpus with items.jsonl (training)
 *   corpus export --corpus artwork --out DIR [--size 64] [--data DIR]   the fetched Open Clip Art drawings, same shape
 *   corpus fetch openclipart [--data DIR]              unpack Debian's openclipart-svg into the data dir
 */
import { exportArtworkCorpus } from '../../corpus/artwork-export.js';
import { exportCorpus } from '../../corpus/export.js';
import { fetchOpenClipArt, OPENCLIPART_PACKAGE } from '../../corpus/openclipart.js';
import { integer, noPositionals, parse, UsageError } from './args.js';
import { configFor, type CliCommand } from './command.js';

const USAGE =
  'usage: parasol corpus export --out DIR [--size 64] [--sets a,b] [--corpus emoji|artwork] | corpus fetch openclipart [--data DIR]';

async function exportCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    out: { type: 'string' },
    size: { type: 'string' },
    sets: { type: 'string' },
    corpus: { type: 'string' },
  });
  noPositionals(positionals);
  if (!values.out) throw new UsageError('corpus export needs --out DIR');
  const size = integer(values.size, 'size') ?? 64;
  if (size < 8 || size > 1024) throw new UsageError('--size must be between 8 and 1024');
  const which = values.corpus ?? 'emoji';
  if (which === 'artwork') {
    if (values.sets) throw new UsageError('--sets is for the emoji corpus');
    const summary = await exportArtworkCorpus({ dataDir: configFor(values.data).dataDir, out: values.out, size });
    process.stderr.write(
      `exported ${summary.items} drawings (${summary.rendered} rendered, ${summary.reused} already there, ` +
        `${summary.duplicates} duplicate files skipped, ${summary.failed} unrenderable, ${summary.blank} blank left out) in ${summary.seconds.toFixed(1)} s\n`,
    );
    if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  if (which !== 'emoji') throw new UsageError(`--corpus must be emoji or artwork, got "${which}"`);
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
  const config = configFor(values.data);
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

export const corpusCommand: CliCommand = {
  name: 'corpus',
  usage:
    '  corpus export --out DIR [--size 64] [--sets a,b]        render the demo corpus with items.jsonl\n' +
    '        [--corpus artwork] [--data DIR]                   or the fetched Open Clip Art drawings (training)\n' +
    '  corpus fetch openclipart [--data DIR]                   unpack Debian\'s openclipart-svg (apt-get download, no root)\n' +
    '                                                          into <data>/corpora/openclipart for index --demo artwork',
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === 'export') return exportCommand(rest);
    if (sub === 'fetch') return fetchCommand(rest);
    throw new UsageError(USAGE);
  },
};
