/** `parasol corpus export`: render the demo corpus to files with an items.jsonl manifest. */
import { exportCorpus } from '../../indexer/corpus/export.js';
import { integer, parse, UsageError } from './args.js';
import type { CliCommand } from './command.js';

export const corpusExportCommand: CliCommand = {
  name: 'corpus',
  usage: '  corpus export --out DIR [--size 64] [--sets a,b]        render the demo corpus with items.jsonl',
  async run(args) {
    const [sub, ...rest] = args;
    if (sub !== 'export') throw new UsageError('usage: parasol corpus export --out DIR [--size 64] [--sets a,b]');
    const { values } = parse(rest, { out: { type: 'string' }, size: { type: 'string' }, sets: { type: 'string' } });
    if (!values.out) throw new UsageError('corpus export needs --out DIR');
    const size = integer(values.size, 'size') ?? 64;
    if (size < 8 || size > 1024) throw new UsageError('--size must be between 8 and 1024');
    const summary = await exportCorpus({ out: values.out, size, sets: values.sets?.split(',') });
    process.stderr.write(
      `exported ${summary.items} items (${summary.rendered} rendered, ${summary.reused} already there, ` +
        `${(summary.mappingRate * 100).toFixed(1)}% mapped to Unicode) in ${summary.seconds.toFixed(1)} s\n`,
    );
    if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  },
};
