/**
 * The embedded catalog: one SQLite file (WAL) that is the source of truth for every item's
 * metadata, keywords, thumbnail and both vectors (DESIGN.md §5). Vector indices are derived from
 * it and replay `changesSince(version)` after a restart.
 *
 * better-sqlite3 is synchronous; the async methods exist so that a networked backend fits the same
 * `Catalog` contract. Each public call runs to completion before another can start, so a call
 * that reads several statements sees one consistent state.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { createError } from '../errors.js';
import { fromBlob, toBlob } from '../vectors.js';
import { assertDims, validateInput, type VectorDims } from './validate.js';
import type {
  AddResult,
  Catalog,
  CatalogChanges,
  CatalogStats,
  Item,
  ItemFilter,
  ItemInput,
  ItemWithVectors,
  Modality,
} from './types.js';

export type { VectorDims } from './validate.js';

export interface SqliteCatalogOptions {
  /** The database file; its folder is created when missing. ':memory:' works for throwaway use. */
  path: string;
  /** The dimensions of the model pack in use; a catalog built with other dimensions refuses to open. */
  dims: VectorDims;
}

/** Bump when the schema changes and add a step to MIGRATIONS. */
const SCHEMA_VERSION = 1;

/** MIGRATIONS[n] takes a database from user_version n to n + 1. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

  CREATE TABLE items (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL,
    external_id     TEXT    NOT NULL DEFAULT '',
    source          TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    tags            TEXT    NOT NULL DEFAULT '[]',
    keywords        TEXT    NOT NULL DEFAULT '[]',
    license         TEXT    NOT NULL DEFAULT '',
    attribution     TEXT    NOT NULL DEFAULT '',
    url             TEXT    NOT NULL DEFAULT '',
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    content_hash    TEXT    NOT NULL,
    extra           TEXT    NOT NULL DEFAULT '{}',
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    deleted         INTEGER NOT NULL DEFAULT 0,
    added_version   INTEGER NOT NULL,
    deleted_version INTEGER,
    semantic        BLOB    NOT NULL,
    style           BLOB    NOT NULL
  );
  -- Uniqueness holds among live items only: a deleted item keeps its row (its seq is never reused)
  -- while the same content may be ingested again later under a new seq.
  CREATE UNIQUE INDEX items_live_id   ON items(id)           WHERE deleted = 0;
  CREATE UNIQUE INDEX items_live_hash ON items(content_hash) WHERE deleted = 0;
  CREATE INDEX items_added_version    ON items(added_version);
  CREATE INDEX items_deleted_version  ON items(deleted_version) WHERE deleted_version IS NOT NULL;
  CREATE INDEX items_source           ON items(source);

  CREATE TABLE thumbnails (
    seq   INTEGER PRIMARY KEY REFERENCES items(seq),
    bytes BLOB NOT NULL
  );

  -- Only live items are in the full-text index, so a keyword match never needs a liveness join.
  CREATE VIRTUAL TABLE items_fts USING fts5(
    title, tags, keywords,
    tokenize = 'porter unicode61 remove_diacritics 2'
  );
  CREATE TRIGGER items_fts_on_insert AFTER INSERT ON items WHEN new.deleted = 0 BEGIN
    INSERT INTO items_fts (rowid, title, tags, keywords) VALUES (
      new.seq,
      new.title,
      (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(new.tags)),
      (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(new.keywords))
    );
  END;
  CREATE TRIGGER items_fts_on_delete AFTER UPDATE OF deleted ON items
    WHEN new.deleted = 1 AND old.deleted = 0 BEGIN
    DELETE FROM items_fts WHERE rowid = old.seq;
  END;
  `,
];

const ITEM_COLUMNS = `seq, id, external_id, source, title, tags, keywords, license, attribution, url,
  width, height, content_hash, extra, created_at, updated_at`;
const ITEM_COLUMNS_WITH_VECTORS = `${ITEM_COLUMNS}, semantic, style`;

/** Keyword queries are bounded so that a pasted essay cannot make one query arbitrarily slow. */
const MAX_KEYWORD_TOKENS = 32;

interface ItemRow {
  seq: number;
  id: string;
  external_id: string;
  source: string;
  title: string;
  tags: string;
  keywords: string;
  license: string;
  attribution: string;
  url: string;
  width: number;
  height: number;
  content_hash: string;
  extra: string;
  created_at: string;
  updated_at: string;
}

interface ItemRowWithVectors extends ItemRow {
  semantic: Buffer;
  style: Buffer;
}

/**
 * Turns user text into an FTS5 query that can only ever mean "all of these words".
 * Each word becomes a quoted string, so operators (OR, NOT, NEAR), column filters (`col:`),
 * prefixes (`*`), initial-token (`^`) and grouping characters are plain text. Returns undefined
 * when the text holds no indexable word.
 */
export function toFtsQuery(text: string): string | undefined {
  // The same notion of a word as FTS5's unicode61 tokenizer: letters, numbers and combining marks.
  const words = text.normalize('NFKC').match(/[\p{L}\p{N}\p{M}]+/gu) ?? [];
  const unique = [...new Set(words)].slice(0, MAX_KEYWORD_TOKENS);
  if (unique.length === 0) return undefined;
  return unique.map((word) => `"${word.replace(/"/g, '""')}"`).join(' ');
}

/** The public id of an item ingested without one: stable across re-ingestion of the same bytes. */
export function idFromHash(contentHash: string): string {
  return contentHash.slice(0, 16).toLowerCase();
}

export class SqliteCatalog implements Catalog {
  readonly dims: VectorDims;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(options: SqliteCatalogOptions) {
    assertDims(options.dims);
    this.dims = { ...options.dims };
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path);
    try {
      this.db.pragma('busy_timeout = 5000');
      this.db.pragma('journal_mode = WAL');
      // FULL fsyncs the WAL at every commit: an acknowledged batch survives a power cut, not just a
      // killed process, so an index snapshot can never be ahead of the catalog it was built from.
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      this.migrate(options.path);
      this.checkDims(options.path);
    } catch (error) {
      this.db.close();
      const code = (error as { code?: unknown }).code;
      if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
        throw createError('STORE_CORRUPT', `${options.path} is not a readable SQLite catalog (${(error as Error).message})`);
      }
      throw error;
    }
  }

  async addBatch(items: ItemInput[]): Promise<AddResult[]> {
    items.forEach((item, index) => validateInput(item, index, this.dims));
    const run = this.db.transaction((batch: ItemInput[]): AddResult[] => {
      const now = new Date().toISOString();
      const nextVersion = this.currentVersion() + 1;
      const results: AddResult[] = [];
      const addedInBatch = new Map<string, AddResult>();
      let addedAny = false;

      for (const input of batch) {
        const sameContent = addedInBatch.get(input.contentHash) ?? this.liveRefByHash(input.contentHash);
        if (sameContent) {
          results.push({ id: sameContent.id, seq: sameContent.seq, status: 'duplicate' });
          continue;
        }
        const id = input.id ?? idFromHash(input.contentHash);
        if (this.liveRefById(id)) {
          throw createError('CONFLICT', `An item with id "${id}" already exists with different content`);
        }
        const seq = this.insertItem(input, id, now, nextVersion);
        const result: AddResult = { id, seq, status: 'added' };
        addedInBatch.set(input.contentHash, result);
        results.push(result);
        addedAny = true;
      }

      if (addedAny) this.setVersion(nextVersion);
      return results;
    });
    return run(items);
  }

  async get(id: string): Promise<Item | undefined> {
    const row = this
      .prepare<[string], ItemRow>(`SELECT ${ITEM_COLUMNS} FROM items WHERE id = ? AND deleted = 0`)
      .get(id);
    return row && toItem(row);
  }

  async getWithVectors(id: string): Promise<ItemWithVectors | undefined> {
    const row = this
      .prepare<[string], ItemRowWithVectors>(`SELECT ${ITEM_COLUMNS_WITH_VECTORS} FROM items WHERE id = ? AND deleted = 0`)
      .get(id);
    return row && toItemWithVectors(row);
  }

  async getManyBySeq(seqs: number[]): Promise<Map<number, Item>> {
    const rows = this
      .prepare<[string], ItemRow>(
        `SELECT ${ITEM_COLUMNS} FROM items WHERE deleted = 0 AND seq IN (SELECT value FROM json_each(?))`,
      )
      .all(JSON.stringify(seqs));
    return new Map(rows.map((row) => [row.seq, toItem(row)]));
  }

  async getVectorsBySeq(seqs: number[], modality: Modality): Promise<Map<number, Float32Array>> {
    // The column name comes from a closed union, never from user input.
    const column = modality === 'semantic' ? 'semantic' : 'style';
    const rows = this
      .prepare<[string], { seq: number; vector: Buffer }>(
        `SELECT seq, ${column} AS vector FROM items WHERE deleted = 0 AND seq IN (SELECT value FROM json_each(?))`,
      )
      .all(JSON.stringify(seqs));
    return new Map(rows.map((row) => [row.seq, fromBlob(row.vector)]));
  }

  async findByHash(contentHash: string): Promise<Item | undefined> {
    const row = this
      .prepare<[string], ItemRow>(`SELECT ${ITEM_COLUMNS} FROM items WHERE content_hash = ? AND deleted = 0`)
      .get(contentHash);
    return row && toItem(row);
  }

  async thumbnail(id: string): Promise<Buffer | undefined> {
    const row = this
      .prepare<[string], { bytes: Buffer }>(
        `SELECT t.bytes FROM thumbnails t JOIN items i ON i.seq = t.seq WHERE i.id = ? AND i.deleted = 0`,
      )
      .get(id);
    return row?.bytes;
  }

  async delete(id: string): Promise<boolean> {
    const run = this.db.transaction((target: string): boolean => {
      const ref = this.liveRefById(target);
      if (!ref) return false;
      const version = this.currentVersion() + 1;
      this
        .prepare('UPDATE items SET deleted = 1, deleted_version = ?, updated_at = ? WHERE seq = ?')
        .run(version, new Date().toISOString(), ref.seq);
      // A deleted item is never served again, so its thumbnail is only dead weight.
      this.prepare('DELETE FROM thumbnails WHERE seq = ?').run(ref.seq);
      this.setVersion(version);
      return true;
    });
    return run(id);
  }

  matchFilter(filter: ItemFilter): Promise<Set<number>>;
  matchFilter(filter: ItemFilter, options: { limit: number }): Promise<Set<number> | null>;
  async matchFilter(filter: ItemFilter, options?: { limit: number }): Promise<Set<number> | null> {
    const clauses = ['deleted = 0'];
    const params: Array<string | number> = [];
    // An empty list means "no constraint", the same as an absent one.
    if (filter.sources?.length) {
      clauses.push('source IN (SELECT value FROM json_each(?))');
      params.push(JSON.stringify(filter.sources));
    }
    if (filter.licenses?.length) {
      clauses.push('license IN (SELECT value FROM json_each(?))');
      params.push(JSON.stringify(filter.licenses));
    }
    if (filter.tags?.length) {
      const required = [...new Set(filter.tags)];
      clauses.push(
        `(SELECT count(DISTINCT t.value) FROM json_each(items.tags) t
            WHERE t.value IN (SELECT value FROM json_each(?))) = ?`,
      );
      params.push(JSON.stringify(required), required.length);
    }
    if (filter.keywords !== undefined && filter.keywords.trim() !== '') {
      const query = toFtsQuery(filter.keywords);
      // Text with no indexable word matches nothing rather than silently dropping the constraint.
      if (query === undefined) return new Set();
      clauses.push('seq IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)');
      params.push(query);
    }
    const limited = options !== undefined;
    if (limited) params.push(Math.max(0, Math.floor(options.limit)) + 1);
    const rows = this
      .prepare<Array<string | number>, { seq: number }>(`SELECT seq FROM items WHERE ${clauses.join(' AND ')}${limited ? ' LIMIT ?' : ''}`)
      .all(...params);
    if (limited && rows.length > options.limit) return null;
    return new Set(rows.map((row) => row.seq));
  }

  async changesSince(version: number): Promise<CatalogChanges> {
    const read = this.db.transaction((since: number): CatalogChanges => {
      const added = this
        .prepare<[number], ItemRowWithVectors>(
          `SELECT ${ITEM_COLUMNS_WITH_VECTORS} FROM items WHERE added_version > ? AND deleted = 0 ORDER BY seq`,
        )
        .all(since)
        .map(toItemWithVectors);
      const deleted = this
        .prepare<[number], { seq: number }>(
          'SELECT seq FROM items WHERE deleted = 1 AND deleted_version > ? ORDER BY seq',
        )
        .all(since)
        .map((row) => row.seq);
      return { added, deleted, version: this.currentVersion() };
    });
    return read(version);
  }

  async *scan(batchSize: number): AsyncIterable<ItemWithVectors[]> {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw createError('BAD_REQUEST', 'scan batch size must be a positive integer');
    const page = this.prepare<[number, number], ItemRowWithVectors>(
      `SELECT ${ITEM_COLUMNS_WITH_VECTORS} FROM items WHERE deleted = 0 AND seq > ? ORDER BY seq LIMIT ?`,
    );
    let after = 0;
    for (;;) {
      const rows = page.all(after, batchSize);
      if (rows.length === 0) return;
      after = rows[rows.length - 1].seq;
      yield rows.map(toItemWithVectors);
      if (rows.length < batchSize) return;
    }
  }

  async version(): Promise<number> {
    return this.currentVersion();
  }

  async stats(): Promise<CatalogStats> {
    const read = this.db.transaction((): CatalogStats => {
      const counts = this
        .prepare<[], { live: number | null; deleted: number | null }>(
          'SELECT sum(deleted = 0) AS live, sum(deleted = 1) AS deleted FROM items',
        )
        .get();
      const sources = this
        .prepare<[], { source: string; n: number }>(
          'SELECT source, count(*) AS n FROM items WHERE deleted = 0 GROUP BY source ORDER BY source',
        )
        .all();
      return {
        items: counts?.live ?? 0,
        deleted: counts?.deleted ?? 0,
        sources: Object.fromEntries(sources.map((row) => [row.source, row.n])),
        version: this.currentVersion(),
      };
    });
    return read();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private migrate(path: string): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw createError(
        'STORE_CORRUPT',
        `${path} has schema version ${current}, newer than this Parasol understands (${SCHEMA_VERSION}); upgrade Parasol`,
      );
    }
    for (let step = current; step < SCHEMA_VERSION; step++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[step]);
        if (step === 0) {
          this.prepare("INSERT INTO meta (key, value) VALUES ('version', '0')").run();
        }
        this.db.pragma(`user_version = ${step + 1}`);
      })();
    }
  }

  private checkDims(path: string): void {
    const stored = this.readMeta('dims');
    if (stored === undefined) {
      this.prepare("INSERT INTO meta (key, value) VALUES ('dims', ?)").run(JSON.stringify(this.dims));
      return;
    }
    const dims = JSON.parse(stored) as VectorDims;
    if (dims.semantic !== this.dims.semantic || dims.style !== this.dims.style) {
      throw createError(
        'CONFIG_INVALID',
        `the catalog ${path} holds ${dims.semantic}-d semantic and ${dims.style}-d style vectors, but the model pack ` +
          `produces ${this.dims.semantic}-d and ${this.dims.style}-d; use the pack it was built with or a new data directory`,
      );
    }
  }

  private insertItem(input: ItemInput, id: string, now: string, version: number): number {
    const info = this
      .prepare(
        `INSERT INTO items (id, external_id, source, title, tags, keywords, license, attribution, url,
           width, height, content_hash, extra, created_at, updated_at, added_version, semantic, style)
         VALUES (@id, @externalId, @source, @title, @tags, @keywords, @license, @attribution, @url,
           @width, @height, @contentHash, @extra, @now, @now, @version, @semantic, @style)`,
      )
      .run({
        id,
        externalId: input.externalId ?? '',
        source: input.source,
        title: input.title,
        tags: JSON.stringify(input.tags ?? []),
        keywords: JSON.stringify(input.keywords ?? []),
        license: input.license ?? '',
        attribution: input.attribution ?? '',
        url: input.url ?? '',
        width: input.width,
        height: input.height,
        contentHash: input.contentHash,
        extra: JSON.stringify(input.extra ?? {}),
        now,
        version,
        semantic: toBlob(input.semantic),
        style: toBlob(input.style),
      });
    const seq = Number(info.lastInsertRowid);
    if (input.thumbnail) {
      this.prepare('INSERT INTO thumbnails (seq, bytes) VALUES (?, ?)').run(seq, input.thumbnail);
    }
    return seq;
  }

  /** better-sqlite3 does not cache prepared statements; the catalog's SQL is a small fixed set. */
  private prepare<P extends unknown[] = unknown[], R = unknown>(sql: string): Database.Statement<P, R> {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement as unknown as Database.Statement<P, R>;
  }

  private liveRefByHash(contentHash: string): { id: string; seq: number } | undefined {
    return this
      .prepare<[string], { id: string; seq: number }>('SELECT id, seq FROM items WHERE content_hash = ? AND deleted = 0')
      .get(contentHash);
  }

  private liveRefById(id: string): { id: string; seq: number } | undefined {
    return this
      .prepare<[string], { id: string; seq: number }>('SELECT id, seq FROM items WHERE id = ? AND deleted = 0')
      .get(id);
  }

  private currentVersion(): number {
    return Number(this.readMeta('version') ?? 0);
  }

  private setVersion(version: number): void {
    this.prepare("UPDATE meta SET value = ? WHERE key = 'version'").run(String(version));
  }

  private readMeta(key: string): string | undefined {
    return this.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?').get(key)?.value;
  }
}

function toItem(row: ItemRow): Item {
  return {
    seq: row.seq,
    id: row.id,
    externalId: row.external_id,
    source: row.source,
    title: row.title,
    tags: JSON.parse(row.tags) as string[],
    keywords: JSON.parse(row.keywords) as string[],
    license: row.license,
    attribution: row.attribution,
    url: row.url,
    width: row.width,
    height: row.height,
    contentHash: row.content_hash,
    extra: JSON.parse(row.extra) as Record<string, unknown>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toItemWithVectors(row: ItemRowWithVectors): ItemWithVectors {
  return { ...toItem(row), semantic: fromBlob(row.semantic), style: fromBlob(row.style) };
}
