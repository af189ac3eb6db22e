import { describe, expect, it } from 'vitest';
import { compareFused, fuseRrf, fuseWeighted, RRF_K, type Candidate } from '../../src/search/fusion.js';

const candidates: Candidate[] = [
  { seq: 1, scores: { content: 0.9, style: 0.1 } },
  { seq: 2, scores: { content: 0.5, style: 0.8 } },
  { seq: 3, scores: { content: 0.2, style: 0.9 } },
];

describe('weighted fusion', () => {
  it('is the weight-normalised sum of cosines, best first', () => {
    const fused = fuseWeighted(candidates, { content: 3, style: 1 });
    expect(fused.map((c) => c.seq)).toEqual([1, 2, 3]);
    expect(fused[0].score).toBeCloseTo(0.75 * 0.9 + 0.25 * 0.1, 12);
    expect(fused[0].explanation.method).toBe('weighted');
    expect(fused[0].explanation.parts.map((p) => p.contribution)).toEqual([0.75 * 0.9, 0.25 * 0.1]);
    expect(fused[0].explanation.summary).toContain('(content)');
  });

  it('uses only the modalities that take part', () => {
    const fused = fuseWeighted(
      candidates.map((c) => ({ seq: c.seq, scores: { content: null, style: c.scores.style } })),
      { style: 2 },
    );
    expect(fused.map((c) => c.seq)).toEqual([3, 2, 1]);
    expect(fused[0].score).toBeCloseTo(0.9, 12);
    expect(fused[0].scores.content).toBeNull();
    expect(fused[0].explanation.parts).toHaveLength(1);
  });

  it('breaks ties by seq so the order is total', () => {
    const tied: Candidate[] = [
      { seq: 9, scores: { content: 0.5, style: null } },
      { seq: 4, scores: { content: 0.5, style: null } },
    ];
    expect(fuseWeighted(tied, { content: 1 }).map((c) => c.seq)).toEqual([4, 9]);
    expect(compareFused({ score: 0.5, seq: 4 }, { score: 0.5, seq: 9 })).toBeLessThan(0);
  });

  it('rejects non-finite or negative weights and an empty set of modalities', () => {
    expect(() => fuseWeighted(candidates, { content: Number.NaN })).toThrow(RangeError);
    expect(() => fuseWeighted(candidates, { content: -1 })).toThrow(RangeError);
    expect(() => fuseWeighted(candidates, {})).toThrow(RangeError);
  });
});

describe('reciprocal-rank fusion', () => {
  it('sums w / (60 + rank) per modality', () => {
    const fused = fuseRrf(candidates, { content: 1, style: 1 });
    const bySeq = new Map(fused.map((c) => [c.seq, c]));
    // content ranks: 1, 2, 3; style ranks: 3, 2, 1
    expect(bySeq.get(1)?.score).toBeCloseTo(1 / (RRF_K + 1) + 1 / (RRF_K + 3), 12);
    expect(bySeq.get(2)?.score).toBeCloseTo(2 / (RRF_K + 2), 12);
    expect(bySeq.get(2)?.explanation.parts.map((p) => p.rank)).toEqual([2, 2]);
    expect(bySeq.get(2)?.explanation.summary).toContain(`1/(${RRF_K}+2)`);
  });

  it('follows the weights', () => {
    expect(fuseRrf(candidates, { content: 5, style: 1 })[0].seq).toBe(1);
    expect(fuseRrf(candidates, { content: 1, style: 5 })[0].seq).toBe(3);
  });

  it('gives nothing for a modality where a candidate has no cosine', () => {
    const fused = fuseRrf(
      [
        { seq: 1, scores: { content: 0.9, style: null } },
        { seq: 2, scores: { content: 0.1, style: 0.2 } },
      ],
      { content: 1, style: 1 },
    );
    const one = fused.find((c) => c.seq === 1);
    expect(one?.score).toBeCloseTo(1 / (RRF_K + 1), 12);
    expect(one?.explanation.parts[1].rank).toBeUndefined();
  });

  it('keeps the cosines for display', () => {
    const fused = fuseRrf(candidates, { content: 1 });
    expect(fused[0].scores).toEqual({ content: 0.9, style: 0.1 });
  });
});

describe('min-max fusion', () => {
  it('rescales each modality over the candidates so both weights count', async () => {
    const { fuseMinMax } = await import('../../src/search/fusion.js');
    // Content cosines spread widely, style cosines sit close together near 1.
    const candidates = [
      { seq: 1, scores: { content: 0.8, style: 0.95 } },
      { seq: 2, scores: { content: 0.5, style: 0.99 } },
      { seq: 3, scores: { content: 0.65, style: 0.97 } },
    ];
    const fused = fuseMinMax(candidates, { content: 1, style: 1 });
    // seq 1: 0.5×1 + 0.5×0 = 0.5; seq 2: 0.5×0 + 0.5×1 = 0.5; seq 3: 0.5×0.5 + 0.5×0.5 = 0.5
    expect(fused.map((c) => c.score)).toEqual([0.5, 0.5, 0.5].map((x) => expect.closeTo(x, 10)));
    const styleHeavy = fuseMinMax(candidates, { content: 1, style: 3 });
    expect(styleHeavy[0].seq).toBe(2);
    expect(styleHeavy[0].explanation.method).toBe('minmax');
    // no spread: every candidate gets the modality's full share
    const flat = fuseMinMax([{ seq: 1, scores: { content: 0.3, style: null } }, { seq: 2, scores: { content: 0.3, style: null } }], { content: 1 });
    expect(flat.map((c) => c.score)).toEqual([1, 1]);
  });
});
