/** `parasol migrate --to elastic|sqlite`: copy the catalog from the other backend into this one (resumable). */
import { storeOpener } from '../context.js';
import { migrateBackend } from '../services/migration.js';
import { integer, noPositionals, parse, UsageError } from './args.js';
import { configFor, stoppableBatches, type CliCommand } from './command.js';

export const migrateCommand: CliCommand = {
  name: 'migrate',
  usage:
    '  migrate --to elastic|sqlite [--batch 256] [--json]      copy the catalog (ids, vectors, thumbnails) from the other\n' +
    '                                                          backend into this one; resumable (ES_URL names the cluster)',
  async run(args) {
    const { values, positionals } = parse(args, { to: { type: 'string' }, batch: { type: 'string' } });
    noPositionals(positionals);
    const to = values.to;
    if (to !== 'elastic' && to !== 'sqlite') throw new UsageError('migrate needs --to elastic (or --to sqlite to copy an Elasticsearch catalog back)');
    const from = to === 'elastic' ? 'sqlite' : 'elastic';
    const batchSize = integer(values.batch, 'batch') ?? 256;
    if (batchSize < 1 || batchSize > 10_000) throw new UsageError('--batch must be between 1 and 10000');
    const config = configFor(values.data);
    if (!config.elastic.url) throw new UsageError('migrate needs the cluster: set ES_URL (and ES_API_KEY or ES_USERNAME/ES_PASSWORD when security is on)');
    // Vectors are copied, not re-encoded: only the pack's dimensions are needed, not its models.
    const open = await storeOpener(config);
    const summary = await stoppableBatches((shouldStop) => migrateBackend(open, from, to, { batchSize, shouldStop }));
    process.stderr.write(
      `migrated ${from} → ${to}: ${summary.added} copied, ${summary.duplicates} already there, of ${summary.seen} ` +
        `in ${summary.seconds.toFixed(1)} s (${summary.itemsPerSecond.toFixed(0)} items/s)` +
        `${summary.stopped ? ' — interrupted; run again to resume' : ''}\n`,
    );
    if (values.json) process.stdout.write(`${JSON.stringify({ from, to, ...summary })}\n`);
  },
};
