/**
 * Opaque, stable pagination cursors.
 *
 * A cursor is base64url JSON of the query's fingerprint and the position after the last result
 * served: its (score, seq) key and the running offset. Pages continue strictly after that key in
 * the total order (score desc, seq asc), so pages are disjoint even if deeper candidate pools are
 * fetched for later pages; the offset only sizes those pools. The fingerprint ties a cursor to
 * the query that issued it.
 */
import { createHash } from 'node:crypto';
import { createError } from '../errors.js';

export interface CursorPosition {
  offset: number;
  last: { score: number; seq: number };
}

interface CursorPayload {
  v: 1;
  f: string;
  o: number;
  s: number;
  q: number;
}

/**
 * JSON with sorted keys, written straight to a string (building a sorted copy of the basis first
 * cost more than hashing it); byte arrays (images, vectors) become a placeholder with their length
 * and their bytes go to `binary`, in order, to be hashed after the JSON: exact, and one hash per
 * query (a digest per vector cost more than the rest of the fingerprint). Undefined fields are left
 * out and undefined array items are null, as JSON.stringify does.
 */
function canonicalJson(value: unknown, binary: Uint8Array[]): string {
  if (value instanceof Float32Array || value instanceof Uint8Array) {
    binary.push(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    return `{"bytes":${value.byteLength},"kind":"${value instanceof Float32Array ? 'f32' : 'u8'}"}`;
  }
  if (Array.isArray(value)) {
    let json = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) json += ',';
      json += value[i] === undefined ? 'null' : canonicalJson(value[i], binary);
    }
    return `${json}]`;
  }
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    let json = '{';
    for (const key of Object.keys(record).sort()) {
      const field = record[key];
      if (field === undefined) continue;
      if (json.length > 1) json += ',';
      json += `${JSON.stringify(key)}:${canonicalJson(field, binary)}`;
    }
    return `${json}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A short digest of everything that determines a query's ranking. */
export function fingerprintOf(basis: unknown): string {
  const binary: Uint8Array[] = [];
  const hash = createHash('sha256').update(canonicalJson(basis, binary));
  for (const bytes of binary) hash.update(bytes);
  return hash.digest('base64url').slice(0, 22);
}

export function encodeCursor(fingerprint: string, position: CursorPosition): string {
  const payload: CursorPayload = { v: 1, f: fingerprint, o: position.offset, s: position.last.score, q: position.last.seq };
  return Buffer.from(JSON.stringify(payload)).toString('base64url');
}

/** The position a cursor encodes; INVALID_CURSOR when it is malformed or was issued for another query. */
export function decodeCursor(cursor: string, fingerprint: string): CursorPosition {
  let payload: Partial<CursorPayload>;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('not base64url');
    payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorPayload>;
  } catch {
    throw createError('INVALID_CURSOR');
  }
  const valid =
    payload !== null &&
    typeof payload === 'object' &&
    payload.v === 1 &&
    payload.f === fingerprint &&
    Number.isInteger(payload.o) &&
    (payload.o as number) > 0 &&
    typeof payload.s === 'number' &&
    Number.isFinite(payload.s) &&
    Number.isInteger(payload.q);
  if (!valid) throw createError('INVALID_CURSOR');
  return { offset: payload.o as number, last: { score: payload.s as number, seq: payload.q as number } };
}
