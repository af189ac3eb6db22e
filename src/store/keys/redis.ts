/**
 * The shared key store on the deployment's Redis (`PARASOL_KEY_STORE=redis`): every API server
 * and `parasol keys …` see the same keys, usage counters and token buckets, so a key created on
 * one server works on all, a revocation binds all of them at their next request, and a key's
 * rate limit and daily quotas count once across the deployment.
 *
 * Layout, all under `<prefix>:keys:`:
 * - `k:<id>`: a hash with the key's name, scopes, limits, createdAt, revokedAt ('' while active)
 *   and the hex salt and salted SHA-256 of its secret (never the secret; secrets.ts).
 * - `ids`: a sorted set of key ids by creation time (listing, and "does any key exist").
 * - `u:<id>:<day>`: a hash of the day's `searches` and `generations`, kept USAGE_DAYS days.
 * - `b:<id>`: the key's token bucket (`tokens`, `updated` ms), gone once it would be full again.
 *
 * The bucket and the quota counters change only inside Lua scripts, which Redis runs one at a
 * time: two servers can never both take the last token or the last unit of a quota.
 *
 * Nothing is cached in the process (except that some key exists, which never becomes false):
 * each verify reads Redis, so a revocation takes effect on every server at its next request.
 * When Redis cannot be reached, or does not answer within `timeoutMs`, every operation fails
 * with KEY_STORE_UNAVAILABLE (503, Retry-After): the API fails closed.
 */
import { Redis } from 'ioredis';
import { z } from 'zod';
import { createError, isParasolError, ParasolError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { silentLogger } from '../../log.js';
import { KEY_ID_PATTERN, mintKey, parseScopes, secretKeyId, secretMatches } from './secrets.js';
import type { ApiKey, KeyStore, NewKey, QuotaCheck, QuotaKind, Usage } from './types.js';

/** Usage counters are kept this long (listings show today's; older days are history). */
const USAGE_DAYS = 40;
/** How long a request waits for Redis by default before KEY_STORE_UNAVAILABLE. */
const DEFAULT_TIMEOUT_MS = 2000;
/** What a client is told to wait when the store is unavailable. */
const RETRY_AFTER_SECONDS = 2;

/**
 * One token from a key's bucket. KEYS[1] the bucket; ARGV rate per minute, now (ms). Answers 0
 * (taken) or the whole seconds until a token is there. The clock is the caller's; a server whose
 * clock is behind never refills a bucket twice (`updated` only moves forward).
 */
const TAKE_TOKEN = `
local rate = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil or updated == nil then
  tokens = rate
  updated = now
end
local perMs = rate / 60000
tokens = math.min(rate, tokens + math.max(0, now - updated) * perMs)
if now > updated then updated = now end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.max(1, math.ceil((1 - tokens) / perMs / 1000))
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'updated', string.format('%d', updated))
redis.call('PEXPIRE', KEYS[1], math.ceil((rate - tokens) / perMs) + 1000)
return wait
`;

/**
 * One unit of a daily quota. KEYS[1] the day's usage hash; ARGV field, limit ('' = none), TTL
 * seconds. Answers {1, used} when counted, {0, used} when refused (and not counted).
 */
const CONSUME = `
local used = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if ARGV[2] ~= '' and used >= tonumber(ARGV[2]) then return {0, used} end
used = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return {1, used}
`;

/** Revokes a key once (the first revocation's time stays). KEYS[1] the key hash; ARGV the time. */
const REVOKE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local revoked = redis.call('HGET', KEYS[1], 'revokedAt')
if not revoked or revoked == '' then redis.call('HSET', KEYS[1], 'revokedAt', ARGV[1]) end
return 1
`;

interface KeyScripts {
  parasolTakeToken(bucket: string, ratePerMinute: number, now: number): Promise<number>;
  parasolConsume(usage: string, field: QuotaKind, limit: string, ttlSeconds: number): Promise<[number, number]>;
  parasolRevoke(key: string, at: string): Promise<number>;
}

const limitField = z.string().regex(/^\d*$/).transform((value) => (value === '' ? null : Number(value)));

/** A key's hash as Redis holds it; anything else is not a key (answered as unknown). */
const storedKeySchema = z.object({
  name: z.string().min(1),
  scopes: z.string(),
  ratePerMinute: z.string().regex(/^\d+$/).transform(Number),
  dailySearches: limitField,
  dailyGenerations: limitField,
  salt: z.string().regex(/^[0-9a-f]+$/),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string().min(1),
  revokedAt: z.string(),
});
type StoredKey = z.infer<typeof storedKeySchema>;

export interface RedisKeyStoreOptions {
  /** redis://[user:password@]host:port[/db] (or rediss:// for TLS). */
  url: string;
  /** The deployment's key prefix (config `redis.prefix`); keys live under `<prefix>:keys:`. */
  prefix: string;
  /** How long one operation may wait for Redis before KEY_STORE_UNAVAILABLE (default 2000). */
  timeoutMs?: number;
  logger?: Logger;
}

export class RedisKeyStore implements KeyStore {
  readonly kind = 'redis' as const;
  private readonly redis: Redis & KeyScripts;
  private readonly base: string;
  private readonly logger: Logger;
  private anyKey = false;
  private closed = false;

  constructor(options: RedisKeyStoreOptions) {
    this.base = `${options.prefix}:keys:`;
    this.logger = options.logger ?? silentLogger;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // One reconnection attempt per command and a deadline: a request is answered 503 at once
    // while Redis is away, never left hanging.
    const redis = new Redis(options.url, { maxRetriesPerRequest: 1, commandTimeout: timeoutMs, connectTimeout: timeoutMs });
    redis.on('error', (error: Error) => this.logger.warn('redis connection error (key store)', { error: error.message }));
    redis.defineCommand('parasolTakeToken', { numberOfKeys: 1, lua: TAKE_TOKEN });
    redis.defineCommand('parasolConsume', { numberOfKeys: 1, lua: CONSUME });
    redis.defineCommand('parasolRevoke', { numberOfKeys: 1, lua: REVOKE });
    this.redis = redis as Redis & KeyScripts;
  }

  async create(input: NewKey, now: number = Date.now()): Promise<{ key: ApiKey; secret: string }> {
    const minted = mintKey(input);
    const stored: StoredKey = {
      name: minted.name,
      scopes: minted.scopes.join(','),
      ratePerMinute: minted.ratePerMinute,
      dailySearches: minted.dailySearches,
      dailyGenerations: minted.dailyGenerations,
      salt: minted.salt.toString('hex'),
      hash: minted.hash.toString('hex'),
      createdAt: new Date(now).toISOString(),
      revokedAt: '',
    };
    await this.guard('create', async () => {
      const fields = { ...stored, dailySearches: stored.dailySearches ?? '', dailyGenerations: stored.dailyGenerations ?? '' };
      const replies = await this.redis.multi().hset(this.keyOf(minted.id), fields).zadd(this.idsKey(), now, minted.id).exec();
      const failed = replies?.find(([error]) => error)?.[0];
      if (!replies || failed) throw failed ?? new Error('the transaction was discarded');
    });
    this.anyKey = true;
    return { key: toKey(minted.id, stored), secret: minted.secret };
  }

  async list(limit = 1000): Promise<ApiKey[]> {
    return this.guard('list', async () => {
      const ids = await this.redis.zrevrange(this.idsKey(), 0, Math.max(0, limit - 1));
      const pipeline = this.redis.pipeline();
      for (const id of ids) pipeline.hgetall(this.keyOf(id));
      const replies = (await pipeline.exec()) ?? [];
      const keys: ApiKey[] = [];
      replies.forEach(([error, fields], i) => {
        if (error) throw error;
        const stored = this.parse(ids[i], fields);
        if (stored) keys.push(toKey(ids[i], stored));
      });
      // As the embedded store orders them: newest first, then by id.
      return keys.sort((a, b) => (a.createdAt === b.createdAt ? a.id.localeCompare(b.id) : a.createdAt < b.createdAt ? 1 : -1));
    });
  }

  async get(id: string): Promise<ApiKey | undefined> {
    if (!KEY_ID_PATTERN.test(id)) return undefined;
    const stored = await this.guard('get', () => this.read(id));
    return stored && toKey(id, stored);
  }

  async revoke(id: string, now: number = Date.now()): Promise<ApiKey | undefined> {
    if (!KEY_ID_PATTERN.test(id)) return undefined;
    const found = await this.guard('revoke', () => this.redis.parasolRevoke(this.keyOf(id), new Date(now).toISOString()));
    return found === 1 ? this.get(id) : undefined;
  }

  async verify(secret: string): Promise<ApiKey | undefined> {
    const id = secretKeyId(secret);
    const stored = id === undefined ? undefined : await this.guard('verify', () => this.read(id));
    const matches = secretMatches(secret, stored && { salt: Buffer.from(stored.salt, 'hex'), hash: Buffer.from(stored.hash, 'hex') });
    if (!matches || !stored || id === undefined || stored.revokedAt !== '') return undefined;
    return toKey(id, stored);
  }

  async hasAny(): Promise<boolean> {
    if (!this.anyKey) this.anyKey = (await this.guard('hasAny', () => this.redis.exists(this.idsKey()))) === 1;
    return this.anyKey;
  }

  async takeToken(keyId: string, ratePerMinute: number, now: number): Promise<number> {
    const wait = await this.guard('takeToken', () => this.redis.parasolTakeToken(`${this.base}b:${keyId}`, ratePerMinute, Math.floor(now)));
    return Number(wait);
  }

  async consume(keyId: string, kind: QuotaKind, limit: number | null, day: string): Promise<QuotaCheck> {
    const [allowed, used] = await this.guard('consume', () =>
      this.redis.parasolConsume(this.usageKey(keyId, day), kind, limit === null ? '' : String(limit), USAGE_DAYS * 86_400),
    );
    return { allowed: allowed === 1, used: Number(used), limit };
  }

  async usage(keyId: string, day: string): Promise<Usage> {
    const [searches, generations] = await this.guard('usage', () => this.redis.hmget(this.usageKey(keyId, day), 'searches', 'generations'));
    return { searches: Number(searches ?? 0), generations: Number(generations ?? 0) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async read(id: string): Promise<StoredKey | undefined> {
    return this.parse(id, await this.redis.hgetall(this.keyOf(id)));
  }

  private parse(id: string, fields: unknown): StoredKey | undefined {
    if (typeof fields !== 'object' || fields === null || Object.keys(fields).length === 0) return undefined;
    const parsed = storedKeySchema.safeParse(fields);
    if (!parsed.success) {
      this.logger.warn('an API key in Redis is malformed; treated as unknown', { key: id });
      return undefined;
    }
    return parsed.data;
  }

  private keyOf(id: string): string {
    return `${this.base}k:${id}`;
  }

  private idsKey(): string {
    return `${this.base}ids`;
  }

  private usageKey(keyId: string, day: string): string {
    return `${this.base}u:${keyId}:${day}`;
  }

  /** Redis failures become KEY_STORE_UNAVAILABLE (logged), never a 500 nor a hang. */
  private async guard<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw createError('NOT_READY', 'the key store is closed');
    try {
      return await fn();
    } catch (error) {
      if (isParasolError(error)) throw error;
      this.logger.error('key store operation failed', { operation, error: (error as Error)?.message });
      const unavailable = createError('KEY_STORE_UNAVAILABLE', 'Redis did not answer; retry later');
      throw new ParasolError(unavailable.code, unavailable.message, { 'Retry-After': String(RETRY_AFTER_SECONDS) });
    }
  }
}

function toKey(id: string, stored: StoredKey): ApiKey {
  return {
    id,
    name: stored.name,
    scopes: parseScopes(stored.scopes),
    ratePerMinute: stored.ratePerMinute,
    dailySearches: stored.dailySearches,
    dailyGenerations: stored.dailyGenerations,
    createdAt: stored.createdAt,
    revokedAt: stored.revokedAt === '' ? null : stored.revokedAt,
  };
}
