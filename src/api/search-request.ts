/**
 * Reads a search request from a POST body: JSON (the engine's SearchRequest shape), or multipart
 * with that JSON in a `query` field beside optional `contentImage` and `styleImage` files.
 * Sessions start from the same request, so both routes read it here.
 */
import type { Request } from 'express';
import type { Config } from '../config.js';
import { createError } from '../errors.js';
import { searchRequestSchema, type SearchRequestInput } from '../search/query.js';
import { filesOf, multipart, sniffImage } from './uploads.js';
import { assertK, jsonField, jsonObject, requireBodyType } from './validate.js';

export const SEARCH_IMAGE_FIELDS = ['contentImage', 'styleImage'] as const;

/** Reads a finished generation job's PNG (JOB_NOT_FOUND / JOB_NOT_FINISHED otherwise). */
export type JobImageReader = (jobId: string) => Promise<Buffer>;
/** The app.locals key under which createApp puts the JobImageReader for `jobId` queries. */
export const JOB_IMAGE_READER = 'parasolJobImage';

/** The multipart parser for search-shaped requests (one file per image field). */
export function searchMultipart(config: Config) {
  return multipart(
    config,
    SEARCH_IMAGE_FIELDS.map((name) => ({ name, maxCount: 1 })),
  );
}

export async function readSearchRequest(req: Request, config: Config): Promise<SearchRequestInput> {
  const kind = requireBodyType(req, ['json', 'multipart']);
  const raw = kind === 'json' ? req.body : multipartQuery(req);
  const fields = jsonObject(raw, kind === 'json' ? 'body' : 'query');
  for (const name of SEARCH_IMAGE_FIELDS) {
    if (name in fields) throw createError('INVALID_QUERY', `${name}: upload images as multipart files, not in JSON`);
  }
  const request: SearchRequestInput = searchRequestSchema.parse(fields);
  assertK(request.k, config.search.maxK);
  if (kind === 'multipart') {
    for (const name of SEARCH_IMAGE_FIELDS) {
      const [file] = filesOf(req, name);
      if (file) request[name] = await sniffImage(file, config.limits.maxPixels);
    }
  }
  if (request.jobId !== undefined) {
    if (request.contentImage || request.styleImage) throw createError('INVALID_QUERY', 'jobId: give a job or uploaded images, not both');
    const read = req.app.locals[JOB_IMAGE_READER] as JobImageReader | undefined;
    if (!read) throw createError('GENERATION_UNAVAILABLE', 'this server keeps no generation jobs');
    // The generated picture is both the content and the style query (weights pick what counts).
    const png = await read(request.jobId);
    request.contentImage = png;
    request.styleImage = png;
    delete request.jobId;
  }
  return request;
}

function multipartQuery(req: Request): unknown {
  const fields = jsonObject(req.body, 'form');
  const unexpected = Object.keys(fields).find((name) => name !== 'query');
  if (unexpected) throw createError('BAD_REQUEST', `Unexpected form field "${unexpected.slice(0, 100)}" (expected "query")`);
  return jsonField(fields.query, 'query') ?? {};
}
