/**
 * GenerationPayload ⇄ JSON-safe data, for queues that cross a process boundary (redis-queue.ts →
 * worker.ts). A payload holds Float32Array vectors and image bytes; JSON holds neither, so:
 *
 *   Float32Array → base64 of its IEEE-754 little-endian bytes (exact, whatever the host's byte order)
 *   Buffer / Uint8Array → base64 of the bytes (decoded as a Buffer)
 *
 * Everything else is copied as is, and absent optional fields stay absent, so
 * decode(JSON.parse(JSON.stringify(encode(p)))) equals p. decodePayload validates with zod before
 * building anything: a worker must not trust what it reads from Redis. The checks are structural
 * (and bound sizes); what a value means (steps ≤ T, finite non-zero vectors, …) is still the
 * Generator's to check, so a bad request fails there with the same BAD_REQUEST as in-process.
 *
 * `v` versions the format: a worker refuses a payload from a newer API server instead of guessing.
 */
import { z } from 'zod';
import type { ContentSource, GenerateRequest, StyleInput, StyleSource, WeightedStyle } from '../parasol/generate.js';
import type { GenerationPayload } from './generation.js';

export const PAYLOAD_FORMAT_VERSION = 1;

/** Bounds that no valid request comes near; they keep a corrupt payload from costing memory. */
const MAX_IMAGE_BASE64 = 96 * 1024 * 1024;
const MAX_VECTOR_FLOATS = 65_536;
const MAX_MIX = 64;
const MAX_GRID_SIDE = 64;
const MAX_ID = 1024;

const bytes64 = z.base64().max(MAX_IMAGE_BASE64);
const floats64 = z
  .base64()
  .max(Math.ceil((MAX_VECTOR_FLOATS * 4) / 3) + 4)
  .refine((text) => Buffer.byteLength(text, 'base64') % 4 === 0, 'not a whole number of float32 values');
const sourceId = z.string().max(MAX_ID).optional();

const encodedStyleInput = z.union([
  z.strictObject({ image: bytes64, id: sourceId }),
  z.strictObject({ vector: floats64, id: sourceId }),
]);
const encodedWeightedStyle = z.union([
  z.strictObject({ image: bytes64, id: sourceId, weight: z.number() }),
  z.strictObject({ vector: floats64, id: sourceId, weight: z.number() }),
]);
const encodedContent = z.union([
  z.strictObject({ semantic: floats64, image: bytes64.optional(), id: sourceId }),
  z.strictObject({ image: bytes64, id: sourceId }),
]);
const encodedRequest = z.strictObject({
  content: encodedContent,
  style: z.union([encodedStyleInput, z.strictObject({ mix: z.array(encodedWeightedStyle).max(MAX_MIX) })]),
  steps: z.number().optional(),
  lambda: z.number().optional(),
  guidance: z.strictObject({ style: z.number().optional(), content: z.number().optional() }).optional(),
  seed: z.number().optional(),
  colour: z.boolean().optional(),
});
const gridSide = z.number().int().min(1).max(MAX_GRID_SIDE);
const encodedPayloadSchema = z.discriminatedUnion('kind', [
  z.strictObject({ v: z.literal(PAYLOAD_FORMAT_VERSION), kind: z.literal('generate'), request: encodedRequest }),
  z
    .strictObject({
      v: z.literal(PAYLOAD_FORMAT_VERSION),
      kind: z.literal('grid'),
      rows: gridSide,
      cols: gridSide,
      requests: z.array(encodedRequest).min(1).max(MAX_GRID_SIDE * MAX_GRID_SIDE),
    })
    .refine((grid) => grid.requests.length === grid.rows * grid.cols, 'a grid needs rows × cols requests'),
]);

/** The JSON-safe form of a GenerationPayload. */
export type EncodedPayload = z.infer<typeof encodedPayloadSchema>;
type EncodedRequest = z.infer<typeof encodedRequest>;

/** A payload that does not decode: corrupt, foreign or from another format version. */
export class PayloadDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadDecodeError';
  }
}

export function encodePayload(payload: GenerationPayload): EncodedPayload {
  if (payload.kind === 'generate') return { v: PAYLOAD_FORMAT_VERSION, kind: 'generate', request: encodeRequest(payload.request) };
  return { v: PAYLOAD_FORMAT_VERSION, kind: 'grid', rows: payload.rows, cols: payload.cols, requests: payload.requests.map(encodeRequest) };
}

/** Validates untrusted data (e.g. read from Redis) and rebuilds the payload; PayloadDecodeError when it is not one. */
export function decodePayload(data: unknown): GenerationPayload {
  const parsed = encodedPayloadSchema.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 5).map((issue) => `${issue.path.join('.') || 'payload'}: ${issue.message}`);
    throw new PayloadDecodeError(`not a generation payload: ${problems.join('; ')}`);
  }
  const p = parsed.data;
  if (p.kind === 'generate') return { kind: 'generate', request: decodeRequest(p.request) };
  return { kind: 'grid', rows: p.rows, cols: p.cols, requests: p.requests.map(decodeRequest) };
}

// ---- requests ----

function encodeRequest(request: GenerateRequest): EncodedRequest {
  const { content, style, guidance, ...scalars } = request;
  return {
    content: encodeContent(content),
    style: 'mix' in style ? { mix: style.mix.map(encodeWeighted) } : encodeStyle(style),
    ...defined(scalars),
    ...(guidance !== undefined ? { guidance: defined(guidance) } : {}),
  };
}

function decodeRequest(request: EncodedRequest): GenerateRequest {
  const { content, style, guidance, ...scalars } = request;
  const decodedStyle: StyleSource = 'mix' in style ? { mix: style.mix.map(decodeWeighted) } : decodeStyle(style);
  return {
    content: decodeContent(content),
    style: decodedStyle,
    ...defined(scalars),
    ...(guidance !== undefined ? { guidance: defined(guidance) } : {}),
  };
}

function encodeContent(content: ContentSource): EncodedRequest['content'] {
  const id = content.id !== undefined ? { id: content.id } : {};
  if ('semantic' in content) {
    return { semantic: floatsToBase64(content.semantic), ...(content.image !== undefined ? { image: bytesToBase64(content.image) } : {}), ...id };
  }
  return { image: bytesToBase64(content.image), ...id };
}

function decodeContent(content: EncodedRequest['content']): ContentSource {
  const id = content.id !== undefined ? { id: content.id } : {};
  if ('semantic' in content) {
    return { semantic: base64ToFloats(content.semantic), ...(content.image !== undefined ? { image: base64ToBytes(content.image) } : {}), ...id };
  }
  return { image: base64ToBytes(content.image), ...id };
}

type EncodedStyleInput = z.infer<typeof encodedStyleInput>;
type EncodedWeightedStyle = z.infer<typeof encodedWeightedStyle>;

function encodeStyle(style: StyleInput): EncodedStyleInput {
  const id = style.id !== undefined ? { id: style.id } : {};
  return 'vector' in style ? { vector: floatsToBase64(style.vector), ...id } : { image: bytesToBase64(style.image), ...id };
}

function decodeStyle(style: EncodedStyleInput): StyleInput {
  const id = style.id !== undefined ? { id: style.id } : {};
  return 'vector' in style ? { vector: base64ToFloats(style.vector), ...id } : { image: base64ToBytes(style.image), ...id };
}

function encodeWeighted(style: WeightedStyle): EncodedWeightedStyle {
  return { ...encodeStyle(style), weight: style.weight };
}

function decodeWeighted(style: EncodedWeightedStyle): WeightedStyle {
  return { ...decodeStyle(style), weight: style.weight };
}

/** The object without its undefined-valued keys (JSON would drop them; a round trip must not add them). */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

// ---- binary values ----

function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function base64ToBytes(text: string): Buffer {
  return Buffer.from(text, 'base64');
}

function floatsToBase64(values: Float32Array): string {
  const out = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) out.writeFloatLE(values[i], i * 4);
  return out.toString('base64');
}

function base64ToFloats(text: string): Float32Array {
  const raw = Buffer.from(text, 'base64');
  const out = new Float32Array(raw.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = raw.readFloatLE(i * 4);
  return out;
}
