/**
 * Weighted content + style queries through the joint index (IndexName 'joint'), which holds
 * [semantic, style]/√2 per item. For the query q = [a·q_content, b·q_style], a and b the two
 * weights' shares, the cosine of q with an item's point is
 *
 *   (a·cos_content + b·cos_style) / (√2·|q|)
 *
 * — the weighted fusion of the item's two cosines over a positive constant of the query. One
 * graph search therefore ranks by the fused score itself, instead of two searches whose lists must
 * go hundreds deep before their union holds the fused top 10.
 */
export interface JointQuery {
  /** The query point (the index normalises it). */
  vector: Float32Array;
  /** The fused score of a hit is its cosine × this. */
  scale: number;
}

export function jointQuery(content: Float32Array, style: Float32Array, weights: { content: number; style: number }): JointQuery {
  const total = weights.content + weights.style;
  if (!(total > 0)) throw new RangeError('a joint query needs a positive weight');
  const a = weights.content / total;
  const b = weights.style / total;
  const vector = new Float32Array(content.length + style.length);
  let squared = 0;
  for (let i = 0; i < content.length; i++) {
    const x = a * content[i];
    vector[i] = x;
    squared += x * x;
  }
  for (let i = 0; i < style.length; i++) {
    const x = b * style[i];
    vector[content.length + i] = x;
    squared += x * x;
  }
  return { vector, scale: Math.SQRT2 * Math.sqrt(squared) };
}
