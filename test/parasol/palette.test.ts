import { describe, expect, it } from 'vitest';
import { FOREGROUND_MAX, MIN_FOREGROUND, foregroundSample, matchPalette, mixSamples } from '../../src/parasol/palette.js';

type Rgb = readonly [number, number, number];
const WHITE: Rgb = [1, 1, 1];

/** Planar RGB of `n` pixels, pixel i coloured colourOf(i). */
function planar(n: number, colourOf: (i: number) => Rgb): Float32Array {
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const [r, g, b] = colourOf(i);
    out[i] = r;
    out[n + i] = g;
    out[2 * n + i] = b;
  }
  return out;
}

function pixel(pixels: Float32Array, i: number): Rgb {
  const n = pixels.length / 3;
  return [pixels[i], pixels[n + i], pixels[2 * n + i]];
}

const near = (a: Rgb, b: Rgb, tolerance: number) => a.every((v, c) => Math.abs(v - b[c]) < tolerance);

describe('palette transfer', () => {
  it('samples only the drawn pixels, equally weighted, and nothing from a blank image', () => {
    const image = planar(100, (i) => (i < 40 ? [0.2, 0.4, 0.6] : i < 50 ? [0.99, 0.98, 0.975] : WHITE));
    const sample = foregroundSample(image)!;
    expect(sample.count).toBe(40);
    expect(Array.from(sample.rgb.subarray(0, 3)).map((v) => Number(v.toFixed(3)))).toEqual([0.2, 0.4, 0.6]);
    expect(sample.weights.reduce((a, w) => a + w, 0)).toBeCloseTo(1, 6);
    expect(foregroundSample(planar(100, () => WHITE))).toBeUndefined();
    expect(foregroundSample(planar(100, (i) => (i < MIN_FOREGROUND - 1 ? [0, 0, 0] : WHITE)))).toBeUndefined();
  });

  it('gives the drawn pixels the target palette in its proportions, keeps the background and the order', () => {
    // output: a red-to-orange ramp over 300 pixels on white; target: a quarter black, three quarters blue
    const n = 400;
    const output = planar(n, (i) => (i < 300 ? [0.9, 0.1 + (0.5 * i) / 300, 0.1] : WHITE));
    const target = foregroundSample(planar(200, (i) => (i < 50 ? [0, 0, 0] : [0.1, 0.2, 0.9])))!;
    const moved = matchPalette(output, target)!;
    let black = 0;
    let blue = 0;
    for (let i = 0; i < 300; i++) {
      const p = pixel(moved, i);
      if (near(p, [0, 0, 0], 0.05)) black++;
      else if (near(p, [0.1, 0.2, 0.9], 0.05)) blue++;
    }
    expect(black + blue).toBeGreaterThanOrEqual(290);
    expect(black / (black + blue)).toBeGreaterThan(0.2);
    expect(black / (black + blue)).toBeLessThan(0.3);
    for (let i = 300; i < n; i++) expect(pixel(moved, i)).toEqual(WHITE);
    // rank matching keeps the ramp's order: its darker (redder) end takes the darker ink
    expect(near(pixel(moved, 0), [0, 0, 0], 0.05)).toBe(true);
    expect(near(pixel(moved, 299), [0.1, 0.2, 0.9], 0.05)).toBe(true);
  });

  it('leaves an output already in the target palette (almost) where it is, and gives the same bytes every time', () => {
    const output = planar(256, (i) => [((i * 37) % 97) / 120, ((i * 11) % 89) / 110, ((i * 5) % 83) / 100]);
    const target = foregroundSample(output)!;
    const moved = matchPalette(output, target)!;
    let worst = 0;
    for (let i = 0; i < output.length; i++) worst = Math.max(worst, Math.abs(moved[i] - output[i]));
    expect(worst).toBeLessThan(0.02);
    expect(Array.from(matchPalette(output, target)!)).toEqual(Array.from(moved));
  });

  it('mixes the palettes of a style mix by their weights, dropping blank images', () => {
    const red = foregroundSample(planar(64, () => [0.8, 0, 0]));
    const blue = foregroundSample(planar(16, () => [0, 0, 0.8]));
    const mixed = mixSamples([red, blue, undefined], [3, 1, 5])!;
    expect(mixed.count).toBe(80);
    const redShare = Array.from(mixed.weights.subarray(0, 64)).reduce((a, w) => a + w, 0);
    expect(redShare).toBeCloseTo(0.75, 5);
    const moved = matchPalette(planar(200, (i) => [i / 400, i / 400, i / 400]), mixed)!;
    let reds = 0;
    for (let i = 0; i < 200; i++) if (near(pixel(moved, i), [0.8, 0, 0], 0.05)) reds++;
    expect(reds / 200).toBeGreaterThan(0.7);
    expect(reds / 200).toBeLessThan(0.8);
    expect(mixSamples([undefined, red], [1, 0])).toBeUndefined();
    expect(() => mixSamples([red], [1, 2])).toThrow(RangeError);
  });

  it('has nothing to match for an output with next to nothing drawn', () => {
    const target = foregroundSample(planar(64, () => [0.5, 0.2, 0.1]))!;
    const almostBlank = planar(100, (i) => (i < 3 ? [0.1, 0.1, 0.1] : [FOREGROUND_MAX, 1, 1]));
    expect(matchPalette(almostBlank, target)).toBeUndefined();
    expect(() => matchPalette(new Float32Array(10), target)).toThrow(RangeError);
    expect(() => matchPalette(planar(64, () => [0, 0, 0]), target, { iterations: 0 })).toThrow(RangeError);
  });
});
