/**
 * CORS for the browser origins a deployment names (`cors.origins`, `PARASOL_CORS_ORIGINS`).
 * An allowed Origin is reflected (with `Vary: Origin`); `*` in the list allows any origin and is
 * sent as `*`. Credentials are never allowed: keys travel in headers, not cookies. A preflight
 * (OPTIONS with Access-Control-Request-Method) is answered here with 204, with the allowed
 * methods and headers for an allowed origin and without them for any other.
 */
import type { RequestHandler } from 'express';

export const CORS_METHODS = 'GET, POST, DELETE, OPTIONS';
export const CORS_ALLOWED_HEADERS = 'Authorization, X-API-Key, Content-Type, X-Request-Id';
export const CORS_EXPOSED_HEADERS = 'Retry-After, Location, X-Request-Id, X-Quota-Remaining, X-Quota-Limit, X-Quota-Kind';

/** `scheme://host[:port]` in lower case, without a trailing slash. */
function normalise(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase();
}

export interface CorsOptions {
  origins: readonly string[];
  maxAgeSeconds: number;
}

export function cors(options: CorsOptions): RequestHandler {
  const any = options.origins.includes('*');
  const allowed = new Set(options.origins.filter((o) => o !== '*').map(normalise));
  const enabled = any || allowed.size > 0;

  return (req, res, next) => {
    const origin = req.get('origin');
    const preflight = req.method === 'OPTIONS' && origin !== undefined && req.get('access-control-request-method') !== undefined;
    if (!enabled && !preflight) return next();
    if (enabled) res.vary('Origin');
    const ok = origin !== undefined && enabled && (any || allowed.has(normalise(origin)));
    if (ok) {
      res.set('Access-Control-Allow-Origin', any ? '*' : origin);
      res.set('Access-Control-Expose-Headers', CORS_EXPOSED_HEADERS);
    }
    if (!preflight) return next();
    if (ok) {
      res.set('Access-Control-Allow-Methods', CORS_METHODS);
      res.set('Access-Control-Allow-Headers', CORS_ALLOWED_HEADERS);
      res.set('Access-Control-Max-Age', String(options.maxAgeSeconds));
    }
    res.status(204).end();
  };
}
