#!/usr/bin/env node
/**
 * `parasol <command>`: the table of commands (one file each under src/cli/) and the dispatch.
 * `--json` prints machine-readable output on stdout; errors go to stderr as one line with a
 * non-zero exit (2 for usage errors).
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from './cli/args.js';
import type { CliCommand } from './cli/command.js';
import { evalCommand } from './cli/eval.js';
import { corpusCommand } from './cli/corpus.js';
import { generateCommand } from './cli/generate.js';
import { indexCommand } from './cli/index-command.js';
import { keysCommand } from './cli/keys.js';
import { migrateCommand } from './cli/migrate.js';
import { packCommand } from './cli/pack.js';
import { reindexCommand } from './cli/reindex.js';
import { searchCommand } from './cli/search.js';
import { serveCommand } from './cli/serve.js';
import { statsCommand } from './cli/stats.js';
import { tuneCommand } from './cli/tune.js';
import { workerCommand } from './cli/worker.js';
import { isParasolError } from './errors.js';

/** In the order `parasol --help` lists them. */
const COMMANDS: readonly CliCommand[] = [
  serveCommand,
  keysCommand,
  indexCommand,
  searchCommand,
  reindexCommand,
  statsCommand,
  tuneCommand,
  generateCommand,
  evalCommand,
  corpusCommand,
  migrateCommand,
  packCommand,
  workerCommand,
];

const USAGE = `Usage: parasol <command> [options]

Commands:
${COMMANDS.map((entry) => entry.usage).join('\n')}

Environment: PARASOL_DATA, PARASOL_PACK, PARASOL_DEVICE (auto|cpu|cuda), PARASOL_PORT, PARASOL_HOST, PARASOL_CONFIG,
PARASOL_AUTH_REQUIRED, PARASOL_ALLOW_OPEN, PARASOL_CORS_ORIGINS; scale-out: PARASOL_BACKEND (sqlite|elastic), ES_URL,
ES_API_KEY | ES_USERNAME + ES_PASSWORD, ES_CA_FILE, PARASOL_QUEUE (memory|redis), REDIS_URL, PARASOL_SESSION_STORE,
PARASOL_GENERATED_DIR (README "Scale-out" lists them all).`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  const run = COMMANDS.find((entry) => entry.name === command);
  if (!run) {
    process.stderr.write(`parasol: unknown command "${command}"\n${USAGE}\n`);
    return 2;
  }
  try {
    await run.run(args);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`parasol ${command}: ${error.message}\n`);
      return 2;
    }
    const message = isParasolError(error) ? `${error.code}: ${error.message}` : (error as Error).message;
    process.stderr.write(`parasol ${command}: ${message.split('\n')[0]}\n`);
    if (process.env.PARASOL_DEBUG) console.error(error);
    return 1;
  }
}

function invokedAsScript(): boolean {
  if (!process.argv[1]) return false;
  try {
    // Through `npm link` or node_modules/.bin the script is a symlink to dist/src/cli.js.
    return realpathSync(process.argv[1]).endsWith(path.join('src', 'cli.js'));
  } catch {
    return false;
  }
}

const invokedDirectly = invokedAsScript();
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      // serve keeps the process alive through its server; every other command ends here.
      if (process.argv[2] !== 'serve' || code !== 0) process.exit(code);
    },
    (error: unknown) => {
      process.stderr.write(`parasol: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
