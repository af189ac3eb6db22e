/** Search: GET with query parameters, POST with JSON or multipart (uploaded images), and interpolation. */
import { Router } from 'express';
import { z } from 'zod';
import { DEFAULT_TEXT_WEIGHT, interpolateRequestSchema, type SearchRequestInput } from '../../search/query.js';
import type { Config } from '../../config.js';
import type { SearchService } from '../../services/search.js';
import { presentInterpolation, presentPage } from '../present.js';
import { readSearchRequest, searchMultipart } from '../search-request.js';
import { assertK, jsonObject, parseQuery, queryList, queryValue, requireBodyType } from '../validate.js';

const searchQuerySchema = z.strictObject({
  q: queryValue.optional(),
  style: queryValue.optional(),
  /** Both descriptors of one stored item (contentItemId / styleItemId override either side). */
  itemId: queryValue.optional(),
  contentItemId: queryValue.optional(),
  styleItemId: queryValue.optional(),
  k: queryValue.optional(),
  cursor: queryValue.optional(),
  fusion: z.enum(['weighted', 'minmax', 'rrf']).optional(),
  wContent: queryValue.optional(),
  wStyle: queryValue.optional(),
  /** The words' weight (the lexical signal of `q`). */
  wText: queryValue.optional(),
  source: queryList.optional(),
  license: queryList.optional(),
  tags: queryList.optional(),
  keywords: queryValue.optional(),
  explain: z.enum(['true', 'false']).optional(),
  /** Facet fields, comma-separated (`facets=source,license,tags`). */
  facets: queryList.optional(),
  facetLimit: queryValue.optional(),
});

type SearchQuery = z.output<typeof searchQuerySchema>;

/** Query parameters → the engine's request shape (the engine validates values and ranges). */
export function searchRequestFromQuery(query: SearchQuery): SearchRequestInput {
  const request: SearchRequestInput = {
    q: query.q,
    style: query.style,
    contentItemId: query.contentItemId ?? query.itemId,
    styleItemId: query.styleItemId ?? query.itemId,
    k: query.k,
    cursor: query.cursor,
    fusion: query.fusion,
    explain: query.explain === 'true',
  };
  if (query.wContent !== undefined || query.wStyle !== undefined || query.wText !== undefined) {
    request.weights = { content: query.wContent ?? 1, style: query.wStyle ?? 1, text: query.wText ?? DEFAULT_TEXT_WEIGHT };
  }
  Object.assign(request, facetParams(query));
  const filters = {
    sources: query.source?.length ? query.source : undefined,
    licenses: query.license?.length ? query.license : undefined,
    tags: query.tags?.length ? query.tags : undefined,
    keywords: query.keywords?.trim() ? query.keywords : undefined,
  };
  if (Object.values(filters).some((value) => value !== undefined)) request.filters = filters;
  return request;
}

/** `facets` and `facetLimit` from a query string, as the engine's request fields (it validates the names and the bound). */
export function facetParams(query: { facets?: string[]; facetLimit?: string }): { facets?: SearchRequestInput['facets']; facetLimit?: string } {
  const out: { facets?: SearchRequestInput['facets']; facetLimit?: string } = {};
  if (query.facets?.length) out.facets = query.facets as SearchRequestInput['facets'];
  if (query.facetLimit !== undefined) out.facetLimit = query.facetLimit;
  return out;
}

export function searchRoutes(deps: { config: Config; search: SearchService }): Router {
  const { search, config } = deps;
  const router = Router();

  router.get('/v1/search', async (req, res) => {
    const request = searchRequestFromQuery(parseQuery(req, searchQuerySchema));
    assertK(request.k, config.search.maxK);
    res.json(presentPage(await search.search(request)));
  });

  router.post('/v1/search', searchMultipart(config), async (req, res) => {
    const request = await readSearchRequest(req, config);
    res.json(presentPage(await search.search(request)));
  });

  router.post('/v1/interpolate', async (req, res) => {
    requireBodyType(req, ['json']);
    const request = interpolateRequestSchema.parse(jsonObject(req.body));
    assertK(request.k, config.search.maxK);
    res.json(presentInterpolation(await search.interpolate(request)));
  });

  return router;
}
