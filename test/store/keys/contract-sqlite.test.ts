/** The key store contract on the embedded SQLite store, and what only a file-backed store shows. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KEYS_FILE, SqliteKeyStore } from '../../../src/store/keys/sqlite.js';
import { keyStoreContract } from './contract.js';

keyStoreContract('sqlite', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'parasol-keys-'));
  const store = SqliteKeyStore.open(dir);
  return {
    store,
    another: async () => SqliteKeyStore.open(dir),
    async raw() {
      const files = [KEYS_FILE, `${KEYS_FILE}-wal`];
      return Buffer.concat(await Promise.all(files.map((file) => readFile(path.join(dir, file)).catch(() => Buffer.alloc(0)))));
    },
    async dispose() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteKeyStore', () => {
  it('keeps keys and usage across a reopen', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'parasol-keys-'));
    try {
      let store = SqliteKeyStore.open(dir);
      const { key, secret } = await store.create({ name: 'kept', scopes: ['search'] });
      await store.consume(key.id, 'searches', null, '2026-03-01');
      await store.close();
      store = SqliteKeyStore.open(dir);
      expect((await store.verify(secret))?.id).toBe(key.id);
      expect(await store.hasAny()).toBe(true);
      expect(await store.usage(key.id, '2026-03-01')).toEqual({ searches: 1, generations: 0 });
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('opens in memory', async () => {
    const store = SqliteKeyStore.open(':memory:');
    const { secret } = await store.create({ name: 'm', scopes: ['admin'] });
    expect(await store.verify(secret)).toBeDefined();
    await store.close();
  });
});
