import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGenerator, type GeneratorModels } from '../../src/encoders/generator.js';
import { combineGuidance, createGuidedPredictor, guidanceWeights, type Guidance } from '../../src/parasol/guidance.js';
import { invert, type Inversion } from '../../src/parasol/invert.js';
import { createRng } from '../../src/parasol/rng.js';
import { sample, type SampleItem } from '../../src/parasol/sampler.js';
import { makeSchedule, samplingPlan, type NoiseSchedule } from '../../src/parasol/schedule.js';
import { countingModel, maxAbs, maxAbsDiff, MINI_HAS_GENERATOR, MINI_PACK, TINY_GENERATOR, unitVector } from './helpers.js';

/**
 * The properties hold for ANY weights: the suite runs on a randomly initialised tiny generator
 * and, when the bundled pack has a generator, on the trained one too.
 */
const suite = (label: string, packDir: string, options: { everyStep: boolean }) => describe(label, () => {
  let models: GeneratorModels;
  let schedule: NoiseSchedule;
  let size: number;
  let dim: number;
  /** Two content latents z₀ (std ~1, like a real VAE's), y's content/style, a target style. */
  let z0: Float32Array[];
  let contents: Float32Array[];
  let ownStyles: Float32Array[];
  let targetStyles: Float32Array[];
  const guidance: Guidance = { style: 4.5, content: 2.5 };

  beforeAll(async () => {
    models = await loadGenerator({ packDir, device: 'cpu' });
    schedule = makeSchedule(models.spec.schedule, models.spec.timesteps);
    size = models.dims.latentSize;
    dim = models.dims.semantic;
    z0 = [1, 2].map((seed) => createRng(seed, 'z0').fillNormal(new Float32Array(size)));
    contents = [0, 1].map((k) => unitVector(dim, k));
    const projected = await models.project([0, 1, 2, 3].map((k) => unitVector(models.dims.style, 10 + k)));
    ownStyles = projected.slice(0, 2);
    targetStyles = projected.slice(2);
  });

  afterAll(async () => {
    await models?.dispose();
  });

  const noiseItems = (seed: number): SampleItem[] =>
    [0, 1].map((i) => ({ content: contents[i], style: targetStyles[i], guidance, seed: seed + i }));

  async function inversionsFor(steps: number, seed = 7, g: Guidance = guidance): Promise<Inversion[]> {
    return invert({
      model: models,
      plan: samplingPlan(schedule, steps),
      items: z0.map((latent, i) => ({ latent, style: ownStyles[i], content: contents[i], guidance: g, seed: seed + i })),
    });
  }

  describe('guidance', () => {
    /** The three single-condition predictions of one batch, by direct UNet calls (batch N each). */
    async function direct(x: Float32Array, t: number, n: number, styleMask: number, contentMask: number) {
      const content = new Float32Array(n * dim);
      const style = new Float32Array(n * dim);
      for (let i = 0; i < n; i++) {
        content.set(contents[i], i * dim);
        style.set(targetStyles[i], i * dim);
      }
      return models.predictNoise({
        latent: x,
        timestep: new Float32Array(n).fill(t),
        content,
        style,
        contentMask: new Float32Array(n).fill(contentMask),
        styleMask: new Float32Array(n).fill(styleMask),
        batch: n,
      });
    }

    it('gives exactly ε(∅,∅), ε(m,∅) and ε(∅,c) at (0,0), (1,0) and (0,1)', async () => {
      const n = 2;
      const x = new Float32Array(n * size);
      x.set(z0[0]);
      x.set(z0[1], size);
      const t = 640;
      const cases: Array<[Guidance, number, number]> = [
        [{ style: 0, content: 0 }, 0, 0],
        [{ style: 1, content: 0 }, 1, 0],
        [{ style: 0, content: 1 }, 0, 1],
      ];
      let worst = 0;
      for (const [g, styleMask, contentMask] of cases) {
        const predictor = createGuidedPredictor(models, contents.map((content) => ({ content, guidance: g })));
        const combined = await predictor.predict(x, t, targetStyles, new Float32Array(n * size));
        const expected = await direct(x, t, n, styleMask, contentMask);
        worst = Math.max(worst, maxAbsDiff(combined, expected));
        expect(maxAbsDiff(combined, expected)).toBeLessThanOrEqual(1e-6);
      }
      console.info(`guidance identities: max |combined − direct| = ${worst.toExponential(2)}`);
      expect(worst).toBeLessThanOrEqual(1e-6);
    });

    it('combines bitwise: one weight-1 term is copied, -0 included', () => {
      const u = Float32Array.from([0.1, -0, 3e-8, -2.5]);
      const m = Float32Array.from([1.7, -0, 1e30, 0.3]);
      const c = Float32Array.from([-0.4, 5, -0, 1e-30]);
      const out = new Float32Array(4);
      expect(Array.from(combineGuidance(u, m, c, guidanceWeights({ style: 0, content: 0 }), out))).toEqual(Array.from(u));
      expect(Object.is(out[1], -0)).toBe(true);
      expect(Array.from(combineGuidance(u, m, c, guidanceWeights({ style: 1, content: 0 }), out))).toEqual(Array.from(m));
      expect(Array.from(combineGuidance(u, m, c, guidanceWeights({ style: 0, content: 1 }), out))).toEqual(Array.from(c));
      expect(Object.is(out[2], -0)).toBe(true);
    });

    it('at (1,1) is ε(m,∅) + ε(∅,c) − ε(∅,∅), not a joint ε(m,c)', async () => {
      const x = z0[0];
      const t = 300;
      const predictor = createGuidedPredictor(models, [{ content: contents[0], guidance: { style: 1, content: 1 } }]);
      const combined = await predictor.predict(x, t, [targetStyles[0]], new Float32Array(size));
      const one = async (s: number, c: number) =>
        models.predictNoise({
          latent: x,
          timestep: Float32Array.of(t),
          content: contents[0],
          style: targetStyles[0],
          contentMask: Float32Array.of(c),
          styleMask: Float32Array.of(s),
          batch: 1,
        });
      const [u, m, c, joint] = await Promise.all([one(0, 0), one(1, 0), one(0, 1), one(1, 1)]);
      const sum = m.map((v, k) => v + c[k] - u[k]);
      expect(maxAbsDiff(combined, sum)).toBeLessThan(1e-5);
      expect(maxAbsDiff(combined, joint)).toBeGreaterThan(1e-3);
    });
  });

  describe('inversion', () => {
    it('reconstructs z₀ with λ = steps (never switching), for any guidance', async () => {
      for (const [steps, g] of [
        [50, guidance],
        [20, { style: 0, content: 0 }],
        [1, { style: 7, content: -1 }],
      ] as Array<[number, Guidance]>) {
        const inversions = await inversionsFor(steps, 7, g);
        const plan = samplingPlan(schedule, steps);
        const items = inversions.map((inversion, i) => ({ inversion, style: targetStyles[i], lambda: steps }));
        // A noise item in the batch makes the sampler run every step, so the inverted items
        // really retrace their inversion through the UNet rather than start at its end.
        const out = await sample({ model: models, plan, items: [...items, noiseItems(5)[0]] });
        const errors = out.slice(0, items.length).map((latent, i) => maxAbsDiff(latent, z0[i]));
        console.info(`λ = steps = ${steps}, g = (${g.style}, ${g.content}): max |z₀' − z₀| = ${Math.max(...errors).toExponential(2)}`);
        for (const e of errors) expect(e).toBeLessThan(1e-4);
      }
    });

    it.skipIf(!options.everyStep)('reconstructs z₀ over all T = 1000 DDPM steps', async () => {
      const steps = models.dims.timesteps;
      const [inversion] = await invert({
        model: models,
        plan: samplingPlan(schedule, steps),
        items: [{ latent: z0[0], style: ownStyles[0], content: contents[0], guidance, seed: 3 }],
      });
      const [out] = await sample({
        model: models,
        plan: samplingPlan(schedule, steps),
        items: [{ inversion, style: targetStyles[0], lambda: steps }, noiseItems(5)[0]],
      });
      const error = maxAbsDiff(out, z0[0]);
      console.info(`λ = steps = T = ${steps}: max |z₀' − z₀| = ${error.toExponential(2)}`);
      expect(error).toBeLessThan(1e-4);
    });

    it('reconstructs z₀ closely when the reverse batch differs from the inversion batch', async () => {
      // Another batch size may change the UNet's float rounding (onnxruntime's CPU kernels happen
      // not to), and then ε̂ differs by ~1e-7 and the trajectory no longer re-anchors bit for bit.
      const steps = 50;
      const inversions = await inversionsFor(steps);
      const [alone] = await sample({
        model: models,
        plan: samplingPlan(schedule, steps),
        items: [{ inversion: inversions[1], style: targetStyles[1], lambda: steps }],
      });
      const error = maxAbsDiff(alone, z0[1]);
      console.info(`λ = steps = ${steps}, inverted in a batch of 2, reversed alone: max |z₀' − z₀| = ${error.toExponential(2)}`);
      expect(error).toBeLessThan(1e-4);
    });

    it('draws independent noises per step, so x_τ for different τ are not one noise rescaled', async () => {
      const [inversion] = await inversionsFor(10);
      // The first map at a high noise level carries noise of unit scale; a zero map would mean no noise.
      expect(maxAbs(inversion.maps[0])).toBeGreaterThan(0.5);
      expect(inversion.maps).toHaveLength(10);
      expect(inversion.timesteps).toEqual(samplingPlan(schedule, 10).coefficients.map((s) => s.t));
    });

    it('switches to the target style after λ steps: λ < steps edits the latent', async () => {
      const steps = 20;
      const inversions = await inversionsFor(steps);
      const plan = samplingPlan(schedule, steps);
      const run = (lambda: number) =>
        sample({ model: models, plan, items: inversions.map((inversion, i) => ({ inversion, style: targetStyles[i], lambda })) });
      const [kept, edited] = await Promise.all([run(steps), run(5)]);
      expect(maxAbsDiff(kept[0], z0[0])).toBeLessThan(1e-4);
      expect(maxAbsDiff(edited[0], z0[0])).toBeGreaterThan(1e-3);
    });

    it('refuses an inversion made for another plan', async () => {
      const [inversion] = await inversionsFor(10);
      await expect(
        sample({ model: models, plan: samplingPlan(schedule, 12), items: [{ inversion, style: targetStyles[0], lambda: 3 }] }),
      ).rejects.toThrow(/other steps/);
    });
  });

  describe('the reverse loop', () => {

    it('makes one batched UNet call (batch 3·N) per step', async () => {
      const steps = 12;
      const counting = countingModel(models);
      const plan = samplingPlan(schedule, steps);
      await sample({ model: counting, plan, items: noiseItems(1) });
      expect(counting.calls).toEqual(new Array(steps).fill(6));
      counting.calls.length = 0;
      const inversions = await invert({
        model: counting,
        plan,
        items: [0, 1, 2].map((i) => ({ latent: z0[i % 2], style: ownStyles[i % 2], content: contents[i % 2], guidance, seed: i })),
      });
      expect(counting.calls).toEqual(new Array(steps).fill(9));
      counting.calls.length = 0;
      await sample({ model: counting, plan, items: inversions.map((inversion) => ({ inversion, style: targetStyles[0], lambda: 4 })) });
      // Steps 1..λ retrace the inversion exactly, so they come from its trajectory, not the UNet.
      expect(counting.calls).toEqual(new Array(steps - 4).fill(9));
    });

    it('starting at λ from the trajectory gives the bytes that retracing through the UNet gives', async () => {
      const steps = 16;
      const plan = samplingPlan(schedule, steps);
      const inversions = await inversionsFor(steps, 11, guidance);
      const items = inversions.map((inversion, i) => ({ inversion, style: targetStyles[i], lambda: 6 }));
      const skipped = await sample({ model: models, plan, items });
      const retraced = await sample({ model: models, plan, items: [...items, noiseItems(5)[0]] });
      items.forEach((_, i) => expect(Buffer.from(skipped[i].buffer).equals(Buffer.from(retraced[i].buffer))).toBe(true));
    });

    it('is deterministic for a seed and differs across seeds', async () => {
      const plan = samplingPlan(schedule, 10);
      const [a, b, c] = await Promise.all([
        sample({ model: models, plan, items: noiseItems(42) }),
        sample({ model: models, plan, items: noiseItems(42) }),
        sample({ model: models, plan, items: noiseItems(43) }),
      ]);
      expect(Buffer.from(a[0].buffer).equals(Buffer.from(b[0].buffer))).toBe(true);
      expect(Buffer.from(a[1].buffer).equals(Buffer.from(b[1].buffer))).toBe(true);
      expect(maxAbsDiff(a[0], c[0])).toBeGreaterThan(1e-2);
      expect(a.every((latent) => latent.every(Number.isFinite))).toBe(true);
    });

    it('gives an item the same result alone as in a batch (up to float rounding)', async () => {
      const plan = samplingPlan(schedule, 10);
      const [batched] = await sample({ model: models, plan, items: noiseItems(5) });
      const [alone] = await sample({ model: models, plan, items: noiseItems(5).slice(0, 1) });
      expect(maxAbsDiff(batched, alone)).toBeLessThan(1e-4);
    });

    it('reports progress once per step', async () => {
      const seen: Array<[number, number]> = [];
      await sample({ model: models, plan: samplingPlan(schedule, 7), items: noiseItems(1), onProgress: (s, t) => seen.push([s, t]) });
      expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7].map((s) => [s, 7]));
    });

    it('stops within one step of a cancel', async () => {
      const steps = 30;
      const counting = countingModel(models);
      const controller = new AbortController();
      const run = sample({
        model: counting,
        plan: samplingPlan(schedule, steps),
        items: noiseItems(1),
        signal: controller.signal,
        onProgress: (step) => {
          if (step === 4) controller.abort();
        },
      });
      await expect(run).rejects.toMatchObject({ name: 'AbortError' });
      expect(counting.calls).toHaveLength(4);

      counting.calls.length = 0;
      const inverting = invert({
        model: counting,
        plan: samplingPlan(schedule, steps),
        items: [{ latent: z0[0], style: ownStyles[0], content: contents[0], guidance, seed: 1 }],
        signal: AbortSignal.abort(),
      });
      await expect(inverting).rejects.toMatchObject({ name: 'AbortError' });
      expect(counting.calls).toHaveLength(0);
    });

    it('refuses a lambda outside [0, steps]', async () => {
      const [inversion] = await inversionsFor(5);
      await expect(
        sample({ model: models, plan: samplingPlan(schedule, 5), items: [{ inversion, style: targetStyles[0], lambda: 6 }] }),
      ).rejects.toThrow(RangeError);
    });
  });
});

suite('the PARASOL sampler on a random tiny UNet', TINY_GENERATOR, { everyStep: true });
if (MINI_HAS_GENERATOR) suite('the PARASOL sampler on the bundled mini pack', MINI_PACK, { everyStep: false });
