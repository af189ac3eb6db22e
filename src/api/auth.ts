/**
 * Access control: API keys (`Authorization: Bearer <key>` or `X-API-Key`), one scope per route,
 * a per-key rate limit (a token bucket of `ratePerMinute`) and per-key daily quotas for searches
 * and generations (UTC days, counted in the key store so that a restart does not reset them).
 * Buckets and quotas live in the key store: this process's memory and SQLite by default, Redis
 * (shared by every API server) with `keys.store = redis`. A key store that cannot be reached
 * fails the request closed: 503 KEY_STORE_UNAVAILABLE, never an unchecked pass.
 *
 * Whether keys are required is decided per request (`authRequired`): `auth.required` when set,
 * else as soon as any key exists — created here or by `parasol keys create` in another process —
 * or when the server listens on a non-loopback address. Health, readiness, the API description,
 * `/` and the web app stay open.
 */
import type { Request, RequestHandler } from 'express';
import type { Config } from '../config.js';
import { createError, ParasolError } from '../errors.js';
import { utcDay, type ApiKey, type KeyService, type QuotaKind, type Scope } from '../services/keys.js';

interface RouteRule {
  method: string;
  pattern: string;
  regex: RegExp;
  scope: Scope;
  /** The daily quota a request to this route counts against. */
  quota?: QuotaKind;
}

/** Every API route and its scope; routes not listed (and outside /v1) are open. */
const RULES: ReadonlyArray<Omit<RouteRule, 'regex'>> = [
  { method: 'GET', pattern: '/v1/search', scope: 'search', quota: 'searches' },
  { method: 'POST', pattern: '/v1/search', scope: 'search', quota: 'searches' },
  { method: 'POST', pattern: '/v1/interpolate', scope: 'search', quota: 'searches' },
  { method: 'GET', pattern: '/v1/sources', scope: 'search' },
  { method: 'GET', pattern: '/v1/items/:id', scope: 'search' },
  { method: 'GET', pattern: '/v1/items/:id/thumbnail', scope: 'search' },
  { method: 'GET', pattern: '/v1/items/:id/similar', scope: 'search', quota: 'searches' },
  { method: 'POST', pattern: '/v1/items', scope: 'ingest' },
  { method: 'DELETE', pattern: '/v1/items/:id', scope: 'ingest' },
  { method: 'POST', pattern: '/v1/sessions', scope: 'search', quota: 'searches' },
  { method: 'GET', pattern: '/v1/sessions/:id', scope: 'search' },
  { method: 'POST', pattern: '/v1/sessions/:id/steps', scope: 'search', quota: 'searches' },
  { method: 'DELETE', pattern: '/v1/sessions/:id/steps/last', scope: 'search' },
  { method: 'POST', pattern: '/v1/sessions/:id/back', scope: 'search', quota: 'searches' },
  { method: 'GET', pattern: '/v1/sessions/:id/results', scope: 'search', quota: 'searches' },
  { method: 'DELETE', pattern: '/v1/sessions/:id', scope: 'search' },
  { method: 'POST', pattern: '/v1/generate', scope: 'generate', quota: 'generations' },
  { method: 'POST', pattern: '/v1/generate/grid', scope: 'generate', quota: 'generations' },
  { method: 'GET', pattern: '/v1/jobs/:id', scope: 'generate' },
  { method: 'GET', pattern: '/v1/jobs/:id/image', scope: 'generate' },
  { method: 'GET', pattern: '/v1/jobs/:id/cells/:cell', scope: 'generate' },
  { method: 'DELETE', pattern: '/v1/jobs/:id', scope: 'generate' },
  { method: 'GET', pattern: '/v1/stats', scope: 'admin' },
  { method: 'GET', pattern: '/metrics', scope: 'admin' },
  { method: 'POST', pattern: '/v1/admin/keys', scope: 'admin' },
  { method: 'GET', pattern: '/v1/admin/keys', scope: 'admin' },
  { method: 'DELETE', pattern: '/v1/admin/keys/:id', scope: 'admin' },
];

/** Routes anyone may call, whatever the mode. */
export const OPEN_ROUTES: readonly string[] = ['GET /healthz', 'GET /readyz', 'GET /v1/openapi.yaml', 'GET /'];

const ROUTES: readonly RouteRule[] = RULES.map((rule) => ({
  ...rule,
  // Case-insensitive and with an optional trailing slash, as express routes match.
  regex: new RegExp(`^${rule.pattern.replace(/\./g, '\\.').replace(/:\w+/g, '[^/]+')}/?$`, 'i'),
}));

/** Every route that needs a scope, as "METHOD /pattern". */
export const SCOPED_ROUTES: readonly string[] = RULES.map((rule) => `${rule.method} ${rule.pattern}`);

/** The rule for a request (HEAD as GET), or undefined when the route is not scoped. */
export function matchRoute(method: string, path: string): RouteRule | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  return ROUTES.find((rule) => rule.method === m && rule.regex.test(path));
}

/** What the auth middleware leaves in `res.locals.auth`. */
export interface RequestAuth {
  key?: ApiKey;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\]|::ffff:127(\.\d{1,3}){3})$/i;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host.trim());
}

/** Whether requests must carry a valid key right now. */
export async function authRequired(config: Config, keys: Pick<KeyService, 'hasAny'>): Promise<boolean> {
  if (config.auth.required !== undefined) return config.auth.required;
  if (await keys.hasAny()) return true;
  return !isLoopback(config.server.host) && !config.auth.allowOpen;
}

/**
 * Refuses a start that would serve the API to the network without keys by accident: a
 * non-loopback address needs a key to exist (or `auth.required`), else an explicit `--open`.
 */
export async function assertSafeBind(config: Config, keys: Pick<KeyService, 'hasAny'>): Promise<void> {
  const host = config.server.host;
  if (isLoopback(host) || config.auth.allowOpen) return;
  if (config.auth.required === false) {
    throw createError('CONFIG_INVALID', `auth.required is false but ${host} is not a loopback address; pass --open (auth.allowOpen) to serve without keys on purpose`);
  }
  if (config.auth.required === undefined && !(await keys.hasAny())) {
    throw createError(
      'CONFIG_INVALID',
      `${host} is not a loopback address and no API key exists: create one first ` +
        `(parasol keys create --name admin --scopes admin) or pass --open (auth.allowOpen) to serve without keys on purpose`,
    );
  }
}

/**
 * The key a request presents, or undefined when it presents none. Other Authorization schemes
 * (a proxy's Basic credentials) are not keys and are ignored.
 */
export function presentedKey(req: Request): string | undefined {
  const header = req.get('authorization');
  if (header !== undefined && /^Bearer(\s|$)/i.test(header)) return header.slice(6).trim();
  const apiKey = req.get('x-api-key');
  return apiKey === undefined ? undefined : apiKey.trim();
}

function withHeaders(error: ParasolError, headers: Record<string, string>): ParasolError {
  return new ParasolError(error.code, error.message, headers);
}

function secondsToUtcMidnight(now: number): number {
  const next = new Date(now);
  next.setUTCHours(24, 0, 0, 0);
  return Math.max(1, Math.ceil((next.getTime() - now) / 1000));
}

export interface AuthOptions {
  config: Config;
  keys: KeyService;
  now?: () => number;
}

export function authMiddleware(options: AuthOptions): RequestHandler {
  const { config, keys } = options;
  const now = options.now ?? Date.now;
  const unauthorized = (why: string) => withHeaders(createError('UNAUTHORIZED'), { 'WWW-Authenticate': `Bearer realm="parasol", error="invalid_token", error_description="${why}"` });

  return async (req, res, next) => {
    if (req.method === 'OPTIONS') return next();
    const rule = matchRoute(req.method, req.path);
    // Outside the table and outside /v1 (the web app, health): open, without asking the key store.
    const underV1 = /^\/v1(\/|$)/i.test(req.path) && !/^\/v1\/openapi\.yaml\/?$/i.test(req.path);
    if (!rule && !underV1) return next();
    const required = await authRequired(config, keys);
    const secret = presentedKey(req);
    // An unknown /v1 route while keys are required needs a key, any key, before the 404, so that
    // the route table is not probed anonymously.
    if (!rule && !required) return next();

    let key: ApiKey | undefined;
    if (secret !== undefined) {
      key = await keys.verify(secret);
      if (!key) return next(unauthorized('the key is unknown, malformed or revoked'));
    } else if (required) {
      return next(withHeaders(createError('UNAUTHORIZED'), { 'WWW-Authenticate': 'Bearer realm="parasol"' }));
    }
    (res.locals as { auth?: RequestAuth }).auth = { key };
    if (!key || !rule) return next();

    // With access control off anyone may call any route, so a key's scopes only bind when it is on.
    if (required && !key.scopes.includes(rule.scope)) return next(createError('FORBIDDEN', rule.scope));

    const t = now();
    const wait = await keys.takeToken(key.id, key.ratePerMinute, t);
    if (wait > 0) {
      return next(withHeaders(createError('RATE_LIMITED', wait), { 'Retry-After': String(wait) }));
    }
    if (rule.quota) {
      const limit = rule.quota === 'searches' ? key.dailySearches : key.dailyGenerations;
      const check = await keys.consume(key.id, rule.quota, limit, utcDay(t));
      if (!check.allowed) {
        const seconds = secondsToUtcMidnight(t);
        return next(
          withHeaders(createError('RATE_LIMITED', seconds), {
            'Retry-After': String(seconds),
            'X-Quota-Limit': String(check.limit),
            'X-Quota-Kind': rule.quota,
          }),
        );
      }
      if (check.limit !== null) res.set('X-Quota-Remaining', String(Math.max(0, check.limit - check.used)));
    }
    next();
  };
}
