/**
 * Request timeouts: node's own limits on slow clients (server.requestTimeout/headersTimeout from
 * `server.requestTimeoutMs`) and the search deadline, tested with a tiny timeout and an engine
 * that is slow on purpose.
 */
import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { applyTimeouts } from '../../src/api/server.js';
import { loadConfig } from '../../src/config.js';
import { openContext, type ParasolContext } from '../../src/context.js';
import { appDeps, expectError, PACK_DIR } from './helpers.js';

const TIMEOUT_MS = 150;

let dataDir: string;
let context: ParasolContext;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'parasol-timeouts-'));
  context = await openContext(loadConfig({ dataDir, packDir: PACK_DIR, device: 'cpu', threads: 1, server: { requestTimeoutMs: TIMEOUT_MS } }, {}));
});

afterAll(async () => {
  await context?.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** The context with an engine whose searches take `delayMs` longer. */
function slowContext(delayMs: number): ParasolContext {
  const engine = Object.create(context.engine) as ParasolContext['engine'];
  engine.search = async (query) => {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return context.engine.search(query);
  };
  return { ...context, engine };
}

describe('request timeouts', () => {
  it('reads server.requestTimeoutMs (default 30 s, PARASOL_REQUEST_TIMEOUT_MS)', () => {
    expect(loadConfig({}, {}).server.requestTimeoutMs).toBe(30_000);
    expect(loadConfig({}, { PARASOL_REQUEST_TIMEOUT_MS: '5000' }).server.requestTimeoutMs).toBe(5000);
  });

  it('sets node\'s request and header timeouts on the server', () => {
    const server = createServer();
    applyTimeouts(server, TIMEOUT_MS);
    expect(server.requestTimeout).toBe(TIMEOUT_MS);
    expect(server.headersTimeout).toBe(TIMEOUT_MS);
    applyTimeouts(server, 120_000);
    expect(server.headersTimeout).toBe(60_000);
  });

  it('answers a search that is too slow with 503 TIMEOUT and Retry-After, and drops the late answer', async () => {
    const app = createApp(appDeps(slowContext(TIMEOUT_MS * 3)));
    const res = await request(app).get('/v1/search').query({ q: 'a cat' });
    await expectError(res, 503, 'TIMEOUT');
    expect(res.headers['retry-after']).toBe('1');
    // The handler finishes later without a second response or a crash; the app still answers.
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS * 3));
    expect((await request(app).get('/healthz')).status).toBe(200);
  });

  it('answers searches in time as usual, and leaves other routes alone', async () => {
    const app = createApp(appDeps(slowContext(0)));
    const res = await request(app).get('/v1/search').query({ q: 'a cat' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await request(app).get('/healthz')).status).toBe(200);
  });
});
