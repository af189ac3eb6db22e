import { describe, expect, it } from 'vitest';
import { isParasolError } from '../../src/errors.js';
import { decodeCursor, encodeCursor, fingerprintOf } from '../../src/search/cursor.js';
import { parseInterpolateRequest, parseSearchRequest, searchRequestSchema } from '../../src/search/query.js';
import { rocchio } from '../../src/search/rocchio.js';
import { dot, normalize } from '../../src/vectors.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isParasolError(error) ? error.code : `not a ParasolError: ${String(error)}`;
  }
  return undefined;
}

describe('search request schema', () => {
  it('fills the defaults', () => {
    const request = parseSearchRequest({ q: ' a cat ' });
    expect(request).toMatchObject({ q: 'a cat', weights: { content: 1, style: 1 }, fusion: 'weighted', k: 24, explain: false });
  });

  it('accepts numeric strings (query strings) for k and weights', () => {
    const request = parseSearchRequest({ q: 'cat', k: '10' as unknown as number, weights: { content: '0.5' as unknown as number, style: 2 } });
    expect(request.k).toBe(10);
    expect(request.weights).toEqual({ content: 0.5, style: 2, text: 1 });
  });

  it.each([
    ['NaN weight', { q: 'cat', weights: { content: Number.NaN, style: 1 } }],
    ['infinite weight', { q: 'cat', weights: { content: Number.POSITIVE_INFINITY, style: 1 } }],
    ['"NaN" string', { q: 'cat', weights: { content: 'NaN', style: 1 } }],
    ['negative weight', { q: 'cat', weights: { content: -1, style: 1 } }],
    ['both weights 0', { q: 'cat', weights: { content: 0, style: 0 } }],
    ['k 0', { q: 'cat', k: 0 }],
    ['k 101', { q: 'cat', k: 101 }],
    ['k 2.5', { q: 'cat', k: 2.5 }],
    ['q too long', { q: 'x'.repeat(501) }],
    ['51 like ids', { like: { style: Array.from({ length: 51 }, (_, i) => `id${i}`) } }],
    ['unknown field', { q: 'cat', colour: 'red' }],
    ['unknown fusion', { q: 'cat', fusion: 'max' }],
    ['keywords not text', { q: 'cat', filters: { keywords: ['a'] } }],
  ])('rejects %s with INVALID_QUERY', (_name, input) => {
    expect(codeOf(() => parseSearchRequest(input as never))).toBe('INVALID_QUERY');
  });

  it('names the offending field', () => {
    expect(() => parseSearchRequest({ q: 'cat', k: 1000 })).toThrow(/k:/);
  });

  it('rejects a request with nothing to search for as EMPTY_QUERY', () => {
    expect(codeOf(() => parseSearchRequest({}))).toBe('EMPTY_QUERY');
    expect(codeOf(() => parseSearchRequest({ q: '   ' }))).toBe('EMPTY_QUERY');
    expect(codeOf(() => parseSearchRequest({ unlike: { content: ['x'] } }))).toBe('EMPTY_QUERY');
  });

  it('takes uploaded images beside the JSON fields', () => {
    const request = parseSearchRequest({ contentImage: Buffer.from('cat|ink') });
    expect(request.contentImage).toBeInstanceOf(Buffer);
    expect(codeOf(() => parseSearchRequest({ styleImage: Buffer.alloc(0) }))).toBe('INVALID_QUERY');
    // the JSON schema alone does not know about images
    expect(searchRequestSchema.safeParse({ contentImage: 'x' }).success).toBe(false);
  });

  it('validates interpolation requests', () => {
    expect(parseInterpolateRequest({ content: { a: { text: 'cat' }, b: { itemId: 'x' } }, t: 0.5 }).method).toBe('slerp');
    expect(codeOf(() => parseInterpolateRequest({ content: { a: { text: 'cat' }, b: { text: 'dog' } }, t: 1.5 }))).toBe('INVALID_QUERY');
    expect(codeOf(() => parseInterpolateRequest({ t: 0.5 }))).toBe('EMPTY_QUERY');
  });
});

describe('cursors', () => {
  it('round-trip their position for the same query', () => {
    const fingerprint = fingerprintOf({ q: 'cat', weights: { content: 1, style: 1 } });
    const cursor = encodeCursor(fingerprint, { offset: 24, last: { score: 0.123456789, seq: 42 } });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, fingerprint)).toEqual({ offset: 24, last: { score: 0.123456789, seq: 42 } });
  });

  it('fingerprints independently of key order and hash byte arrays', () => {
    expect(fingerprintOf({ a: 1, b: [2, 3] })).toBe(fingerprintOf({ b: [2, 3], a: 1 }));
    expect(fingerprintOf({ v: new Float32Array([1, 2]) })).toBe(fingerprintOf({ v: new Float32Array([1, 2]) }));
    expect(fingerprintOf({ v: new Float32Array([1, 2]) })).not.toBe(fingerprintOf({ v: new Float32Array([1, 3]) }));
  });

  it('refuses a cursor of another query, or garbage, as INVALID_CURSOR', () => {
    const cursor = encodeCursor(fingerprintOf({ q: 'cat' }), { offset: 5, last: { score: 0.5, seq: 1 } });
    expect(codeOf(() => decodeCursor(cursor, fingerprintOf({ q: 'dog' })))).toBe('INVALID_CURSOR');
    expect(codeOf(() => decodeCursor('not a cursor!', 'x'))).toBe('INVALID_CURSOR');
    expect(codeOf(() => decodeCursor(Buffer.from('{"v":1}').toString('base64url'), 'x'))).toBe('INVALID_CURSOR');
    expect(codeOf(() => decodeCursor(Buffer.from('[1,2]').toString('base64url'), 'x'))).toBe('INVALID_CURSOR');
  });
});

describe('rocchio', () => {
  const q = normalize(new Float32Array([1, 0, 0]));
  const like = [normalize(new Float32Array([0, 1, 0]))];
  const unlike = [normalize(new Float32Array([0, 0, 1]))];

  it('is α·q + β·mean(like) − γ·mean(unlike), normalised', () => {
    const updated = rocchio(q, like, unlike, { alpha: 1, beta: 0.5, gamma: 0.25 });
    const expected = normalize(new Float32Array([1, 0.5, -0.25]));
    expect(Array.from(updated as Float32Array)).toEqual(Array.from(expected));
  });

  it('is the mean of the liked items when there is no base', () => {
    const a = normalize(new Float32Array([1, 0, 0]));
    const b = normalize(new Float32Array([0, 1, 0]));
    const updated = rocchio(null, [a, b], []) as Float32Array;
    expect(dot(updated, normalize(new Float32Array([1, 1, 0])))).toBeCloseTo(1, 6);
  });

  it('has no direction from unlike items alone', () => {
    expect(rocchio(null, [], unlike)).toBeNull();
  });
});

describe('hostile shapes never throw anything but INVALID_QUERY', () => {
  it('rejects non-objects and malformed interpolation endpoints', async () => {
    const { parseSearchRequest, parseInterpolateRequest } = await import('../../src/search/query.js');
    for (const bad of [null, 'x', 42, []]) {
      expect(() => parseSearchRequest(bad as never)).toThrow(expect.objectContaining({ code: 'INVALID_QUERY' }));
      expect(() => parseInterpolateRequest(bad as never)).toThrow(expect.objectContaining({ code: 'INVALID_QUERY' }));
    }
    for (const content of ['x', { a: 'x', b: 1 }, { a: null, b: null }, []]) {
      expect(() => parseInterpolateRequest({ content, t: 0.5 } as never)).toThrow(expect.objectContaining({ code: 'INVALID_QUERY' }));
    }
  });
});
