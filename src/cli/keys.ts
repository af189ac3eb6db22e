/** `parasol keys create | list | revoke`: API key administration without a running server. */
import { openKeys } from '../context.js';
import { createError } from '../errors.js';
import { isScope, SCOPES, type KeyService } from '../services/keys.js';
import { integer, noPositionals, parse, UsageError } from './args.js';
import { configFor, type CliCommand } from './command.js';

const KEYS_USAGE = 'usage: parasol keys create --name N --scopes a,b [--rate N] [--daily-searches N] [--daily-generations N] | list | revoke <id>';

const options = {
  name: { type: 'string' },
  scopes: { type: 'string' },
  rate: { type: 'string' },
  'daily-searches': { type: 'string' },
  'daily-generations': { type: 'string' },
} as const;

type Parsed = ReturnType<typeof parse<typeof options>>;

function nonNegative(value: string | undefined, name: string): number | undefined {
  const n = integer(value, name);
  if (n !== undefined && n < 0) throw new UsageError(`--${name} must be ≥ 0`);
  return n;
}

async function create(keys: KeyService, { values, positionals }: Parsed, now: number): Promise<void> {
  noPositionals(positionals);
  if (!values.name) throw new UsageError('keys create needs --name');
  const scopes = (values.scopes ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (scopes.length === 0) throw new UsageError(`keys create needs --scopes (some of ${SCOPES.join(',')})`);
  const unknown = scopes.find((s) => !isScope(s));
  if (unknown) throw new UsageError(`unknown scope "${unknown}" (expected some of ${SCOPES.join(',')})`);
  const rate = integer(values.rate, 'rate');
  if (rate !== undefined && rate < 1) throw new UsageError('--rate must be ≥ 1');
  const { key, secret } = await keys.create(
    {
      name: values.name,
      scopes: scopes.filter(isScope),
      ratePerMinute: rate,
      dailySearches: nonNegative(values['daily-searches'], 'daily-searches'),
      dailyGenerations: nonNegative(values['daily-generations'], 'daily-generations'),
    },
    now,
  );
  if (values.json) process.stdout.write(`${JSON.stringify({ key: await keys.present(key, now), secret })}\n`);
  else {
    process.stdout.write(`${secret}\n`);
    process.stderr.write(`created key ${key.id} "${key.name}" (${key.scopes.join(',')}); the secret above is shown only once\n`);
  }
}

async function list(keys: KeyService, { values, positionals }: Parsed, now: number): Promise<void> {
  noPositionals(positionals);
  const listed = await Promise.all((await keys.list()).map((key) => keys.present(key, now)));
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ keys: listed })}\n`);
    return;
  }
  const quota = (n: number | null) => (n === null ? '∞' : String(n));
  for (const k of listed) {
    process.stdout.write(
      `${k.id}  ${k.revokedAt ? 'revoked' : 'active '}  ${k.name}  [${k.scopes.join(',')}]  ${k.ratePerMinute}/min  ` +
        `searches ${k.usageToday.searches}/${quota(k.dailySearches)}  generations ${k.usageToday.generations}/${quota(k.dailyGenerations)}\n`,
    );
  }
}

async function revoke(keys: KeyService, { values, positionals }: Parsed, now: number): Promise<void> {
  if (positionals.length !== 1) throw new UsageError('keys revoke takes one key id');
  const key = await keys.revoke(positionals[0], now);
  if (!key) throw createError('NOT_FOUND', `No API key with id "${positionals[0].slice(0, 64)}"`);
  if (values.json) process.stdout.write(`${JSON.stringify({ key: await keys.present(key, now) })}\n`);
  else process.stderr.write(`revoked key ${key.id} "${key.name}"\n`);
}

const SUBCOMMANDS = { create, list, revoke } as const;

export const keysCommand: CliCommand = {
  name: 'keys',
  usage:
    '  keys create --name N --scopes search,generate[,ingest,admin] [--rate 600]\n' +
    '              [--daily-searches N] [--daily-generations N] [--json]\n' +
    '                                                          create an API key; its secret is printed once\n' +
    "  keys list [--json]                                      keys, limits and today's usage (never secrets)\n" +
    '  keys revoke <id> [--json]                               revoke a key (effective at once, also in a running server)',
  async run(args) {
    const [sub, ...rest] = args;
    if (sub !== 'create' && sub !== 'list' && sub !== 'revoke') throw new UsageError(KEYS_USAGE);
    const parsed = parse(rest, options);
    const keys = await openKeys(configFor(parsed.values.data));
    try {
      await SUBCOMMANDS[sub](keys, parsed, Date.now());
    } finally {
      await keys.close();
    }
  },
};
