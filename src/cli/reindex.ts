/**
 * `parasol reindex`: rebuild the vector indices from the catalog, and re-encode every item from its
 * stored image first when the index was built with another model pack (or with --encode).
 * Re-encoding prints progress, stops cleanly after the current batch on Ctrl-C, and a later run
 * resumes where it stopped; until it finishes, nothing opens the half re-encoded index.
 */
import { parse, noPositionals } from './args.js';
import { configFor, stoppableBatches, withContext, type CliCommand } from './command.js';
import { openEncoders, storeReencoder } from '../context.js';
import { describeStamp, needsReencode, reencodeWith, renderSizeFor, storedImageReader } from '../services/reindex.js';

export const reindexCommand: CliCommand = {
  name: 'reindex',
  usage:
    '  reindex [--data DIR] [--encode]                         rebuild the vector indices; re-encode every item from its stored image\n' +
    '                                                          when the index was built with another pack (or with --encode; resumable)',
  async run(args) {
    const { values, positionals } = parse(args, { encode: { type: 'boolean', default: false } });
    noPositionals(positionals);
    const config = configFor(values.data);
    const reencoded = await reencodeIfNeeded(config, values.encode);
    if (reencoded === 'interrupted') return;
    await withContext(config, async ({ services }) => {
      const started = Date.now();
      if (reencoded === 'done') {
        // Opening the store rebuilt the indices from the re-encoded catalog; persist them.
        await services.admin.save();
        process.stderr.write(`indices rebuilt from the re-encoded catalog\n`);
        return;
      }
      await services.admin.reindex(({ done, total }) => {
        if (done === total || done % 5000 < 512) process.stderr.write(`reindex ${done}/${total}\n`);
      });
      process.stderr.write(`reindexed in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    });
  },
};

async function reencodeIfNeeded(config: ReturnType<typeof configFor>, force: boolean): Promise<'done' | 'interrupted' | 'not-needed'> {
  const encoders = await openEncoders(config);
  try {
    const { record, reencode } = await storeReencoder(config);
    const recorded = await record();
    const dims = { semantic: encoders.semanticDim, style: encoders.styleDim };
    if (!(force && recorded.items !== undefined) && !needsReencode(recorded, encoders.stamp, dims)) return 'not-needed';
    const from = recorded.pack ? describeStamp(recorded.pack) : 'an unrecorded pack';
    process.stderr.write(`re-encoding the index (built with ${from}) with the model pack ${describeStamp(encoders.stamp)} from its stored images\n`);
    const started = Date.now();
    let lastLine = 0;
    let lines = 0;
    const result = await stoppableBatches((shouldStop) =>
      reencodeWith(encoders, storedImageReader(renderSizeFor(encoders)), reencode, {
        batchSize: config.ingest.batchSize,
        shouldStop,
        onProgress: ({ done, total }) => {
          const now = Date.now();
          // Where it starts, the first batch (the rate is visible early), then every 2 s, and the end.
          if (done !== total && lines >= 2 && now - lastLine < 2000) return;
          lastLine = now;
          lines++;
          process.stderr.write(`re-encoded ${done}/${total} (${((100 * done) / Math.max(total, 1)).toFixed(0)}%)\n`);
        },
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    const resumed = result.resumedFrom > 0 ? `, resuming after ${result.resumedFrom} done before` : '';
    if (!result.finished) {
      process.stderr.write(
        `re-encoding interrupted after ${result.encoded} items in ${seconds.toFixed(1)} s${resumed}; run \`parasol reindex\` again to resume\n`,
      );
      return 'interrupted';
    }
    process.stderr.write(`re-encoded ${result.encoded} items in ${seconds.toFixed(1)} s${resumed}\n`);
    return 'done';
  } finally {
    await encoders.dispose();
  }
}
