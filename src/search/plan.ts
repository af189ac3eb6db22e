/**
 * From a validated search request to what the engine retrieves with: one descriptor per
 * modality (bases combined, then the Rocchio update from like/unlike) and the items to leave out.
 */
import type { ItemWithVectors } from '../store/types.js';
import { meanDirection } from '../vectors.js';
import { SEARCH_MODALITIES, type SearchModality } from './fusion.js';
import { DescriptorResolver, itemVector, type QueryDescriptors } from './descriptors.js';
import type { SearchRequest } from './query.js';
import { rocchio, type RocchioWeights } from './rocchio.js';

export interface QueryPlan {
  descriptors: QueryDescriptors;
  /** Every item the request names (query items, like and unlike): never returned as a result. */
  excludeSeqs: number[];
}

function textFor(request: SearchRequest, modality: SearchModality): string | undefined {
  return modality === 'content' ? request.q : request.style;
}
function imageFor(request: SearchRequest, modality: SearchModality) {
  return modality === 'content' ? request.contentImage : request.styleImage;
}
function itemIdFor(request: SearchRequest, modality: SearchModality): string | undefined {
  return modality === 'content' ? request.contentItemId : request.styleItemId;
}

export async function planSearch(
  resolver: DescriptorResolver,
  request: SearchRequest,
  rocchioWeights: RocchioWeights,
  /** Also build descriptors for modalities weighted 0 (a session may raise the weight later). */
  includeUnweighted = false,
): Promise<QueryPlan> {
  // Resolve every named item first, even for a modality weighted 0: an unknown id is an error either way.
  const named = [
    request.contentItemId,
    request.styleItemId,
    ...(request.like?.content ?? []),
    ...(request.like?.style ?? []),
    ...(request.unlike?.content ?? []),
    ...(request.unlike?.style ?? []),
  ].filter((id): id is string => id !== undefined);
  const items = new Map<string, ItemWithVectors>();
  const resolved = await resolver.items(named);
  named.forEach((id, i) => items.set(id, resolved[i]));
  const vectorsOf = (ids: string[] | undefined, modality: SearchModality) =>
    (ids ?? []).map((id) => itemVector(items.get(id) as ItemWithVectors, modality));

  // The same picture as content and style query: decode it once.
  const sharedImage =
    request.contentImage && request.styleImage && Buffer.compare(Buffer.from(request.contentImage), Buffer.from(request.styleImage)) === 0
      ? await resolver.imageBoth(request.contentImage)
      : undefined;

  const descriptors: QueryDescriptors = { content: null, style: null };
  for (const modality of SEARCH_MODALITIES) {
    // A modality weighted 0 takes no part: spare the encoders.
    if (request.weights[modality] === 0 && !includeUnweighted) continue;
    const bases: Float32Array[] = [];
    const text = textFor(request, modality);
    if (text) bases.push(await resolver.text(modality, text));
    const image = imageFor(request, modality);
    if (image) bases.push(sharedImage ? sharedImage[modality] : await resolver.image(modality, image));
    const itemId = itemIdFor(request, modality);
    if (itemId) bases.push(itemVector(items.get(itemId) as ItemWithVectors, modality));
    const base = bases.length === 0 ? null : bases.length === 1 ? bases[0] : meanDirection(bases);
    descriptors[modality] = rocchio(base, vectorsOf(request.like?.[modality], modality), vectorsOf(request.unlike?.[modality], modality), rocchioWeights);
  }
  return { descriptors, excludeSeqs: [...new Set([...items.values()].map((item) => item.seq))] };
}
