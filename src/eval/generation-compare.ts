/**
 * A generation report beside an earlier one (issue 18): the same recognisability figures for a
 * baseline pack (usually the pack being replaced), the ratios new ÷ old, the issue's targets on
 * them, and whether style distance falls monotonically as g_s grows in each report.
 */
import fs from 'node:fs';
import { z } from 'zod';
import { createError } from '../errors.js';
import type { GenerationReport, RecognisabilityReport, SweepRow } from './generation.js';

/** Targets on new ÷ baseline, generated from images at the defaults. */
export const RECOGNISABILITY_TARGETS = { content: 2, styleShare: 1.5 } as const;

const figures = z.object({ images: z.number(), content: z.number(), styleSet: z.number(), styleShare: z.number() });
const baselineSchema = z.object({
  pack: z.string(),
  gs: z.array(z.object({ value: z.number(), style: z.number(), content: z.number(), colour: z.number() })),
  recognisability: z.object({
    pairs: z.number(),
    k: z.number(),
    majority: z.number(),
    image: figures,
    text: figures,
    ceiling: figures,
    chance: z.object({ content: z.number(), styleShare: z.number() }),
  }),
});

export type BaselineReport = z.infer<typeof baselineSchema>;

export interface GenerationComparison {
  baseline: { file: string; pack: string; recognisability: RecognisabilityReport; gsStyleMonotone: boolean };
  /** new ÷ baseline for images generated from (y, s); null where the baseline figure is 0. */
  ratios: { content: number | null; styleSet: number | null; styleShare: number | null };
  targets: {
    content: { target: number; met: boolean };
    styleShare: { target: number; met: boolean };
    /** Style distance to s non-increasing over the g_s sweep (0 → 8) in the new report. */
    gsStyleMonotone: { met: boolean };
  };
}

/** Reads an earlier `parasol eval generation --json` report; one clear error when it is not one. */
export function readBaselineReport(file: string): BaselineReport {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw createError('BAD_REQUEST', `--baseline ${file}: ${(error as Error).message}`);
  }
  const parsed = baselineSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw createError(
      'BAD_REQUEST',
      `--baseline ${file} is not a generation report with recognisability (${issue?.path.join('.') || 'root'}: ${issue?.message})`,
    );
  }
  return parsed.data;
}

/** True when style distance never rises as g_s grows (rows sorted by g_s). */
export function styleMonotoneInGs(rows: readonly SweepRow[]): boolean {
  const sorted = [...rows].sort((a, b) => a.value - b.value);
  return sorted.every((row, i) => i === 0 || row.style <= sorted[i - 1]!.style);
}

const ratio = (now: number, before: number): number | null => (before > 0 ? now / before : null);

export function compareGeneration(report: GenerationReport, baseline: BaselineReport, file: string): GenerationComparison {
  const now = report.recognisability;
  if (!now) throw createError('BAD_REQUEST', '--baseline needs recognisability in this run: do not pass --recognise 0');
  const before = baseline.recognisability;
  const ratios = {
    content: ratio(now.image.content, before.image.content),
    styleSet: ratio(now.image.styleSet, before.image.styleSet),
    styleShare: ratio(now.image.styleShare, before.image.styleShare),
  };
  return {
    baseline: { file, pack: baseline.pack, recognisability: before, gsStyleMonotone: styleMonotoneInGs(baseline.gs) },
    ratios,
    targets: {
      content: { target: RECOGNISABILITY_TARGETS.content, met: (ratios.content ?? 0) >= RECOGNISABILITY_TARGETS.content },
      styleShare: { target: RECOGNISABILITY_TARGETS.styleShare, met: (ratios.styleShare ?? 0) >= RECOGNISABILITY_TARGETS.styleShare },
      gsStyleMonotone: { met: styleMonotoneInGs(report.gs) },
    },
  };
}

export function comparisonLines(c: GenerationComparison, report: GenerationReport): string[] {
  const f = (x: number) => x.toFixed(3);
  const r = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(2)}×`);
  const met = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const now = report.recognisability!;
  const was = c.baseline.recognisability;
  const row = (name: string, a: number, b: number, q: number | null) => `  ${name.padEnd(12)} ${f(b)} → ${f(a)}  (${r(q)})`;
  return [
    `against ${c.baseline.pack} (${c.baseline.file}), generated from images at the defaults:`,
    row('content', now.image.content, was.image.content, c.ratios.content) + `  target ≥ ${c.targets.content.target}×: ${met(c.targets.content.met)}`,
    row('style set', now.image.styleSet, was.image.styleSet, c.ratios.styleSet),
    row('style share', now.image.styleShare, was.image.styleShare, c.ratios.styleShare) +
      `  target ≥ ${c.targets.styleShare.target}×: ${met(c.targets.styleShare.met)}`,
    `  style distance non-increasing in g_s (0 → 8): ${met(c.targets.gsStyleMonotone.met)} (baseline: ${c.baseline.gsStyleMonotone ? 'yes' : 'no'})`,
  ];
}
