/**
 * Edge validation shared by the routes: path ids, query strings and JSON bodies. Everything a
 * client sends is checked here or by the search package's zod schemas before it reaches a service.
 */
import type { Request } from 'express';
import { z } from 'zod';
import { createError } from '../errors.js';

/** Item and session ids in paths: demo ids look like `noto:1f600` or `noto:~eraser`, sessions are UUIDs. */
export const ID_PATTERN = /^[A-Za-z0-9._:~-]{1,128}$/;

export const idSchema = z.string().regex(ID_PATTERN, 'expected 1–128 characters of A-Z a-z 0-9 . _ : ~ -');

/** The `:id` path parameter, validated (an invalid id can name nothing, so it is a 404 like an unknown one). */
export function idParam(req: Request, notFound: 'ITEM_NOT_FOUND' | 'SESSION_NOT_FOUND'): string {
  const id = req.params.id;
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw createError(notFound, String(id ?? '').slice(0, 128));
  return id;
}

/**
 * A query-string value: one string. The query parser turns `?a=1&a=2` into an array and
 * `?a[b]=1` into an object; neither is a value any route takes.
 */
export const queryValue = z.string().max(2000);

/** A comma-separated list in a query string (`source=noto,twemoji`); blanks dropped. */
export const queryList = queryValue.transform((value) =>
  value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean),
);

/** Parses a route's query string with a strict schema (unknown parameters are a client bug worth reporting). */
export function parseQuery<S extends z.ZodType>(req: Request, schema: S): z.output<S> {
  return schema.parse(req.query ?? {});
}

/** `k` must respect the deployment's bound as well as the engine's own. */
export function assertK(k: unknown, maxK: number): void {
  if (k === undefined || k === null || k === '') return;
  const n = typeof k === 'string' ? Number(k) : k;
  if (typeof n === 'number' && Number.isFinite(n) && n > maxK) throw createError('INVALID_QUERY', `k: must be at most ${maxK}`);
}

/** The JSON body as a plain object (arrays and scalars are not requests). */
export function jsonObject(body: unknown, what = 'body'): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw createError('INVALID_QUERY', `${what}: expected a JSON object`);
  }
  return body as Record<string, unknown>;
}

/** Parses the JSON text of a multipart field; malformed JSON is a 400 like a malformed JSON body. */
export function jsonField(text: unknown, field: string): unknown {
  if (text === undefined) return undefined;
  if (typeof text !== 'string') throw createError('BAD_REQUEST', `The "${field}" field must be given once, as JSON text`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw createError('BAD_REQUEST', `The "${field}" field is not valid JSON`);
  }
}

export type BodyKind = 'json' | 'multipart';

/** Refuses a body of a type the route does not read (express.json would silently skip it). */
export function requireBodyType(req: Request, allowed: readonly BodyKind[]): BodyKind {
  if (allowed.includes('json') && req.is('application/json')) return 'json';
  if (allowed.includes('multipart') && req.is('multipart/form-data')) return 'multipart';
  const wanted = allowed.map((kind) => (kind === 'json' ? 'application/json' : 'multipart/form-data')).join(' or ');
  throw createError('UNSUPPORTED_MEDIA_TYPE', `${req.get('content-type') ?? 'no content type'} (expected ${wanted})`);
}
