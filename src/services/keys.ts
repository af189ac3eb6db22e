/**
 * API keys: create (the secret is shown once), list, revoke, verify, and the daily quotas. A thin
 * layer: each call maps onto one KeyStore call, so the store behind it (SQLite file or Redis) is
 * the composition root's choice alone.
 */
import { utcDay, type ApiKey, type KeyStore, type NewKey, type QuotaCheck, type QuotaKind, type Usage } from '../store/keys.js';

export { isScope, SCOPES, utcDay, type ApiKey, type NewKey, type QuotaCheck, type QuotaKind, type Scope, type Usage } from '../store/keys.js';

/** A key as the API and the CLI show it: never its secret; today's usage attached. */
export type PresentedKey = ApiKey & { usageToday: Usage };

export class KeyService {
  constructor(private readonly store: KeyStore) {}

  create(input: NewKey, now: number = Date.now()): { key: ApiKey; secret: string } {
    return this.store.create(input, now);
  }

  list(limit = 1000): ApiKey[] {
    return this.store.list(limit);
  }

  get(id: string): ApiKey | undefined {
    return this.store.get(id);
  }

  /** The revoked key, or undefined when there is none with this id. */
  revoke(id: string, now: number = Date.now()): ApiKey | undefined {
    return this.store.revoke(id, now);
  }

  /** The live key a secret belongs to; undefined when it is unknown, malformed or revoked. */
  verify(secret: string): ApiKey | undefined {
    return this.store.verify(secret);
  }

  hasAny(): boolean {
    return this.store.hasAny();
  }

  /** Counts one unit against a key's daily quota (`limit` null: unlimited). */
  consume(keyId: string, kind: QuotaKind, limit: number | null, day: string): QuotaCheck {
    return this.store.consume(keyId, kind, limit, day);
  }

  usage(keyId: string, day: string): Usage {
    return this.store.usage(keyId, day);
  }

  /** The key with today's usage, as shown to an administrator. */
  present(key: ApiKey, now: number): PresentedKey {
    return { ...key, usageToday: this.store.usage(key.id, utcDay(now)) };
  }

  close(): void {
    this.store.close();
  }
}
