/**
 * The contract every API key store keeps (src/store/keys/types.ts), run against the embedded
 * SQLite store (contract-sqlite.test.ts) and the Redis store on a real redis-server
 * (contract-redis.test.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isParasolError } from '../../../src/errors.js';
import { utcDay, type KeyStore } from '../../../src/store/keys/types.js';

export interface KeyStoreHarness {
  /** A store over empty storage. */
  store: KeyStore;
  /** Another handle on the same storage: another process or API server. */
  another(): Promise<KeyStore>;
  /** Every byte the storage holds, to look for secrets in. */
  raw(): Promise<Buffer>;
  dispose(): Promise<void>;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    return isParasolError(error) ? error.code : String(error);
  }
}

export function keyStoreContract(name: string, open: () => Promise<KeyStoreHarness>): void {
  describe(`key store contract: ${name}`, () => {
    let harness: KeyStoreHarness;
    let store: KeyStore;
    const others: KeyStore[] = [];
    const another = async () => {
      const other = await harness.another();
      others.push(other);
      return other;
    };

    beforeEach(async () => {
      harness = await open();
      store = harness.store;
    });
    afterEach(async () => {
      for (const other of others.splice(0)) await other.close();
      await harness.dispose();
    });

    it('creates a key whose secret verifies, and stores only a salted hash of it', async () => {
      expect(await store.hasAny()).toBe(false);
      const { key, secret } = await store.create({ name: ' shop ', scopes: ['search', 'generate', 'search'], dailySearches: 10 }, Date.parse('2026-03-01T10:00:00Z'));
      expect(secret).toMatch(/^psk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
      expect(secret.startsWith(`psk_${key.id}_`)).toBe(true);
      expect(key).toEqual({
        id: key.id,
        name: 'shop',
        scopes: ['search', 'generate'],
        ratePerMinute: 600,
        dailySearches: 10,
        dailyGenerations: null,
        createdAt: '2026-03-01T10:00:00.000Z',
        revokedAt: null,
      });
      expect(await store.hasAny()).toBe(true);
      expect(await store.verify(secret)).toEqual(key);
      expect(await store.get(key.id)).toEqual(key);
      expect(await store.list()).toEqual([key]);

      const random = secret.split('_').slice(2).join('_');
      const bytes = await harness.raw();
      expect(bytes.length).toBeGreaterThan(0);
      expect(bytes.includes(Buffer.from(secret))).toBe(false);
      expect(bytes.includes(Buffer.from(random))).toBe(false);
    });

    it('refuses wrong, malformed and revoked secrets; revocation is idempotent', async () => {
      const { key, secret } = await store.create({ name: 'a', scopes: ['search'] });
      const other = (await store.create({ name: 'b', scopes: ['search'] })).secret;
      expect(await store.verify(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
      expect(await store.verify(`psk_${key.id}_${other.split('_').slice(2).join('_')}`)).toBeUndefined(); // another key's random part
      expect(await store.verify('')).toBeUndefined();
      expect(await store.verify('psk_nothex_x')).toBeUndefined();
      expect(await store.verify(`psk_0000000000000000_${'a'.repeat(43)}`)).toBeUndefined();
      const revoked = await store.revoke(key.id, Date.parse('2026-03-02T00:00:00Z'));
      expect(revoked).toMatchObject({ id: key.id, revokedAt: '2026-03-02T00:00:00.000Z' });
      expect(await store.verify(secret)).toBeUndefined();
      expect((await store.revoke(key.id, Date.parse('2026-03-05T00:00:00Z')))?.revokedAt).toBe('2026-03-02T00:00:00.000Z'); // the first time stays
      expect(await store.revoke('ffffffffffffffff')).toBeUndefined();
      expect(await store.revoke('not an id')).toBeUndefined();
      expect(await store.get('ffffffffffffffff')).toBeUndefined();
      expect(await store.verify(other)).toBeDefined();
    });

    it('validates names, scopes and limits, creating nothing on bad input', async () => {
      expect(await codeOf(store.create({ name: ' ', scopes: ['search'] }))).toBe('INVALID_QUERY');
      expect(await codeOf(store.create({ name: 'x'.repeat(101), scopes: ['search'] }))).toBe('INVALID_QUERY');
      expect(await codeOf(store.create({ name: 'x', scopes: [] }))).toBe('INVALID_QUERY');
      expect(await codeOf(store.create({ name: 'x', scopes: ['root' as 'admin'] }))).toBe('INVALID_QUERY');
      expect(await codeOf(store.create({ name: 'x', scopes: ['search'], ratePerMinute: 0 }))).toBe('INVALID_QUERY');
      expect(await codeOf(store.create({ name: 'x', scopes: ['search'], ratePerMinute: 1.5 }))).toBe('INVALID_QUERY');
      expect(await codeOf(store.create({ name: 'x', scopes: ['search'], dailySearches: -1 }))).toBe('INVALID_QUERY');
      expect(await codeOf(store.create({ name: 'x', scopes: ['search'], dailyGenerations: 0.5 }))).toBe('INVALID_QUERY');
      expect(await store.hasAny()).toBe(false);
      expect(await store.list()).toEqual([]);
      const zero = await store.create({ name: 'x', scopes: ['admin'], ratePerMinute: 1, dailySearches: 0, dailyGenerations: 0 });
      expect(zero.key).toMatchObject({ ratePerMinute: 1, dailySearches: 0, dailyGenerations: 0 });
      expect(await store.get(zero.key.id)).toEqual(zero.key);
    });

    it('lists keys newest first, at most the limit', async () => {
      const t = Date.parse('2026-03-01T00:00:00Z');
      const first = await store.create({ name: 'first', scopes: ['search'] }, t);
      const second = await store.create({ name: 'second', scopes: ['search'] }, t + 1000);
      const third = await store.create({ name: 'third', scopes: ['search'] }, t + 2000);
      expect((await store.list()).map((k) => k.name)).toEqual(['third', 'second', 'first']);
      expect((await store.list(2)).map((k) => k.id)).toEqual([third.key.id, second.key.id]);
      await store.revoke(first.key.id);
      expect((await store.list()).find((k) => k.id === first.key.id)?.revokedAt).toEqual(expect.any(String));
    });

    it('counts daily quotas per key and per UTC day, refusing past the limit without counting', async () => {
      const { key } = await store.create({ name: 'q', scopes: ['search'], dailySearches: 2 });
      const other = await store.create({ name: 'r', scopes: ['search'] });
      const day = utcDay(Date.parse('2026-03-01T23:00:00Z'));
      expect(day).toBe('2026-03-01');
      expect(await store.consume(key.id, 'searches', 2, day)).toEqual({ allowed: true, used: 1, limit: 2 });
      expect(await store.consume(key.id, 'searches', 2, day)).toEqual({ allowed: true, used: 2, limit: 2 });
      expect(await store.consume(key.id, 'searches', 2, day)).toEqual({ allowed: false, used: 2, limit: 2 });
      expect(await store.consume(key.id, 'generations', null, day)).toEqual({ allowed: true, used: 1, limit: null });
      expect(await store.consume(key.id, 'generations', 0, '2026-03-03')).toEqual({ allowed: false, used: 0, limit: 0 });
      expect(await store.usage(key.id, day)).toEqual({ searches: 2, generations: 1 });
      expect(await store.usage(other.key.id, day)).toEqual({ searches: 0, generations: 0 });
      expect(await store.consume(key.id, 'searches', 2, '2026-03-02')).toEqual({ allowed: true, used: 1, limit: 2 });
      expect(await store.usage(key.id, '2026-03-02')).toEqual({ searches: 1, generations: 0 });
    });

    it('never lets two handles overrun a quota: 40 concurrent units against 30 count exactly 30', async () => {
      const { key } = await store.create({ name: 'shared', scopes: ['search'], dailySearches: 30 });
      const second = await another();
      const day = '2026-03-01';
      const checks = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? store : second).consume(key.id, 'searches', 30, day)),
      );
      expect(checks.filter((c) => c.allowed)).toHaveLength(30);
      expect(new Set(checks.filter((c) => c.allowed).map((c) => c.used)).size).toBe(30); // each unit counted once
      expect(await second.usage(key.id, day)).toEqual({ searches: 30, generations: 0 });
    });

    it('sees keys created and revoked through another handle', async () => {
      const other = await another();
      expect(await store.hasAny()).toBe(false);
      const { key, secret } = await other.create({ name: 'cli', scopes: ['admin'] });
      expect(await store.hasAny()).toBe(true);
      expect((await store.verify(secret))?.id).toBe(key.id);
      expect((await store.list()).map((k) => k.id)).toEqual([key.id]);
      await other.revoke(key.id);
      expect(await store.verify(secret)).toBeUndefined();
      expect((await store.get(key.id))?.revokedAt).toEqual(expect.any(String));
    });

    it('rate-limits with a token bucket: ratePerMinute at once, then one per 60/rate seconds', async () => {
      const { key } = await store.create({ name: 'slow', scopes: ['search'], ratePerMinute: 3 });
      const { key: fast } = await store.create({ name: 'fast', scopes: ['search'], ratePerMinute: 600 });
      let t = Date.parse('2026-03-01T12:00:00Z');
      for (let i = 0; i < 3; i++) expect(await store.takeToken(key.id, 3, t)).toBe(0);
      expect(await store.takeToken(key.id, 3, t)).toBe(20);
      expect(await store.takeToken(fast.id, 600, t)).toBe(0); // other keys are not affected
      t += 10_000;
      expect(await store.takeToken(key.id, 3, t)).toBe(10); // half a token back
      t += 10_000;
      expect(await store.takeToken(key.id, 3, t)).toBe(0);
      expect(await store.takeToken(key.id, 3, t)).toBe(20);
      // A clock that steps back refills nothing twice.
      expect(await store.takeToken(key.id, 3, t - 30_000)).toBe(20);
      // Idle for long: full again, never more than the rate.
      t += 3_600_000;
      for (let i = 0; i < 3; i++) expect(await store.takeToken(key.id, 3, t)).toBe(0);
      expect(await store.takeToken(key.id, 3, t)).toBeGreaterThan(0);
    });
  });
}
