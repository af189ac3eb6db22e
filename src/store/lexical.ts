/**
 * What both catalogs share about the lexical (BM25) signal: which fields carry words, how much
 * each weighs, and what counts as a word in user text. Keeping it in one place is what lets the
 * SQLite and Elasticsearch backends rank the same items for the same query.
 */

/**
 * Field weights, equal on both backends (FTS5 `bm25()` column weights; `multi_match` boosts).
 * A title names the picture, so a word there says most; tags are curated labels; keywords are
 * extra search words that nobody sees; a description is long prose where any one word says least.
 */
export const LEXICAL_WEIGHTS = { title: 3, tags: 2, keywords: 1.5, description: 1 } as const;

/** Query words are bounded so that a pasted essay cannot make one query arbitrarily slow. */
export const MAX_QUERY_WORDS = 32;

/**
 * The distinct words of user text, in order, at most MAX_QUERY_WORDS: runs of letters, numbers and
 * combining marks (the unicode61 tokenizer's notion of a word), so punctuation, quotes, `*`, `:`,
 * `^`, parentheses and the like never reach a query parser. Operators such as OR or NEAR stay
 * words; each backend quotes or escapes them so they are only ever searched for.
 */
export function queryWords(text: string): string[] {
  const words = text.normalize('NFKC').match(/[\p{L}\p{N}\p{M}]+/gu) ?? [];
  return [...new Set(words)].slice(0, MAX_QUERY_WORDS);
}

/** Whether an item carries words beyond its id: what `Catalog.hasText` looks for. */
export function carriesText(item: { id: string; title: string; tags: readonly string[]; keywords: readonly string[]; description: string }): boolean {
  return (item.title !== '' && item.title !== item.id) || item.tags.length > 0 || item.keywords.length > 0 || item.description !== '';
}
