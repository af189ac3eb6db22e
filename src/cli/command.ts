/** What every command is, and what they share: the config, an opened context, stoppable batch work, summaries. */
import { loadConfig } from '../config.js';
import type { Config } from '../config.js';
import { openContext } from '../context.js';
import type { ParasolContext } from '../context.js';
import { jsonLogger, silentLogger } from '../log.js';
import type { IngestSummary } from '../services/items.js';

export interface CliCommand {
  name: string;
  /** Its lines in `parasol --help`. */
  usage: string;
  run(args: string[]): Promise<void>;
}

/** The config from the environment and files, with `--data` (and what a command adds) on top. */
export function configFor(data: string | undefined, extra: Parameters<typeof loadConfig>[0] = {}): Config {
  return loadConfig({ ...extra, ...(data ? { dataDir: data } : {}) });
}

/** Opens the context, runs `fn` over it, and closes it whatever happens. */
export async function withContext<T>(config: Config, fn: (context: ParasolContext) => Promise<T>, verbose = false): Promise<T> {
  const context = await openContext(config, verbose ? jsonLogger() : silentLogger);
  try {
    return await fn(context);
  } finally {
    await context.close();
  }
}

/** Runs batch work that stops cleanly after its current batch on the first Ctrl-C/SIGTERM (a second one aborts). */
export async function stoppableBatches<T>(work: (shouldStop: () => boolean) => Promise<T>): Promise<T> {
  let stop = false;
  const onSignal = () => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write('stopping after this batch (Ctrl-C again to abort)…\n');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work(() => stop);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** One line of what an ingestion run did (and the first skipped rows) on stderr. */
export function printIngestSummary(summary: IngestSummary): void {
  const skipped = Object.entries(summary.skippedBy)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
  process.stderr.write(
    `indexed: ${summary.added} added, ${summary.duplicates} already there, ${summary.skipped} skipped` +
      `${skipped ? ` (${skipped})` : ''} in ${summary.seconds.toFixed(1)} s ` +
      `(${summary.itemsPerSecond.toFixed(0)} items/s, ${(summary.encoderShare * 100).toFixed(0)}% in encoders)` +
      `${summary.stopped ? ' — interrupted; run again to resume' : ''}\n`,
  );
  for (const row of summary.skippedRows.slice(0, 20)) process.stderr.write(`  skipped ${row.key}: ${row.reason}\n`);
}
