import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SearchEngine } from '../../src/search/engine.js';
import { currentSnapshot, RefineSessions } from '../../src/search/refine.js';
import { decodeSession, encodeSession, RedisSessionStore } from '../../src/search/redis-session-store.js';
import { redisServerBinary, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { FakeEncoders, openCorpusStore, type TestStore } from './helpers.js';

const REDIS = redisServerBinary('redis-session-store.test.ts');

describe.skipIf(!REDIS)('RedisSessionStore', () => {
  let server: RedisServer;
  let t: TestStore;
  let engine: SearchEngine;
  const clients: Redis[] = [];
  const client = () => {
    const redis = new Redis(server.url, { lazyConnect: false, maxRetriesPerRequest: 1 });
    clients.push(redis);
    return redis;
  };

  beforeAll(async () => {
    server = await startRedisServer(REDIS!);
    t = await openCorpusStore();
    engine = new SearchEngine({ catalog: t.store.catalog, indices: t.store.indices, encoders: new FakeEncoders() });
  });
  afterAll(async () => {
    for (const redis of clients) redis.disconnect();
    await t?.cleanup();
    await server?.stop();
  });

  it('lets a second API server continue a session the first one started, vectors bit for bit', async () => {
    const first = new RefineSessions(engine, { store: new RedisSessionStore({ redis: client(), prefix: 'p1', ttlMs: 60_000 }) });
    const second = new RefineSessions(engine, { store: new RedisSessionStore({ redis: client(), prefix: 'p1', ttlMs: 60_000 }) });
    const session = await first.create({ q: 'cat', style: 'ink' });
    const stepped = await second.step(session.id, { like: { style: ['dog-watercolor-1'] } });
    expect(stepped.trail).toHaveLength(2);
    const again = (await first.get(session.id))!;
    expect(currentSnapshot(again).descriptors.style).toEqual(currentSnapshot(stepped).descriptors.style);
    expect(currentSnapshot(again).descriptors.style).toBeInstanceOf(Float32Array);
    expect((await first.search(session.id, { k: 5 })).results.map((r) => r.id)).toEqual(
      (await second.search(session.id, { k: 5 })).results.map((r) => r.id),
    );
  });

  it('expires idle sessions, and every read refreshes the idle timeout', async () => {
    const redis = client();
    const store = new RedisSessionStore({ redis, prefix: 'p2', ttlMs: 400 });
    const sessions = new RefineSessions(engine, { store });
    const session = await sessions.create({ q: 'cat' });
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await store.get(session.id)).toBeDefined();
    }
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await store.get(session.id)).toBeUndefined();
  });

  it('deletes, and keeps deployments apart by prefix', async () => {
    const a = new RedisSessionStore({ redis: client(), prefix: 'a', ttlMs: 60_000 });
    const b = new RedisSessionStore({ redis: client(), prefix: 'b', ttlMs: 60_000 });
    const session = await new RefineSessions(engine, { store: a }).create({ q: 'dog' });
    expect(await b.get(session.id)).toBeUndefined();
    expect(await a.delete(session.id)).toBe(true);
    expect(await a.delete(session.id)).toBe(false);
    expect(await a.get(session.id)).toBeUndefined();
  });

  it('reads anything that is not a session as missing', async () => {
    const redis = client();
    const store = new RedisSessionStore({ redis, prefix: 'p3', ttlMs: 60_000 });
    for (const junk of ['not json', '{"id":"x"}', JSON.stringify({ id: 'x', createdAt: '', fusion: 'rrf', trail: [] })]) {
      await redis.set('p3:session:x', junk);
      expect(await store.get('x')).toBeUndefined();
    }
  });
});

describe('session codec', () => {
  it('round-trips descriptors exactly, including null ones', () => {
    const vector = new Float32Array([0.1, -0.2, 1e-30, Math.PI]);
    const session = {
      id: 's',
      createdAt: '2026-11-29T00:00:00.000Z',
      fusion: 'weighted' as const,
      trail: [{ step: 0, change: null, descriptors: { content: vector, style: null }, weights: { content: 1, style: 1 }, excludeSeqs: [3], at: 'now' }],
    };
    const decoded = decodeSession(encodeSession(session))!;
    expect(decoded.trail[0].descriptors.content).toEqual(vector);
    expect(decoded.trail[0].descriptors.style).toBeNull();
    expect(decodeSession(encodeSession(session).replace('"$f32":"', '"$f32":"A'))).toBeUndefined();
  });
});
