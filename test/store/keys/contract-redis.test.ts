/**
 * The key store contract on the Redis store over a real redis-server (skipped with a message when
 * there is none, unless PARASOL_REQUIRE_REDIS=1), and what only a shared store shows: one token
 * bucket for every server, and failing closed while Redis is away.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isParasolError, type ParasolError } from '../../../src/errors.js';
import { RedisKeyStore } from '../../../src/store/keys/redis.js';
import { redisServerBinary, startRedisServer, type RedisServer } from '../../support/redis-server.js';
import { keyStoreContract } from './contract.js';

const REDIS = redisServerBinary('contract-redis.test.ts');

describe.skipIf(!REDIS)('RedisKeyStore', () => {
  let server: RedisServer;
  let raw: Redis;

  beforeAll(async () => {
    server = await startRedisServer(REDIS!);
    raw = new Redis(server.url);
  });
  afterAll(async () => {
    raw?.disconnect();
    await server?.stop();
  });

  const storeOn = (prefix: string, timeoutMs?: number) => new RedisKeyStore({ url: server.url, prefix, timeoutMs });

  // Each test gets its own prefix on the one server: empty storage, as the contract expects.
  keyStoreContract('redis', async () => {
    const prefix = `test-${randomBytes(6).toString('hex')}`;
    const store = storeOn(prefix);
    return {
      store,
      another: async () => storeOn(prefix),
      async raw() {
        const names = await raw.keys(`${prefix}:*`);
        const parts: Buffer[] = [];
        for (const name of names) {
          const type = await raw.type(name);
          parts.push(Buffer.from(name));
          if (type === 'hash') parts.push(Buffer.from(JSON.stringify(await raw.hgetall(name))));
          if (type === 'zset') parts.push(Buffer.from(JSON.stringify(await raw.zrange(name, 0, -1, 'WITHSCORES'))));
        }
        return Buffer.concat(parts);
      },
      async dispose() {
        await store.close();
        const names = await raw.keys(`${prefix}:*`);
        if (names.length > 0) await raw.del(...names);
      },
    };
  });

  it('keeps its keys under <prefix>:keys:, apart from the rest of the deployment', async () => {
    const store = storeOn('layout');
    try {
      const { key } = await store.create({ name: 'x', scopes: ['search'] });
      await store.takeToken(key.id, 10, Date.now());
      await store.consume(key.id, 'searches', null, '2026-03-01');
      expect((await raw.keys('layout:*')).sort()).toEqual(
        [`layout:keys:b:${key.id}`, 'layout:keys:ids', `layout:keys:k:${key.id}`, `layout:keys:u:${key.id}:2026-03-01`].sort(),
      );
      expect(await raw.ttl(`layout:keys:u:${key.id}:2026-03-01`)).toBeGreaterThan(30 * 86_400);
      expect(await raw.pttl(`layout:keys:b:${key.id}`)).toBeGreaterThan(0); // a bucket goes once full again
      expect(await raw.ttl(`layout:keys:k:${key.id}`)).toBe(-1); // keys never expire
    } finally {
      await store.close();
    }
  });

  it('shares one token bucket between servers: a 30-per-minute key gets exactly 30 of 40 takes', async () => {
    const a = storeOn('bucket');
    const b = storeOn('bucket');
    try {
      const { key } = await a.create({ name: 'thirty', scopes: ['search'], ratePerMinute: 30 });
      const t = Date.now();
      const waits = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).takeToken(key.id, 30, t)));
      expect(waits.filter((w) => w === 0)).toHaveLength(30);
      expect(waits.filter((w) => w > 0)).toEqual(Array(10).fill(2)); // one token per 2 s
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('treats a malformed record as an unknown key', async () => {
    const store = storeOn('malformed');
    try {
      const { key, secret } = await store.create({ name: 'x', scopes: ['search'] });
      await raw.hset(`malformed:keys:k:${key.id}`, 'hash', 'not hex');
      expect(await store.verify(secret)).toBeUndefined();
      expect(await store.get(key.id)).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('fails closed with KEY_STORE_UNAVAILABLE (503, Retry-After) while Redis is away, and recovers when it is back', async () => {
    const own = await startRedisServer(REDIS!);
    const store = new RedisKeyStore({ url: own.url, prefix: 'outage', timeoutMs: 500 });
    try {
      const { key, secret } = await store.create({ name: 'x', scopes: ['search'] });
      expect((await store.verify(secret))?.id).toBe(key.id);
      await own.stop();

      const started = Date.now();
      const attempts: Array<Promise<unknown>> = [
        store.verify(secret),
        store.takeToken(key.id, 10, Date.now()),
        store.consume(key.id, 'searches', 5, '2026-03-01'),
        store.list(),
        store.create({ name: 'y', scopes: ['search'] }),
        store.revoke(key.id),
      ];
      for (const attempt of attempts) {
        const error = await attempt.then(() => undefined, (e: unknown) => e);
        expect(isParasolError(error), String(error)).toBe(true);
        expect((error as ParasolError).code).toBe('KEY_STORE_UNAVAILABLE');
        expect((error as ParasolError).status).toBe(503);
        expect((error as ParasolError).headers['Retry-After']).toMatch(/^\d+$/);
      }
      expect(Date.now() - started).toBeLessThan(10_000); // answered, never left hanging

      // Back on the same address (empty: this test server keeps nothing on disk).
      const back = await startRedisServer(REDIS!, { port: own.port });
      try {
        const deadline = Date.now() + 10_000;
        let answer: unknown;
        do {
          answer = await store.create({ name: 'z', scopes: ['search'] }).catch((e: unknown) => e);
          if (!isParasolError(answer)) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        } while (Date.now() < deadline);
        expect(isParasolError(answer), String(answer)).toBe(false);
        expect(await store.verify((answer as { secret: string }).secret)).toBeDefined();
      } finally {
        await store.close();
        await back.stop();
      }
    } finally {
      await store.close();
      await own.stop();
    }
  }, 30_000);
});
