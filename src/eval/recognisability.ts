/**
 * Recognisability of generated images, judged by Parasol's own indices (issue 18): a generated
 * image is described by the pack's encoders and searched in the demo index, as a user's query
 * would be.
 *   content  = share of generated images whose top-K content neighbours include an item with the
 *              content source's codepoint (the same emoji, drawn in any set)
 *   styleSet = share whose top-K style neighbours are mostly (≥ MAJORITY of K) from the style
 *              source's set
 *   styleShare = mean fraction of the top-K style neighbours from that set
 * The same figures for the sources themselves (y searched for its codepoint, s for its set) are
 * the ceiling a perfect generator would reach; the chance levels are what random images would.
 */
import type { Encoders } from '../encoders/types.js';
import type { Catalog, VectorIndex } from '../store/types.js';

export const RECOGNISABILITY_K = 10;
export const STYLE_MAJORITY = 6;

export interface RecognisabilityFigures {
  /** How many generated images were judged. */
  images: number;
  content: number;
  styleSet: number;
  styleShare: number;
}

/** What one generated image should be recognised as. */
export interface RecognitionTarget {
  codepoint: string;
  set: string;
}

export interface RecognitionIndex {
  catalog: Pick<Catalog, 'getManyBySeq' | 'stats'>;
  indices: { semantic: Pick<VectorIndex, 'search'>; style: Pick<VectorIndex, 'search'> };
}

interface Judgement {
  contentHit: boolean;
  styleShare: number;
}

async function judge(index: RecognitionIndex, semantic: Float32Array, style: Float32Array, target: RecognitionTarget): Promise<Judgement> {
  const [contentHits, styleHits] = await Promise.all([
    index.indices.semantic.search(semantic, RECOGNISABILITY_K),
    index.indices.style.search(style, RECOGNISABILITY_K),
  ]);
  const items = await index.catalog.getManyBySeq([...contentHits, ...styleHits].map((h) => h.seq));
  const contentHit = contentHits.some((h) => items.get(h.seq)?.extra.codepoint === target.codepoint);
  const fromSet = styleHits.filter((h) => items.get(h.seq)?.source === target.set).length;
  return { contentHit, styleShare: fromSet / RECOGNISABILITY_K };
}

/** Scores images (PNG bytes) against what each should be recognised as. */
export async function recognisability(
  index: RecognitionIndex,
  encoders: Pick<Encoders, 'describeImages'>,
  images: Buffer[],
  targets: RecognitionTarget[],
): Promise<RecognisabilityFigures> {
  if (images.length !== targets.length) throw new Error(`recognisability: ${images.length} images for ${targets.length} targets`);
  if (images.length === 0) return { images: 0, content: 0, styleSet: 0, styleShare: 0 };
  const described = await encoders.describeImages(images);
  const judgements = await Promise.all(described.map((d, i) => judge(index, d.semantic, d.style, targets[i])));
  return figuresOf(judgements);
}

/** The ceiling: each content source judged for its content, each style source for its set. */
export async function sourceCeiling(
  index: RecognitionIndex,
  encoders: Pick<Encoders, 'describeImages'>,
  contents: Buffer[],
  styles: Buffer[],
  targets: RecognitionTarget[],
): Promise<RecognisabilityFigures> {
  const [y, s] = await Promise.all([encoders.describeImages(contents), encoders.describeImages(styles)]);
  const judgements = await Promise.all(
    targets.map(async (target, i) => {
      const [forContent, forStyle] = await Promise.all([
        judge(index, y[i].semantic, y[i].style, target),
        judge(index, s[i].semantic, s[i].style, target),
      ]);
      return { contentHit: forContent.contentHit, styleShare: forStyle.styleShare };
    }),
  );
  return figuresOf(judgements);
}

/** What images drawn at random from the index would score: by counting, not sampling. */
export async function chanceLevels(
  catalog: Pick<Catalog, 'stats'>,
  countOfCodepoint: (codepoint: string) => number,
  targets: RecognitionTarget[],
): Promise<{ content: number; styleShare: number }> {
  const stats = await catalog.stats();
  if (stats.items === 0 || targets.length === 0) return { content: 0, styleShare: 0 };
  let content = 0;
  let styleShare = 0;
  for (const target of targets) {
    const p = countOfCodepoint(target.codepoint) / stats.items;
    content += 1 - (1 - p) ** RECOGNISABILITY_K;
    styleShare += (stats.sources[target.set] ?? 0) / stats.items;
  }
  return { content: content / targets.length, styleShare: styleShare / targets.length };
}

function figuresOf(judgements: Judgement[]): RecognisabilityFigures {
  const n = judgements.length;
  return {
    images: n,
    content: judgements.filter((j) => j.contentHit).length / n,
    styleSet: judgements.filter((j) => j.styleShare * RECOGNISABILITY_K >= STYLE_MAJORITY).length / n,
    styleShare: judgements.reduce((sum, j) => sum + j.styleShare, 0) / n,
  };
}
