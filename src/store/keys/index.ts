/** The configured key store (`keys.store`): embedded SQLite in the data dir, or shared in Redis. */
import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import { SqliteKeyStore } from './sqlite.js';
import type { KeyStore } from './types.js';

export * from './types.js';
export { KEYS_FILE, SqliteKeyStore } from './sqlite.js';

export async function openKeyStore(config: Config, logger?: Logger): Promise<KeyStore> {
  if (config.keys.store === 'sqlite') return SqliteKeyStore.open(config.dataDir);
  // Loaded only when chosen: the embedded default never pays for the client.
  const { RedisKeyStore } = await import('./redis.js');
  return new RedisKeyStore({ url: config.redis.url, prefix: config.redis.prefix, timeoutMs: config.keys.redisTimeoutMs, logger });
}
