import { describe, expect, it } from 'vitest';
import { makeSchedule, mapScale, samplingPlan, samplingTimesteps, stepMean } from '../../src/parasol/schedule.js';
import { readGeneratorReference } from './helpers.js';

describe('noise schedules', () => {
  it('matches numpy for the linear and scaled-linear betas and ᾱ', async () => {
    const reference = (await readGeneratorReference()).schedule;
    for (const kind of ['linear', 'scaled-linear'] as const) {
      const r = reference[kind];
      const schedule = makeSchedule({ kind, betaStart: r.betaStart, betaEnd: r.betaEnd }, r.timesteps);
      r.at.forEach((t, i) => {
        expect(Math.abs(schedule.betas[t] - r.betas[i])).toBeLessThan(1e-15);
        expect(Math.abs(schedule.alphasCumprod[t] - r.alphasCumprod[i]) / r.alphasCumprod[i]).toBeLessThan(1e-12);
      });
    }
  });

  it('has the textbook endpoints and a decreasing ᾱ', () => {
    const linear = makeSchedule({ kind: 'linear', betaStart: 0.00085, betaEnd: 0.012 }, 1000);
    expect(linear.betas[0]).toBe(0.00085);
    expect(linear.betas[999]).toBeCloseTo(0.012, 15);
    expect(linear.alphas[10]).toBe(1 - linear.betas[10]);
    expect(linear.alphasCumprod[0]).toBe(1 - 0.00085);
    const scaled = makeSchedule({ kind: 'scaled-linear', betaStart: 0.00085, betaEnd: 0.012 }, 1000);
    // Stable Diffusion's schedule: ᾱ at the last step is about 0.0047.
    expect(scaled.alphasCumprod[999]).toBeCloseTo(0.00466, 4);
    for (let t = 1; t < 1000; t++) expect(scaled.alphasCumprod[t]).toBeLessThan(scaled.alphasCumprod[t - 1]);
  });

  it('refuses nonsense', () => {
    expect(() => makeSchedule({ kind: 'linear', betaStart: 0.02, betaEnd: 0.01 }, 1000)).toThrow(RangeError);
    expect(() => makeSchedule({ kind: 'linear', betaStart: 0.001, betaEnd: 0.01 }, 1)).toThrow(RangeError);
    expect(() => samplingTimesteps(1000, 0)).toThrow(RangeError);
    expect(() => samplingTimesteps(1000, 1001)).toThrow(RangeError);
  });
});

describe('sampling plans', () => {
  const schedule = makeSchedule({ kind: 'linear', betaStart: 0.00085, betaEnd: 0.012 }, 1000);

  it('visits evenly spaced steps from T − 1 down', () => {
    expect(samplingTimesteps(1000, 4)).toEqual([999, 749, 499, 249]);
    expect(samplingTimesteps(1000, 50).slice(0, 3)).toEqual([999, 979, 959]);
    expect(samplingTimesteps(1000, 50).at(-1)).toBe(19);
    expect(samplingTimesteps(10, 10)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(samplingTimesteps(1000, 1)).toEqual([999]);
  });

  it('uses the DDPM posterior: with steps = T it is the classic β̃ₜ, and the last step lands on x̂₀', () => {
    const plan = samplingPlan(schedule, 1000);
    const step = plan.coefficients[1000 - 1 - 500]; // t = 500
    expect(step.t).toBe(500);
    expect(step.tPrev).toBe(499);
    const a = schedule.alphasCumprod;
    const tilde = ((1 - a[499]) / (1 - a[500])) * schedule.betas[500];
    expect(step.sigma ** 2).toBeCloseTo(tilde, 15);
    expect(step.muFromX0).toBeCloseTo((Math.sqrt(a[499]) * schedule.betas[500]) / (1 - a[500]), 15);
    expect(step.muFromX).toBeCloseTo((Math.sqrt(schedule.alphas[500]) * (1 - a[499])) / (1 - a[500]), 15);

    const last = plan.coefficients.at(-1)!;
    expect(last.tPrev).toBe(-1);
    expect(last.sigma).toBe(0);
    expect(mapScale(last)).toBe(1);
    // ᾱ_prev = 1: μ is the x̂₀ prediction itself.
    const x = 0.7;
    const eps = -0.3;
    const x0 = (x - Math.sqrt(1 - last.alphaBar) * eps) / Math.sqrt(last.alphaBar);
    expect(stepMean(last, x, eps)).toBeCloseTo(x0, 12);
  });

  it('denoises a noised latent exactly when ε is the true noise', () => {
    const plan = samplingPlan(schedule, 20);
    for (const step of plan.coefficients) {
      const z0 = 0.42;
      const noise = 1.3;
      const x = Math.sqrt(step.alphaBar) * z0 + Math.sqrt(1 - step.alphaBar) * noise;
      // μ with the true ε is the posterior mean of x_prev given (x_t, z₀).
      const mu = stepMean(step, x, noise);
      const expected = step.muFromX0 * z0 + step.muFromX * x;
      expect(mu).toBeCloseTo(expected, 12);
      expect(step.sigma).toBeGreaterThanOrEqual(0);
    }
  });
});
