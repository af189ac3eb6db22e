/**
 * What a refinement session is (refine.ts drives it, session-store.ts and redis-session-store.ts
 * keep it): the step a user takes, the snapshot each step leaves, and the session with its trail.
 * Shapes only, so that the stores need not import the logic that fills them.
 */
import { z } from 'zod';
import type { QueryDescriptors } from './descriptors.js';
import type { FusionMethod } from './fusion.js';
import { feedbackSchema, MAX_QUERY_TEXT, weightsSchema, type SearchFilters, type SearchWeights } from './query.js';

export const refineStepSchema = z
  .strictObject({
    like: feedbackSchema.optional(),
    unlike: feedbackSchema.optional(),
    weights: weightsSchema.optional(),
    /** Replace a descriptor's base outright (Rocchio from like/unlike then applies on top). */
    set: z
      .strictObject({
        contentItemId: z.string().trim().min(1).max(200).optional(),
        styleItemId: z.string().trim().min(1).max(200).optional(),
        q: z.string().trim().min(1).max(MAX_QUERY_TEXT).optional(),
        style: z.string().trim().min(1).max(MAX_QUERY_TEXT).optional(),
      })
      .optional(),
  })
  .refine((step) => step.like || step.unlike || step.weights || (step.set && Object.values(step.set).some(Boolean)), {
    message: 'a step must change something: like, unlike, weights or set',
  });

export type RefineStepInput = z.input<typeof refineStepSchema>;
export type RefineStep = z.output<typeof refineStepSchema>;

export interface RefineSnapshot {
  /** 0 for the initial query, then 1, 2, … (kept even when old snapshots are dropped). */
  step: number;
  /** What produced this snapshot; null for the initial query. */
  change: RefineStep | null;
  descriptors: QueryDescriptors;
  /** The content text, searched as words by the lexical signal (absent when the content side has none). */
  text?: string;
  weights: SearchWeights;
  /** Items the session has named so far (query, liked, unliked): never shown again. */
  excludeSeqs: number[];
  at: string;
}

export interface RefineSession {
  id: string;
  createdAt: string;
  fusion: FusionMethod;
  filters?: SearchFilters;
  /** Oldest first; the last snapshot is the current state. Never empty. */
  trail: RefineSnapshot[];
}
