/**
 * The API key store contract, shared by the embedded SQLite store (one server, the default) and
 * the Redis store (every API server of a deployment; `PARASOL_KEY_STORE=redis`). Asynchronous
 * throughout because the shared store is across a network.
 *
 * A store holds each key's id, name, scopes and limits and a salted hash of its secret (never the
 * secret), per-day usage counters, and the per-key token buckets of the rate limit.
 */

export const SCOPES = ['search', 'ingest', 'generate', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export const DEFAULT_RATE_PER_MINUTE = 600;

/** What is known about a key; never its secret. */
export interface ApiKey {
  id: string;
  name: string;
  scopes: Scope[];
  /** Requests per minute (a token bucket of this size, refilled continuously). */
  ratePerMinute: number;
  /** Searches per UTC day; null: unlimited. */
  dailySearches: number | null;
  /** Generation jobs per UTC day; null: unlimited. */
  dailyGenerations: number | null;
  createdAt: string;
  revokedAt: string | null;
}

export interface NewKey {
  name: string;
  scopes: readonly Scope[];
  ratePerMinute?: number;
  dailySearches?: number | null;
  dailyGenerations?: number | null;
}

export type QuotaKind = 'searches' | 'generations';

export interface Usage {
  searches: number;
  generations: number;
}

/** The outcome of counting one unit against a daily quota. */
export interface QuotaCheck {
  allowed: boolean;
  /** Units used today, this one included when allowed. */
  used: number;
  limit: number | null;
}

export type KeyStoreKind = 'sqlite' | 'redis';

export interface KeyStore {
  readonly kind: KeyStoreKind;
  /** Creates a key; the secret is returned here and never again. INVALID_QUERY for bad input. */
  create(input: NewKey, now?: number): Promise<{ key: ApiKey; secret: string }>;
  /** Every key, newest first, at most `limit`. */
  list(limit?: number): Promise<ApiKey[]>;
  get(id: string): Promise<ApiKey | undefined>;
  /** Revokes a key (idempotent); the key as it now stands, or undefined when unknown. */
  revoke(id: string, now?: number): Promise<ApiKey | undefined>;
  /** The active key a secret belongs to, or undefined (unknown, malformed, wrong or revoked). */
  verify(secret: string): Promise<ApiKey | undefined>;
  /** Whether any key was ever created (revoked ones included). */
  hasAny(): Promise<boolean>;
  /**
   * Takes one token from the key's bucket (`ratePerMinute` at most, refilled at ratePerMinute / 60
   * per second): 0 when the request may go ahead, else the whole seconds to wait.
   */
  takeToken(keyId: string, ratePerMinute: number, now: number): Promise<number>;
  /** Counts one unit against a key's daily quota, atomically; refused (and not counted) past the limit. */
  consume(keyId: string, kind: QuotaKind, limit: number | null, day: string): Promise<QuotaCheck>;
  /** A key's usage on one UTC day. */
  usage(keyId: string, day: string): Promise<Usage>;
  close(): Promise<void>;
}

/** The UTC day of a timestamp, as `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}
