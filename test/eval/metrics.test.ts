import { describe, expect, it } from 'vitest';
import { averagePrecisionAt, colourHistogram, hitAt, precisionAt, rawPixels, recallAt } from '../../src/eval/metrics.js';

describe('retrieval metrics', () => {
  const ranked = [true, false, true, false, false, false, false, false, false, true];

  it('computes P@10, AP@10, R@10 and hit@10 as CARD.md defines them', () => {
    expect(precisionAt(ranked, 10)).toBeCloseTo(0.3);
    // AP@10 = (1/1 + 2/3 + 3/10) / min(10, 4)
    expect(averagePrecisionAt(ranked, 10, 4)).toBeCloseTo((1 + 2 / 3 + 3 / 10) / 4);
    expect(recallAt(ranked, 10, 4)).toBeCloseTo(3 / 4);
    expect(recallAt(ranked, 10, 30)).toBeCloseTo(3 / 10);
    expect(hitAt([false, false], 10)).toBe(0);
    expect(hitAt(ranked, 1)).toBe(1);
    expect(averagePrecisionAt(ranked, 10, 0)).toBe(0);
  });

  it('builds an L1-normalised 8×8×8 histogram and a 16×16 block-mean thumbnail', () => {
    const side = 32;
    const rgb = new Uint8Array(side * side * 3);
    for (let p = 0; p < side * side; p++) {
      const left = p % side < side / 2;
      rgb.set(left ? [255, 255, 255] : [200, 10, 40], p * 3);
    }
    const histogram = colourHistogram(rgb, 3);
    expect(histogram.reduce((a, b) => a + b, 0)).toBeCloseTo(1);
    expect(histogram[(7 << 6) | (7 << 3) | 7]).toBeCloseTo(0.5);
    expect(histogram[(6 << 6) | (0 << 3) | 1]).toBeCloseTo(0.5);
    const thumb = rawPixels(rgb, side, 3);
    expect(thumb).toHaveLength(768);
    expect(thumb[0]).toBeCloseTo(1);
    expect(thumb[15 * 3]).toBeCloseTo(200 / 255);
    expect(() => rawPixels(rgb.subarray(0, 30 * 30 * 3), 30, 3)).toThrow(RangeError);
  });
});
