import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareGeneration, readBaselineReport, styleMonotoneInGs } from '../../src/eval/generation-compare.js';
import type { GenerationReport, RecognisabilityReport, SweepRow } from '../../src/eval/generation.js';

const sweep = (styles: number[]): SweepRow[] =>
  [0, 1, 3, 5, 8].map((value, i) => ({ value, style: styles[i]!, content: 0.003, colour: 0.2 }));

function recognisability(content: number, styleShare: number): RecognisabilityReport {
  const figures = { images: 100, content, styleSet: styleShare / 2, styleShare };
  return {
    pairs: 100,
    k: 10,
    majority: 6,
    image: figures,
    text: figures,
    ceiling: { images: 100, content: 1, styleSet: 0.6, styleShare: 0.6 },
    chance: { content: 0.003, styleShare: 0.1 },
  };
}

function report(gs: SweepRow[], r: RecognisabilityReport | undefined): GenerationReport {
  const m = { style: 0.002, content: 0.003, colour: 0.2 };
  return {
    pack: 'new',
    pairs: [],
    steps: 25,
    defaults: { lambda: 13, gs: 5, gy: 3, colour: true },
    lambda: [],
    gs,
    gy: [],
    ablations: { full: m, noInversion: m, singleScale: { ...m, g: 4 }, noColour: m },
    recognisability: r,
    files: { plot: 'p', sheet: 's', report: 'r' },
    seconds: 1,
  };
}

describe('a generation report beside a baseline', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'parasol-gencmp-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a baseline report and computes the ratios and the targets on them', async () => {
    const file = join(dir, 'old.json');
    await writeFile(file, JSON.stringify({ ...report(sweep([3, 2, 2.4, 2.6, 2.5]), recognisability(0.09, 0.278)), pack: 'mini' }));
    const baseline = readBaselineReport(file);
    const met = compareGeneration(report(sweep([3, 2.5, 2.2, 2.1, 2.1]), recognisability(0.2, 0.42)), baseline, file);
    expect(met.baseline.pack).toBe('mini');
    expect(met.ratios.content).toBeCloseTo(0.2 / 0.09, 10);
    expect(met.ratios.styleShare).toBeCloseTo(0.42 / 0.278, 10);
    expect(met.targets.content.met).toBe(true);
    expect(met.targets.styleShare.met).toBe(true);
    expect(met.targets.gsStyleMonotone.met).toBe(true);
    expect(met.baseline.gsStyleMonotone).toBe(false);

    const missed = compareGeneration(report(sweep([3, 2, 2.4, 2.6, 2.5]), recognisability(0.17, 0.4)), baseline, file);
    expect(missed.targets.content.met).toBe(false);
    expect(missed.targets.styleShare.met).toBe(false);
    expect(missed.targets.gsStyleMonotone.met).toBe(false);
  });

  it('a zero baseline figure has no ratio, and the target counts as missed', async () => {
    const file = join(dir, 'zero.json');
    await writeFile(file, JSON.stringify(report(sweep([1, 1, 1, 1, 1]), recognisability(0, 0.2))));
    const c = compareGeneration(report(sweep([1, 1, 1, 1, 1]), recognisability(0.5, 0.4)), readBaselineReport(file), file);
    expect(c.ratios.content).toBeNull();
    expect(c.targets.content.met).toBe(false);
    expect(c.targets.styleShare.met).toBe(true);
  });

  it('refuses a file that is not a generation report, naming what is missing', async () => {
    const file = join(dir, 'bad.json');
    await writeFile(file, JSON.stringify({ pack: 'mini', gs: [] }));
    expect(() => readBaselineReport(file)).toThrow(/not a generation report with recognisability \(recognisability/);
    expect(() => readBaselineReport(join(dir, 'missing.json'))).toThrow(/--baseline .*missing\.json/);
  });

  it('needs recognisability in the new run', () => {
    const baseline = { pack: 'mini', gs: sweep([1, 1, 1, 1, 1]), recognisability: recognisability(0.1, 0.2) };
    expect(() => compareGeneration(report(sweep([1, 1, 1, 1, 1]), undefined), baseline, 'f')).toThrow(/--recognise 0/);
  });

  it('monotone means never rising with g_s, in any row order', () => {
    expect(styleMonotoneInGs(sweep([3, 3, 2, 2, 1]).reverse())).toBe(true);
    expect(styleMonotoneInGs(sweep([3, 2, 2.0001, 1, 1]))).toBe(false);
  });
});
