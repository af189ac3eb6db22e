/**
 * Rocchio relevance feedback on one descriptor: q' = α·q + β·mean(like) − γ·mean(unlike), normalised.
 * The same update serves a one-shot search (like/unlike in the request) and every step of a
 * refinement session.
 */
import { normalize, weightedSum } from '../vectors.js';

export interface RocchioWeights {
  alpha: number;
  beta: number;
  gamma: number;
}

/** The textbook values: negatives pull far less than positives, since "not this" says little about "what". */
export const DEFAULT_ROCCHIO: RocchioWeights = { alpha: 1, beta: 0.75, gamma: 0.15 };

function mean(vectors: Float32Array[]): Float32Array {
  return weightedSum(vectors, vectors.map(() => 1 / vectors.length));
}

/**
 * The updated descriptor, or null when there is nothing to point towards (no base and no liked
 * item): unlike items alone do not define a direction — they are only excluded.
 */
export function rocchio(
  base: Float32Array | null,
  like: Float32Array[],
  unlike: Float32Array[],
  weights: RocchioWeights = DEFAULT_ROCCHIO,
): Float32Array | null {
  if (!base && like.length === 0) return null;
  if (!base && unlike.length === 0) return normalize(mean(like));
  const terms: Float32Array[] = [];
  const coefficients: number[] = [];
  if (base) {
    terms.push(base);
    coefficients.push(weights.alpha);
  }
  if (like.length > 0) {
    terms.push(mean(like));
    coefficients.push(weights.beta);
  }
  if (unlike.length > 0) {
    terms.push(mean(unlike));
    coefficients.push(-weights.gamma);
  }
  return normalize(weightedSum(terms, coefficients));
}
