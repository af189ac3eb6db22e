/**
 * A seeded PRNG for the sampler: xoshiro128** seeded through SplitMix32, with Box–Muller normals.
 *
 * Integer steps use Math.imul and 32-bit shifts only; the normals use Math.sqrt (exact under
 * IEEE 754) and Math.log/Math.cos/Math.sin, which V8 implements itself (a port of fdlibm) rather
 * than calling the platform's libm, so a seed gives the same bytes on every machine running Node.
 * Values are rounded to float32 once, where they are stored.
 */

export const MAX_SEED = 0xffff_ffff;

export interface Rng {
  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number;
  /** A uniform number in (0, 1]. */
  nextUniform(): number;
  /** A standard normal. */
  nextNormal(): number;
  /** Fills `out` with standard normals and returns it. */
  fillNormal(out: Float32Array): Float32Array;
}

/**
 * An independent generator per (seed, stream): the sampler draws its start noise, its per-step
 * noise and the inversion's noises from different streams, so adding one never shifts another.
 * `seed` is an integer in [0, 2^53); `stream` names the purpose.
 */
export function createRng(seed: number, stream: string | number = 0): Rng {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 0x1_0000_0000) >>> 0;
  let key = mix32(lo ^ 0x243f6a88);
  key = mix32(key ^ hi ^ 0x85a308d3);
  key = mix32(key ^ streamHash(stream));
  // SplitMix32 expands the key into the four state words (never all zero).
  let sm = key;
  const next = () => {
    sm = (sm + 0x9e3779b9) | 0;
    return mix32(sm);
  };
  let s0 = next();
  let s1 = next();
  let s2 = next();
  let s3 = next();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;

  let spare = 0;
  let hasSpare = false;

  function nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  }

  function nextUniform(): number {
    return (nextUint32() + 1) / 0x1_0000_0000;
  }

  function nextNormal(): number {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    const r = Math.sqrt(-2 * Math.log(nextUniform()));
    const theta = 2 * Math.PI * nextUniform();
    spare = r * Math.sin(theta);
    hasSpare = true;
    return r * Math.cos(theta);
  }

  return {
    nextUint32,
    nextUniform,
    nextNormal,
    fillNormal(out) {
      for (let i = 0; i < out.length; i++) out[i] = nextNormal();
      return out;
    },
  };
}

/** A seed for item `index` of a batch generated from `seed`: seed + index, wrapped to 32 bits. */
export function itemSeed(seed: number, index: number): number {
  return (seed + index) % (MAX_SEED + 1);
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The 32-bit finaliser of SplitMix32 / MurmurHash3. */
function mix32(x: number): number {
  let z = x | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

function streamHash(stream: string | number): number {
  if (typeof stream === 'number') {
    if (!Number.isInteger(stream)) throw new RangeError(`stream must be an integer or a string, got ${stream}`);
    return mix32(stream >>> 0);
  }
  // FNV-1a over UTF-16 code units.
  let h = 0x811c9dc5;
  for (let i = 0; i < stream.length; i++) h = Math.imul(h ^ stream.charCodeAt(i), 0x01000193);
  return mix32(h ^ 0x9e3779b9);
}
