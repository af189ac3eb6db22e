/**
 * The one place an error becomes a response: `{error:{code,message}}` with the code's status.
 * Anything not recognised is a 500 whose details go to the log, never to the client.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import type { Config } from '../config.js';
import { createError, isParasolError, ParasolError } from '../errors.js';
import type { Logger } from '../log.js';
import { invalidQuery } from '../search/query.js';

export interface ErrorBody {
  error: { code: string; message: string };
}

/** body-parser marks its errors with a `type`; these are the ones a client causes. */
interface BodyParserError {
  type: string;
  status?: number;
  charset?: string;
  encoding?: string;
}

function isBodyParserError(error: unknown): error is BodyParserError {
  return typeof error === 'object' && error !== null && typeof (error as { type?: unknown }).type === 'string';
}

function fromBodyParser(error: BodyParserError, config: Config): ParasolError | undefined {
  switch (error.type) {
    case 'entity.parse.failed':
      return createError('BAD_REQUEST', 'The body is not valid JSON');
    case 'entity.too.large':
      return createError('PAYLOAD_TOO_LARGE', `${config.limits.jsonBytes} bytes`);
    case 'encoding.unsupported':
      return createError('UNSUPPORTED_MEDIA_TYPE', `content encoding "${error.encoding ?? ''}"`);
    case 'charset.unsupported':
      return createError('UNSUPPORTED_MEDIA_TYPE', `charset "${error.charset ?? ''}"`);
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return createError('BAD_REQUEST', 'The body could not be read');
    default:
      return undefined;
  }
}

/**
 * Middleware outside ours (the router decoding a malformed `%` escape in a path, static files)
 * marks client errors with a 4xx `status`. Their messages are not ours to pass on.
 */
function fromClientStatus(error: unknown): ParasolError | undefined {
  const status = (error as { status?: unknown; statusCode?: unknown } | null)?.status ?? (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  if (status === 413) return createError('PAYLOAD_TOO_LARGE', 'the server allows');
  if (status === 415) return createError('UNSUPPORTED_MEDIA_TYPE', 'the request body');
  if (status === 404) return createError('NOT_FOUND', 'Not found');
  return createError('BAD_REQUEST', 'The request is malformed');
}

/** The catalogued error for anything thrown, or undefined when it is an internal failure. */
export function toParasolError(error: unknown, config: Config): ParasolError | undefined {
  if (isParasolError(error)) return error;
  if (error instanceof z.ZodError) {
    const invalid = invalidQuery(error);
    return isParasolError(invalid) ? invalid : createError('INVALID_QUERY', invalid.message);
  }
  if (isBodyParserError(error)) return fromBodyParser(error, config) ?? fromClientStatus(error);
  return fromClientStatus(error);
}

export function errorHandler(config: Config, logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) return next(error);
    const known = toParasolError(error, config);
    const failure = known ?? createError('INTERNAL');
    if (!known) {
      logger.error('request failed', {
        method: req.method,
        path: req.path,
        error: error instanceof Error ? error.message : String(error),
        stack: error instanceof Error ? error.stack : undefined,
      });
    }
    res.status(failure.status).set(failure.headers);
    const body: ErrorBody = { error: { code: failure.code, message: failure.message } };
    res.json(body);
  };
}

export const routeNotFound: RequestHandler = (req, _res, next) => {
  next(createError('ROUTE_NOT_FOUND', `${req.method} ${req.path}`.slice(0, 300)));
};
