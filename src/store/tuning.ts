/**
 * The search-breadth tuning a store carries (`parasol tune`): per modality and query kind, the
 * chosen breadth (HNSW efSearch; Elasticsearch num_candidates) and the recall/latency curve it was
 * chosen from. Both backends keep it as one JSON document beside the catalog (SQLite: the `meta`
 * table; Elasticsearch: a doc in the `<alias>-meta` index) and validate it on read, so a damaged
 * record is reported, never half-applied.
 */
import { z } from 'zod';
import { createError } from '../errors.js';

export const TUNING_FORMAT = 1;
/** The kinds of query vector a descriptor can come from: an image tower's output, or a text tower's. */
export const QUERY_KINDS = ['image', 'text'] as const;
export type QueryKind = (typeof QUERY_KINDS)[number];

const curvePointSchema = z.strictObject({
  ef: z.number().int().positive(),
  /** Mean recall@10 against exact search over every stored vector. */
  recallAt10: z.number().min(0).max(1),
  /** The worst single query. */
  minRecallAt10: z.number().min(0).max(1),
  /** Index search alone, per query. */
  p50Ms: z.number().nonnegative(),
  p95Ms: z.number().nonnegative(),
});

const entrySchema = z.strictObject({
  modality: z.enum(['semantic', 'style']),
  kind: z.enum(QUERY_KINDS),
  /** The breadth the engine uses for this modality and kind. */
  ef: z.number().int().positive(),
  /** Whether `ef` reached the target (false: the largest rung measured, short of it). */
  reached: z.boolean(),
  queries: z.number().int().positive(),
  /** Where the queries came from, in words (e.g. "held-out item vectors", "titles and tags"). */
  source: z.string(),
  curve: z.array(curvePointSchema).min(1),
});

export const searchTuningSchema = z.strictObject({
  format: z.literal(TUNING_FORMAT),
  tunedAt: z.string(),
  /** Live items and catalog version when measured: a store that has grown a lot since wants a new tune. */
  items: z.number().int().nonnegative(),
  catalogVersion: z.number().int().nonnegative(),
  /** Recall@10 target the breadths were chosen for. */
  target: z.number().gt(0).max(1),
  /** What the breadth is on this backend. */
  knob: z.enum(['efSearch', 'num_candidates']),
  entries: z.array(entrySchema),
});

export type SearchTuning = z.infer<typeof searchTuningSchema>;
export type TuningEntry = z.infer<typeof entrySchema>;
export type CurvePoint = z.infer<typeof curvePointSchema>;

/** Parses a stored record; STORE_CORRUPT names where it came from when it is not one. */
export function parseSearchTuning(json: string, where: string): SearchTuning {
  try {
    return searchTuningSchema.parse(JSON.parse(json));
  } catch (error) {
    throw createError('STORE_CORRUPT', `the search tuning in ${where} is unreadable (${(error as Error).message.split('\n')[0]}); run parasol tune again or parasol tune --reset`);
  }
}
