/**
 * Turns the things a query can point at — stored items, texts, images, raw vectors — into unit
 * descriptors of the right modality. The only search module that talks to the encoders.
 */
import { createError } from '../errors.js';
import type { Encoders, ImageInput } from '../encoders/types.js';
import type { Catalog, ItemWithVectors, Modality } from '../store/types.js';
import { normalize } from '../vectors.js';
import type { SearchModality } from './fusion.js';
import type { DescriptorSource } from './query.js';

/** A query's two descriptors; null for a modality the query does not involve. */
export interface QueryDescriptors {
  content: Float32Array | null;
  style: Float32Array | null;
}

export const STORE_MODALITY: Record<SearchModality, Modality> = { content: 'semantic', style: 'style' };

export function itemVector(item: ItemWithVectors, modality: SearchModality): Float32Array {
  return modality === 'content' ? item.semantic : item.style;
}

export interface ResolvedSource {
  vector: Float32Array;
  /** The stored item the descriptor came from, so the engine can leave it out of the results. */
  seq?: number;
}

export class DescriptorResolver {
  private readonly catalog: Catalog;
  private readonly encoders: Encoders;
  private readonly dims: Record<SearchModality, number>;

  constructor(deps: { catalog: Catalog; encoders: Encoders; dims: Record<SearchModality, number> }) {
    this.catalog = deps.catalog;
    this.encoders = deps.encoders;
    this.dims = deps.dims;
  }

  /** Items with their vectors, in the order asked; ITEM_NOT_FOUND names the first unknown id. */
  async items(ids: readonly string[]): Promise<ItemWithVectors[]> {
    const unique = [...new Set(ids)];
    const found = await Promise.all(unique.map((id) => this.catalog.getWithVectors(id)));
    const byId = new Map<string, ItemWithVectors>();
    unique.forEach((id, i) => {
      const item = found[i];
      if (!item) throw createError('ITEM_NOT_FOUND', id);
      byId.set(id, item);
    });
    return ids.map((id) => byId.get(id) as ItemWithVectors);
  }

  async item(id: string): Promise<ItemWithVectors> {
    const [item] = await this.items([id]);
    return item;
  }

  async text(modality: SearchModality, text: string): Promise<Float32Array> {
    const embedder = modality === 'content' ? this.encoders.semanticText : this.encoders.styleText;
    const [vector] = await embedder.embedTexts([text]);
    return this.checked(modality, vector);
  }

  async image(modality: SearchModality, image: ImageInput): Promise<Float32Array> {
    const embedder = modality === 'content' ? this.encoders.semanticImage : this.encoders.styleImage;
    const [vector] = await embedder.embedImages([image]);
    return this.checked(modality, vector);
  }

  /** Both descriptors of one image, decoding it once. */
  async imageBoth(image: ImageInput): Promise<{ content: Float32Array; style: Float32Array }> {
    const [descriptors] = await this.encoders.describeImages([image]);
    return { content: this.checked('content', descriptors.semantic), style: this.checked('style', descriptors.style) };
  }

  /** A caller-supplied vector: must be finite, non-zero and of the modality's dimension; returned normalised. */
  vector(modality: SearchModality, values: ArrayLike<number>): Float32Array {
    if (values.length !== this.dims[modality]) {
      throw createError('INVALID_QUERY', `${modality} vector has ${values.length} dimensions, expected ${this.dims[modality]}`);
    }
    // normalize() copies, so a Float32Array is read in place (Float32Array.from iterates it slowly).
    const vector = values instanceof Float32Array ? values : Float32Array.from(values);
    for (let i = 0; i < vector.length; i++) {
      if (!Number.isFinite(vector[i])) throw createError('INVALID_QUERY', `${modality} vector has non-finite values`);
    }
    const unit = normalize(vector);
    if (!unit.some((x) => x !== 0)) throw createError('INVALID_QUERY', `${modality} vector is zero`);
    return unit;
  }

  async source(modality: SearchModality, source: DescriptorSource): Promise<ResolvedSource> {
    if ('itemId' in source) {
      const item = await this.item(source.itemId);
      return { vector: itemVector(item, modality), seq: item.seq };
    }
    if ('text' in source) return { vector: await this.text(modality, source.text) };
    if ('image' in source) return { vector: await this.image(modality, source.image) };
    return { vector: this.vector(modality, source.vector) };
  }

  /** Guards against a model pack whose dimension disagrees with the index it is searched against. */
  private checked(modality: SearchModality, vector: Float32Array | undefined): Float32Array {
    if (!vector || vector.length !== this.dims[modality]) {
      const got = vector ? `${vector.length} dimensions` : 'nothing';
      throw createError('MODEL_PACK_INVALID', this.encoders.packName, `the ${modality} encoder returned ${got}, the index holds ${this.dims[modality]}`);
    }
    return vector;
  }
}
