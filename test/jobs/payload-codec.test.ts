import { describe, expect, it } from 'vitest';
import type { GenerateRequest } from '../../src/parasol/generate.js';
import type { GenerationPayload } from '../../src/jobs/generation.js';
import { decodePayload, encodePayload, PayloadDecodeError, type EncodedPayload } from '../../src/jobs/payload-codec.js';

/** Through JSON, as Redis carries it. */
const roundTrip = (payload: GenerationPayload) => decodePayload(JSON.parse(JSON.stringify(encodePayload(payload))));

/** Values whose bits a sloppy codec would change: -0, subnormals, extremes, non-round decimals. */
const awkward = Float32Array.from([0.1, -0, 1.401298464324817e-45, 3.4028234663852886e38, -1.1754943508222875e-38, 1 / 3, 42]);

function bitsOf(values: Float32Array): number[] {
  return Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
}

describe('payload codec', () => {
  it('round-trips a single request with vectors, image bytes and every option, bit for bit', () => {
    const image = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255]);
    const payload: GenerationPayload = {
      kind: 'generate',
      request: {
        content: { semantic: awkward, image, id: 'item-1' },
        style: { vector: Float32Array.from([1, 0, -0.5]), id: 'item-2' },
        steps: 20,
        lambda: 7,
        guidance: { style: 4.5, content: 0 },
        seed: 4294967295,
        colour: false,
      },
    };
    const back = roundTrip(payload);
    expect(back).toEqual(payload);
    const content = (back as { request: GenerateRequest }).request.content as { semantic: Float32Array; image: Buffer };
    expect(content.semantic).toBeInstanceOf(Float32Array);
    expect(bitsOf(content.semantic)).toEqual(bitsOf(awkward));
    expect(Buffer.isBuffer(content.image)).toBe(true);
  });

  it('round-trips a grid with style mixes and image-only sources, leaving absent options absent', () => {
    const a = Buffer.from('image a');
    const b = new Uint8Array([1, 2, 3, 4, 5]); // a Uint8Array comes back as a Buffer with the same bytes
    const requests: GenerateRequest[] = [
      { content: { image: a }, style: { mix: [{ image: a, weight: 0.25, id: 'x' }, { vector: Float32Array.from([0.5, 0.5]), weight: 0.75 }] } },
      { content: { semantic: Float32Array.from([1, 2]) }, style: { image: b }, guidance: { style: 2 } },
    ];
    const back = roundTrip({ kind: 'grid', rows: 1, cols: 2, requests });
    expect(back).toEqual({ kind: 'grid', rows: 1, cols: 2, requests: [requests[0], { ...requests[1], style: { image: Buffer.from(b) } }] });
    const second = (back as { requests: GenerateRequest[] }).requests[1];
    expect(Object.keys(second).sort()).toEqual(['content', 'guidance', 'style']);
    expect(Object.keys(second.guidance!)).toEqual(['style']);
  });

  it('encodes to JSON-safe data: strings, numbers and booleans only', () => {
    const encoded = encodePayload({ kind: 'generate', request: { content: { semantic: awkward }, style: { vector: awkward } } });
    expect(JSON.parse(JSON.stringify(encoded))).toEqual(encoded);
    expect(encoded).toMatchObject({ v: 1, kind: 'generate', request: { content: { semantic: expect.any(String) }, style: { vector: expect.any(String) } } });
  });

  it('refuses what is not a payload, with the reason', () => {
    const good = encodePayload({ kind: 'generate', request: { content: { semantic: Float32Array.from([1]) }, style: { vector: Float32Array.from([1]) } } });
    const request = (good as Extract<EncodedPayload, { kind: 'generate' }>).request;
    const bad: unknown[] = [
      null,
      'a string',
      { ...good, v: 2 },
      { ...good, kind: 'other' },
      { ...good, extra: true },
      { ...good, request: { ...request, content: {} } },
      { ...good, request: { ...request, content: { semantic: 'not base64!' } } },
      { ...good, request: { ...request, content: { semantic: Buffer.from([1, 2, 3]).toString('base64') } } }, // 3 bytes: not float32s
      { ...good, request: { ...request, style: { image: 'AAAA', vector: 'AAAAAA==' } } },
      { ...good, request: { ...request, steps: '20' } },
      { v: 1, kind: 'grid', rows: 2, cols: 2, requests: [request] },
      { v: 1, kind: 'grid', rows: 0, cols: 1, requests: [] },
    ];
    for (const data of bad) {
      expect(() => decodePayload(data), JSON.stringify(data)).toThrow(PayloadDecodeError);
    }
    expect(() => decodePayload({ ...good, v: 2 })).toThrow(/v: /);
  });
});
