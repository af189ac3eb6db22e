/**
 * API keys shared by API servers (README "Scale-out"): two `parasol serve` processes (the compiled
 * CLI) with PARASOL_KEY_STORE=redis on one real redis-server, as behind a load balancer. A key
 * created through server A works on B; a revocation on A is refused on B at once; a 30-per-minute
 * key sending 40 requests over both gets exactly 30 answers and 10 429s with Retry-After; with
 * Redis gone both fail closed (503 KEY_STORE_UNAVAILABLE) while health stays open. Skipped with a
 * message without redis-server, unless PARASOL_REQUIRE_REDIS=1.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStoreBuilt } from '../store/build-dist.js';
import { redisServerBinary, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { PACK_DIR } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const REDIS = redisServerBinary('keys-scale-out.test.ts');
const run = promisify(execFile);

interface ApiServer {
  url: string;
  child: ChildProcess;
  log: () => string;
}

/** Starts `parasol serve` and resolves once it logs the address it listens on. */
async function startApiServer(dataDir: string, env: Record<string, string>): Promise<ApiServer> {
  const child = spawn(process.execPath, [CLI, 'serve', '--no-demo', '--port', '0', '--data', dataDir], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not listen within 60 s:\n${log}`)), 60_000);
    const look = () => {
      const match = /"url":"(http:\/\/[^"]+)"/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stderr!.on('data', look);
    child.stdout!.on('data', look);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before listening:\n${log}`));
    });
  });
  return { url, child, log: () => log };
}

async function stopApiServer(server: ApiServer | undefined): Promise<void> {
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  const force = setTimeout(() => server.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(force);
}

describe.skipIf(!REDIS)('API keys shared by two API server processes over Redis', () => {
  let redis: RedisServer | undefined;
  let dir: string;
  let env: Record<string, string>;
  let a: ApiServer;
  let b: ApiServer;
  let admin: string;

  const call = (server: ApiServer, route: string, secret?: string, init: RequestInit = {}) =>
    fetch(`${server.url}${route}`, {
      ...init,
      headers: { ...(secret ? { Authorization: `Bearer ${secret}` } : {}), ...(init.body ? { 'Content-Type': 'application/json' } : {}) },
    });
  const search = (server: ApiServer, secret: string) => call(server, '/v1/search?q=cat&k=1', secret);
  const createKey = async (server: ApiServer, body: Record<string, unknown>) => {
    const res = await call(server, '/v1/admin/keys', admin, { method: 'POST', body: JSON.stringify(body) });
    expect(res.status).toBe(201);
    return (await res.json()) as { key: { id: string }; secret: string };
  };

  beforeAll(async () => {
    ensureStoreBuilt(ROOT, ['src/cli.ts', 'src/api/server.ts', 'src/api/auth.ts', 'src/api/routes/keys.ts', 'src/store/keys/redis.ts', 'src/store/keys/index.ts', 'src/context.ts']);
    redis = await startRedisServer(REDIS!);
    dir = await mkdtemp(path.join(tmpdir(), 'parasol-keys-scale-'));
    env = {
      PARASOL_KEY_STORE: 'redis',
      REDIS_URL: redis.url,
      PARASOL_REDIS_PREFIX: 'keys-scale',
      PARASOL_PACK: PACK_DIR,
      PARASOL_DEVICE: 'cpu',
      PARASOL_THREADS: '1',
    };
    // The first admin key, as an operator makes it: the CLI with the servers' environment.
    const created = await run(process.execPath, [CLI, 'keys', 'create', '--name', 'ops', '--scopes', 'admin', '--json', '--data', path.join(dir, 'cli')], {
      env: { ...process.env, ...env },
    });
    admin = (JSON.parse(created.stdout) as { secret: string }).secret;
    [a, b] = await Promise.all([startApiServer(path.join(dir, 'a'), env), startApiServer(path.join(dir, 'b'), env)]);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([stopApiServer(a), stopApiServer(b)]);
    await redis?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('accepts on server B a key created through server A, and lists it on both', async () => {
    expect((await search(a, admin)).status).toBe(403); // the CLI's admin key is known to both, with its scopes
    const { key, secret } = await createKey(a, { name: 'shop', scopes: ['search'] });
    const onB = await search(b, secret);
    expect(onB.status, await onB.clone().text()).toBe(200);
    const listed = (await (await call(b, '/v1/admin/keys', admin)).json()) as { keys: Array<{ id: string; usageToday: { searches: number } }> };
    expect(listed.keys.find((k) => k.id === key.id)?.usageToday.searches).toBe(1);
    expect((await search(b, 'psk_0123456789abcdef_' + 'x'.repeat(43))).status).toBe(401);
  });

  it('refuses on server B, within a second, a key revoked on server A', async () => {
    const { key, secret } = await createKey(a, { name: 'to revoke', scopes: ['search'] });
    expect((await search(b, secret)).status).toBe(200);
    const revoked = await call(a, `/v1/admin/keys/${key.id}`, admin, { method: 'DELETE' });
    expect(revoked.status).toBe(200);
    const at = Date.now();
    let status = 0;
    while (Date.now() - at < 1000 && (status = (await search(b, secret)).status) !== 401) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(status).toBe(401);
    expect(Date.now() - at).toBeLessThan(1000);
  });

  it('gives a 30-per-minute key exactly 30 of 40 requests split over both servers, and 429 with Retry-After for the rest', async () => {
    const { key, secret } = await createKey(b, { name: 'thirty', scopes: ['search'], ratePerMinute: 30 });
    const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => search(i % 2 === 0 ? a : b, secret)));
    const statuses = responses.map((res) => res.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(30);
    const limited = responses.filter((res) => res.status === 429);
    expect(limited).toHaveLength(10);
    for (const res of limited) {
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
    }
    // Both servers answered some of the 30, and the daily count is one for the deployment.
    expect(statuses.filter((s, i) => s === 200 && i % 2 === 0).length).toBeGreaterThan(0);
    expect(statuses.filter((s, i) => s === 200 && i % 2 === 1).length).toBeGreaterThan(0);
    const listed = (await (await call(a, '/v1/admin/keys', admin)).json()) as { keys: Array<{ id: string; usageToday: { searches: number } }> };
    expect(listed.keys.find((k) => k.id === key.id)?.usageToday.searches).toBe(30);
  });

  it('fails closed with 503 KEY_STORE_UNAVAILABLE on both servers while Redis is away; health stays open', async () => {
    const { secret } = await createKey(a, { name: 'outage', scopes: ['search'] });
    await redis!.stop();
    redis = undefined;
    for (const server of [a, b]) {
      for (const res of [await search(server, secret), await call(server, '/v1/admin/keys', admin)]) {
        expect(res.status, server.log().slice(-2000)).toBe(503);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('KEY_STORE_UNAVAILABLE');
      }
      expect((await call(server, '/healthz')).status).toBe(200);
    }
  });
});
