/**
 * `parasol tune` through the CLI's own dispatch (exit codes as the process would return them): bad
 * flags are usage errors (one line, exit 2) before anything is opened; a run on a real store
 * (SQLite + HNSW, the tiny test pack) prints progress and its choice, stores it, and --show /
 * --reset read and remove it.
 */
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import { makeItem, seededRandom, tempDir } from '../store/helpers.js';

const TINY_PACK = path.resolve('test/fixtures/tiny-pack');
let dir: string;
let cleanup: () => void;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function parasol(args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  });
  try {
    const code = await main(['tune', ...args]);
    return { code, stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('parasol-tune-cli-'));
  // The tiny pack's dimensions, so the CLI opens this store with its encoders.
  const store = await openEmbeddedStore({ dataDir: dir, dims: { semantic: 32, style: 16 }, hnsw: { M: 16, efConstruction: 200, efSearch: 128 } });
  const random = seededRandom(3);
  const words = ['red kite', 'blue boat', 'green tree', 'ink cat', 'gold sun'];
  const { normalize } = await import('../../src/vectors.js');
  const vector = (dim: number) => normalize(Float32Array.from({ length: dim }, () => random() - 0.5));
  await store.catalog.addBatch(
    Array.from({ length: 300 }, (_, i) => makeItem(`cli-${i}`, random, { title: `${words[i % words.length]} ${i}`, semantic: vector(32), style: vector(16) })),
  );
  await store.close();
  vi.stubEnv('PARASOL_PACK', TINY_PACK);
  vi.stubEnv('PARASOL_DATA', dir);
  vi.stubEnv('PARASOL_DEVICE', 'cpu');
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(() => {
  vi.unstubAllEnvs();
  cleanup?.();
});

describe('parasol tune: usage errors (exit 2, one line)', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--target', '2'], /--target must be in \(0, 1\]/],
    [['--target', 'high'], /--target must be a finite number/],
    [['--target', '0'], /--target must be in \(0, 1\]/],
    [['--ladder', '10,,40'], /--ladder takes comma-separated integers/],
    [['--ladder', '0,10'], /--ladder takes comma-separated integers/],
    [['--ladder', '12.5'], /--ladder takes comma-separated integers/],
    [['--queries', '0'], /--queries must be from 1 to 100000/],
    [['--queries', 'many'], /--queries must be an integer/],
    [['--modality', 'colour'], /--modality must be one of content, style, both/],
    [['--kind', 'audio'], /--kind must be one of image, text, both/],
    [['--show', '--reset'], /--show and --reset do not go together/],
    [['--reset', '--target', '0.9'], /--reset takes no tuning options/],
    [['--texts', '/no/such/file.txt'], /cannot read --texts/],
    [['--kind', 'image', '--texts', '/no/such/file.txt'], /--texts is a text-like sample/],
    [['--fast'], /Unknown option '--fast'/],
    [['extra'], /unexpected argument "extra"/],
  ];
  for (const [args, message] of cases) {
    it(`refuses ${args.join(' ')}`, async () => {
      const run = await parasol(args);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^parasol tune: /);
      expect(run.stderr).toMatch(message);
      expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(run.stdout).toBe('');
    });
  }
});

describe('parasol tune on a real store', () => {
  it('tunes with progress lines, stores the choice, shows it, and resets it', async () => {
    const before = await parasol(['--show']);
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(/^untuned/);

    const run = await parasol(['--queries', '20', '--ladder', '10,40,160', '--json']);
    expect(run.code, run.stderr).toBe(0);
    // Progress: count, rate and ETA per phase.
    expect(run.stderr).toMatch(/read 300 items' vectors \d+\/300 \(\d+%\) \d+\/s ETA/);
    expect(run.stderr).toMatch(/ladder semantic\/text/);
    expect(run.stderr).toMatch(/efSearch for recall@10 ≥ 0.98: content\/image \d+.*\(stored\)/);
    const report = JSON.parse(run.stdout) as { written: boolean; measured: Array<{ modality: string; kind: string; ef: number }>; tuning: unknown };
    expect(report.written).toBe(true);
    expect(report.measured.map((e) => `${e.modality}/${e.kind}`)).toEqual(['semantic/image', 'semantic/text', 'style/image', 'style/text']);
    for (const entry of report.measured) expect([10, 40, 160]).toContain(entry.ef);

    const shown = await parasol(['--show', '--json']);
    expect(JSON.parse(shown.stdout)).toEqual(report.tuning);
    const human = await parasol(['--show']);
    expect(human.stdout).toMatch(/tuned .* at 300 items for recall@10 ≥ 0.98 \(efSearch\)/);
    expect(human.stdout).toMatch(/content +text +\d+ +recall@10/);

    expect((await parasol(['--reset'])).code).toBe(0);
    expect((await parasol(['--show'])).stdout).toMatch(/^untuned/);
  }, 120_000);
});
