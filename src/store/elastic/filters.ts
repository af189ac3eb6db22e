/**
 * ItemFilter → Elasticsearch query clauses, shared by the catalog (matchFilter) and the vector
 * indices (kNN `filter`), so that a filter means the same thing on both paths.
 *
 * Semantics mirror SqliteCatalog.matchFilter: empty lists mean "no constraint"; every listed tag
 * must be present; keywords are words (never query syntax), every one required, each found in
 * the title, a tag, a keyword or the description, stemmed and diacritic-folded by the `parasol_text` analyzer.
 */
import type { estypes } from '@elastic/elasticsearch';
import type { ItemFilter } from '../types.js';
import { queryWords } from '../lexical.js';
import { KEYWORD_FIELDS } from './mapping.js';

type Query = estypes.QueryDslQueryContainer;

/**
 * The clauses (all required, non-scoring) that select the items a filter allows, or null when the
 * filter can match nothing (keyword text without a single word — as in SQLite, not "no constraint").
 */
export function filterClauses(filter: ItemFilter | undefined): Query[] | null {
  const clauses: Query[] = [];
  if (!filter) return clauses;
  if (filter.sources?.length) clauses.push({ terms: { source: [...new Set(filter.sources)] } });
  if (filter.licenses?.length) clauses.push({ terms: { license: [...new Set(filter.licenses)] } });
  if (filter.tags?.length) for (const tag of new Set(filter.tags)) clauses.push({ term: { tags: tag } });
  if (filter.keywords !== undefined && filter.keywords.trim() !== '') {
    const words = queryWords(filter.keywords);
    if (words.length === 0) return null;
    // One clause per word: the word may sit in any of the fields, but every word must be somewhere.
    // A word the analyzer splits further (CJK) needs all its pieces, across fields (cross_fields + and).
    for (const word of words) {
      clauses.push({ multi_match: { query: word, fields: [...KEYWORD_FIELDS], type: 'cross_fields', operator: 'and' } });
    }
  }
  return clauses;
}

export const LIVE: Query = { term: { deleted: false } };

/** Live items matching the filter, as one bool query; null when nothing can match. */
export function liveFilterQuery(filter: ItemFilter | undefined, extra: { exclude?: Iterable<number>; allowed?: Iterable<number> } = {}): Query | null {
  const clauses = filterClauses(filter);
  if (clauses === null) return null;
  const must: Query[] = [LIVE, ...clauses];
  if (extra.allowed !== undefined) {
    const allowed = [...extra.allowed];
    if (allowed.length === 0) return null;
    must.push({ terms: { seq: allowed } });
  }
  const mustNot: Query[] = [];
  if (extra.exclude !== undefined) {
    const excluded = [...extra.exclude].map(String);
    if (excluded.length > 0) mustNot.push({ ids: { values: excluded } });
  }
  return { bool: mustNot.length > 0 ? { filter: must, must_not: mustNot } : { filter: must } };
}
