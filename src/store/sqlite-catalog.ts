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
import { describeStamp, packMismatchMessage, sameStamp, type PackStamp } from './pack-stamp.js';
import { carriesText, LEXICAL_WEIGHTS, queryWords } from './lexical.js';
import { parseSearchTuning, searchTuningSchema, type SearchTuning } from './tuning.js';
import { hitsFor, topHits, wordPostings, WordPostingsCache, type WordHit, type WordPostings } from './word-postings.js';
import { assertDims, scopeSeqs, validateFacets, validateInput, type VectorDims } from './validate.js';
import type {
  AddResult,
  Catalog,
  CatalogChanges,
  CatalogStats,
  FacetCounts,
  FacetField,
  FacetScope,
  Item,
  ItemFilter,
  ItemInput,
  ItemMetadata,
  ItemWithVectors,
  LexicalHit,
  Modality,
  ResultItem,
  ResultItemWithVectors,
} from './types.js';

export type { VectorDims } from './validate.js';

export interface SqliteCatalogOptions {
  /** The database file; its folder is created when missing. ':memory:' works for throwaway use. */
  path: string;
  /** The dimensions of the model pack in use; a catalog built with other dimensions refuses to open. */
  dims: VectorDims;
  /**
   * The model pack in use: recorded on first open, and a catalog whose vectors another pack made
   * refuses to open (naming both and `parasol reindex`). Absent: not checked (tools that copy vectors).
   */
  pack?: PackStamp;
  /** Opens a catalog in the middle of a re-encode (only `parasol reindex` does, to continue it). */
  reencoding?: boolean;
}

/** Where a re-encode with another pack stands: the items up to `after` (seq) carry the target's vectors. */
export interface ReencodeState {
  target: PackStamp;
  dims: VectorDims;
  after: number;
}

/** Bump when the schema changes and add a step to MIGRATIONS. */
const SCHEMA_VERSION = 3;

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
  // 1 → 2: a description column, searched with the other words. FTS5 tables cannot gain a column,
  // so the full-text index is rebuilt from the items table (the source of truth) in the same
  // transaction as the column is added: a failure leaves the version-1 catalog as it was.
  `
  ALTER TABLE items ADD COLUMN description TEXT NOT NULL DEFAULT '';
  DROP TRIGGER items_fts_on_insert;
  DROP TRIGGER items_fts_on_delete;
  DROP TABLE items_fts;
  CREATE VIRTUAL TABLE items_fts USING fts5(
    title, tags, keywords, description,
    tokenize = 'porter unicode61 remove_diacritics 2'
  );
  INSERT INTO items_fts (rowid, title, tags, keywords, description)
    SELECT seq, title,
      (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(items.tags)),
      (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(items.keywords)),
      description
    FROM items WHERE deleted = 0;
  CREATE TRIGGER items_fts_on_insert AFTER INSERT ON items WHEN new.deleted = 0 BEGIN
    INSERT INTO items_fts (rowid, title, tags, keywords, description) VALUES (
      new.seq,
      new.title,
      (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(new.tags)),
      (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(new.keywords)),
      new.description
    );
  END;
  CREATE TRIGGER items_fts_on_delete AFTER UPDATE OF deleted ON items
    WHEN new.deleted = 1 AND old.deleted = 0 BEGIN
    DELETE FROM items_fts WHERE rowid = old.seq;
  END;
  -- An edit of a live item's words replaces its row, in the statement's own transaction.
  CREATE TRIGGER items_fts_on_update AFTER UPDATE OF title, tags, keywords, description ON items
    WHEN new.deleted = 0 AND old.deleted = 0 BEGIN
    DELETE FROM items_fts WHERE rowid = old.seq;
    INSERT INTO items_fts (rowid, title, tags, keywords, description) VALUES (
      new.seq,
      new.title,
      (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(new.tags)),
      (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(new.keywords)),
      new.description
    );
  END;
  `,
  // 2 → 3: other ids of a stored image (aliases), each with its own metadata. An alias shares the
  // item's seq, vectors and thumbnail; it is not searched on its own, so it never touches the FTS
  // index or the version. Deleted aliases are removed outright: no index replays them.
  `
  CREATE TABLE aliases (
    id          TEXT    PRIMARY KEY,
    seq         INTEGER NOT NULL REFERENCES items(seq),
    external_id TEXT    NOT NULL DEFAULT '',
    source      TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    tags        TEXT    NOT NULL DEFAULT '[]',
    keywords    TEXT    NOT NULL DEFAULT '[]',
    description TEXT    NOT NULL DEFAULT '',
    license     TEXT    NOT NULL DEFAULT '',
    attribution TEXT    NOT NULL DEFAULT '',
    url         TEXT    NOT NULL DEFAULT '',
    extra       TEXT    NOT NULL DEFAULT '{}',
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
  );
  CREATE INDEX aliases_seq ON aliases(seq);
  `,
];

/** An alias's own metadata columns, in the order items has them. */
const ALIAS_COLUMNS = `id, seq, external_id, source, title, tags, keywords, description, license, attribution, url, extra, created_at, updated_at`;

/** The columns every id carries: the stored item's own and each alias's (its own metadata over the shared image). */
interface IdRow {
  id: string;
  seq: number;
  external_id: string;
  source: string;
  title: string;
  tags: string;
  keywords: string;
  description: string;
  license: string;
  attribution: string;
  url: string;
  extra: string;
  created_at: string;
  updated_at: string;
}

type AliasRow = IdRow;

/** bm25() weights in column order (title, tags, keywords, description): see LEXICAL_WEIGHTS. */
const BM25 = `bm25(items_fts, ${LEXICAL_WEIGHTS.title}, ${LEXICAL_WEIGHTS.tags}, ${LEXICAL_WEIGHTS.keywords}, ${LEXICAL_WEIGHTS.description})`;

const ITEM_COLUMNS = `seq, id, external_id, source, title, tags, keywords, description, license, attribution, url,
  width, height, content_hash, extra, created_at, updated_at`;
const ITEM_COLUMNS_WITH_VECTORS = `${ITEM_COLUMNS}, semantic, style`;

interface ItemRow extends IdRow {
  width: number;
  height: number;
  content_hash: string;
}

interface ItemRowWithVectors extends ItemRow {
  semantic: Buffer;
  style: Buffer;
}

/**
 * A search result's columns only, and its aliases in the same statement (one consistent read
 * without a transaction; null for the many items without any). Measured: reading every metadata
 * column costs twice the time of these for a page of random rows.
 */
const RESULT_COLUMNS = `seq, id, source, title, tags, license, attribution, extra,
  CASE WHEN EXISTS (SELECT 1 FROM aliases WHERE aliases.seq = items.seq)
    THEN (SELECT json_group_array(id) FROM (SELECT id FROM aliases WHERE aliases.seq = items.seq ORDER BY rowid))
  END AS alias_ids`;

interface ResultRow {
  seq: number;
  id: string;
  source: string;
  title: string;
  tags: string;
  license: string;
  attribution: string;
  extra: string;
  alias_ids: string | null;
}

interface ResultRowWithVectors extends ResultRow {
  semantic: Buffer;
  style: Buffer;
}

/** One word as an FTS5 string: quoted, so OR, NOT, NEAR, `col:`, `*` or `^` are only ever searched for. */
function ftsString(word: string): string {
  return `"${word.replace(/"/g, '""')}"`;
}

/**
 * Turns user text into an FTS5 query that can only ever mean "all of these words" (the keyword
 * filter). Returns undefined when the text holds no indexable word.
 */
export function toFtsQuery(text: string): string | undefined {
  const words = queryWords(text);
  return words.length === 0 ? undefined : words.map(ftsString).join(' ');
}

/** The public id of an item ingested without one: stable across re-ingestion of the same bytes. */
export function idFromHash(contentHash: string): string {
  return contentHash.slice(0, 16).toLowerCase();
}

/** The `meta` row holding `parasol tune`'s record (JSON). */
const TUNING_KEY = 'search_tuning';

export class SqliteCatalog implements Catalog {
  readonly dims: VectorDims;
  private readonly pack: PackStamp | undefined;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly terms = new TermNormaliser();
  private readonly postings = new WordPostingsCache();
  /** Committed writes through this connection (see wordsKey). */
  private ownWrites = 0;

  constructor(options: SqliteCatalogOptions) {
    assertDims(options.dims);
    this.dims = { ...options.dims };
    this.pack = options.pack;
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
      this.checkPack(options);
      const reencode = this.reencodeState();
      // Mid re-encode the rows hold two sizes; only the re-encode itself opens it, with the target's.
      if (options.reencoding && reencode) this.dims = { ...reencode.dims };
      else if (!options.reencoding) this.checkDims(options.path);
      if (options.pack && this.readMeta('pack') === undefined) {
        this.prepare("INSERT INTO meta (key, value) VALUES ('pack', ?)").run(JSON.stringify(options.pack));
      }
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
      // Another process may have started re-encoding this catalog with another pack since it opened.
      if (this.pack && (this.readMeta('reencode') !== undefined || this.storedPack()?.fingerprint !== this.pack.fingerprint)) {
        throw createError('NOT_READY', 'the catalog is being re-encoded with another model pack (`parasol reindex`); reopen it when that is done');
      }
      const now = new Date().toISOString();
      const nextVersion = this.currentVersion() + 1;
      const results: AddResult[] = [];
      const addedInBatch = new Map<string, AddResult>();
      let addedAny = false;

      for (const input of batch) {
        const sameContent = addedInBatch.get(input.contentHash) ?? this.liveRefByHash(input.contentHash);
        if (sameContent) {
          results.push(this.addDuplicate(input, sameContent, now));
          continue;
        }
        const id = input.id ?? idFromHash(input.contentHash);
        if (this.seqOfId(id) !== undefined) {
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
    try {
      return run(items);
    } finally {
      this.ownWrites++;
    }
  }

  async get(id: string): Promise<Item | undefined> {
    return this.db.transaction((): Item | undefined => {
      const row = this
        .prepare<[string], ItemRow>(`SELECT ${ITEM_COLUMNS} FROM items WHERE id = ? AND deleted = 0`)
        .get(id);
      if (row) return this.withAliases(toItem(row));
      const alias = this.aliasById(id);
      if (!alias) return undefined;
      const item = this.prepare<[number], ItemRow>(`SELECT ${ITEM_COLUMNS} FROM items WHERE seq = ? AND deleted = 0`).get(alias.seq);
      return item && aliasView(toItem(item), alias);
    })();
  }

  async getWithVectors(id: string): Promise<ItemWithVectors | undefined> {
    return this.db.transaction((): ItemWithVectors | undefined => {
      const row = this
        .prepare<[string], ItemRowWithVectors>(`SELECT ${ITEM_COLUMNS_WITH_VECTORS} FROM items WHERE id = ? AND deleted = 0`)
        .get(id);
      if (row) return this.withAliases(toItemWithVectors(row));
      const alias = this.aliasById(id);
      if (!alias) return undefined;
      const item = this
        .prepare<[number], ItemRowWithVectors>(`SELECT ${ITEM_COLUMNS_WITH_VECTORS} FROM items WHERE seq = ? AND deleted = 0`)
        .get(alias.seq);
      return item && { ...aliasView(toItem(item), alias), semantic: fromBlob(item.semantic), style: fromBlob(item.style) };
    })();
  }

  async getManyBySeq(seqs: number[]): Promise<Map<number, Item>> {
    return this.db.transaction((): Map<number, Item> => {
      const rows = this
        .prepare<[string], ItemRow>(
          `SELECT ${ITEM_COLUMNS} FROM items WHERE deleted = 0 AND seq IN (SELECT value FROM json_each(?))`,
        )
        .all(JSON.stringify(seqs));
      const aliases = this.aliasIdsBySeq(rows.map((row) => row.seq));
      return new Map(rows.map((row) => [row.seq, withAliasIds(toItem(row), aliases.get(row.seq))]));
    })();
  }

  async getResultItemsBySeq(seqs: number[]): Promise<Map<number, ResultItem>> {
    const rows = this
      .prepare<[string], ResultRow>(`SELECT ${RESULT_COLUMNS} FROM items WHERE deleted = 0 AND seq IN (SELECT value FROM json_each(?))`)
      .all(JSON.stringify(seqs));
    return new Map(rows.map((row) => [row.seq, toResultItem(row)]));
  }

  async getResultItemsWithVectorsBySeq(seqs: number[]): Promise<Map<number, ResultItemWithVectors>> {
    const rows = this
      .prepare<[string], ResultRowWithVectors>(
        `SELECT ${RESULT_COLUMNS}, semantic, style FROM items WHERE deleted = 0 AND seq IN (SELECT value FROM json_each(?))`,
      )
      .all(JSON.stringify(seqs));
    return new Map(rows.map((row) => [row.seq, { ...toResultItem(row), semantic: fromBlob(row.semantic), style: fromBlob(row.style) }]));
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
    return this.db.transaction((): Item | undefined => {
      const row = this
        .prepare<[string], ItemRow>(`SELECT ${ITEM_COLUMNS} FROM items WHERE content_hash = ? AND deleted = 0`)
        .get(contentHash);
      return row && this.withAliases(toItem(row));
    })();
  }

  async thumbnail(id: string): Promise<Buffer | undefined> {
    const seq = this.seqOfId(id);
    if (seq === undefined) return undefined;
    return this.prepare<[number], { bytes: Buffer }>('SELECT bytes FROM thumbnails WHERE seq = ?').get(seq)?.bytes;
  }

  async delete(id: string): Promise<boolean> {
    const run = this.db.transaction((target: string): boolean => {
      const ref = this.liveRefById(target);
      if (!ref) {
        // An alias goes alone: the image and its other ids stay.
        return this.prepare('DELETE FROM aliases WHERE id = ?').run(target).changes > 0;
      }
      const heir = this
        .prepare<[number], AliasRow>(`SELECT ${ALIAS_COLUMNS} FROM aliases WHERE seq = ? ORDER BY rowid LIMIT 1`)
        .get(ref.seq);
      if (heir) {
        // The oldest alias takes the image over: same seq, vectors and thumbnail, so no index changes.
        this
          .prepare(
            `UPDATE items SET id = @id, external_id = @external_id, source = @source, title = @title, tags = @tags,
               keywords = @keywords, description = @description, license = @license, attribution = @attribution,
               url = @url, extra = @extra, updated_at = @now WHERE seq = @seq`,
          )
          .run({ ...heir, now: new Date().toISOString() });
        this.prepare('DELETE FROM aliases WHERE id = ?').run(heir.id);
        return true;
      }
      const version = this.currentVersion() + 1;
      this
        .prepare('UPDATE items SET deleted = 1, deleted_version = ?, updated_at = ? WHERE seq = ?')
        .run(version, new Date().toISOString(), ref.seq);
      // A deleted item is never served again, so its thumbnail is only dead weight.
      this.prepare('DELETE FROM thumbnails WHERE seq = ?').run(ref.seq);
      this.setVersion(version);
      return true;
    });
    try {
      return run(id);
    } finally {
      this.ownWrites++;
    }
  }

  matchFilter(filter: ItemFilter): Promise<Set<number>>;
  matchFilter(filter: ItemFilter, options: { limit: number }): Promise<Set<number> | null>;
  async matchFilter(filter: ItemFilter, options?: { limit: number }): Promise<Set<number> | null> {
    const where = filterSql(filter);
    if (where === null) return new Set();
    const params = [...where.params];
    const limited = options !== undefined;
    if (limited) params.push(Math.max(0, Math.floor(options.limit)) + 1);
    const rows = this
      .prepare<Array<string | number>, { seq: number }>(`SELECT seq FROM items WHERE ${where.clauses.join(' AND ')}${limited ? ' LIMIT ?' : ''}`)
      .all(...params);
    if (limited && rows.length > options.limit) return null;
    return new Set(rows.map((row) => row.seq));
  }

  async facets(scope: FacetScope, fields: readonly FacetField[], options: { limit: number }): Promise<FacetCounts> {
    const wanted = validateFacets(fields, options.limit);
    const counts: FacetCounts = Object.fromEntries(wanted.map((field) => [field, []]));
    let where: { clauses: string[]; params: Array<string | number> } | null;
    if ('seqs' in scope) {
      const seqs = scopeSeqs(scope.seqs);
      // json_each turns any number of seqs into one bound parameter; `IN (subquery)` builds a
      // transient index over it, so 10k seqs cost one pass over the JSON and one lookup per seq.
      where = seqs.length === 0 ? null : { clauses: ['deleted = 0', 'items.seq IN (SELECT value FROM json_each(?))'], params: [JSON.stringify(seqs)] };
    } else {
      where = filterSql(scope.filter);
    }
    if (where === null) return counts;
    const { clauses, params } = where;
    const run = this.db.transaction((): void => {
      for (const field of wanted) {
        // Column names come from the closed FacetField union, never from user input.
        const sql =
          field === 'tags'
            ? `SELECT tag.value AS value, count(DISTINCT items.seq) AS n FROM items, json_each(items.tags) tag
               WHERE ${clauses.join(' AND ')} AND tag.value <> '' GROUP BY tag.value ORDER BY n DESC, tag.value LIMIT ?`
            : `SELECT ${field} AS value, count(*) AS n FROM items
               WHERE ${clauses.join(' AND ')} AND ${field} <> '' GROUP BY ${field} ORDER BY n DESC, ${field} LIMIT ?`;
        const rows = this.prepare<Array<string | number>, { value: string; n: number }>(sql).all(...params, options.limit);
        counts[field] = rows.map((row) => ({ value: row.value, count: row.n }));
      }
    });
    run();
    return counts;
  }

  async lexicalSearch(
    text: string,
    options: { limit: number; allowed?: ReadonlySet<number>; filter?: ItemFilter },
  ): Promise<LexicalHit[]> {
    const words = queryWords(text);
    const limit = Math.max(0, Math.floor(options.limit));
    if (words.length === 0 || limit === 0) return [];
    const run = this.db.transaction((): LexicalHit[] => {
      let allowed = options.allowed;
      const where = filterSql(options.filter ?? {});
      if (where === null) return [];
      if (where.clauses.length > 1) {
        const matching = this.prepare<Array<string | number>, { seq: number }>(`SELECT seq FROM items WHERE ${where.clauses.join(' AND ')}`).all(...where.params);
        const given = allowed;
        allowed = new Set(matching.map((row) => row.seq).filter((seq) => given === undefined || given.has(seq)));
      }
      if (allowed?.size === 0) return [];
      const accept = allowed === undefined ? undefined : (seq: number) => (allowed as ReadonlySet<number>).has(seq);
      return this.lexicalHits(words, topHits(this.wordLists(words), limit, accept));
    });
    return run();
  }

  async lexicalScores(text: string, seqs: number[]): Promise<Map<number, LexicalHit>> {
    const words = queryWords(text);
    const wanted = [...new Set(seqs.filter((seq) => Number.isSafeInteger(seq)))];
    if (words.length === 0 || wanted.length === 0) return new Map();
    // The same per-word postings as lexicalSearch: the scores are the same doubles.
    const run = this.db.transaction((): LexicalHit[] => this.lexicalHits(words, hitsFor(this.wordLists(words), wanted)));
    return new Map(run().map((hit) => [hit.seq, hit]));
  }

  async hasText(): Promise<boolean> {
    const row = this
      .prepare<[], { found: number }>(
        `SELECT EXISTS (SELECT 1 FROM items WHERE deleted = 0 AND
           ((title <> '' AND title <> id) OR tags <> '[]' OR keywords <> '[]' OR description <> '')) AS found`,
      )
      .get();
    return row?.found === 1;
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
      const aliases = this.aliasIdsBySeq(rows.map((row) => row.seq));
      yield rows.map((row) => withAliasIds(toItemWithVectors(row), aliases.get(row.seq)));
      if (rows.length < batchSize) return;
    }
  }

  async version(): Promise<number> {
    return this.currentVersion();
  }

  /** data_version moves when another connection commits, total_changes() with every row this one writes. */
  writeStamp(): string {
    // Prepared once and plucked: db.pragma() compiles its statement on every call, and every query asks.
    const others = this.prepare<[], number>('PRAGMA data_version').pluck().get();
    const own = this.prepare<[], number>('SELECT total_changes()').pluck().get();
    return `${others}:${own}`;
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

  async searchTuning(): Promise<SearchTuning | null> {
    const stored = this.readMeta(TUNING_KEY);
    return stored === undefined ? null : parseSearchTuning(stored, this.db.name);
  }

  async setSearchTuning(tuning: SearchTuning | null): Promise<void> {
    if (tuning === null) {
      this.prepare('DELETE FROM meta WHERE key = ?').run(TUNING_KEY);
      return;
    }
    const checked = searchTuningSchema.parse(tuning);
    this.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(TUNING_KEY, JSON.stringify(checked));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
    this.terms.close();
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

  /** The pack whose vectors the catalog holds, when recorded (catalogs older than the record have none). */
  storedPack(): PackStamp | undefined {
    const stored = this.readMeta('pack');
    return stored === undefined ? undefined : (JSON.parse(stored) as PackStamp);
  }

  /** The vector dimensions the catalog records. */
  storedDims(): VectorDims | undefined {
    const stored = this.readMeta('dims');
    return stored === undefined ? undefined : (JSON.parse(stored) as VectorDims);
  }

  reencodeState(): ReencodeState | undefined {
    const stored = this.readMeta('reencode');
    return stored === undefined ? undefined : (JSON.parse(stored) as ReencodeState);
  }

  /** Starts (or, with the same target, continues) replacing every item's vectors with `target`'s. */
  beginReencode(target: PackStamp, dims: VectorDims): ReencodeState {
    assertDims(dims);
    const current = this.reencodeState();
    if (current && current.target.fingerprint === target.fingerprint && current.dims.semantic === dims.semantic && current.dims.style === dims.style) {
      return current;
    }
    const state: ReencodeState = { target, dims: { ...dims }, after: 0 };
    this.writeMeta('reencode', JSON.stringify(state));
    return state;
  }

  /** Live items with a seq up to `seq` (how far a re-encode got, in items). */
  liveCountUpTo(seq: number): number {
    return this.prepare<[number], { n: number }>('SELECT count(*) AS n FROM items WHERE deleted = 0 AND seq <= ?').get(seq)?.n ?? 0;
  }

  /** The next live items to re-encode (seq order, after `after`). */
  reencodePage(after: number, limit: number): Item[] {
    const rows = this.prepare<[number, number], ItemRow>(`SELECT ${ITEM_COLUMNS} FROM items WHERE deleted = 0 AND seq > ? ORDER BY seq LIMIT ?`).all(after, limit);
    return rows.map(toItem);
  }

  /** Writes re-encoded vectors and how far the re-encode got, in one transaction. */
  commitReencoded(rows: Array<{ seq: number; semantic: Float32Array; style: Float32Array }>, after: number): void {
    const state = this.reencodeState();
    if (!state) throw createError('NOT_READY', 'no re-encode is in progress');
    rows.forEach((row, index) =>
      validateInput({ contentHash: 'x', source: '', title: '', tags: [], width: 0, height: 0, semantic: row.semantic, style: row.style }, index, state.dims),
    );
    this.db.transaction(() => {
      const update = this.prepare('UPDATE items SET semantic = ?, style = ? WHERE seq = ?');
      for (const row of rows) update.run(toBlob(row.semantic), toBlob(row.style), row.seq);
      this.writeMeta('reencode', JSON.stringify({ ...state, after }));
    })();
  }

  /**
   * Ends a re-encode once every live item carries the target's vectors: the catalog then records
   * the target pack and its dimensions. Deleted items keep the vectors they had; nothing reads them.
   */
  finishReencode(): PackStamp {
    const state = this.reencodeState();
    if (!state) throw createError('NOT_READY', 'no re-encode is in progress');
    this.db.transaction(() => {
      this.writeMeta('dims', JSON.stringify(state.dims));
      this.writeMeta('pack', JSON.stringify(state.target));
      this.prepare("DELETE FROM meta WHERE key = 'reencode'").run();
    })();
    return state.target;
  }

  private writeMeta(key: string, value: string): void {
    this.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  private checkPack(options: SqliteCatalogOptions): void {
    const where = options.path === ':memory:' ? 'the catalog' : `the index in ${dirname(options.path)}`;
    const reencode = this.reencodeState();
    if (reencode && !options.reencoding) {
      throw createError(
        'CONFIG_INVALID',
        `${where} is half re-encoded with the model pack ${describeStamp(reencode.target)}; run \`parasol reindex\` with that pack to finish`,
      );
    }
    const stored = this.storedPack();
    if (options.pack && stored && !options.reencoding && !sameStamp(stored, options.pack)) {
      throw createError('CONFIG_INVALID', packMismatchMessage(where, stored, options.pack));
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
          `produces ${this.dims.semantic}-d and ${this.dims.style}-d; run \`parasol reindex\` to re-encode it with this pack, or use the pack it was built with`,
      );
    }
  }

  private insertItem(input: ItemInput, id: string, now: string, version: number): number {
    const info = this
      .prepare(
        `INSERT INTO items (id, external_id, source, title, tags, keywords, description, license, attribution, url,
           width, height, content_hash, extra, created_at, updated_at, added_version, semantic, style)
         VALUES (@id, @externalId, @source, @title, @tags, @keywords, @description, @license, @attribution, @url,
           @width, @height, @contentHash, @extra, @now, @now, @version, @semantic, @style)`,
      )
      .run({
        id,
        ...metadataParams(input),
        width: input.width,
        height: input.height,
        contentHash: input.contentHash,
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

  /**
   * Each query word's postings (see word-postings.ts), read with one pass over the word's matches
   * the first time the word is asked for in this state of the full-text table.
   */
  private wordLists(words: readonly string[]): WordPostings[] {
    const key = this.wordsKey();
    return words.map((word) => this.postings.get(key, word, () => this.readPostings(word)));
  }

  /**
   * One word's bm25() over its matches, read as two JSON arrays: one row instead of one per match
   * (a third of the time for a word in half of 100k items, measured). The aggregate sits over a
   * materialised CTE because FTS5 allows its auxiliary functions only on the full-text query's own row.
   */
  private readPostings(word: string): WordPostings {
    // A word the tokenizer keeps nothing of (e.g. only combining marks) matches nothing.
    if (this.terms.normalise(word).length === 0) return wordPostings([], []);
    const row = this
      .prepare<[string], { seqs: string; ranks: string }>(
        `WITH matches AS MATERIALIZED (SELECT rowid AS seq, ${BM25} AS rank FROM items_fts WHERE items_fts MATCH ?)
         SELECT json_group_array(seq) AS seqs, json_group_array(rank) AS ranks FROM matches`,
      )
      .get(ftsString(word)) as { seqs: string; ranks: string };
    const ranks = JSON.parse(row.ranks) as number[];
    return wordPostings(JSON.parse(row.seqs) as number[], ranks.map((rank) => -rank));
  }

  /**
   * The state of the full-text table that cached postings belong to: `data_version` changes when
   * another connection commits (another process indexing into the same file), `ownWrites` when
   * this one does. Not the catalog version: promoting an alias changes an item's words without it.
   */
  private wordsKey(): string {
    // Prepared once and plucked (as writeStamp): db.pragma() compiles its statement on every call.
    return `${this.prepare<[], number>('PRAGMA data_version').pluck().get() as number}:${this.ownWrites}`;
  }

  /** Rows with the query words they matched, as the index normalises them (e.g. stemmed). */
  private lexicalHits(words: readonly string[], hits: readonly WordHit[]): LexicalHit[] {
    const termsOf = words.map((word) => this.terms.normalise(word));
    // Hits that matched the same words share one terms list (a query has few such sets).
    const bySet = new Map<number, string[]>();
    const termsFor = (matched: number): string[] => {
      let terms = bySet.get(matched);
      if (!terms) {
        const set = new Set<string>();
        termsOf.forEach((wordTerms, i) => {
          if (matched & (2 ** i)) for (const term of wordTerms) set.add(term);
        });
        terms = [...set];
        bySet.set(matched, terms);
      }
      return terms;
    };
    return hits.map((hit) => ({ seq: hit.seq, score: hit.score, terms: termsFor(hit.matched) }));
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

  /**
   * A duplicate input: a plain repeat (no explicit id, or the image's own) is only reported; a new
   * explicit id becomes an alias of the stored image with the input's metadata.
   */
  private addDuplicate(input: ItemInput, stored: { id: string; seq: number }, now: string): AddResult {
    const wanted = input.id;
    if (wanted === undefined || wanted === stored.id) return { id: stored.id, seq: stored.seq, status: 'duplicate', existingId: stored.id };
    const owner = this.seqOfId(wanted);
    if (owner !== undefined && owner !== stored.seq) {
      throw createError('CONFLICT', `An item with id "${wanted}" already exists with different content`);
    }
    if (owner === undefined) {
      this
        .prepare(
          `INSERT INTO aliases (${ALIAS_COLUMNS}) VALUES (@id, @seq, @externalId, @source, @title, @tags, @keywords,
             @description, @license, @attribution, @url, @extra, @now, @now)`,
        )
        .run({
          id: wanted,
          seq: stored.seq,
          ...metadataParams(input),
          now,
        });
    }
    return { id: wanted, seq: stored.seq, status: 'duplicate', existingId: stored.id };
  }

  /** The live seq an id answers for: a stored item's own id or one of its aliases. */
  private seqOfId(id: string): number | undefined {
    const own = this.liveRefById(id);
    if (own) return own.seq;
    return this.aliasById(id)?.seq;
  }

  private aliasById(id: string): AliasRow | undefined {
    return this.prepare<[string], AliasRow>(`SELECT ${ALIAS_COLUMNS} FROM aliases WHERE id = ?`).get(id);
  }

  private aliasIdsBySeq(seqs: number[]): Map<number, string[]> {
    const found = new Map<number, string[]>();
    if (seqs.length === 0) return found;
    const rows = this
      .prepare<[string], { id: string; seq: number }>(
        'SELECT id, seq FROM aliases WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY rowid',
      )
      .all(JSON.stringify(seqs));
    for (const row of rows) found.set(row.seq, [...(found.get(row.seq) ?? []), row.id]);
    return found;
  }

  private withAliases<T extends Item>(item: T): T {
    return withAliasIds(item, this.aliasIdsBySeq([item.seq]).get(item.seq));
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

/**
 * The WHERE clauses (over `items`) selecting the live items a filter allows, with their parameters,
 * or null when the filter can match nothing. Empty lists mean "no constraint".
 */
function filterSql(filter: ItemFilter): { clauses: string[]; params: Array<string | number> } | null {
  const clauses = ['deleted = 0'];
  const params: Array<string | number> = [];
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
    if (query === undefined) return null;
    clauses.push('items.seq IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)');
    params.push(query);
  }
  return { clauses, params };
}

/**
 * Query words as the index stores them (porter-stemmed, case- and accent-folded), read from the
 * tokenizer itself: a private in-memory FTS5 table with the catalog's tokenizer and an
 * fts5vocab view of it. The catalog's own file is never written by a read.
 */
class TermNormaliser {
  private readonly db = new Database(':memory:');
  private readonly insert: Database.Statement<[string]>;
  private readonly read: Database.Statement<[], { term: string }>;
  private readonly clear: Database.Statement<[]>;
  private readonly cache = new Map<string, string[]>();

  constructor() {
    this.db.exec(`
      CREATE VIRTUAL TABLE words USING fts5(word, tokenize = 'porter unicode61 remove_diacritics 2');
      CREATE VIRTUAL TABLE word_terms USING fts5vocab(words, 'instance');
    `);
    this.insert = this.db.prepare('INSERT INTO words (rowid, word) VALUES (1, ?)');
    this.read = this.db.prepare('SELECT term FROM word_terms ORDER BY offset');
    this.clear = this.db.prepare('DELETE FROM words WHERE rowid = 1');
  }

  normalise(word: string): string[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const terms = this.db.transaction((): string[] => {
      this.insert.run(word);
      const found = [...new Set(this.read.all().map((row) => row.term))];
      this.clear.run();
      return found;
    })();
    // A bounded memo: queries repeat words, but a server must not grow without limit.
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(word, terms);
    return terms;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** The columns an item and an alias share: an id's own metadata. */
type MetadataRow = Omit<IdRow, 'id' | 'seq'>;

function metadataOf(row: MetadataRow) {
  return {
    externalId: row.external_id,
    source: row.source,
    title: row.title,
    tags: JSON.parse(row.tags) as string[],
    keywords: JSON.parse(row.keywords) as string[],
    description: row.description,
    license: row.license,
    attribution: row.attribution,
    url: row.url,
    extra: JSON.parse(row.extra) as Record<string, unknown>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** An input's own metadata as the columns every id carries (the write side of metadataOf). */
function metadataParams(input: ItemMetadata) {
  return {
    externalId: input.externalId ?? '',
    source: input.source,
    title: input.title,
    tags: JSON.stringify(input.tags ?? []),
    keywords: JSON.stringify(input.keywords ?? []),
    description: input.description ?? '',
    license: input.license ?? '',
    attribution: input.attribution ?? '',
    url: input.url ?? '',
    extra: JSON.stringify(input.extra ?? {}),
  };
}

function toItem(row: ItemRow): Item {
  return { seq: row.seq, id: row.id, ...metadataOf(row), width: row.width, height: row.height, contentHash: row.content_hash };
}

function toResultItem(row: ResultRow): ResultItem {
  const item: ResultItem = {
    seq: row.seq,
    id: row.id,
    title: row.title,
    source: row.source,
    license: row.license,
    attribution: row.attribution,
    tags: JSON.parse(row.tags) as string[],
    extra: JSON.parse(row.extra) as Record<string, unknown>,
  };
  if (row.alias_ids !== null) item.aliases = JSON.parse(row.alias_ids) as string[];
  return item;
}

function withAliasIds<T extends Item>(item: T, aliases: string[] | undefined): T {
  return aliases && aliases.length > 0 ? { ...item, aliases } : item;
}

/** An alias read by its id: its own metadata over the stored item's image. */
function aliasView(item: Item, alias: AliasRow): Item {
  return { ...item, id: alias.id, ...metadataOf(alias), aliasOf: item.id };
}

function toItemWithVectors(row: ItemRowWithVectors): ItemWithVectors {
  return { ...toItem(row), semantic: fromBlob(row.semantic), style: fromBlob(row.style) };
}
