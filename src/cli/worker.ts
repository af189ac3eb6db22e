/** `parasol worker`: a sampler worker running generation jobs from the Redis queue; `--check` for health probes. */
import { createError } from '../errors.js';
import { jsonLogger } from '../log.js';
import { integer, noPositionals, parse, UsageError } from './args.js';
import { configFor, type CliCommand } from './command.js';

export const workerCommand: CliCommand = {
  name: 'worker',
  usage:
    '  worker [--concurrency N] [--pack DIR]                   a sampler worker: runs generation jobs from the Redis queue\n' +
    '                                                          (REDIS_URL), writes images to PARASOL_GENERATED_DIR\n' +
    '  worker --check                                          exit 0 when a worker on this machine reached Redis lately',
  async run(args) {
    const { values, positionals } = parse(args, { concurrency: { type: 'string' }, pack: { type: 'string' }, check: { type: 'boolean', default: false } });
    noPositionals(positionals);
    const concurrency = integer(values.concurrency, 'concurrency');
    if (concurrency !== undefined && (concurrency < 1 || concurrency > 64)) throw new UsageError('--concurrency must be between 1 and 64');
    const config = configFor(values.data, {
      ...(values.pack ? { packDir: values.pack } : {}),
      ...(concurrency !== undefined ? { queue: { workerConcurrency: concurrency } } : {}),
    });
    const { checkHeartbeat, runWorker } = await import('../jobs/worker-process.js');
    if (values.check) {
      const problem = await checkHeartbeat(config);
      if (problem) throw createError('NOT_READY', problem);
      return;
    }
    await runWorker(config, jsonLogger());
  },
};
