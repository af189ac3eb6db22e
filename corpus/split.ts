/**
 * Fixed evaluation splits. Whole held-out sets are unseen styles; about 15% of codepoints,
 * chosen by a seeded hash so the choice never changes, are unseen contents.
 */
import { HELD_OUT_SETS } from './sets.js';

export type Split = 'train' | 'unseen-style' | 'unseen-content' | 'unseen-both';

const SPLIT_SEED = 'parasol-split-v1';
export const UNSEEN_CONTENT_PERCENT = 15;

/** FNV-1a, 32 bit: small, stable across platforms and releases. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export function isUnseenContent(codepoint: string): boolean {
  return fnv1a(`${SPLIT_SEED}:${codepoint}`) % 100 < UNSEEN_CONTENT_PERCENT;
}

/** Unmapped icons have no content identity: they can only be held out by their set. */
export function splitOf(setId: string, codepoint: string | null): Split {
  const unseenStyle = HELD_OUT_SETS.has(setId);
  const unseenContent = codepoint !== null && isUnseenContent(codepoint);
  if (unseenStyle && unseenContent) return 'unseen-both';
  if (unseenStyle) return 'unseen-style';
  if (unseenContent) return 'unseen-content';
  return 'train';
}
