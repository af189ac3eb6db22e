/**
 * API keys: one SQLite file (`<dataDir>/keys.sqlite`, WAL) with each key's id, name, scopes and
 * limits, a salted SHA-256 of its secret (never the secret), and per-day usage counters.
 *
 * A secret is `psk_<id>_<random>` with 32 random bytes, so a fast salted hash is enough (there is
 * nothing to brute-force); verification compares hashes in constant time. Every verify reads the
 * database, so a revocation — from the API or from `parasol keys revoke` in another process —
 * takes effect on the next request.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createError } from '../errors.js';

export const SCOPES = ['search', 'ingest', 'generate', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export const KEYS_FILE = 'keys.sqlite';
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

const ID_BYTES = 8;
const SECRET_BYTES = 32;
const SALT_BYTES = 16;
/** psk_<16 hex>_<43 base64url> */
const SECRET_PATTERN = /^psk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

const SCHEMA_VERSION = 1;
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE api_keys (
    id                TEXT PRIMARY KEY,
    name              TEXT    NOT NULL,
    scopes            TEXT    NOT NULL,
    rate_per_minute   INTEGER NOT NULL,
    daily_searches    INTEGER,
    daily_generations INTEGER,
    salt              BLOB    NOT NULL,
    hash              BLOB    NOT NULL,
    created_at        TEXT    NOT NULL,
    revoked_at        TEXT
  );
  CREATE TABLE api_key_usage (
    key_id      TEXT    NOT NULL REFERENCES api_keys(id),
    day         TEXT    NOT NULL,
    searches    INTEGER NOT NULL DEFAULT 0,
    generations INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, day)
  ) WITHOUT ROWID;
  `,
];

interface KeyRow {
  id: string;
  name: string;
  scopes: string;
  rate_per_minute: number;
  daily_searches: number | null;
  daily_generations: number | null;
  salt: Buffer;
  hash: Buffer;
  created_at: string;
  revoked_at: string | null;
}

const NAME_MAX = 100;

function hashSecret(salt: Buffer, secret: string): Buffer {
  return createHash('sha256').update(salt).update(secret, 'utf8').digest();
}

function toKey(row: KeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes.split(',').filter((s): s is Scope => (SCOPES as readonly string[]).includes(s)),
    ratePerMinute: row.rate_per_minute,
    dailySearches: row.daily_searches,
    dailyGenerations: row.daily_generations,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

/** The UTC day of a timestamp, as `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

function checkLimit(value: number | null | undefined, what: string): void {
  if (value === null || value === undefined) return;
  if (!Number.isInteger(value) || value < 0) throw createError('INVALID_QUERY', `${what}: expected an integer ≥ 0`);
}

export class KeyStore {
  private readonly db: Database.Database;
  /** Keys are revoked, never deleted: once one exists, one always will. */
  private anyKey = false;
  /** Verify and quota statements run on every request: prepare each SQL text once. */
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(db: Database.Database) {
    this.db = db;
  }

  /** Opens (creating when missing) `<dataDir>/keys.sqlite`, or ':memory:'. */
  static open(dataDirOrMemory: string): KeyStore {
    const file = dataDirOrMemory === ':memory:' ? ':memory:' : path.join(dataDirOrMemory, KEYS_FILE);
    if (file !== ':memory:') mkdirSync(dataDirOrMemory, { recursive: true });
    const db = new Database(file);
    try {
      db.pragma('busy_timeout = 5000');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      const current = db.pragma('user_version', { simple: true }) as number;
      if (current > SCHEMA_VERSION) {
        throw createError('STORE_CORRUPT', `${file} has key schema ${current}, newer than this version of Parasol (${SCHEMA_VERSION})`);
      }
      for (let step = current; step < SCHEMA_VERSION; step++) {
        db.transaction(() => {
          db.exec(MIGRATIONS[step]);
          db.pragma(`user_version = ${step + 1}`);
        })();
      }
    } catch (error) {
      db.close();
      throw error;
    }
    return new KeyStore(db);
  }

  /** Creates a key; the secret is returned here and never again. */
  create(input: NewKey, now: number = Date.now()): { key: ApiKey; secret: string } {
    const name = input.name.trim();
    if (name.length === 0 || name.length > NAME_MAX) throw createError('INVALID_QUERY', `name: expected 1–${NAME_MAX} characters`);
    const scopes = [...new Set(input.scopes)];
    if (scopes.length === 0) throw createError('INVALID_QUERY', `scopes: give at least one of ${SCOPES.join(', ')}`);
    for (const scope of scopes) if (!isScope(scope)) throw createError('INVALID_QUERY', `scopes: unknown scope "${String(scope).slice(0, 50)}"`);
    const rate = input.ratePerMinute ?? DEFAULT_RATE_PER_MINUTE;
    if (!Number.isInteger(rate) || rate < 1) throw createError('INVALID_QUERY', 'ratePerMinute: expected an integer ≥ 1');
    checkLimit(input.dailySearches, 'dailySearches');
    checkLimit(input.dailyGenerations, 'dailyGenerations');

    const id = randomBytes(ID_BYTES).toString('hex');
    const secret = `psk_${id}_${randomBytes(SECRET_BYTES).toString('base64url')}`;
    const salt = randomBytes(SALT_BYTES);
    const row: KeyRow = {
      id,
      name,
      scopes: scopes.join(','),
      rate_per_minute: rate,
      daily_searches: input.dailySearches ?? null,
      daily_generations: input.dailyGenerations ?? null,
      salt,
      hash: hashSecret(salt, secret),
      created_at: new Date(now).toISOString(),
      revoked_at: null,
    };
    this.db
      .prepare(
        `INSERT INTO api_keys (id, name, scopes, rate_per_minute, daily_searches, daily_generations, salt, hash, created_at, revoked_at)
         VALUES (@id, @name, @scopes, @rate_per_minute, @daily_searches, @daily_generations, @salt, @hash, @created_at, @revoked_at)`,
      )
      .run(row);
    this.anyKey = true;
    return { key: toKey(row), secret };
  }

  /** Every key, newest first, at most `limit`. */
  list(limit = 1000): ApiKey[] {
    const rows = this.statement('SELECT * FROM api_keys ORDER BY created_at DESC, id LIMIT ?').all(limit) as KeyRow[];
    return rows.map(toKey);
  }

  get(id: string): ApiKey | undefined {
    const row = this.statement('SELECT * FROM api_keys WHERE id = ?').get(id) as KeyRow | undefined;
    return row && toKey(row);
  }

  /** Revokes a key (idempotent); the key as it now stands, or undefined when unknown. */
  revoke(id: string, now: number = Date.now()): ApiKey | undefined {
    this.statement('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(new Date(now).toISOString(), id);
    return this.get(id);
  }

  /** The active key a secret belongs to, or undefined (unknown, malformed, wrong or revoked). */
  verify(secret: string): ApiKey | undefined {
    const match = SECRET_PATTERN.exec(secret);
    const row = match ? (this.statement('SELECT * FROM api_keys WHERE id = ?').get(match[1]) as KeyRow | undefined) : undefined;
    // Hash even when there is no row, so that an unknown id costs what a wrong secret does.
    const salt = row?.salt ?? Buffer.alloc(SALT_BYTES);
    const expected = row?.hash ?? Buffer.alloc(32);
    const actual = hashSecret(salt, secret);
    const equal = timingSafeEqual(actual, expected);
    if (!row || !equal || row.revoked_at !== null) return undefined;
    return toKey(row);
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Whether any key was ever created (revoked ones included). */
  hasAny(): boolean {
    if (!this.anyKey) this.anyKey = this.statement('SELECT 1 FROM api_keys LIMIT 1').get() !== undefined;
    return this.anyKey;
  }

  /** Counts one unit against a key's daily quota, atomically; refused (and not counted) past the limit. */
  consume(keyId: string, kind: QuotaKind, limit: number | null, day: string): QuotaCheck {
    const column = kind === 'searches' ? 'searches' : 'generations';
    return this.db.transaction((): QuotaCheck => {
      const row = this.statement(`SELECT ${column} AS used FROM api_key_usage WHERE key_id = ? AND day = ?`).get(keyId, day) as
        | { used: number }
        | undefined;
      const used = row?.used ?? 0;
      if (limit !== null && used >= limit) return { allowed: false, used, limit };
      this.db
        .prepare(
          `INSERT INTO api_key_usage (key_id, day, ${column}) VALUES (?, ?, 1)
           ON CONFLICT (key_id, day) DO UPDATE SET ${column} = ${column} + 1`,
        )
        .run(keyId, day);
      return { allowed: true, used: used + 1, limit };
    }).immediate();
  }

  /** A key's usage on one UTC day. */
  usage(keyId: string, day: string): Usage {
    const row = this.statement('SELECT searches, generations FROM api_key_usage WHERE key_id = ? AND day = ?').get(keyId, day) as Usage | undefined;
    return row ?? { searches: 0, generations: 0 };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
