/** `parasol keys create | list | revoke`, in-process, against a real key store in a temp data dir. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';
import { SqliteKeyStore } from '../../src/store/keys/sqlite.js';

let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'parasol-keys-cli-'));
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

async function parasol(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main([...args, '--data', dataDir]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('parasol keys', () => {
  it('creates, lists and revokes keys with --json; the secret is printed once and works', async () => {
    const created = await parasol(['keys', 'create', '--name', 'shop', '--scopes', 'search,generate', '--rate', '120', '--daily-searches', '1000', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const { key, secret } = JSON.parse(created.stdout) as { key: Record<string, unknown> & { id: string }; secret: string };
    expect(key).toMatchObject({ name: 'shop', scopes: ['search', 'generate'], ratePerMinute: 120, dailySearches: 1000, dailyGenerations: null, revokedAt: null });
    expect(secret).toMatch(/^psk_[0-9a-f]{16}_/);

    const store = SqliteKeyStore.open(dataDir);
    try {
      expect((await store.verify(secret))?.id).toBe(key.id);
    } finally {
      await store.close();
    }

    const listed = await parasol(['keys', 'list', '--json']);
    expect(listed.code).toBe(0);
    const { keys } = JSON.parse(listed.stdout) as { keys: Array<{ id: string; usageToday: unknown }> };
    expect(keys.map((k) => k.id)).toEqual([key.id]);
    expect(keys[0].usageToday).toEqual({ searches: 0, generations: 0 });
    expect(listed.stdout).not.toContain(secret.slice(secret.indexOf('_', 'psk_'.length) + 1));

    const revoked = await parasol(['keys', 'revoke', key.id, '--json']);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout).key.revokedAt).toEqual(expect.any(String));
    const after = SqliteKeyStore.open(dataDir);
    try {
      expect(await after.verify(secret)).toBeUndefined();
    } finally {
      await after.close();
    }
    const plain = await parasol(['keys', 'list']);
    expect(plain.stdout).toMatch(new RegExp(`^${key.id}\\s+revoked\\s+shop`));
  });

  it('prints only the secret on stdout without --json', async () => {
    const created = await parasol(['keys', 'create', '--name', 'ops', '--scopes', 'admin']);
    expect(created.code).toBe(0);
    expect(created.stdout.trim()).toMatch(/^psk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toMatch(/shown only once/);
  });

  it('rejects bad usage with exit code 2, and an unknown id with 1', async () => {
    expect((await parasol(['keys', 'create', '--scopes', 'search'])).code).toBe(2);
    expect((await parasol(['keys', 'create', '--name', 'x'])).code).toBe(2);
    expect((await parasol(['keys', 'create', '--name', 'x', '--scopes', 'root'])).code).toBe(2);
    expect((await parasol(['keys', 'create', '--name', 'x', '--scopes', 'search', '--rate', '0'])).code).toBe(2);
    expect((await parasol(['keys', 'rotate'])).code).toBe(2);
    expect((await parasol(['keys', 'revoke'])).code).toBe(2);
    const unknown = await parasol(['keys', 'revoke', 'ffffffffffffffff']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/NOT_FOUND/);
  });

  it('uses the Redis key store with PARASOL_KEY_STORE=redis, and says so in one line when Redis cannot be reached', async () => {
    vi.stubEnv('PARASOL_KEY_STORE', 'redis');
    vi.stubEnv('REDIS_URL', 'redis://127.0.0.1:1');
    try {
      const started = Date.now();
      const down = await parasol(['keys', 'list']);
      expect(down.code).toBe(1);
      expect(down.stderr.trim().split('\n')).toHaveLength(1);
      expect(down.stderr).toMatch(/KEY_STORE_UNAVAILABLE/);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
