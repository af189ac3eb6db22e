#!/usr/bin/env node
/**
 * `parasol serve | index | search | reindex | stats | eval | corpus export`.
 * `--json` prints machine-readable output on stdout; errors go to stderr as one line with a
 * non-zero exit (2 for usage errors).
 */
import { realpathSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { loadConfig } from './config.js';
import type { Config } from './config.js';
import { openContext, openStore } from './context.js';
import type { ParasolContext } from './context.js';
import { createError, isParasolError } from './errors.js';
import { jsonLogger, silentLogger } from './log.js';
import { invalidQuery } from './search/query.js';
import { exportCorpus } from '../indexer/corpus/export.js';
import { ingest } from '../indexer/ingest.js';
import type { IngestSummary } from '../indexer/ingest.js';
import { demoIndexSource } from '../indexer/demo-index.js';
import { folderSource } from '../indexer/sources/folder.js';
import { manifestSource } from '../indexer/sources/manifest.js';
import type { IngestSource } from '../indexer/sources/types.js';

class UsageError extends Error {}

const USAGE = `Usage: parasol <command> [options]

Commands:
  serve [--data DIR] [--port N] [--host H] [--no-demo] [--open]
                                                          start the HTTP API and web app (--open: allow a
                                                          non-loopback --host with no API keys)
  keys create --name N --scopes search,generate[,ingest,admin] [--rate 600]
              [--daily-searches N] [--daily-generations N] [--json]
                                                          create an API key; its secret is printed once
  keys list [--json]                                      keys, limits and today's usage (never secrets)
  keys revoke <id> [--json]                               revoke a key (effective at once, also in a running server)
  index <folder|manifest.jsonl|manifest.csv> | --demo [--data DIR] [--source NAME] [--json]
  search [--q TEXT] [--style TEXT] [--item ID] [--k N] [--json]
  reindex [--data DIR]                                    rebuild the vector indices from the catalog
  stats [--data DIR] [--json]
  generate --content <itemId|file|text> --style <itemId|file|text> --out FILE
           [--lambda N] [--gs X] [--gy X] [--steps N] [--seed N] [--colour] [--json]
                                                          one image (an existing path is a file, a catalog id an item,
                                                          anything else a text); --colour turns on colour transfer
  eval retrieval [--json] [--sample F] [--pack DIR]       held-out retrieval metrics through the engine
  eval generation [--json] [--pairs N] [--steps N] [--out DIR] [--pack DIR]
                                                          generation sweeps (λ, g_s, g_y) and ablations; plot + examples
  corpus export --out DIR [--size 64] [--sets a,b]        render the demo corpus with items.jsonl
  migrate --to elastic|sqlite [--batch 256] [--json]      copy the catalog (ids, vectors, thumbnails) from the other
                                                          backend into this one; resumable (ES_URL names the cluster)
  worker [--concurrency N] [--pack DIR]                   a sampler worker: runs generation jobs from the Redis queue
                                                          (REDIS_URL), writes images to PARASOL_GENERATED_DIR
  worker --check                                          exit 0 when a worker on this machine reached Redis lately

Environment: PARASOL_DATA, PARASOL_PACK, PARASOL_DEVICE (auto|cpu|cuda), PARASOL_PORT, PARASOL_HOST, PARASOL_CONFIG,
PARASOL_AUTH_REQUIRED, PARASOL_ALLOW_OPEN, PARASOL_CORS_ORIGINS; scale-out: PARASOL_BACKEND (sqlite|elastic), ES_URL,
ES_API_KEY | ES_USERNAME + ES_PASSWORD, ES_CA_FILE, PARASOL_QUEUE (memory|redis), REDIS_URL, PARASOL_SESSION_STORE,
PARASOL_GENERATED_DIR (README "Scale-out" lists them all).`;

const common = {
  data: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...common, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function integer(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be an integer, got "${value}"`);
  return n;
}

function number(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a finite number, got "${value}"`);
  return n;
}

/** A generate source on the command line: an existing file, else a catalog item id, else a text. */
async function cliSource(value: string, context: ParasolContext): Promise<{ image: Buffer } | { itemId: string } | { text: string }> {
  const info = await stat(value).catch(() => undefined);
  if (info?.isFile()) {
    const bytes = await readFile(value);
    const { probeImage } = await import('../indexer/ingest.js');
    const { imageRejection } = await import('./api/uploads.js');
    await probeImage(bytes, context.config.limits.maxPixels).catch((error: unknown) => {
      throw imageRejection(error, context.config.limits.maxPixels);
    });
    return { image: bytes };
  }
  if (info) throw new UsageError(`${value} is not a file`);
  if (value.length <= 200 && (await context.store.catalog.get(value))) return { itemId: value };
  if (value.trim() === '' || value.length > 500) throw new UsageError('a text source must have 1..500 characters');
  return { text: value };
}

function configFor(data: string | undefined, extra: Parameters<typeof loadConfig>[0] = {}): Config {
  return loadConfig({ ...extra, ...(data ? { dataDir: data } : {}) });
}

function printSummary(summary: IngestSummary): void {
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

/** Runs batch work that stops cleanly after its current batch on the first Ctrl-C/SIGTERM (a second one aborts). */
async function stoppableBatches<T>(work: (shouldStop: () => boolean) => Promise<T>): Promise<T> {
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

function runIngest(context: ParasolContext, source: IngestSource): Promise<IngestSummary> {
  return stoppableBatches((shouldStop) =>
    ingest(source, context.encoders, context.store, {
      batchSize: context.config.ingest.batchSize,
      thumbnailSize: context.config.ingest.thumbnailSize,
      maxPixels: context.config.limits.maxPixels,
      shouldStop,
    }),
  );
}

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

async function withContext<T>(config: Config, fn: (context: ParasolContext) => Promise<T>, verbose = false): Promise<T> {
  const context = await openContext(config, verbose ? jsonLogger() : silentLogger);
  try {
    return await fn(context);
  } finally {
    await context.close();
  }
}

const commands: Record<string, (args: string[]) => Promise<void>> = {
  pack: async (args) => (await import('./cli/pack.js')).packCommand(args),
  async index(args) {
    const { values, positionals } = parse(args, { demo: { type: 'boolean', default: false }, source: { type: 'string' } });
    if (!values.demo && positionals.length !== 1) throw new UsageError('index takes one folder or manifest, or --demo');
    const config = configFor(values.data);
    const source = values.demo ? undefined : await sourceFor(positionals[0], values.source);
    const summary = await withContext(config, (context) =>
      runIngest(context, source ?? demoIndexSource(context.encoders)),
    );
    printSummary(summary);
    if (values.json) process.stdout.write(`${JSON.stringify({ ...summary, addedIds: undefined })}\n`);
  },

  async search(args) {
    const { values } = parse(args, {
      q: { type: 'string' },
      style: { type: 'string' },
      item: { type: 'string' },
      k: { type: 'string' },
      source: { type: 'string' },
    });
    const k = integer(values.k, 'k');
    if (!values.q && !values.style && !values.item) throw new UsageError('search needs --q, --style or --item');
    const config = configFor(values.data);
    const response = await withContext(config, (context) =>
      context.engine.search({
        q: values.q,
        style: values.style,
        contentItemId: values.item,
        styleItemId: values.item,
        k,
        filters: values.source ? { sources: values.source.split(',') } : undefined,
      }),
    );
    if (values.json) {
      const results = response.results.map((r) => ({ id: r.id, title: r.title, source: r.source, score: r.score, scores: r.scores }));
      process.stdout.write(`${JSON.stringify({ results })}\n`);
      return;
    }
    for (const r of response.results) {
      const content = r.scores.content === null ? '     -' : r.scores.content.toFixed(3);
      const style = r.scores.style === null ? '     -' : r.scores.style.toFixed(3);
      process.stdout.write(`${r.score.toFixed(3)}  content ${content}  style ${style}  ${r.id}  ${r.title}  [${r.source}]\n`);
    }
  },

  async reindex(args) {
    const { values } = parse(args, {});
    const config = configFor(values.data);
    await withContext(config, async (context) => {
      const started = Date.now();
      await context.store.rebuild(({ done, total }) => {
        if (done === total || done % 5000 < 512) process.stderr.write(`reindex ${done}/${total}\n`);
      });
      process.stderr.write(`reindexed in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    });
  },

  async stats(args) {
    const { values } = parse(args, {});
    const config = configFor(values.data);
    const stats = await withContext(config, async (context) => ({
      pack: context.encoders.packName,
      provider: context.encoders.provider,
      backend: context.store.backend,
      ...(await context.store.catalog.stats()),
      indexed: { semantic: await context.store.indices.semantic.size(), style: await context.store.indices.style.size() },
    }));
    process.stdout.write(`${JSON.stringify(stats, null, values.json ? 0 : 2)}\n`);
  },

  async corpus(args) {
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

  async migrate(args) {
    const { values, positionals } = parse(args, { to: { type: 'string' }, batch: { type: 'string' } });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const to = values.to;
    if (to !== 'elastic' && to !== 'sqlite') throw new UsageError('migrate needs --to elastic (or --to sqlite to copy an Elasticsearch catalog back)');
    const from = to === 'elastic' ? 'sqlite' : 'elastic';
    const batchSize = integer(values.batch, 'batch') ?? 256;
    if (batchSize < 1 || batchSize > 10_000) throw new UsageError('--batch must be between 1 and 10000');
    const config = configFor(values.data);
    if (!config.elastic.url) throw new UsageError('migrate needs the cluster: set ES_URL (and ES_API_KEY or ES_USERNAME/ES_PASSWORD when security is on)');
    const { readPack } = await import('./encoders/pack.js');
    const { migrateCatalog } = await import('./store/migrate.js');
    // Vectors are copied, not re-encoded: only the pack's dimensions are needed, not its models.
    const { manifest } = await readPack(config.packDir);
    const dims = { semanticDim: manifest.semantic.dim, styleDim: manifest.style.dim };
    const source = await openStore({ ...config, backend: from }, dims);
    try {
      const target = await openStore({ ...config, backend: to }, dims);
      try {
        const summary = await stoppableBatches((shouldStop) => migrateCatalog(source.catalog, target, { batchSize, shouldStop }));
        process.stderr.write(
          `migrated ${from} → ${to}: ${summary.added} copied, ${summary.duplicates} already there, of ${summary.seen} ` +
            `in ${summary.seconds.toFixed(1)} s (${summary.itemsPerSecond.toFixed(0)} items/s)` +
            `${summary.stopped ? ' — interrupted; run again to resume' : ''}\n`,
        );
        if (values.json) process.stdout.write(`${JSON.stringify({ from, to, ...summary })}\n`);
      } finally {
        await target.close();
      }
    } finally {
      await source.close();
    }
  },

  async worker(args) {
    const { values, positionals } = parse(args, { concurrency: { type: 'string' }, pack: { type: 'string' }, check: { type: 'boolean', default: false } });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const concurrency = integer(values.concurrency, 'concurrency');
    if (concurrency !== undefined && (concurrency < 1 || concurrency > 64)) throw new UsageError('--concurrency must be between 1 and 64');
    const config = configFor(values.data, {
      ...(values.pack ? { packDir: values.pack } : {}),
      ...(concurrency !== undefined ? { queue: { workerConcurrency: concurrency } } : {}),
    });
    const { checkHeartbeat, runWorker } = await import('./worker-process.js');
    if (values.check) {
      const problem = await checkHeartbeat(config);
      if (problem) throw createError('NOT_READY', problem);
      return;
    }
    await runWorker(config, jsonLogger());
  },

  async serve(args) {
    const { values } = parse(args, {
      port: { type: 'string' },
      host: { type: 'string' },
      'no-demo': { type: 'boolean', default: false },
      open: { type: 'boolean', default: false },
    });
    const port = integer(values.port, 'port');
    const config = configFor(values.data, {
      server: { ...(port !== undefined ? { port } : {}), ...(values.host ? { host: values.host } : {}) },
      ...(values.open ? { auth: { allowOpen: true } } : {}),
    });
    const { startServer } = await import('./api/server.js');
    await startServer(config, { demo: !values['no-demo'] });
  },

  async keys(args) {
    const [sub, ...rest] = args;
    const { KeyStore, isScope, SCOPES } = await import('./store/keys.js');
    const { presentKey } = await import('./api/routes/keys.js');
    const keyUsage = 'usage: parasol keys create --name N --scopes a,b [--rate N] [--daily-searches N] [--daily-generations N] | list | revoke <id>';
    if (sub !== 'create' && sub !== 'list' && sub !== 'revoke') throw new UsageError(keyUsage);
    const { values, positionals } = parse(rest, {
      name: { type: 'string' },
      scopes: { type: 'string' },
      rate: { type: 'string' },
      'daily-searches': { type: 'string' },
      'daily-generations': { type: 'string' },
    });
    const config = configFor(values.data);
    const keys = KeyStore.open(config.dataDir);
    try {
      const now = Date.now();
      if (sub === 'create') {
        if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
        if (!values.name) throw new UsageError('keys create needs --name');
        const scopes = (values.scopes ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        if (scopes.length === 0) throw new UsageError(`keys create needs --scopes (some of ${SCOPES.join(',')})`);
        const unknown = scopes.find((s) => !isScope(s));
        if (unknown) throw new UsageError(`unknown scope "${unknown}" (expected some of ${SCOPES.join(',')})`);
        const nonNegative = (value: string | undefined, name: string) => {
          const n = integer(value, name);
          if (n !== undefined && n < 0) throw new UsageError(`--${name} must be ≥ 0`);
          return n;
        };
        const rate = integer(values.rate, 'rate');
        if (rate !== undefined && rate < 1) throw new UsageError('--rate must be ≥ 1');
        const { key, secret } = keys.create(
          {
            name: values.name,
            scopes: scopes.filter(isScope),
            ratePerMinute: rate,
            dailySearches: nonNegative(values['daily-searches'], 'daily-searches'),
            dailyGenerations: nonNegative(values['daily-generations'], 'daily-generations'),
          },
          now,
        );
        if (values.json) process.stdout.write(`${JSON.stringify({ key: presentKey(keys, key, now), secret })}\n`);
        else {
          process.stdout.write(`${secret}\n`);
          process.stderr.write(`created key ${key.id} "${key.name}" (${key.scopes.join(',')}); the secret above is shown only once\n`);
        }
        return;
      }
      if (sub === 'list') {
        if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
        const listed = keys.list().map((key) => presentKey(keys, key, now));
        if (values.json) {
          process.stdout.write(`${JSON.stringify({ keys: listed })}\n`);
          return;
        }
        for (const k of listed) {
          const quota = (n: number | null) => (n === null ? '∞' : String(n));
          process.stdout.write(
            `${k.id}  ${k.revokedAt ? 'revoked' : 'active '}  ${k.name}  [${k.scopes.join(',')}]  ${k.ratePerMinute}/min  ` +
              `searches ${k.usageToday.searches}/${quota(k.dailySearches)}  generations ${k.usageToday.generations}/${quota(k.dailyGenerations)}\n`,
          );
        }
        return;
      }
      if (positionals.length !== 1) throw new UsageError('keys revoke takes one key id');
      const key = keys.revoke(positionals[0], now);
      if (!key) throw createError('NOT_FOUND', `No API key with id "${positionals[0].slice(0, 64)}"`);
      if (values.json) process.stdout.write(`${JSON.stringify({ key: presentKey(keys, key, now) })}\n`);
      else process.stderr.write(`revoked key ${key.id} "${key.name}"\n`);
    } finally {
      keys.close();
    }
  },

  async generate(args) {
    const { values, positionals } = parse(args, {
      content: { type: 'string' },
      style: { type: 'string' },
      out: { type: 'string' },
      lambda: { type: 'string' },
      gs: { type: 'string' },
      gy: { type: 'string' },
      steps: { type: 'string' },
      seed: { type: 'string' },
      colour: { type: 'boolean', default: false },
      pack: { type: 'string' },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (!values.content || !values.style || !values.out) throw new UsageError('generate needs --content, --style and --out FILE');
    const raw = {
      lambda: integer(values.lambda, 'lambda'),
      gs: number(values.gs, 'gs'),
      gy: number(values.gy, 'gy'),
      steps: integer(values.steps, 'steps'),
      seed: integer(values.seed, 'seed'),
      colour: values.colour,
    };
    const config = configFor(values.data, values.pack ? { packDir: values.pack } : {});
    const { GenerationSources, generateRequestSchema, paramLimits, resolveParams, toGenerateRequest } = await import('./api/routes/generate.js');
    const { ThumbnailService } = await import('./api/thumbnails.js');
    const started = Date.now();
    const result = await withContext(config, async (context) => {
      if (!context.generatorAvailable) {
        throw createError('GENERATION_UNAVAILABLE', `the model pack "${context.encoders.packName}" has no generator (no "parasol" block)`);
      }
      const generator = await context.generator();
      const parsed = generateRequestSchema.safeParse(raw);
      if (!parsed.success) throw invalidQuery(parsed.error);
      const params = resolveParams(parsed.data, paramLimits(context));
      const thumbnails = new ThumbnailService({ catalog: context.store.catalog, size: context.config.ingest.thumbnailSize });
      const sources = new GenerationSources({
        catalog: context.store.catalog,
        encoders: context.encoders,
        jobs: context.jobs,
        itemImage: async (id) => (await thumbnails.get(id)) ?? undefined,
      });
      const [content, style] = await Promise.all([
        cliSource(values.content!, context).then((source) => sources.content(source)),
        cliSource(values.style!, context).then((source) => sources.style(source)),
      ]);
      // Ctrl-C stops the sampler within one step.
      const controller = new AbortController();
      const onSignal = () => controller.abort(createError('BAD_REQUEST', 'interrupted'));
      process.once('SIGINT', onSignal);
      try {
        return await generator.generate(toGenerateRequest(content, style, params), { signal: controller.signal });
      } finally {
        process.off('SIGINT', onSignal);
      }
    });
    await writeFile(values.out, result.png);
    const seconds = (Date.now() - started) / 1000;
    if (values.json) process.stdout.write(`${JSON.stringify({ out: values.out, seconds, params: result.params })}\n`);
    else process.stderr.write(`wrote ${values.out} (seed ${result.params.seed}, ${result.params.steps} steps) in ${seconds.toFixed(1)} s\n`);
  },

  async eval(args) {
    const [sub, ...rest] = args;
    if (sub === 'generation') {
      const { values } = parse(rest, { pack: { type: 'string' }, pairs: { type: 'string' }, steps: { type: 'string' }, out: { type: 'string' } });
      const pairs = integer(values.pairs, 'pairs') ?? 16;
      if (pairs < 1 || pairs > 256) throw new UsageError(`--pairs must be between 1 and 256, got ${pairs}`);
      const steps = integer(values.steps, 'steps');
      if (steps !== undefined && steps < 1) throw new UsageError(`--steps must be at least 1, got ${steps}`);
      const { evaluateGeneration, formatGenerationReport } = await import('./eval/generation.js');
      const config = configFor(values.data, values.pack ? { packDir: values.pack } : {});
      const report = await evaluateGeneration(config, { pairs, steps, out: values.out, progress: !values.json });
      process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : formatGenerationReport(report));
      return;
    }
    if (sub !== 'retrieval') throw new UsageError('usage: parasol eval retrieval|generation [--json]');
    const { values } = parse(rest, { pack: { type: 'string' }, sample: { type: 'string' } });
    const sample = values.sample === undefined ? 1 : Number(values.sample);
    if (!(sample > 0 && sample <= 1)) throw new UsageError(`--sample must be in (0, 1], got "${values.sample}"`);
    const { evaluateRetrieval, formatRetrievalReport } = await import('./eval/retrieval.js');
    const config = configFor(values.data, values.pack ? { packDir: values.pack } : {});
    const report = await evaluateRetrieval(config, { progress: !values.json, sample });
    process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : formatRetrievalReport(report));
  },
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  const run = commands[command];
  if (!run) {
    process.stderr.write(`parasol: unknown command "${command}"\n${USAGE}\n`);
    return 2;
  }
  try {
    await run(args);
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
