import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isParasolError } from '../../src/errors.js';
import { KEYS_FILE, KeyStore, utcDay } from '../../src/store/keys.js';

let dir: string;
let store: KeyStore;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'parasol-keys-'));
  store = KeyStore.open(dir);
});
afterEach(async () => {
  store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('KeyStore', () => {
  it('creates a key whose secret verifies, and stores only a salted hash of it', async () => {
    expect(store.hasAny()).toBe(false);
    const { key, secret } = store.create({ name: 'shop', scopes: ['search', 'generate'], dailySearches: 10 });
    expect(secret).toMatch(/^psk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(secret.startsWith(`psk_${key.id}_`)).toBe(true);
    expect(key).toMatchObject({ name: 'shop', scopes: ['search', 'generate'], ratePerMinute: 600, dailySearches: 10, dailyGenerations: null, revokedAt: null });
    expect(store.hasAny()).toBe(true);
    expect(store.verify(secret)?.id).toBe(key.id);

    store.close();
    const random = secret.split('_').slice(2).join('_');
    for (const file of [KEYS_FILE, `${KEYS_FILE}-wal`]) {
      const bytes = await readFile(path.join(dir, file)).catch(() => Buffer.alloc(0));
      expect(bytes.includes(Buffer.from(secret))).toBe(false);
      expect(bytes.includes(Buffer.from(random))).toBe(false);
    }
    store = KeyStore.open(dir);
    expect(store.verify(secret)?.id).toBe(key.id); // persisted across a reopen
    expect(JSON.stringify(store.list())).not.toContain(random);
    expect(Object.keys(store.list()[0]).sort()).toEqual(
      ['createdAt', 'dailyGenerations', 'dailySearches', 'id', 'name', 'ratePerMinute', 'revokedAt', 'scopes'].sort(),
    );
  });

  it('refuses wrong, malformed and revoked secrets', () => {
    const { key, secret } = store.create({ name: 'a', scopes: ['search'] });
    const other = store.create({ name: 'b', scopes: ['search'] }).secret;
    expect(store.verify(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
    expect(store.verify(`psk_${key.id}_${other.split('_').slice(2).join('_')}`)).toBeUndefined(); // another key's random part
    expect(store.verify('')).toBeUndefined();
    expect(store.verify('psk_nothex_x')).toBeUndefined();
    expect(store.verify(`psk_0000000000000000_${'a'.repeat(43)}`)).toBeUndefined();
    expect(store.revoke(key.id)?.revokedAt).toMatch(/^\d{4}-/);
    expect(store.verify(secret)).toBeUndefined();
    expect(store.revoke(key.id)?.revokedAt).toBeTruthy(); // idempotent
    expect(store.revoke('ffffffffffffffff')).toBeUndefined();
    expect(store.verify(other)).toBeDefined();
  });

  it('validates names, scopes and limits', () => {
    const attempt = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return isParasolError(error) ? error.code : 'other';
      }
      return 'ok';
    };
    expect(attempt(() => store.create({ name: ' ', scopes: ['search'] }))).toBe('INVALID_QUERY');
    expect(attempt(() => store.create({ name: 'x', scopes: [] }))).toBe('INVALID_QUERY');
    expect(attempt(() => store.create({ name: 'x', scopes: ['root' as 'admin'] }))).toBe('INVALID_QUERY');
    expect(attempt(() => store.create({ name: 'x', scopes: ['search'], ratePerMinute: 0 }))).toBe('INVALID_QUERY');
    expect(attempt(() => store.create({ name: 'x', scopes: ['search'], dailySearches: -1 }))).toBe('INVALID_QUERY');
    expect(store.hasAny()).toBe(false);
  });

  it('counts daily quotas per key and per UTC day, refusing past the limit without counting', () => {
    const { key } = store.create({ name: 'q', scopes: ['search'], dailySearches: 2 });
    const day = utcDay(Date.parse('2026-03-01T23:00:00Z'));
    expect(day).toBe('2026-03-01');
    expect(store.consume(key.id, 'searches', 2, day)).toEqual({ allowed: true, used: 1, limit: 2 });
    expect(store.consume(key.id, 'searches', 2, day)).toEqual({ allowed: true, used: 2, limit: 2 });
    expect(store.consume(key.id, 'searches', 2, day)).toEqual({ allowed: false, used: 2, limit: 2 });
    expect(store.consume(key.id, 'generations', null, day).allowed).toBe(true);
    expect(store.usage(key.id, day)).toEqual({ searches: 2, generations: 1 });
    expect(store.consume(key.id, 'searches', 2, '2026-03-02')).toEqual({ allowed: true, used: 1, limit: 2 });
  });

  it('sees keys created and revoked by another process (another connection to the same file)', () => {
    const other = KeyStore.open(dir);
    try {
      expect(store.hasAny()).toBe(false);
      const { key, secret } = other.create({ name: 'cli', scopes: ['admin'] });
      expect(store.hasAny()).toBe(true);
      expect(store.verify(secret)?.id).toBe(key.id);
      other.revoke(key.id);
      expect(store.verify(secret)).toBeUndefined();
    } finally {
      other.close();
    }
  });
});
