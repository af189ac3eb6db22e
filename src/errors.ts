/**
 * The one catalog of error codes. Every failure a user can see is a ParasolError with a code
 * from here; HTTP handlers map it to `{error:{code,message}}` with the code's status, and the CLI
 * prints its message on one line and exits non-zero.
 */

const catalog = {
  BAD_REQUEST: { status: 400, template: '%s' },
  INVALID_QUERY: { status: 400, template: 'Invalid query: %s' },
  EMPTY_QUERY: { status: 400, template: 'The query has nothing to search for: give q, style, an image, an itemId or like items' },
  INVALID_CURSOR: { status: 400, template: 'The cursor is malformed or belongs to another query' },
  UNAUTHORIZED: { status: 401, template: 'A valid API key is required' },
  FORBIDDEN: { status: 403, template: 'This API key lacks the "%s" scope' },
  NOT_FOUND: { status: 404, template: '%s' },
  ITEM_NOT_FOUND: { status: 404, template: 'No item with id "%s"' },
  SESSION_NOT_FOUND: { status: 404, template: 'No refinement session with id "%s" (it may have expired)' },
  JOB_NOT_FOUND: { status: 404, template: 'No generation job with id "%s" (it may have expired)' },
  ROUTE_NOT_FOUND: { status: 404, template: 'No route %s' },
  CONFLICT: { status: 409, template: '%s' },
  JOB_NOT_FINISHED: { status: 409, template: 'Generation job "%s" is %s; its image is not ready' },
  PAYLOAD_TOO_LARGE: { status: 413, template: 'The request is larger than the limit of %s' },
  IMAGE_TOO_LARGE: { status: 413, template: 'The image has more pixels than the limit of %s' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, template: 'Unsupported media type: %s' },
  UNSUPPORTED_IMAGE: { status: 415, template: 'Not an image Parasol can read: %s' },
  UNPROCESSABLE: { status: 422, template: '%s' },
  NOTHING_TO_UNDO: { status: 422, template: 'The session has no step to undo' },
  RATE_LIMITED: { status: 429, template: 'Too many requests; retry after %s s' },
  QUEUE_FULL: { status: 429, template: 'The generation queue is full; retry after %s s' },
  INTERNAL: { status: 500, template: 'Internal error' },
  MODEL_PACK_INVALID: { status: 500, template: 'Model pack "%s" is invalid: %s' },
  DEVICE_UNAVAILABLE: { status: 500, template: '%s' },
  CONFIG_INVALID: { status: 500, template: 'Invalid configuration: %s' },
  STORE_CORRUPT: { status: 500, template: 'The data directory is inconsistent: %s' },
  NOT_READY: { status: 503, template: 'Not ready: %s' },
  GENERATION_UNAVAILABLE: { status: 503, template: 'Generation is not available: %s' },
  KEY_STORE_UNAVAILABLE: { status: 503, template: 'The API key store cannot be reached: %s' },
  TIMEOUT: { status: 503, template: 'The request was not answered within %s ms; retry later' },
} as const satisfies Record<string, { status: number; template: string }>;

export type ErrorCode = keyof typeof catalog;

export class ParasolError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra response headers (e.g. Retry-After). */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ParasolError';
    this.code = code;
    this.status = catalog[code].status;
    this.headers = headers;
  }
}

/** Builds an error from the code's template: each `%s` takes the next argument. */
export function createError(code: ErrorCode, ...args: Array<string | number>): ParasolError {
  let next = 0;
  const message = catalog[code].template.replace(/%s/g, () => String(args[next++] ?? ''));
  return new ParasolError(code, message);
}

export function statusOf(code: ErrorCode): number {
  return catalog[code].status;
}

export function isParasolError(error: unknown): error is ParasolError {
  return error instanceof ParasolError;
}
