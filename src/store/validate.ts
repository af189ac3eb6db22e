/**
 * Input checks every catalog applies before writing anything: one set of rules and messages, so
 * that both backends refuse the same batches with the same words.
 */
import { createError } from '../errors.js';
import { FACET_FIELDS, MAX_FACET_VALUES, type FacetField, type IndexName, type ItemInput } from './types.js';

export interface VectorDims {
  semantic: number;
  style: number;
}

export function validateInput(item: ItemInput, index: number, dims: VectorDims): void {
  const where = `item ${index}${item.id ? ` ("${item.id}")` : ''}`;
  if (typeof item.contentHash !== 'string' || item.contentHash.length === 0) {
    throw createError('UNPROCESSABLE', `${where} has no content hash`);
  }
  if (item.id !== undefined && (typeof item.id !== 'string' || item.id.length === 0)) {
    throw createError('UNPROCESSABLE', `${where} has an empty id`);
  }
  if (typeof item.source !== 'string' || typeof item.title !== 'string') {
    throw createError('UNPROCESSABLE', `${where} needs a source and a title`);
  }
  const words = [...(item.tags ?? []), ...(item.keywords ?? [])];
  if (!Array.isArray(item.tags) || !words.every((word) => typeof word === 'string')) {
    throw createError('UNPROCESSABLE', `${where}: tags and keywords must be lists of strings`);
  }
  if (item.description !== undefined && typeof item.description !== 'string') {
    throw createError('UNPROCESSABLE', `${where}: description must be a string`);
  }
  for (const side of ['width', 'height'] as const) {
    if (!Number.isInteger(item[side]) || item[side] < 0) {
      throw createError('UNPROCESSABLE', `${where}: ${side} must be a non-negative integer`);
    }
  }
  for (const modality of ['semantic', 'style'] as const) {
    const vector = item[modality];
    if (!(vector instanceof Float32Array) || vector.length !== dims[modality]) {
      const got = vector instanceof Float32Array ? `${vector.length}-d` : typeof vector;
      throw createError('UNPROCESSABLE', `${where}: ${modality} vector must be a ${dims[modality]}-d Float32Array, got ${got}`);
    }
    if (!vector.every(Number.isFinite)) {
      throw createError('UNPROCESSABLE', `${where}: ${modality} vector has a non-finite value`);
    }
  }
}

export function assertDims(dims: VectorDims): void {
  for (const modality of ['semantic', 'style'] as const) {
    if (!Number.isInteger(dims[modality]) || dims[modality] < 1) {
      throw createError('CONFIG_INVALID', `${modality} dimension must be a positive integer, got ${dims[modality]}`);
    }
  }
}

/** A query or point vector handed to a vector index: a Float32Array of the index's dimension. */
export function assertIndexVector(modality: IndexName, dim: number, vector: Float32Array): void {
  if (!(vector instanceof Float32Array) || vector.length !== dim) {
    const got = vector instanceof Float32Array ? `${vector.length}-d` : typeof vector;
    throw createError('UNPROCESSABLE', `${modality} index expects ${dim}-d Float32Array vectors, got ${got}`);
  }
}

/** Points handed to VectorIndex.add: non-negative integer labels and vectors of the index's dimension. */
export function assertIndexPoints(modality: IndexName, dim: number, points: ReadonlyArray<{ seq: number; vector: Float32Array }>): void {
  for (const point of points) {
    if (!Number.isInteger(point.seq) || point.seq < 0) {
      throw createError('UNPROCESSABLE', `${modality} index: label ${point.seq} is not a non-negative integer`);
    }
    assertIndexVector(modality, dim, point.vector);
  }
}

/** The facet request both backends accept: known fields (each once) and a limit in 1..MAX_FACET_VALUES. */
export function validateFacets(fields: readonly FacetField[], limit: number): FacetField[] {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_FACET_VALUES) {
    throw createError('BAD_REQUEST', `a facet limit must be an integer from 1 to ${MAX_FACET_VALUES}, got ${limit}`);
  }
  for (const field of fields) {
    if (!(FACET_FIELDS as readonly string[]).includes(field)) {
      throw createError('BAD_REQUEST', `unknown facet "${String(field)}"; expected one of ${FACET_FIELDS.join(', ')}`);
    }
  }
  return [...new Set(fields)];
}

/** Seqs a facet scope may name: safe positive integers, each once. */
export function scopeSeqs(seqs: readonly number[]): number[] {
  return [...new Set(seqs.filter((seq) => Number.isSafeInteger(seq) && seq > 0))];
}
