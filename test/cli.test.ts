import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStoreBuilt } from './store/build-dist.js';

const run = promisify(execFile);
const ROOT = path.resolve('.');
const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const TINY_PACK = path.join(ROOT, 'test', 'fixtures', 'tiny-pack');

let dataDir: string;
let imagesDir: string;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function parasol(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env: { ...process.env, PARASOL_PACK: TINY_PACK, PARASOL_DATA: dataDir, PARASOL_DEVICE: 'cpu', ...env },
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  ensureStoreBuilt(ROOT, ['src/cli.ts', 'src/eval/retrieval.ts', 'indexer/ingest.ts', 'src/search/engine.ts']);
  dataDir = await mkdtemp(path.join(tmpdir(), 'parasol-cli-data-'));
  imagesDir = await mkdtemp(path.join(tmpdir(), 'parasol-cli-images-'));
  const colours = ['#d33', '#3d3', '#33d', '#dd3', '#3dd', '#d3d'];
  await Promise.all(
    colours.map((background, i) =>
      // A dark corner so that no swatch is one flat colour (ingest refuses those as blank).
      sharp({ create: { width: 40, height: 40, channels: 3, background } })
        .composite([{ input: { create: { width: 6, height: 6, channels: 3, background: '#000000' } }, top: 2, left: 2 }])
        .png()
        .toFile(path.join(imagesDir, `swatch-${i}.png`)),
    ),
  );
});

afterAll(async () => {
  await Promise.all([dataDir, imagesDir].map((d) => rm(d, { recursive: true, force: true })));
});

describe('parasol CLI', () => {
  it('indexes a folder and prints a JSON summary', async () => {
    const result = await parasol(['index', imagesDir, '--source', 'swatches', '--json']);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as { added: number; skipped: number };
    expect(summary).toMatchObject({ added: 6, skipped: 0 });
    expect(result.stderr).toMatch(/indexed: 6 added/);
  });

  it('searches with --json in the documented shape', async () => {
    const result = await parasol(['search', '--q', 'red square', '--style', 'flat colour', '--k', '3', '--json']);
    expect(result.code).toBe(0);
    const { results } = JSON.parse(result.stdout) as { results: Array<Record<string, unknown>> };
    expect(results).toHaveLength(3);
    for (const r of results) {
      expect(r).toMatchObject({ source: 'swatches' });
      expect(typeof r.id).toBe('string');
      expect(typeof r.title).toBe('string');
      expect(r.scores).toMatchObject({ content: expect.any(Number), style: expect.any(Number) });
      // The words' score: a number when the catalogue has words (the swatches have titles), else null.
      expect(Object.keys(r.scores as object).sort()).toEqual(['content', 'style', 'text']);
    }
  });

  it('weighs the signals with --w-content, --w-style and --w-text (0 leaves the words out)', async () => {
    const search = async (...flags: string[]) => {
      const result = await parasol(['search', '--q', 'swatches', '--k', '6', '--json', ...flags]);
      expect(result.code, result.stderr).toBe(0);
      return (JSON.parse(result.stdout) as { results: Array<{ id: string; score: number; scores: Record<string, number | null> }> }).results;
    };
    // A folder's items are titled after their files (swatch-0 …), so the word matches every swatch.
    const withWords = await search('--w-text', '3');
    const withoutWords = await search('--w-text', '0');
    expect(withoutWords.every((r) => r.scores.text === null)).toBe(true);
    expect(withWords.every((r) => typeof r.scores.text === 'number')).toBe(true);
    // Content alone: the fused score is the content cosine.
    for (const r of await search('--w-style', '0', '--w-text', '0')) expect(r.score).toBeCloseTo(r.scores.content as number, 6);
    const lines = await parasol(['search', '--q', 'swatch', '--k', '2', '--w-text', '1']);
    expect(lines.stdout).toMatch(/ words (\d\.\d{3}|     -) /);
    const bad = await parasol(['search', '--q', 'x', '--w-text', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/--w-text must be a finite number/);
    const usage = await parasol(['--help']);
    expect(usage.stdout + usage.stderr).toMatch(/search .*--w-text W/);
  });

  it('prints stats', async () => {
    const result = await parasol(['stats', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ backend: 'sqlite', items: 6, indexed: { semantic: 6, style: 6 } });
  });

  it('refuses scale-out commands it cannot run, in one line', async () => {
    const oneLine = (result: CliResult) => expect(result.stderr.trim().split('\n')).toHaveLength(1);
    const noTarget = await parasol(['migrate']);
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toMatch(/--to elastic/);
    const noCluster = await parasol(['migrate', '--to', 'elastic'], { ES_URL: '' });
    expect(noCluster.code).toBe(2);
    expect(noCluster.stderr).toMatch(/ES_URL/);
    const unreachable = await parasol(['migrate', '--to', 'elastic'], { ES_URL: 'http://127.0.0.1:9' });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^parasol migrate: NOT_READY: /);
    oneLine(unreachable);
    const backendWithoutUrl = await parasol(['stats'], { PARASOL_BACKEND: 'elastic', ES_URL: '' });
    expect(backendWithoutUrl.code).toBe(1);
    expect(backendWithoutUrl.stderr).toMatch(/CONFIG_INVALID: .*ES_URL/);
    oneLine(backendWithoutUrl);
    const badConcurrency = await parasol(['worker', '--concurrency', '0']);
    expect(badConcurrency.code).toBe(2);
  });

  it('fails with one line and a non-zero exit on bad input', async () => {
    const unknown = await parasol(['frobnicate']);
    expect(unknown.code).toBe(2);
    const badK = await parasol(['search', '--q', 'x', '--k', 'many']);
    expect(badK.code).toBe(2);
    expect(badK.stderr.trim().split('\n')).toHaveLength(1);
    const missing = await parasol(['index', path.join(imagesDir, 'nope')]);
    expect(missing.code).toBe(2);
    const unknownItem = await parasol(['search', '--item', 'no-such-item']);
    expect(unknownItem.code).toBe(1);
    expect(unknownItem.stderr).toMatch(/ITEM_NOT_FOUND/);
    expect(unknownItem.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('eval retrieval --json prints the documented object', async () => {
    const result = await parasol(['eval', 'retrieval', '--json', '--sample', '0.02']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Record<string, Record<string, unknown>>;
    const unit = expect.toSatisfy((x: unknown) => typeof x === 'number' && x >= 0 && x <= 1);
    expect(report.style).toMatchObject({ p10: unit, map10: unit, baselines: { histogram: { p10: unit }, pixels: { p10: unit } } });
    expect(report.content).toMatchObject({ r10: unit });
    expect(report.text).toMatchObject({ r10: unit });
    expect(report.textHybrid).toMatchObject({ r10: unit, queries: report.text.queries });
    // The held-out items are titled with their names: the words can only help a name query.
    expect(report.textHybrid.r10 as number).toBeGreaterThanOrEqual(report.text.r10 as number);
    expect(report.styleText).toMatchObject({ r10: unit });
  });
});
