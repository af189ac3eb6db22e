/**
 * The public response shapes of the v1 API (openapi.yaml), in one place: the server's presenters
 * (present.ts, the job route) build them and the web app (web/src/api.ts) reads them. This module
 * imports nothing, so the browser bundle's type check can include it; both sides import it with
 * `import type`, which compilers erase.
 */

export type ApiModality = 'content' | 'style';
/** What a score is fused from: the two vector modalities and the catalogue's words. */
export type ApiSignal = ApiModality | 'text';

/** Cosine similarity per modality and the words' score on [0, 1) (BM25 / (BM25 + the query's median BM25)); null where the signal did not take part. */
export interface ApiScores {
  content: number | null;
  style: number | null;
  /**
   * The server always sends it (null when the words took no part); optional here only so that
   * results a client builds itself (the web app's interpolation view) type-check before they carry it.
   */
  text?: number | null;
}

export interface ApiScorePart {
  modality: ApiSignal;
  cosine: number | null;
  weight: number;
  rank?: number;
  normalized?: number;
  contribution: number;
}

/** How a result's score was made (`explain=true`). */
export interface ApiScoreExplanation {
  method: 'weighted' | 'minmax' | 'rrf';
  parts: ApiScorePart[];
  summary: string;
  /** The query's terms (normalised as the index normalises them, e.g. stemmed) the item matched, when the words took part. */
  terms?: string[];
}

export interface ApiResult {
  id: string;
  title: string;
  source: string;
  license: string;
  attribution: string;
  tags: readonly string[];
  score: number;
  scores: ApiScores;
  thumbnail: string;
  /** The image's other ids (aliases), when it has any. */
  aliases?: string[];
  explanation?: ApiScoreExplanation;
}

export interface ApiTiming {
  encodeMs: number;
  retrieveMs: number;
  fuseMs: number;
  hydrateMs: number;
  totalMs: number;
}

export interface ApiPage {
  results: ApiResult[];
  nextCursor: string | null;
  total?: number;
  /** Per-value counts (most frequent first) of each requested facet field, when `facets` was asked for. */
  facets?: Partial<Record<ApiFacetField, ApiFacetValue[]>>;
  /** The set the facets counted: `candidates`, every item of the fused candidate pool the page was ranked from. */
  facetScope?: string;
  timing: ApiTiming;
}

export type ApiFacetField = 'source' | 'license' | 'tags';

export interface ApiFacetValue {
  value: string;
  count: number;
}

/** GET /v1/sources: every indexed source (collection) with its item count, most items first. */
export interface ApiSources {
  sources: ApiFacetValue[];
}

/** An interpolation page also reports which descriptors it searched with (not the vectors themselves). */

export interface ApiInterpolationPage extends ApiPage {
  descriptors: { content: boolean; style: boolean };
}

export interface ApiItem {
  id: string;
  title: string;
  source: string;
  license: string;
  attribution: string;
  url: string;
  tags: string[];
  width: number;
  height: number;
  extra: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  thumbnail: string;
  /** Read under an alias: the id of the stored item whose image this id shares. */
  aliasOf?: string;
  /** On the stored item: its other ids (aliases), oldest first. */
  aliases?: string[];
}

export interface ApiFeedback {
  content?: string[];
  style?: string[];
}

/** One refinement step, as sent and as recorded in a session's trail. */
export interface ApiRefineStep {
  like?: ApiFeedback;
  unlike?: ApiFeedback;
  weights?: { content?: number; style?: number; text?: number };
  set?: { contentItemId?: string; styleItemId?: string; q?: string; style?: string };
}

export interface ApiSession {
  id: string;
  createdAt: string;
  step: number;
  fusion: 'weighted' | 'minmax' | 'rrf';
  filters?: { sources?: string[]; licenses?: string[]; tags?: string[]; keywords?: string };
  weights: { content: number; style: number; text: number };
  descriptors: { content: boolean; style: boolean };
  trail: Array<{ step: number; change: ApiRefineStep | null; at: string }>;
}

/** What a state-changing session call answers: the session and the first page of its new results. */
export interface ApiSessionPage extends ApiPage {
  session: ApiSession;
}

export type ApiJobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** GET /v1/jobs/:id (and a cancelled job's DELETE answer). */
export interface ApiJob {
  id: string;
  jobId: string;
  kind: string;
  state: ApiJobState;
  step: number;
  total: number;
  params: Record<string, unknown>;
  sources: Record<string, unknown>;
  result?: Record<string, unknown>;
  cells?: number;
  error?: { code: string; message: string };
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  timing: { queuedMs: number; runMs: number };
  /** Where the image is, once the job succeeded. */
  image?: string;
  /** A grid's cells, row-major, once the job succeeded. */
  cellImages?: string[];
}
