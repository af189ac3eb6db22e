/**
 * Retrieval metrics, defined exactly as in models/mini/CARD.md so that the engine reproduces
 * the numbers the training run reported.
 */

/** Share of the top k that is relevant. */
export function precisionAt(ranked: boolean[], k: number): number {
  const top = ranked.slice(0, k);
  return top.filter(Boolean).length / k;
}

/** AP@k = Σ_{i≤k} P@i·rel_i / min(k, |relevant|). */
export function averagePrecisionAt(ranked: boolean[], k: number, relevantCount: number): number {
  if (relevantCount === 0) return 0;
  let hits = 0;
  let sum = 0;
  ranked.slice(0, k).forEach((relevant, i) => {
    if (!relevant) return;
    hits++;
    sum += hits / (i + 1);
  });
  return sum / Math.min(k, relevantCount);
}

/** |relevant ∩ top k| / min(k, |relevant|). */
export function recallAt(ranked: boolean[], k: number, relevantCount: number): number {
  if (relevantCount === 0) return 0;
  return ranked.slice(0, k).filter(Boolean).length / Math.min(k, relevantCount);
}

export function hitAt(ranked: boolean[], k: number): number {
  return ranked.slice(0, k).some(Boolean) ? 1 : 0;
}

export function mean(values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

/** 8×8×8 RGB histogram of an RGB(A) raster, L1-normalised (compared by cosine). */
export function colourHistogram(rgb: Uint8Array, channels: number): Float32Array {
  const bins = new Float32Array(512);
  const pixels = rgb.length / channels;
  for (let p = 0; p < pixels; p++) {
    const o = p * channels;
    bins[((rgb[o] >> 5) << 6) | ((rgb[o + 1] >> 5) << 3) | (rgb[o + 2] >> 5)] += 1;
  }
  for (let i = 0; i < bins.length; i++) bins[i] /= pixels;
  return bins;
}

/** A 16×16 RGB thumbnail of a square raster — the mean of each block — scaled to [0, 1] (compared by cosine). */
export function rawPixels(rgb: Uint8Array, side: number, channels: number): Float32Array {
  const block = side / 16;
  if (!Number.isInteger(block)) throw new RangeError(`raster side ${side} is not a multiple of 16`);
  const out = new Float32Array(16 * 16 * 3);
  for (let by = 0; by < 16; by++) {
    for (let bx = 0; bx < 16; bx++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let y = by * block; y < (by + 1) * block; y++) {
          for (let x = bx * block; x < (bx + 1) * block; x++) sum += rgb[(y * side + x) * channels + c];
        }
        out[(by * 16 + bx) * 3 + c] = sum / (block * block * 255);
      }
    }
  }
  return out;
}
