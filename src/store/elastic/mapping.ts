/**
 * What the Elasticsearch backend stores, and how (DESIGN.md §6):
 *
 *   <alias>             alias → <alias>-v<N>: one doc per item, `_id = String(seq)`, both vectors
 *   <alias>-thumbnails  `_id = item id`: thumbnail bytes, kept out of the items' `_source`
 *   <alias>-meta        the counter doc (next seq, catalog version) and the uniqueness registry
 *
 * The items index is versioned behind the alias so that `rebuild` can fill a new one and move the
 * alias atomically. The mapping carries `_meta.parasol` so a later open can tell which schema and
 * which vector dimensions it was built for.
 */
import type { PackStamp } from '../pack-stamp.js';
import type { estypes } from '@elastic/elasticsearch';
import type { VectorDims } from '../sqlite-catalog.js';
import { LEXICAL_WEIGHTS } from '../lexical.js';
import type { Item, ItemWithVectors, Modality } from '../types.js';

/**
 * Bump when the mapping changes; an index with a newer schema is refused. 2 added `description`
 * and `hasText`, 3 added `aliases`; an open adds both to an older index in place (see SCHEMA_ADDITIONS).
 */
export const SCHEMA_VERSION = 3;

export const MODALITIES: readonly Modality[] = ['semantic', 'style'];

/** The analyzer shared by title, tag words and keywords: the ES twin of FTS5's porter unicode61 remove_diacritics. */
export const TEXT_ANALYZER = 'parasol_text';

/** The fields a keyword filter searches (every word must occur in one of them). */
export const KEYWORD_FIELDS = ['title', 'tags.text', 'keywords', 'description'] as const;

/** The fields the lexical signal scores, boosted as SQLite weighs its FTS5 columns (LEXICAL_WEIGHTS). */
export const LEXICAL_FIELDS: readonly string[] = [
  `title^${LEXICAL_WEIGHTS.title}`,
  `tags.text^${LEXICAL_WEIGHTS.tags}`,
  `keywords^${LEXICAL_WEIGHTS.keywords}`,
  `description^${LEXICAL_WEIGHTS.description}`,
];

/** What schema 2 added to the items mapping: new fields only, so an existing index takes them in place. */
export const SCHEMA_2_ADDITIONS: Record<string, estypes.MappingProperty> = {
  description: { type: 'text', analyzer: TEXT_ANALYZER },
  // Whether the item carries words beyond its id (carriesText), so hasText() is one cheap query.
  hasText: { type: 'boolean' },
};

/**
 * What schema 3 added: the other ids of the same image with their own metadata. Stored, never
 * indexed (an alias is reached through its registry claim, and search sees the stored item's words).
 */
export const SCHEMA_3_ADDITIONS: Record<string, estypes.MappingProperty> = {
  aliases: { type: 'object', enabled: false },
};

/** Every field added since schema 1: put on an older index in place (idempotent). */
export const SCHEMA_ADDITIONS: Record<string, estypes.MappingProperty> = { ...SCHEMA_2_ADDITIONS, ...SCHEMA_3_ADDITIONS };

/** An alias as stored in its item's doc: the id and that id's own metadata. */
export interface AliasDoc {
  id: string;
  externalId: string;
  source: string;
  title: string;
  tags: string[];
  keywords: string[];
  description: string;
  license: string;
  attribution: string;
  url: string;
  extra: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export interface IndexNames {
  alias: string;
  meta: string;
  thumbnails: string;
}

export function indexNames(alias: string): IndexNames {
  return { alias, meta: `${alias}-meta`, thumbnails: `${alias}-thumbnails` };
}

export function concreteName(alias: string, generation: number): string {
  return `${alias}-v${generation}`;
}

/** The generation of a concrete items index (`<alias>-v<N>`), or undefined for another name. */
export function generationOf(alias: string, concrete: string): number | undefined {
  const prefix = `${alias}-v`;
  if (!concrete.startsWith(prefix)) return undefined;
  const rest = concrete.slice(prefix.length);
  return /^[1-9]\d*$/.test(rest) ? Number(rest) : undefined;
}

export interface ItemsIndexSettings {
  dims: VectorDims;
  /** The model pack whose vectors the index holds (recorded in `_meta.parasol.pack`). */
  pack?: PackStamp;
  shards: number;
  replicas: number;
  quantization: 'none' | 'int8';
  hnsw: { m: number; efConstruction: number };
  /**
   * Since 9.2, new indices leave vectors out of `_source` by default; this backend reads exact
   * float32 vectors back from `_source`, so it opts out where the setting exists.
   */
  keepVectorsInSource: boolean;
}

/** One item as stored. Vectors are plain number arrays: each float32 value prints and parses back exactly. */
export interface ItemDoc {
  seq: number;
  id: string;
  externalId: string;
  contentHash: string;
  source: string;
  title: string;
  tags: string[];
  keywords: string[];
  /** Absent on items written under schema 1. */
  description?: string;
  /** Absent on items written under schema 1 (hasText() counts those as carrying text). */
  hasText?: boolean;
  license: string;
  attribution: string;
  url: string;
  width: number;
  height: number;
  extra: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  deleted: boolean;
  addedVersion: number;
  deletedVersion?: number;
  /** Absent on items written before schema 3 and on items without aliases; oldest first. */
  aliases?: AliasDoc[];
  semantic: number[];
  style: number[];
}

export interface ThumbnailDoc {
  seq: number;
  /** base64, as ES `binary` fields take it. */
  bytes: string;
}

export function itemsIndexBody(settings: ItemsIndexSettings): { settings: estypes.IndicesIndexSettings; mappings: estypes.MappingTypeMapping } {
  const vectorField = (dims: number): estypes.MappingProperty => ({
    type: 'dense_vector',
    dims,
    index: true,
    similarity: 'cosine',
    index_options: {
      type: settings.quantization === 'int8' ? 'int8_hnsw' : 'hnsw',
      m: settings.hnsw.m,
      ef_construction: settings.hnsw.efConstruction,
    },
  });
  const indexSettings: Record<string, unknown> = {
    number_of_shards: settings.shards,
    number_of_replicas: settings.replicas,
    analysis: {
      analyzer: {
        [TEXT_ANALYZER]: {
          type: 'custom',
          tokenizer: 'standard',
          filter: ['lowercase', 'asciifolding', 'porter_stem'],
        },
      },
    },
  };
  if (settings.keepVectorsInSource) indexSettings['index.mapping.exclude_source_vectors'] = false;
  return {
    settings: indexSettings as estypes.IndicesIndexSettings,
    mappings: {
      // A typo in a field name must fail loudly, not grow the mapping.
      dynamic: 'strict',
      _meta: { parasol: { schema: SCHEMA_VERSION, dims: { ...settings.dims }, ...(settings.pack ? { pack: { ...settings.pack } } : {}) } },
      properties: {
        seq: { type: 'long' },
        id: { type: 'keyword' },
        externalId: { type: 'keyword' },
        contentHash: { type: 'keyword' },
        source: { type: 'keyword' },
        license: { type: 'keyword' },
        tags: { type: 'keyword', fields: { text: { type: 'text', analyzer: TEXT_ANALYZER } } },
        title: { type: 'text', analyzer: TEXT_ANALYZER, fields: { keyword: { type: 'keyword', ignore_above: 1024 } } },
        keywords: { type: 'text', analyzer: TEXT_ANALYZER },
        ...SCHEMA_ADDITIONS,
        attribution: { type: 'keyword', index: false },
        url: { type: 'keyword', index: false },
        width: { type: 'integer' },
        height: { type: 'integer' },
        extra: { type: 'object', enabled: false },
        createdAt: { type: 'date' },
        updatedAt: { type: 'date' },
        deleted: { type: 'boolean' },
        addedVersion: { type: 'long' },
        deletedVersion: { type: 'long' },
        semantic: vectorField(settings.dims.semantic),
        style: vectorField(settings.dims.style),
      },
    },
  };
}

/** The registry and counter are only ever read by id (realtime GET), never searched. */
export function metaIndexBody(): { settings: estypes.IndicesIndexSettings; mappings: estypes.MappingTypeMapping } {
  return {
    settings: { number_of_shards: 1, auto_expand_replicas: '0-1' },
    mappings: { dynamic: false, _meta: { parasol: { schema: SCHEMA_VERSION } }, properties: { kind: { type: 'keyword' } } },
  };
}

export function thumbnailsIndexBody(shards: number, replicas: number): {
  settings: estypes.IndicesIndexSettings;
  mappings: estypes.MappingTypeMapping;
} {
  return {
    settings: { number_of_shards: shards, number_of_replicas: replicas },
    mappings: { dynamic: 'strict', properties: { seq: { type: 'long', index: false }, bytes: { type: 'binary' } } },
  };
}

/** The `_meta.parasol` of an items mapping, if it has a readable one. */
export function parasolMetaOf(mapping: estypes.MappingTypeMapping | undefined): { schema: number; dims: VectorDims; pack?: PackStamp } | undefined {
  const meta = mapping?._meta?.parasol as
    | { schema?: unknown; dims?: { semantic?: unknown; style?: unknown }; pack?: { name?: unknown; fingerprint?: unknown } }
    | undefined;
  if (!meta || typeof meta.schema !== 'number') return undefined;
  const semantic = meta.dims?.semantic;
  const style = meta.dims?.style;
  if (typeof semantic !== 'number' || typeof style !== 'number') return undefined;
  const { name, fingerprint } = meta.pack ?? {};
  const pack = typeof name === 'string' && typeof fingerprint === 'string' ? { name, fingerprint } : undefined;
  return { schema: meta.schema, dims: { semantic, style }, ...(pack ? { pack } : {}) };
}

/** `_source` fields every item read needs, vectors left out. */
export const ITEM_SOURCE_EXCLUDES = ['semantic', 'style'];

export function toItem(doc: ItemDoc): Item {
  return {
    seq: doc.seq,
    id: doc.id,
    externalId: doc.externalId ?? '',
    source: doc.source,
    title: doc.title,
    tags: doc.tags ?? [],
    keywords: doc.keywords ?? [],
    description: doc.description ?? '',
    license: doc.license ?? '',
    attribution: doc.attribution ?? '',
    url: doc.url ?? '',
    width: doc.width,
    height: doc.height,
    contentHash: doc.contentHash,
    extra: doc.extra ?? {},
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
    ...(doc.aliases && doc.aliases.length > 0 ? { aliases: doc.aliases.map((alias) => alias.id) } : {}),
  };
}

/** An alias read by its id: its own metadata over its item's image. */
export function aliasView(doc: ItemDoc, alias: AliasDoc): Item {
  const { aliases: _others, ...item } = toItem(doc);
  return {
    ...item,
    id: alias.id,
    externalId: alias.externalId,
    source: alias.source,
    title: alias.title,
    tags: alias.tags,
    keywords: alias.keywords,
    description: alias.description,
    license: alias.license,
    attribution: alias.attribution,
    url: alias.url,
    extra: alias.extra,
    createdAt: alias.createdAt,
    updatedAt: alias.updatedAt,
    aliasOf: doc.id,
  };
}

/**
 * A float32 vector as JSON numbers in the fewest digits that still read back as the same float32
 * (at most 9 significant digits, where the float64 widening would print 17). The vectors stay in
 * `_source`, so this roughly halves the largest part of an item's stored bytes, losing nothing.
 */
export function vectorToJson(vector: Float32Array): number[] {
  const out = new Array<number>(vector.length);
  for (let i = 0; i < vector.length; i++) {
    const value = vector[i];
    let shortest = value;
    for (let digits = 6; digits <= 9; digits++) {
      const candidate = Number(value.toPrecision(digits));
      if (Math.fround(candidate) === value) {
        shortest = candidate;
        break;
      }
    }
    out[i] = shortest;
  }
  return out;
}

export function toItemWithVectors(doc: ItemDoc): ItemWithVectors {
  return { ...toItem(doc), semantic: Float32Array.from(doc.semantic), style: Float32Array.from(doc.style) };
}
