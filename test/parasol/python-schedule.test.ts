/**
 * The training package's sampler (models/train/parasol_train/sampler.py, which draws the mini pack's sample
 * sheet and held-out numbers) takes its plan from parasol_train/schedule.py. This proves that plan is the
 * engine's: same ᾱ table and the same per-step timesteps and coefficients, for both schedule kinds and for
 * step counts whose spacing lands on halves (where Python's round() and Math.round differ).
 * Needs python3 with numpy (models/train/requirements.txt, or the importer's environment npm test creates); skipped where there is none.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { makeSchedule, samplingPlan, type ScheduleSpec } from '../../src/parasol/schedule.js';
import { PYTHON } from '../export/python.js';

const TRAIN_DIR = fileURLToPath(new URL('../../models/train', import.meta.url));
const python = process.env.PYTHON ?? PYTHON;
const hasNumpy = spawnSync(python, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;

interface PythonStep { t: number; tp: number; x0_x: number; x0_e: number; mu_x0: number; mu_x: number; sigma: number; ab: number }
interface PythonPlan { alphasCumprod: number[]; plan: PythonStep[] }

function pythonPlan(spec: ScheduleSpec, timesteps: number, steps: number): PythonPlan {
  const r = spawnSync(python, ['-m', 'parasol_train.schedule', JSON.stringify(spec), String(timesteps), String(steps)], {
    cwd: TRAIN_DIR,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`python -m parasol_train.schedule failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as PythonPlan;
}

const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a), Math.abs(b));

describe.skipIf(!hasNumpy)('parasol_train.schedule matches src/parasol/schedule.ts', () => {
  const specs: ScheduleSpec[] = [
    { kind: 'linear', betaStart: 0.00085, betaEnd: 0.012 },
    { kind: 'scaled-linear', betaStart: 0.00085, betaEnd: 0.012 },
  ];
  for (const spec of specs) {
    for (const steps of [25, 16, 7, 1]) {
      it(`${spec.kind}, T = 1000, ${steps} steps`, () => {
        const schedule = makeSchedule(spec, 1000);
        const ts = samplingPlan(schedule, steps);
        const py = pythonPlan(spec, 1000, steps);
        expect(py.alphasCumprod.every((v, i) => close(v, schedule.alphasCumprod[i]))).toBe(true);
        expect(py.plan.map((s) => [s.t, s.tp])).toEqual(ts.coefficients.map((c) => [c.t, c.tPrev]));
        py.plan.forEach((s, i) => {
          const c = ts.coefficients[i];
          const pairs: [number, number][] = [
            [s.ab, c.alphaBar], [s.x0_x, c.x0FromX], [s.x0_e, c.x0FromEps],
            [s.mu_x0, c.muFromX0], [s.mu_x, c.muFromX], [s.sigma, c.sigma],
          ];
          for (const [a, b] of pairs) expect(close(a, b), `step ${i}: ${a} vs ${b}`).toBe(true);
        });
      });
    }
  }
});
