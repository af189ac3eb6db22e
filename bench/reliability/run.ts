/**
 * `npm run reliability [-- options]`: the fuzz run (default 10,000 hostile requests generated from
 * openapi.yaml) and, with --load, a timed load run; writes bench/results/reliability-<date>.json
 * and exits non-zero when the fuzz found a failure or the load run saw unintended errors.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PACKAGE_ROOT } from '../../src/config.js';
import { machineFacts, gitFacts } from '../machine.js';
import { runFuzz, type FuzzReport } from './fuzz.js';
import { runLoad, type LoadReport } from './load.js';

const USAGE = `usage: npm run reliability [-- options]
  --requests N      fuzz requests (default 10000; 0 skips the fuzz)
  --seed N          fuzz seed (default 1)
  --concurrency N   fuzz requests in flight (default 16)
  --items N         demo items for the fuzz server (default 60)
  --load            also run the load test
  --clients N       load: concurrent clients (default 50)
  --duration S      load: seconds (default 60)
  --load-items N    load: demo items to index first (default 2000)
  --data DIR        load: serve this existing data dir instead of building one
  --pack DIR        model pack (default: the tiny generator test pack, which can generate)
  --out DIR         where the report goes (default bench/results)`;

const started = performance.now();
const log = (message: string): void => {
  process.stderr.write(`[reliability ${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s] ${message}\n`);
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      requests: { type: 'string' },
      seed: { type: 'string' },
      concurrency: { type: 'string' },
      items: { type: 'string' },
      load: { type: 'boolean', default: false },
      clients: { type: 'string' },
      duration: { type: 'string' },
      'load-items': { type: 'string' },
      data: { type: 'string' },
      pack: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const int = (name: string, value: string | undefined, fallback: number, min = 0): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got "${value}"`);
    return n;
  };
  const requests = int('requests', values.requests, 10_000);
  const pack = values.pack ? resolve(values.pack) : undefined;
  const out = resolve(values.out ?? join(PACKAGE_ROOT, 'bench', 'results'));

  const report: { createdAt: string; machine: unknown; git: unknown; fuzz?: FuzzReport; load?: LoadReport; ok: boolean } = {
    createdAt: new Date().toISOString(),
    machine: machineFacts(),
    git: gitFacts(PACKAGE_ROOT),
    ok: true,
  };
  if (requests > 0) {
    const fuzz = await runFuzz({
      requests,
      seed: int('seed', values.seed, 1),
      concurrency: int('concurrency', values.concurrency, 16, 1),
      server: { pack, items: int('items', values.items, 60, 1) },
      log,
    });
    report.fuzz = fuzz;
    report.ok &&= fuzz.ok;
    log(`fuzz: ${fuzz.requests} requests in ${fuzz.seconds} s; by status ${JSON.stringify(fuzz.byStatus)}; p50 ${fuzz.latency.p50Ms} ms, p99 ${fuzz.latency.p99Ms} ms`);
    log(fuzz.ok ? 'fuzz: PASS' : `fuzz: FAIL: ${fuzz.failures.join('; ')}`);
  }
  if (values.load) {
    const load = await runLoad({
      clients: int('clients', values.clients, 50, 1),
      durationS: int('duration', values.duration, 60, 1),
      items: int('load-items', values['load-items'], 2000, 1),
      dataDir: values.data ? resolve(values.data) : undefined,
      pack,
      log,
    });
    report.load = load;
    report.ok &&= load.ok;
    log(`load: ${load.requests} requests in ${load.seconds} s (${load.rps} req/s); by status ${JSON.stringify(load.byStatus)}; p50 ${load.latency.p50Ms} ms, p99 ${load.latency.p99Ms} ms`);
    log(load.ok ? 'load: PASS' : `load: FAIL: ${load.failures.join('; ')}`);
  }
  await mkdir(out, { recursive: true });
  const file = join(out, `reliability-${report.createdAt.slice(0, 10)}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${file}`);
  process.exitCode = report.ok ? 0 : 1;
}

main().then(
  () => process.exit(),
  (error: unknown) => {
    process.stderr.write(`reliability: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(2);
  },
);
