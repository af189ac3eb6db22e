/**
 * `parasol generate` and `parasol eval generation` in-process (main()), on the tiny random
 * generator pack with a few steps: the --json shapes, the files, and one-line errors.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';
import { readProvenance } from '../../src/parasol/image.js';
import { testImage, TINY_GENERATOR } from '../parasol/helpers.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'parasol-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the CLI with an empty PARASOL_* environment; returns the exit code, stdout and stderr. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  const saved = Object.fromEntries(Object.entries(process.env).filter(([key]) => key.startsWith('PARASOL_')));
  for (const key of Object.keys(saved)) delete process.env[key];
  process.env.PARASOL_DEVICE = 'cpu';
  process.env.PARASOL_THREADS = '1';
  Object.assign(process.env, env);
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    delete process.env.PARASOL_DEVICE;
    delete process.env.PARASOL_THREADS;
    for (const key of Object.keys(env)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

describe('parasol generate', () => {
  it('writes a PNG from a text content and an image file style, and prints {out, seconds, params}', async () => {
    const style = path.join(dir, 'style.png');
    await writeFile(style, await testImage(48, 2));
    const out = path.join(dir, 'out.png');
    const data = path.join(dir, 'data');
    const { code, stdout, stderr } = await cli([
      'generate', '--data', data, '--pack', TINY_GENERATOR,
      '--content', 'a smiling face', '--style', style,
      '--steps', '4', '--seed', '11', '--gs', '4.5', '--gy', '2', '--colour', '--out', out, '--json',
    ]);
    expect(code, stderr).toBe(0);
    const printed = JSON.parse(stdout) as { out: string; seconds: number; params: Record<string, unknown> };
    expect(Object.keys(printed).sort()).toEqual(['out', 'params', 'seconds']);
    expect(printed.out).toBe(out);
    expect(printed.seconds).toBeGreaterThan(0);
    expect(printed.params).toMatchObject({ steps: 4, seed: 11, guidance: { style: 4.5, content: 2 }, colour: true, inverted: false });
    const png = await readFile(out);
    expect((await sharp(png).metadata()).width).toBe(64);
    expect(readProvenance(png)?.aiGenerated).toBe(true);
  });

  it('fails on one line with a non-zero exit', async () => {
    const missing = await cli(['generate', '--content', 'a']);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain('--style');

    const badNumber = await cli(['generate', '--content', 'a', '--style', 'b', '--out', path.join(dir, 'x.png'), '--gs', 'NaN']);
    expect(badNumber.code).toBe(2);
    expect(badNumber.stderr).toContain('--gs');

    const tooMany = await cli([
      'generate', '--data', path.join(dir, 'data'), '--pack', TINY_GENERATOR,
      '--content', 'a', '--style', 'b', '--steps', '100000', '--out', path.join(dir, 'y.png'),
    ]);
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr.trim().split('\n')).toHaveLength(1);
    expect(tooMany.stderr).toContain('INVALID_QUERY');
    expect(existsSync(path.join(dir, 'y.png'))).toBe(false);

    const notImage = path.join(dir, 'notes.png');
    await writeFile(notImage, 'not a picture');
    const bad = await cli(['generate', '--data', path.join(dir, 'data'), '--pack', TINY_GENERATOR, '--content', notImage, '--style', 'b', '--out', path.join(dir, 'z.png')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('UNSUPPORTED_IMAGE');
  });

  it('says so when the pack has no generator', async () => {
    const pack = path.join(TINY_GENERATOR, '..', 'tiny-pack');
    const res = await cli(['generate', '--data', path.join(dir, 'data2'), '--pack', pack, '--content', 'a', '--style', 'b', '--out', path.join(dir, 'n.png')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('GENERATION_UNAVAILABLE');
  });
});

describe('parasol eval generation', () => {
  it('prints the sweeps and ablations as JSON and writes the plot and the contact sheet', async () => {
    const out = path.join(dir, 'eval');
    const { code, stdout, stderr } = await cli([
      'eval', 'generation', '--json', '--pairs', '2', '--steps', '4', '--pack', TINY_GENERATOR, '--data', path.join(dir, 'data3'), '--out', out,
      '--recognise', '0',
    ]);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout);
    const row = { value: expect.any(Number), style: expect.any(Number), content: expect.any(Number), colour: expect.any(Number) };
    for (const sweep of ['lambda', 'gs', 'gy']) {
      expect(report[sweep].length).toBeGreaterThanOrEqual(3);
      for (const r of report[sweep]) expect(r).toEqual(row);
    }
    expect(report.lambda.map((r: { value: number }) => r.value)).toEqual([0, 1, 2, 3, 4]);
    const metrics = { style: expect.any(Number), content: expect.any(Number), colour: expect.any(Number) };
    expect(report.ablations).toEqual({
      full: metrics,
      noInversion: metrics,
      singleScale: { ...metrics, g: 4 },
      noColour: metrics,
    });
    expect(report.pairs).toHaveLength(2);
    expect(report.defaults).toMatchObject({ colour: true, colourMethod: 'palette' });
    // Colour transfer moves the output's colours onto the style image's: it cuts the colour distance.
    expect(report.ablations.full.colour).toBeLessThan(report.ablations.noColour.colour);
    for (const file of ['generation-sweeps.png', 'generation-examples.png', 'generation.json']) expect(existsSync(path.join(out, file))).toBe(true);
    expect((await sharp(path.join(out, 'generation-sweeps.png')).metadata()).width).toBeGreaterThan(500);
  });

  it('runs the defaults without colour transfer with --colour off, with the moment transfer with --colour moments, and refuses another value in one line', async () => {
    const { code, stdout, stderr } = await cli([
      'eval', 'generation', '--json', '--pairs', '1', '--steps', '2', '--pack', TINY_GENERATOR, '--data', path.join(dir, 'data5'),
      '--out', path.join(dir, 'eval5'), '--recognise', '0', '--colour', 'off',
    ]);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.defaults.colour).toBe(false);
    // The full setting is then the no-colour one: the same images, so the same distances.
    expect(report.ablations.full).toEqual(report.ablations.noColour);
    const bad = await cli(['eval', 'generation', '--pairs', '1', '--pack', TINY_GENERATOR, '--data', path.join(dir, 'data5'), '--colour', 'maybe']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('--colour must be on, off, palette or moments, got "maybe"');
    const moments = await cli([
      'eval', 'generation', '--json', '--pairs', '1', '--steps', '2', '--pack', TINY_GENERATOR, '--data', path.join(dir, 'data5'),
      '--out', path.join(dir, 'eval6'), '--recognise', '0', '--colour', 'moments',
    ]);
    expect(moments.code, moments.stderr).toBe(0);
    expect(JSON.parse(moments.stdout).defaults).toMatchObject({ colour: true, colourMethod: 'moments' });
  });

  it('judges recognisability through the data dir\'s index, and says in one line when it is empty', async () => {
    const data = path.join(dir, 'data4');
    const empty = await cli(['eval', 'generation', '--pairs', '1', '--steps', '2', '--pack', TINY_GENERATOR, '--data', data, '--recognise', '3']);
    expect(empty.code).toBe(2);
    expect(empty.stderr.trim().split('\n')).toHaveLength(1);
    expect(empty.stderr).toMatch(/index .* is empty: build the demo index first/);

    const images = path.join(TINY_GENERATOR, '..', 'tiny-pack', 'images');
    expect((await cli(['index', images, '--data', data], { PARASOL_PACK: TINY_GENERATOR })).code).toBe(0);
    const { code, stdout, stderr } = await cli([
      'eval', 'generation', '--json', '--pairs', '1', '--steps', '2', '--pack', TINY_GENERATOR, '--data', data, '--out', path.join(dir, 'eval4'),
      '--recognise', '3',
    ]);
    expect(code, stderr).toBe(0);
    const { recognisability } = JSON.parse(stdout);
    const figures = { images: 3, content: expect.any(Number), styleSet: expect.any(Number), styleShare: expect.any(Number) };
    expect(recognisability).toEqual({ pairs: 3, k: 10, majority: 6, image: figures, text: figures, ceiling: figures, chance: { content: expect.any(Number), styleShare: expect.any(Number) } });
    // These items carry no codepoints: nothing can be recognised as the held-out content.
    expect(recognisability.image.content).toBe(0);
  });
});
