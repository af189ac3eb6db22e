/**
 * Fusion of per-signal scores into one ranking.
 *
 * Every candidate carries its score for each signal that took part (null otherwise): the cosine
 * of each vector modality and, for a text query on a catalogue with words, the lexical score
 * (BM25 mapped onto [0, 1), see lexical.ts). The engine computes those scores exactly for every
 * candidate, so a candidate's weighted score does not depend on which list happened to find it —
 * which is what keeps cursors stable.
 */

/** The vector modalities (each has its own index and descriptor). */
export type SearchModality = 'content' | 'style';
/** Everything fusion combines: the vector modalities and the lexical (words) signal. */
export type SearchSignal = SearchModality | 'text';
export type FusionMethod = 'weighted' | 'minmax' | 'rrf';

/** Methods whose scores depend on the candidate pool: they rank one fixed window. */
export function isWindowed(method: FusionMethod): boolean {
  return method !== 'weighted';
}

export const SEARCH_MODALITIES: readonly SearchModality[] = ['content', 'style'];
export const SEARCH_SIGNALS: readonly SearchSignal[] = ['content', 'style', 'text'];

/** The constant of reciprocal-rank fusion (Cormack et al. 2009): damps the head of each list. */
export const RRF_K = 60;

export interface ModalityScores {
  content: number | null;
  style: number | null;
  /** The lexical score on [0, 1); absent or null when the text signal took no part. */
  text?: number | null;
}

export interface Candidate {
  seq: number;
  scores: ModalityScores;
  /** The query terms the item matched (text signal only). */
  terms?: string[];
}

/** Weights of the signals that take part; an absent signal does not take part. */
export type ParticipatingWeights = Partial<Record<SearchSignal, number>>;

export interface ScorePart {
  modality: SearchSignal;
  cosine: number | null;
  /** The weight as given (before normalisation). */
  weight: number;
  /** 1-based rank among the candidates by this modality's cosine (RRF only). */
  rank?: number;
  /** The cosine rescaled to [0, 1] over the candidate window (min-max only). */
  normalized?: number;
  /** What this modality added to the fused score. */
  contribution: number;
}

export interface ScoreExplanation {
  method: FusionMethod;
  parts: ScorePart[];
  /** The query's terms (as the index normalises them) the item matched, when the text signal took part. */
  terms?: string[];
  /** The same arithmetic as one readable line, e.g. "0.5×0.81 (content) + 0.5×0.40 (style) = 0.605". */
  summary: string;
}

/** A candidate with its fused score: what pagination and the page need. */
export interface RankedCandidate extends Candidate {
  score: number;
  /** Built by the fuse functions; a ranking read straight from one index builds it for the page only, when asked. */
  explanation?: ScoreExplanation;
}

export interface FusedCandidate extends RankedCandidate {
  explanation: ScoreExplanation;
}

/** Best first; ties broken by seq so that the order (and so every cursor) is total and repeatable. */
export function compareFused(a: { score: number; seq: number }, b: { score: number; seq: number }): number {
  if (a.score !== b.score) return b.score - a.score;
  return a.seq - b.seq;
}

function participating(weights: ParticipatingWeights): Array<[SearchSignal, number]> {
  const out: Array<[SearchSignal, number]> = [];
  for (const modality of SEARCH_SIGNALS) {
    const weight = weights[modality];
    if (weight === undefined) continue;
    if (!Number.isFinite(weight) || weight < 0) throw new RangeError(`invalid ${modality} weight: ${weight}`);
    out.push([modality, weight]);
  }
  if (out.length === 0) throw new RangeError('fusion needs at least one participating modality');
  return out;
}

/**
 * An explanation whose one-line summary is only formatted when read (serialised, shown): every
 * candidate of every pool gets an explanation, few are ever explained, and formatting the numbers
 * was a tenth of a hybrid query's time (profiled at 100k items).
 */
function explanationOf(method: FusionMethod, parts: ScorePart[], candidate: Candidate, summarize: () => string): ScoreExplanation {
  let summary: string | undefined;
  return {
    method,
    parts,
    ...(candidate.terms ? { terms: candidate.terms } : {}),
    get summary(): string {
      summary ??= summarize();
      return summary;
    },
  };
}

/** Whether a candidate has a score in a signal; a lexical 0 (no term matched) is no place in the words' list. */
function ranked(candidate: Candidate, signal: SearchSignal): boolean {
  const score = candidate.scores[signal];
  return score !== null && score !== undefined && !(signal === 'text' && score === 0);
}

const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(4));

/**
 * score = Σ wₘ·cosₘ / Σ wₘ over the participating modalities. Dividing by the weight sum keeps the
 * fused score a cosine-like value in [-1, 1] whatever the absolute weights. A missing cosine
 * counts as 0 (it should not happen: the engine scores every candidate in every modality).
 */
export function fuseWeighted(candidates: Candidate[], weights: ParticipatingWeights): FusedCandidate[] {
  const modalities = participating(weights);
  const fused = candidates.map((candidate) => {
    const { score, explanation } = explainWeightedParts(candidate, modalities);
    return { seq: candidate.seq, scores: candidate.scores, score, explanation };
  });
  return fused.sort(compareFused);
}

/**
 * The weighted score alone, Σ wₘ·cosₘ / Σ wₘ, summed in the same order as fuseWeighted's so that
 * both give the same float for the same candidate.
 */
export function weightedScore(scores: ModalityScores, weights: ParticipatingWeights): number {
  let total = 0;
  for (const signal of SEARCH_SIGNALS) total += weights[signal] ?? 0;
  let score = 0;
  for (const signal of SEARCH_SIGNALS) {
    const weight = weights[signal];
    if (weight === undefined) continue;
    score += (total === 0 ? 0 : weight / total) * (scores[signal] ?? 0);
  }
  return score;
}

/** fuseWeighted's explanation of one candidate (for a page ranked without building them all). */
export function explainWeighted(candidate: Candidate, weights: ParticipatingWeights): ScoreExplanation {
  return explainWeightedParts(candidate, participating(weights)).explanation;
}

function explainWeightedParts(candidate: Candidate, modalities: Array<[SearchSignal, number]>): { score: number; explanation: ScoreExplanation } {
  const total = modalities.reduce((sum, [, w]) => sum + w, 0);
  const parts: ScorePart[] = modalities.map(([modality, weight]) => {
    const cosine = candidate.scores[modality] ?? null;
    const share = total === 0 ? 0 : weight / total;
    return { modality, cosine, weight, contribution: share * (cosine ?? 0) };
  });
  const score = parts.reduce((sum, part) => sum + part.contribution, 0);
  const summarize = () =>
    parts.map((p) => `${fmt(total === 0 ? 0 : p.weight / total)}×${p.cosine === null ? 'none' : fmt(p.cosine)} (${p.modality})`).join(' + ') +
    ` = ${fmt(score)}`;
  return { score, explanation: explanationOf('weighted', parts, candidate, summarize) };
}

/**
 * score = Σ wₘ·(cosₘ − minₘ)/(maxₘ − minₘ) / Σ wₘ, min and max taken over the candidates (as
 * Elasticsearch's linear retriever with the minmax normaliser). The two towers' cosines live on
 * different scales — the mini style encoder puts most pairs above 0.9, the semantic one spreads
 * them over 0.3–0.8 — so raw weighted sums let one modality drown the other; rescaling each to
 * its spread in the window makes the weights mean what they say. A modality with no spread
 * contributes its weight share to every candidate alike.
 */
export function fuseMinMax(candidates: Candidate[], weights: ParticipatingWeights): FusedCandidate[] {
  const modalities = participating(weights);
  const total = modalities.reduce((sum, [, w]) => sum + w, 0);
  const ranges = new Map<SearchSignal, { min: number; span: number }>();
  for (const [modality] of modalities) {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const c of candidates) {
      const cosine = c.scores[modality] ?? null;
      if (cosine === null) continue;
      if (cosine < min) min = cosine;
      if (cosine > max) max = cosine;
    }
    ranges.set(modality, { min, span: max - min });
  }
  const fused = candidates.map((candidate) => {
    const parts: ScorePart[] = modalities.map(([modality, weight]) => {
      const cosine = candidate.scores[modality] ?? null;
      const { min, span } = ranges.get(modality) as { min: number; span: number };
      const normalized = cosine === null ? 0 : span > 0 ? (cosine - min) / span : 1;
      const share = total === 0 ? 0 : weight / total;
      return { modality, cosine, weight, normalized, contribution: share * normalized };
    });
    const score = parts.reduce((sum, part) => sum + part.contribution, 0);
    const summarize = () =>
      parts.map((p) => `${fmt(total === 0 ? 0 : p.weight / total)}×${fmt(p.normalized ?? 0)} (${p.modality}, min-max)`).join(' + ') +
      ` = ${fmt(score)}`;
    return { seq: candidate.seq, scores: candidate.scores, score, explanation: explanationOf('minmax', parts, candidate, summarize) };
  });
  return fused.sort(compareFused);
}

/**
 * score = Σ wₘ / (k + rankₘ), ranks taken among the candidates by each modality's cosine.
 * A candidate with no cosine in a modality gets nothing from it (the usual RRF convention for an
 * item absent from one of the lists).
 */
export function fuseRrf(candidates: Candidate[], weights: ParticipatingWeights, k: number = RRF_K): FusedCandidate[] {
  const modalities = participating(weights);
  const ranks = new Map<SearchSignal, Map<number, number>>();
  for (const [modality] of modalities) {
    const scored = candidates
      .filter((c) => ranked(c, modality))
      .map((c) => ({ seq: c.seq, score: c.scores[modality] as number }))
      .sort(compareFused);
    ranks.set(modality, new Map(scored.map((c, i) => [c.seq, i + 1])));
  }
  const fused = candidates.map((candidate) => {
    const parts: ScorePart[] = modalities.map(([modality, weight]) => {
      const rank = ranks.get(modality)?.get(candidate.seq);
      const contribution = rank === undefined ? 0 : weight / (k + rank);
      return { modality, cosine: candidate.scores[modality] ?? null, weight, rank, contribution };
    });
    const score = parts.reduce((sum, part) => sum + part.contribution, 0);
    const summarize = () =>
      parts
        .map((p) => (p.rank === undefined ? `0 (${p.modality}: unranked)` : `${fmt(p.weight)}/(${k}+${p.rank}) (${p.modality})`))
        .join(' + ') + ` = ${fmt(score)}`;
    return { seq: candidate.seq, scores: candidate.scores, score, explanation: explanationOf('rrf', parts, candidate, summarize) };
  });
  return fused.sort(compareFused);
}

export function fuse(method: FusionMethod, candidates: Candidate[], weights: ParticipatingWeights): FusedCandidate[] {
  if (method === 'rrf') return fuseRrf(candidates, weights);
  if (method === 'minmax') return fuseMinMax(candidates, weights);
  return fuseWeighted(candidates, weights);
}
