/**
 * Queries as raw hnswlib-node takes them, built the cheapest way, for the benches that put the
 * raw index beside the engine (engine-profile.ts, fusion.ts): the raw side must not pay costs the
 * engine avoids, or the engine's overhead looks smaller than it is.
 */

/** A plain array (Array.from on a Float32Array goes through the iterator: ~10 µs at 256-d). */
export function plainArray(vector: Float32Array): number[] {
  const out = new Array<number>(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i];
  return out;
}

/** The equal-weight joint query [content, style]/2 (src/search/joint.ts's point for weights 1:1). */
export function jointArray(content: Float32Array, style: Float32Array): number[] {
  const out = new Array<number>(content.length + style.length);
  for (let i = 0; i < content.length; i++) out[i] = content[i] / 2;
  for (let i = 0; i < style.length; i++) out[content.length + i] = style[i] / 2;
  return out;
}
