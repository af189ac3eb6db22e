/**
 * The embedded key store: one SQLite file (`<dataDir>/keys.sqlite`, WAL) with each key's id, name,
 * scopes and limits, a salted SHA-256 of its secret (never the secret), and per-day usage counters.
 * Token buckets live in this process's memory: right for one API server; several servers share
 * the Redis store instead (redis.ts).
 *
 * Every verify reads the database, so a revocation — from the API or from `parasol keys revoke`
 * in another process — takes effect on the next request.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createError } from '../../errors.js';
import { mintKey, parseScopes, secretKeyId, secretMatches } from './secrets.js';
import { TokenBuckets } from './token-bucket.js';
import type { ApiKey, KeyStore, NewKey, QuotaCheck, QuotaKind, Usage } from './types.js';

export const KEYS_FILE = 'keys.sqlite';

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

function toKey(row: KeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    scopes: parseScopes(row.scopes),
    ratePerMinute: row.rate_per_minute,
    dailySearches: row.daily_searches,
    dailyGenerations: row.daily_generations,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

export class SqliteKeyStore implements KeyStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly buckets = new TokenBuckets();
  /** Keys are revoked, never deleted: once one exists, one always will. */
  private anyKey = false;
  /** Verify and quota statements run on every request: prepare each SQL text once. */
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(db: Database.Database) {
    this.db = db;
  }

  /** Opens (creating when missing) `<dataDir>/keys.sqlite`, or ':memory:'. */
  static open(dataDirOrMemory: string): SqliteKeyStore {
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
    return new SqliteKeyStore(db);
  }

  async create(input: NewKey, now: number = Date.now()): Promise<{ key: ApiKey; secret: string }> {
    const minted = mintKey(input);
    const row: KeyRow = {
      id: minted.id,
      name: minted.name,
      scopes: minted.scopes.join(','),
      rate_per_minute: minted.ratePerMinute,
      daily_searches: minted.dailySearches,
      daily_generations: minted.dailyGenerations,
      salt: minted.salt,
      hash: minted.hash,
      created_at: new Date(now).toISOString(),
      revoked_at: null,
    };
    this.statement(
      `INSERT INTO api_keys (id, name, scopes, rate_per_minute, daily_searches, daily_generations, salt, hash, created_at, revoked_at)
       VALUES (@id, @name, @scopes, @rate_per_minute, @daily_searches, @daily_generations, @salt, @hash, @created_at, @revoked_at)`,
    ).run(row);
    this.anyKey = true;
    return { key: toKey(row), secret: minted.secret };
  }

  async list(limit = 1000): Promise<ApiKey[]> {
    const rows = this.statement('SELECT * FROM api_keys ORDER BY created_at DESC, id LIMIT ?').all(limit) as KeyRow[];
    return rows.map(toKey);
  }

  async get(id: string): Promise<ApiKey | undefined> {
    const row = this.row(id);
    return row && toKey(row);
  }

  async revoke(id: string, now: number = Date.now()): Promise<ApiKey | undefined> {
    this.statement('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(new Date(now).toISOString(), id);
    return this.get(id);
  }

  async verify(secret: string): Promise<ApiKey | undefined> {
    const id = secretKeyId(secret);
    const row = id === undefined ? undefined : this.row(id);
    if (!secretMatches(secret, row) || !row || row.revoked_at !== null) return undefined;
    return toKey(row);
  }

  async hasAny(): Promise<boolean> {
    if (!this.anyKey) this.anyKey = this.statement('SELECT 1 FROM api_keys LIMIT 1').get() !== undefined;
    return this.anyKey;
  }

  async takeToken(keyId: string, ratePerMinute: number, now: number): Promise<number> {
    return this.buckets.take(keyId, ratePerMinute, now);
  }

  async consume(keyId: string, kind: QuotaKind, limit: number | null, day: string): Promise<QuotaCheck> {
    const column = kind === 'searches' ? 'searches' : 'generations';
    return this.db.transaction((): QuotaCheck => {
      const row = this.statement(`SELECT ${column} AS used FROM api_key_usage WHERE key_id = ? AND day = ?`).get(keyId, day) as
        | { used: number }
        | undefined;
      const used = row?.used ?? 0;
      if (limit !== null && used >= limit) return { allowed: false, used, limit };
      this.statement(
        `INSERT INTO api_key_usage (key_id, day, ${column}) VALUES (?, ?, 1)
         ON CONFLICT (key_id, day) DO UPDATE SET ${column} = ${column} + 1`,
      ).run(keyId, day);
      return { allowed: true, used: used + 1, limit };
    }).immediate();
  }

  async usage(keyId: string, day: string): Promise<Usage> {
    const row = this.statement('SELECT searches, generations FROM api_key_usage WHERE key_id = ? AND day = ?').get(keyId, day) as Usage | undefined;
    return row ?? { searches: 0, generations: 0 };
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private row(id: string): KeyRow | undefined {
    return this.statement('SELECT * FROM api_keys WHERE id = ?').get(id) as KeyRow | undefined;
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}
