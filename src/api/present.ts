/**
 * The JSON shapes the API answers with. Internal fields (catalog seqs, vectors, content hashes)
 * stay inside; every result carries a thumbnail URL the client can use as is.
 */
import type { InterpolateResponse, SearchResponse, SearchResult } from '../search/engine.js';
import type { Item } from '../services/items.js';
import type { ApiInterpolationPage, ApiItem, ApiPage, ApiResult } from './public-types.js';

export type { ApiInterpolationPage, ApiItem, ApiPage, ApiResult } from './public-types.js';

/** `:` is legal in a path segment, so demo ids (`noto:1f600`) stay readable in URLs. */
export function thumbnailUrl(id: string): string {
  return `/v1/items/${encodeURIComponent(id).replace(/%3A/gi, ':')}/thumbnail`;
}

/** A result lists the image's aliases (the catalog's items carry them). */
export function presentResult(result: SearchResult): ApiResult {
  const out: ApiResult = {
    id: result.id,
    title: result.title,
    source: result.source,
    license: result.license,
    attribution: result.attribution,
    tags: result.tags,
    score: result.score,
    scores: result.scores,
    thumbnail: thumbnailUrl(result.id),
  };
  if (result.aliases && result.aliases.length > 0) out.aliases = result.aliases;
  if (result.explanation) out.explanation = result.explanation;
  return out;
}

export function presentPage(response: SearchResponse): ApiPage {
  const page: ApiPage = { results: response.results.map(presentResult), nextCursor: response.nextCursor, timing: response.timing };
  if (response.total !== undefined) page.total = response.total;
  if (response.facets !== undefined) {
    page.facets = response.facets;
    page.facetScope = response.facetScope;
  }
  return page;
}

/** An interpolation page also reports which descriptors it searched with (not the vectors themselves). */
export function presentInterpolation(response: InterpolateResponse): ApiInterpolationPage {
  return {
    ...presentPage(response),
    descriptors: { content: response.descriptors.content !== null, style: response.descriptors.style !== null },
  };
}

export function presentItem(item: Item): ApiItem {
  return {
    id: item.id,
    title: item.title,
    source: item.source,
    license: item.license,
    attribution: item.attribution,
    url: item.url,
    tags: item.tags,
    width: item.width,
    height: item.height,
    extra: item.extra,
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
    thumbnail: thumbnailUrl(item.id),
    ...(item.aliasOf !== undefined ? { aliasOf: item.aliasOf } : {}),
    ...(item.aliases && item.aliases.length > 0 ? { aliases: item.aliases } : {}),
  };
}
