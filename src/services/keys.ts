/**
 * API keys: create (the secret is shown once), list, revoke, verify, rate limits and the daily
 * quotas. A thin layer: each call maps onto one KeyStore call, so the store behind it (SQLite file
 * or Redis, shared by every API server) is the composition root's choice alone.
 */
import { utcDay, type ApiKey, type KeyStore, type NewKey, type QuotaCheck, type QuotaKind, type Usage } from '../store/keys/index.js';

export { isScope, SCOPES, utcDay, type ApiKey, type NewKey, type QuotaCheck, type QuotaKind, type Scope, type Usage } from '../store/keys/index.js';

/** A key as the API and the CLI show it: never its secret; today's usage attached. */
export type PresentedKey = ApiKey & { usageToday: Usage };

export class KeyService {
  constructor(private readonly store: KeyStore) {}

  get kind(): KeyStore['kind'] {
    return this.store.kind;
  }

  create(input: NewKey, now: number = Date.now()): Promise<{ key: ApiKey; secret: string }> {
    return this.store.create(input, now);
  }

  list(limit = 1000): Promise<ApiKey[]> {
    return this.store.list(limit);
  }

  get(id: string): Promise<ApiKey | undefined> {
    return this.store.get(id);
  }

  /** The revoked key, or undefined when there is none with this id. */
  revoke(id: string, now: number = Date.now()): Promise<ApiKey | undefined> {
    return this.store.revoke(id, now);
  }

  /** The live key a secret belongs to; undefined when it is unknown, malformed or revoked. */
  verify(secret: string): Promise<ApiKey | undefined> {
    return this.store.verify(secret);
  }

  hasAny(): Promise<boolean> {
    return this.store.hasAny();
  }

  /** One request against the key's per-minute bucket: 0 to go ahead, else the seconds to wait. */
  takeToken(keyId: string, ratePerMinute: number, now: number): Promise<number> {
    return this.store.takeToken(keyId, ratePerMinute, now);
  }

  /** Counts one unit against a key's daily quota (`limit` null: unlimited). */
  consume(keyId: string, kind: QuotaKind, limit: number | null, day: string): Promise<QuotaCheck> {
    return this.store.consume(keyId, kind, limit, day);
  }

  usage(keyId: string, day: string): Promise<Usage> {
    return this.store.usage(keyId, day);
  }

  /** The key with today's usage, as shown to an administrator. */
  async present(key: ApiKey, now: number): Promise<PresentedKey> {
    return { ...key, usageToday: await this.store.usage(key.id, utcDay(now)) };
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
