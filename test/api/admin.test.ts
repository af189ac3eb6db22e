import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { OPENAPI_PATH } from '../../src/api/openapi.js';
import type { ParasolContext } from '../../src/context.js';
import type { Logger } from '../../src/log.js';
import { appDeps, DEMO_ITEMS, expectError, openTestApi, registeredRoutes, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  api = await openTestApi();
});
afterAll(() => api?.close());

/** "METHOD /path" for every operation in openapi.yaml, with paths in express' `:param` syntax. */
async function documentedRoutes(): Promise<string[]> {
  const text = await readFile(OPENAPI_PATH, 'utf8');
  const paths = text.slice(text.indexOf('\npaths:\n'), text.indexOf('\ncomponents:\n'));
  const routes: string[] = [];
  let current: string | undefined;
  for (const line of paths.split('\n')) {
    const pathMatch = /^ {2}(\/\S*):\s*$/.exec(line);
    if (pathMatch) current = pathMatch[1].replace(/\{(\w+)\}/g, ':$1');
    const methodMatch = /^ {4}(get|post|put|patch|delete|head|options):\s*$/.exec(line);
    if (methodMatch && current) routes.push(`${methodMatch[1].toUpperCase()} ${current}`);
  }
  return routes;
}

describe('health, readiness and stats', () => {
  it('/healthz answers ok', async () => {
    const res = await request(api.app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('/readyz follows the ready flag and the store', async () => {
    expect((await request(api.app).get('/readyz')).status).toBe(200);
    api.ready.value = false;
    try {
      await expectError(await request(api.app).get('/readyz'), 503, 'NOT_READY');
    } finally {
      api.ready.value = true;
    }
  });

  it('/v1/stats reports the catalog, the indices, the pack and the text cache', async () => {
    await request(api.app).get('/v1/search').query({ q: 'warm up the text cache' });
    const res = await request(api.app).get('/v1/stats');
    expect(res.status).toBe(200);
    expect(res.body.pack).toBe(api.context.encoders.packName);
    expect(res.body.provider).toBe('cpu');
    expect(res.body.catalog.items).toBeGreaterThanOrEqual(DEMO_ITEMS - 1);
    expect(res.body.indices.semantic).toBe(res.body.catalog.items);
    expect(res.body.indices.style).toBe(res.body.catalog.items);
    expect(res.body.textCache.misses).toBeGreaterThan(0);
    expect(res.body.dims).toEqual({ semantic: api.context.encoders.semanticDim, style: api.context.encoders.styleDim });
  });
});

describe('the contract', () => {
  it('serves openapi.yaml', async () => {
    const res = await request(api.app).get('/v1/openapi.yaml');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/yaml/);
    expect(res.text).toMatch(/^openapi: 3\.1\.\d/);
    const root = await request(api.app).get('/');
    expect(root.body.openapi).toBe('/v1/openapi.yaml');
  });

  it('documents every registered route, and registers every documented one', async () => {
    const registered = registeredRoutes(api.app);
    const documented = await documentedRoutes();
    expect(registered.length).toBeGreaterThanOrEqual(17);
    expect([...registered].sort()).toEqual([...new Set(documented)].sort());
  });
});

describe('the web app', () => {
  it('is served at / when built, with index.html for client-side routes, and the API untouched', async () => {
    const webDir = await mkdtemp(path.join(tmpdir(), 'parasol-web-'));
    try {
      await writeFile(path.join(webDir, 'index.html'), '<!doctype html><title>Parasol</title>');
      await writeFile(path.join(webDir, 'app.js'), 'console.log(1)');
      const app = createApp(appDeps(api.context, { webDir }));
      const root = await request(app).get('/').set('Accept', 'text/html');
      expect(root.status).toBe(200);
      expect(root.text).toContain('<title>Parasol</title>');
      expect((await request(app).get('/app.js')).headers['content-type']).toMatch(/javascript/);
      expect((await request(app).get('/search/cats').set('Accept', 'text/html')).text).toContain('Parasol');
      await expectError(await request(app).get('/v1/nothing').set('Accept', 'text/html'), 404, 'ROUTE_NOT_FOUND');
      expect((await request(app).get('/healthz')).body).toEqual({ status: 'ok' });
    } finally {
      await rm(webDir, { recursive: true, force: true });
    }
  });
});

describe('errors', () => {
  it('answers unknown routes with 404 ROUTE_NOT_FOUND', async () => {
    await expectError(await request(api.app).get('/v1/nothing-here'), 404, 'ROUTE_NOT_FOUND');
    await expectError(await request(api.app).put('/v1/search'), 404, 'ROUTE_NOT_FOUND');
    await expectError(await request(api.app).get('/v2/search?q=cat'), 404, 'ROUTE_NOT_FOUND');
  });

  it('answers a malformed escape in a path with 400, not 500', async () => {
    await expectError(await request(api.app).get('/v1/items/%E0%A4%A'), 400, 'BAD_REQUEST');
    await expectError(await request(api.app).delete('/v1/sessions/%ZZ'), 400, 'BAD_REQUEST');
  });

  it('does not advertise the framework and marks responses nosniff', async () => {
    const res = await request(api.app).get('/healthz');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('turns an unexpected failure into 500 INTERNAL, logged but never leaked', async () => {
    const logged: Array<Record<string, unknown> | undefined> = [];
    const logger: Logger = { info() {}, warn() {}, error: (_message, fields) => logged.push(fields) };
    const broken = {
      ...api.context,
      logger,
      engine: {
        search: () => {
          throw new Error('secret detail at /srv/parasol/engine.js:42');
        },
      },
    } as unknown as ParasolContext;
    const res = await request(createApp(appDeps(broken))).get('/v1/search').query({ q: 'cat' });
    await expectError(res, 500, 'INTERNAL');
    expect(JSON.stringify(res.body)).not.toContain('secret');
    expect(logged).toHaveLength(1);
    expect(String(logged[0]?.error)).toContain('secret detail');
  });
});
