/**
 * Access control (keys, scopes, rate limits, daily quotas), CORS, /metrics and request ids, over
 * the real API and a real key store (SQLite in the test's data dir).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { assertSafeBind, OPEN_ROUTES, SCOPED_ROUTES } from '../../src/api/auth.js';
import { startServer } from '../../src/api/server.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { ParasolContext } from '../../src/context.js';
import { isParasolError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { SqliteKeyStore } from '../../src/store/keys/sqlite.js';
import { appDeps, expectError, openTestApi, PACK_DIR, registeredRoutes, type TestApi } from './helpers.js';

let api: TestApi;
/** One minute before a UTC midnight, so that a quota's reset is a short step away. */
const clock = { t: Date.parse('2026-03-01T23:59:00.000Z') };
const now = () => clock.t;

beforeAll(async () => {
  api = await openTestApi();
});
afterAll(() => api?.close());

type ConfigChange = { [K in keyof Config]?: Partial<Config[K]> };

function contextWith(change: ConfigChange, extra: Partial<ParasolContext> = {}): ParasolContext {
  const base = api.context.config;
  const config = { ...base } as Record<string, unknown>;
  for (const [name, value] of Object.entries(change)) config[name] = { ...(base as Record<string, unknown>)[name] as object, ...value };
  return { ...api.context, config: config as Config, ...extra };
}

function appWith(change: ConfigChange = {}, extra: Partial<ParasolContext> = {}) {
  return createApp(appDeps(contextWith(change, extra), { now }));
}

const bearer = (secret: string) => ({ Authorization: `Bearer ${secret}` });

describe('with no key', () => {
  it('runs open on a loopback address, /metrics included', async () => {
    expect(await api.context.keys.hasAny()).toBe(false);
    const app = appWith();
    expect((await request(app).get('/v1/search').query({ q: 'cat', k: 3 })).status).toBe(200);
    expect((await request(app).get('/v1/stats')).status).toBe(200);
    const metrics = await request(app).get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
  });

  it('requires keys on a non-loopback address unless auth.allowOpen says otherwise', async () => {
    await expectError(await request(appWith({ server: { host: '0.0.0.0' } })).get('/v1/search?q=cat'), 401, 'UNAUTHORIZED');
    expect((await request(appWith({ server: { host: '0.0.0.0' }, auth: { allowOpen: true } })).get('/v1/search?q=cat')).status).toBe(200);
    await expectError(await request(appWith({ auth: { required: true } })).get('/v1/search?q=cat'), 401, 'UNAUTHORIZED');
    // A proxy's Basic credentials are not a key: ignored while access control is off.
    expect((await request(appWith()).get('/v1/search?q=cat&k=1').set('Authorization', 'Basic Zm9vOmJhcg==')).status).toBe(200);
  });

  it('refuses to start on a non-loopback address without keys unless --open', async () => {
    const code = async (fn: () => Promise<void>) => {
      try {
        await fn();
        return 'ok';
      } catch (error) {
        return isParasolError(error) ? error.code : String(error);
      }
    };
    const keys = SqliteKeyStore.open(':memory:');
    try {
      const config = (host: string, auth: Record<string, unknown> = {}) => loadConfig({ server: { host }, auth }, {});
      expect(await code(() => assertSafeBind(config('127.0.0.1'), keys))).toBe('ok');
      expect(await code(() => assertSafeBind(config('::1'), keys))).toBe('ok');
      expect(await code(() => assertSafeBind(config('localhost'), keys))).toBe('ok');
      expect(await code(() => assertSafeBind(config('0.0.0.0'), keys))).toBe('CONFIG_INVALID');
      expect(await code(() => assertSafeBind(config('::'), keys))).toBe('CONFIG_INVALID');
      expect(await code(() => assertSafeBind(config('0.0.0.0', { required: false }), keys))).toBe('CONFIG_INVALID');
      expect(await code(() => assertSafeBind(config('0.0.0.0', { allowOpen: true }), keys))).toBe('ok');
      expect(await code(() => assertSafeBind(config('0.0.0.0', { required: true }), keys))).toBe('ok');
      await keys.create({ name: 'admin', scopes: ['admin'] });
      expect(await code(() => assertSafeBind(config('0.0.0.0'), keys))).toBe('ok');
    } finally {
      await keys.close();
    }

    // The real start: refused before any model is loaded.
    const dataDir = await mkdtemp(path.join(tmpdir(), 'parasol-bind-'));
    try {
      const config = loadConfig({ dataDir, packDir: PACK_DIR, device: 'cpu', server: { host: '0.0.0.0', port: 0 } }, {});
      await expect(startServer(config, { demo: false })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/--open/) });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('with the shared key store unreachable', () => {
  it('starts, keeps health and the API description open, and fails every keyed route closed with 503 KEY_STORE_UNAVAILABLE', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'parasol-keys-down-'));
    // Nothing listens on port 1: Redis is "away" for the whole test.
    const config = loadConfig(
      { dataDir, packDir: PACK_DIR, device: 'cpu', server: { port: 0 }, keys: { store: 'redis', redisTimeoutMs: 500 }, redis: { url: 'redis://127.0.0.1:1' } },
      {},
    );
    const running = await startServer(config, { demo: false });
    try {
      for (const route of ['/healthz', '/v1/openapi.yaml']) expect((await fetch(`${running.url}${route}`)).status, route).toBe(200);
      const secret = `psk_0123456789abcdef_${'x'.repeat(43)}`;
      for (const [route, headers] of [
        ['/v1/search?q=cat', {}],
        ['/v1/search?q=cat', { Authorization: `Bearer ${secret}` }],
        ['/v1/admin/keys', { Authorization: `Bearer ${secret}` }],
      ] as const) {
        const res = await fetch(`${running.url}${route}`, { headers });
        expect(res.status, route).toBe(503);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('KEY_STORE_UNAVAILABLE');
      }
    } finally {
      await running.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('with keys', () => {
  let admin: string;
  let searcher: { id: string; secret: string };
  let app: ReturnType<typeof appWith>;

  beforeAll(async () => {
    admin = (await api.context.keys.create({ name: 'ops', scopes: ['admin'] })).secret;
    const created = await api.context.keys.create({ name: 'shop', scopes: ['search'] });
    searcher = { id: created.key.id, secret: created.secret };
    app = appWith();
  });

  it('requires a valid key once one exists: none, unknown, malformed or wrong are 401', async () => {
    const none = await request(app).get('/v1/search').query({ q: 'cat' });
    await expectError(none, 401, 'UNAUTHORIZED');
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    await expectError(await request(app).get('/v1/search?q=cat').set(bearer(`psk_0123456789abcdef_${'x'.repeat(43)}`)), 401, 'UNAUTHORIZED');
    await expectError(await request(app).get('/v1/search?q=cat').set('X-API-Key', 'not-a-key'), 401, 'UNAUTHORIZED');
    await expectError(await request(app).get('/v1/search?q=cat').set('Authorization', 'Basic Zm9vOmJhcg=='), 401, 'UNAUTHORIZED');
    await expectError(await request(app).get('/v1/search?q=cat').set(bearer(searcher.secret.slice(0, -2))), 401, 'UNAUTHORIZED');
    // Express matches routes case-insensitively and with a trailing slash; so does access control.
    await expectError(await request(app).get('/V1/SEARCH').query({ q: 'cat' }), 401, 'UNAUTHORIZED');
    await expectError(await request(app).get('/v1/search/').query({ q: 'cat' }), 401, 'UNAUTHORIZED');
    await expectError(await request(app).get('/METRICS'), 401, 'UNAUTHORIZED');
    await expectError(await request(app).get('/v1/admin/keys/'), 401, 'UNAUTHORIZED');
    // Unknown /v1 routes need a key too (no anonymous probing), then are 404.
    await expectError(await request(app).get('/v1/nothing'), 401, 'UNAUTHORIZED');
    await expectError(await request(app).get('/v1/nothing').set(bearer(searcher.secret)), 404, 'ROUTE_NOT_FOUND');
  });

  it('accepts a key as a bearer token or in X-API-Key', async () => {
    expect((await request(app).get('/v1/search?q=cat&k=2').set(bearer(searcher.secret))).status).toBe(200);
    expect((await request(app).get('/v1/search?q=cat&k=2').set('X-API-Key', searcher.secret)).status).toBe(200);
    expect((await request(app).get(`/v1/items/${encodeURIComponent(api.ids[0])}`).set('X-API-Key', searcher.secret)).status).toBe(200);
  });

  it('keeps health, readiness and the API description open', async () => {
    for (const route of ['/healthz', '/readyz', '/v1/openapi.yaml', '/']) expect((await request(app).get(route)).status, route).toBe(200);
  });

  it('answers 403 for a key without the route scope', async () => {
    await expectError(await request(app).post('/v1/generate').set(bearer(searcher.secret)).send({}), 403, 'FORBIDDEN');
    await expectError(await request(app).delete(`/v1/items/${encodeURIComponent(api.ids[0])}`).set(bearer(searcher.secret)), 403, 'FORBIDDEN');
    await expectError(await request(app).get('/v1/stats').set(bearer(searcher.secret)), 403, 'FORBIDDEN');
    await expectError(await request(app).get('/metrics').set(bearer(searcher.secret)), 403, 'FORBIDDEN');
    await expectError(await request(app).get('/v1/admin/keys').set(bearer(searcher.secret)), 403, 'FORBIDDEN');
    await expectError(await request(app).get('/v1/search?q=cat').set(bearer(admin)), 403, 'FORBIDDEN');
    expect((await request(app).get('/v1/stats').set(bearer(admin))).status).toBe(200);
  });

  it('creates, lists and revokes keys over the admin routes; secrets appear once and are never listed', async () => {
    const created = await request(app).post('/v1/admin/keys').set(bearer(admin)).send({ name: 'partner', scopes: ['search', 'generate'], dailySearches: 5 });
    expect(created.status).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store');
    const { key, secret } = created.body as { key: { id: string }; secret: string };
    expect(secret).toMatch(/^psk_[0-9a-f]{16}_/);
    expect(created.body.key).toMatchObject({ name: 'partner', scopes: ['search', 'generate'], ratePerMinute: 600, dailySearches: 5, dailyGenerations: null, revokedAt: null, usageToday: { searches: 0, generations: 0 } });

    const listed = await request(app).get('/v1/admin/keys').set(bearer(admin));
    expect(listed.status).toBe(200);
    expect(listed.body.keys.map((k: { id: string }) => k.id)).toContain(key.id);
    const text = JSON.stringify(listed.body);
    expect(text).not.toContain(secret.slice(secret.indexOf('_', 'psk_'.length) + 1));
    expect(text).not.toMatch(/"(secret|hash|salt)"/);

    expect((await request(app).get('/v1/search?q=cat&k=1').set(bearer(secret))).status).toBe(200);
    const revoked = await request(app).delete(`/v1/admin/keys/${key.id}`).set(bearer(admin));
    expect(revoked.status).toBe(200);
    expect(revoked.body.key.revokedAt).toEqual(expect.any(String));
    // At once: the very next request.
    await expectError(await request(app).get('/v1/search?q=cat&k=1').set(bearer(secret)), 401, 'UNAUTHORIZED');
    await expectError(await request(app).delete('/v1/admin/keys/0000000000000000').set(bearer(admin)), 404, 'NOT_FOUND');
    await expectError(await request(app).post('/v1/admin/keys').set(bearer(admin)).send({ name: 'x', scopes: ['root'] }), 400, 'INVALID_QUERY');
    await expectError(await request(app).post('/v1/admin/keys').set(bearer(admin)).send({ name: 'x', scopes: ['search'], secret: 'mine' }), 400, 'INVALID_QUERY');
  });

  it('sees a revocation made by another process (the CLI) at once', async () => {
    const { key, secret } = await api.context.keys.create({ name: 'cli-revoked', scopes: ['search'] });
    expect((await request(app).get('/v1/search?q=cat&k=1').set(bearer(secret))).status).toBe(200);
    const other = SqliteKeyStore.open(api.context.config.dataDir);
    try {
      await other.revoke(key.id);
    } finally {
      await other.close();
    }
    await expectError(await request(app).get('/v1/search?q=cat&k=1').set(bearer(secret)), 401, 'UNAUTHORIZED');
  });

  it('rate-limits per key with Retry-After, refilling over the minute', async () => {
    const limited = (await api.context.keys.create({ name: 'slow', scopes: ['search'], ratePerMinute: 3 })).secret;
    const fresh = appWith();
    const item = `/v1/items/${encodeURIComponent(api.ids[1])}`;
    for (let i = 0; i < 3; i++) expect((await request(fresh).get(item).set(bearer(limited))).status).toBe(200);
    const res = await request(fresh).get(item).set(bearer(limited));
    await expectError(res, 429, 'RATE_LIMITED');
    expect(res.headers['retry-after']).toBe('20');
    // Other keys are not affected.
    expect((await request(fresh).get(item).set(bearer(searcher.secret))).status).toBe(200);
    clock.t += 20_000;
    expect((await request(fresh).get(item).set(bearer(limited))).status).toBe(200);
    await expectError(await request(fresh).get(item).set(bearer(limited)), 429, 'RATE_LIMITED');
    clock.t -= 20_000;
  });

  it('enforces daily quotas per UTC day, with Retry-After until midnight, and resets them the next day', async () => {
    const saved = clock.t;
    try {
      const quota = (await api.context.keys.create({ name: 'metered', scopes: ['search', 'generate'], dailySearches: 2, dailyGenerations: 0 })).secret;
      const first = await request(app).get('/v1/search?q=cat&k=1').set(bearer(quota));
      expect(first.status).toBe(200);
      expect(first.headers['x-quota-remaining']).toBe('1');
      expect((await request(app).get(`/v1/items/${encodeURIComponent(api.ids[0])}/similar?k=1`).set(bearer(quota))).status).toBe(200);
      const spent = await request(app).get('/v1/search?q=cat&k=1').set(bearer(quota));
      await expectError(spent, 429, 'RATE_LIMITED');
      expect(spent.headers['retry-after']).toBe('60'); // 23:59:00 → midnight
      expect(spent.headers['x-quota-kind']).toBe('searches');
      // Non-search reads do not count.
      expect((await request(app).get(`/v1/items/${encodeURIComponent(api.ids[0])}`).set(bearer(quota))).status).toBe(200);
      const generation = await request(app).post('/v1/generate').set(bearer(quota)).send({});
      await expectError(generation, 429, 'RATE_LIMITED');
      expect(generation.headers['x-quota-kind']).toBe('generations');

      clock.t = Date.parse('2026-03-02T00:00:01.000Z');
      expect((await request(app).get('/v1/search?q=cat&k=1').set(bearer(quota))).status).toBe(200);
      const listed = await request(app).get('/v1/admin/keys').set(bearer(admin));
      const metered = listed.body.keys.find((k: { name: string }) => k.name === 'metered');
      expect(metered.usageToday).toEqual({ searches: 1, generations: 0 });
    } finally {
      clock.t = saved;
    }
  });

  it('scopes every registered route or leaves it deliberately open', () => {
    const known = new Set([...SCOPED_ROUTES, ...OPEN_ROUTES]);
    const unscoped = registeredRoutes(app).filter((route) => !known.has(route));
    expect(unscoped).toEqual([]);
  });

  it('logs a request id and the key id, never the key', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger: Logger = { info: (_m, fields) => lines.push(fields ?? {}), warn() {}, error() {} };
    const logged = appWith({}, { logger });
    const res = await request(logged).get('/v1/search?q=cat&k=1').set(bearer(searcher.secret)).set('X-Request-Id', 'shop-42.a:b_c');
    expect(res.headers['x-request-id']).toBe('shop-42.a:b_c');
    expect(lines.at(-1)).toMatchObject({ requestId: 'shop-42.a:b_c', keyId: searcher.id, status: 200, route: '/v1/search', path: '/v1/search' });
    expect(JSON.stringify(lines)).not.toContain(searcher.secret.slice(searcher.secret.indexOf('_', 'psk_'.length) + 1));

    const generated = await request(logged).get('/healthz').set('X-Request-Id', 'no spaces allowed <script>');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect((await request(logged).get('/healthz')).headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines.at(-1)?.keyId).toBeUndefined();
  });

  it('exposes /metrics to admin keys only, by route pattern and status', async () => {
    await expectError(await request(app).get('/metrics'), 401, 'UNAUTHORIZED');
    await request(app).get(`/v1/items/${encodeURIComponent(api.ids[2])}`).set(bearer(searcher.secret));
    await request(app).get('/v1/search?q=cat');
    const res = await request(app).get('/metrics').set(bearer(admin));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.text;
    expect(text).toMatch(/parasol_http_requests_total\{method="GET",route="\/v1\/items\/:id",status="200"\} \d+/);
    expect(text).toMatch(/parasol_http_requests_total\{method="GET",route="\/v1\/search",status="401"\} \d+/);
    expect(text).toMatch(/parasol_http_request_duration_seconds_bucket\{le="0\.1",method="GET",route="\/v1\/items\/:id",status="200"\} \d+/);
    expect(text).not.toContain(encodeURIComponent(api.ids[2])); // patterns, never raw paths
    const items = (await api.context.store.catalog.stats()).items;
    expect(text).toContain(`parasol_catalog_items ${items}`);
    expect(text).toContain(`parasol_index_vectors{index="semantic"} ${items}`);
    expect(text).toContain(`parasol_index_vectors{index="style"} ${items}`);
    expect(text).toContain('parasol_generation_queue_jobs{state="queued"} 0');
    expect(text).toMatch(/parasol_text_cache\{kind="misses"\} \d+/);
    // The demo items were encoded in this process: the image towers' time is on record.
    expect(text).toMatch(/parasol_model_inference_seconds\{model="[a-z_]*image[a-z_]*"\} [\d.e-]+/);
    expect(text).toMatch(/parasol_model_inference_calls\{model="[a-z_]*image[a-z_]*"\} [1-9]\d*/);
    expect(text).toContain('# TYPE parasol_generation_jobs_total counter');
    expect(text).toMatch(/parasol_process_resident_memory_bytes \d+/);
  });
});

describe('CORS', () => {
  const origin = 'https://shop.example';

  it('reflects an allowed origin, never with credentials, and ignores others', async () => {
    const app = appWith({ cors: { origins: [origin, 'https://other.example/'] }, auth: { required: false } });
    const allowed = await request(app).get('/healthz').set('Origin', origin);
    expect(allowed.headers['access-control-allow-origin']).toBe(origin);
    expect(allowed.headers['access-control-allow-credentials']).toBeUndefined();
    expect(allowed.headers.vary).toMatch(/Origin/);
    expect(allowed.headers['access-control-expose-headers']).toMatch(/Retry-After/);
    expect((await request(app).get('/healthz').set('Origin', 'https://other.example')).headers['access-control-allow-origin']).toBe('https://other.example');
    const denied = await request(app).get('/healthz').set('Origin', 'https://evil.example');
    expect(denied.status).toBe(200);
    expect(denied.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers preflight requests before access control, with methods and headers for allowed origins only', async () => {
    const app = appWith({ cors: { origins: [origin] }, auth: { required: true } });
    const preflight = await request(app).options('/v1/search').set('Origin', origin).set('Access-Control-Request-Method', 'POST').set('Access-Control-Request-Headers', 'authorization, content-type');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(origin);
    expect(preflight.headers['access-control-allow-methods']).toMatch(/POST/);
    expect(preflight.headers['access-control-allow-headers']).toMatch(/Authorization/);
    expect(preflight.headers['access-control-allow-headers']).toMatch(/X-API-Key/);
    expect(preflight.headers['access-control-max-age']).toBe('600');
    const denied = await request(app).options('/v1/search').set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'POST');
    expect(denied.status).toBe(204);
    expect(denied.headers['access-control-allow-origin']).toBeUndefined();
    expect(denied.headers['access-control-allow-methods']).toBeUndefined();
    // The actual request still needs its key; the error carries the CORS headers so the page can read it.
    const unauthorized = await request(app).get('/v1/search?q=cat').set('Origin', origin);
    await expectError(unauthorized, 401, 'UNAUTHORIZED');
    expect(unauthorized.headers['access-control-allow-origin']).toBe(origin);
  });

  it('sends no CORS headers when no origin is configured', async () => {
    const res = await request(appWith({ auth: { required: false } })).get('/healthz').set('Origin', origin);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('reads PARASOL_CORS_ORIGINS and the auth switches from the environment', () => {
    const config = loadConfig({}, { PARASOL_CORS_ORIGINS: 'https://a.example, https://b.example,', PARASOL_AUTH_REQUIRED: 'false', PARASOL_ALLOW_OPEN: '1' });
    expect(config.cors.origins).toEqual(['https://a.example', 'https://b.example']);
    expect(config.auth).toEqual({ required: false, allowOpen: true });
    expect(loadConfig({}, {}).auth).toEqual({ allowOpen: false });
    expect(loadConfig({}, {}).cors.origins).toEqual([]);
  });
});
