/**
 * The public response shapes of the v1 API (openapi.yaml), in one place: the server's presenters
 * (present.ts, the job route) build them and the web app (web/src/api.ts) reads them. This module
 * imports nothing, so the browser bundle's type check can include it; both sides import it with
 * `import type`, which compilers erase.
 */

export type ApiModality = 'content' | 'style';

/** Cosine similarity per modality; null where the modality did not take part. */
export interface ApiScores {
  content: number | null;
  style: number | null;
}

export interface ApiScorePart {
  modality: ApiModality;
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
}

export interface ApiResult {
  id: string;
  title: string;
  source: string;
  license: string;
  attribution: string;
  tags: string[];
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
  timing: ApiTiming;
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
  weights?: { content?: number; style?: number };
  set?: { contentItemId?: string; styleItemId?: string; q?: string; style?: string };
}

export interface ApiSession {
  id: string;
  createdAt: string;
  step: number;
  fusion: 'weighted' | 'minmax' | 'rrf';
  filters?: { sources?: string[]; licenses?: string[]; tags?: string[]; keywords?: string };
  weights: { content: number; style: number };
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
