/** Search: a query (texts, images, items, weights, filters), "more like this" and interpolation, through the engine. */
import type { InterpolateResponse, MoreLikeMode, MoreLikeOptions, SearchEngine, SearchResponse } from '../search/engine.js';
import type { InterpolateRequest, SearchRequestInput } from '../search/query.js';

export type { InterpolateResponse, MoreLikeMode, SearchResponse } from '../search/engine.js';
export type { InterpolateRequest, SearchRequestInput } from '../search/query.js';

export class SearchService {
  constructor(private readonly engine: Pick<SearchEngine, 'search' | 'moreLike' | 'interpolate'>) {}

  search(request: SearchRequestInput): Promise<SearchResponse> {
    return this.engine.search(request);
  }

  /** Items like a stored one: by its style, its content, or both. */
  moreLike(id: string, mode: MoreLikeMode, options: MoreLikeOptions = {}): Promise<SearchResponse> {
    return this.engine.moreLike(id, mode, options);
  }

  /** Results between two descriptors of each side (lerp or slerp at t). */
  interpolate(request: InterpolateRequest): Promise<InterpolateResponse> {
    return this.engine.interpolate(request);
  }
}
