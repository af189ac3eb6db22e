/**
 * The one typed client of the public v1 API (src/api/openapi.yaml). Every failure becomes an
 * ApiError carrying the server's `{error:{code,message}}`; nothing else in the app calls fetch.
 */

// The response shapes are the server's own (one definition for both bundles; type-only, erased).
import type {
  ApiFacetField,
  ApiFacetValue,
  ApiFeedback,
  ApiItem,
  ApiJob,
  ApiJobState,
  ApiPage,
  ApiRefineStep,
  ApiResult,
  ApiScores,
  ApiSession,
  ApiSessionPage,
  ApiSources,
} from '../../src/api/public-types.js';

export type Scores = ApiScores;
export type Result = ApiResult;
export type Page = ApiPage;
export type Feedback = ApiFeedback;
export type RefineStep = ApiRefineStep;
export type Session = ApiSession;
export type SessionPage = ApiSessionPage;
export type Item = ApiItem;
export type JobState = ApiJobState;
export type Job = ApiJob;
export type FacetField = ApiFacetField;
export type FacetValue = ApiFacetValue;

/** The facets every search asks for, in the order the panel shows them. */
export const FACET_FIELDS: readonly FacetField[] = ['source', 'license', 'tags'];

/** The weight of each signal: content (meaning), style, and the catalogue's words (text). */
export interface SearchWeights {
  content: number;
  style: number;
  text: number;
}

/** The search filters the facets add (openapi.yaml: `filters` in the body). */
export interface SearchFilters {
  sources?: string[];
  licenses?: string[];
  tags?: string[];
}

export interface SearchRequest {
  q?: string;
  style?: string;
  contentItemId?: string;
  styleItemId?: string;
  k?: number;
  weights?: SearchWeights;
  filters?: SearchFilters;
  facets?: FacetField[];
  explain?: boolean;
}

/** What a page asks for besides its size: explanations, and facet counts on a first page. */
export interface PageOptions {
  k?: number;
  explain?: boolean;
  facets?: readonly FacetField[];
}

function pageQuery(options: PageOptions): Record<string, string | number | undefined> {
  return {
    k: options.k ?? DEFAULT_K,
    explain: options.explain ? 'true' : undefined,
    facets: options.facets?.length ? options.facets.join(',') : undefined,
  };
}

export type DescriptorSource = { itemId: string } | { text: string };

export interface InterpolateRequest {
  content?: { a: DescriptorSource; b: DescriptorSource };
  style?: { a: DescriptorSource; b: DescriptorSource };
  t: number;
  k?: number;
  method?: 'lerp' | 'slerp';
}

/**
 * Generation (openapi.yaml, tag "generate"): POST /v1/generate → 202 {jobId, state, params};
 * GET /v1/jobs/:id → {state, step, total, params, sources, result?, error?, timing};
 * GET /v1/jobs/:id/image → the PNG; DELETE /v1/jobs/:id cancels (or forgets a finished job).
 */
export interface GenerateRequest {
  content: DescriptorSource;
  style: DescriptorSource;
  lambda: number;
  gs: number;
  gy: number;
  steps: number;
  seed: number;
  colorTransfer: boolean;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds the server asked us to wait (429). */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const DEFAULT_K = 24;

// ---- the API key (a server with access control on needs one) ----

const KEY_STORAGE = 'parasol.apiKey';

/** The key the user saved in this browser, or '' when none. */
export function getApiKey(): string {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return ''; // storage disabled
  }
}

/** Saves the key (blank: forgets it). */
export function setApiKey(key: string): void {
  try {
    if (key.trim()) localStorage.setItem(KEY_STORAGE, key.trim());
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled: the key lasts until the page is closed
  }
}

/** `Authorization: Bearer <key>` when a key is saved. */
function authHeaders(): Record<string, string> {
  const key = getApiKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}

/**
 * `<img>` requests carry no headers, so on a server that needs a key an API image (a thumbnail)
 * fails; this refetches such an image once with the key and shows it from a blob URL.
 */
export function loadApiImagesWithKey(root: Document): void {
  root.addEventListener(
    'error',
    (event) => {
      const img = event.target;
      if (!(img instanceof HTMLImageElement) || img.dataset.keyed || !getApiKey()) return;
      const url = new URL(img.currentSrc || img.src, location.href);
      if (url.origin !== location.origin || !url.pathname.startsWith('/v1/')) return;
      img.dataset.keyed = '1';
      void fetch(url, { headers: authHeaders() })
        .then((res) => (res.ok ? res.blob() : Promise.reject(new Error(String(res.status)))))
        .then((blob) => {
          const objectUrl = URL.createObjectURL(blob);
          img.addEventListener('load', () => URL.revokeObjectURL(objectUrl), { once: true });
          img.src = objectUrl;
        })
        .catch(() => undefined);
    },
    true,
  );
}

const unauthorizedListeners = new Set<(error: ApiError) => void>();

/** Calls `listener` whenever the server answers 401 (no key, or a wrong one). */
export function onUnauthorized(listener: (error: ApiError) => void): void {
  unauthorizedListeners.add(listener);
}

function unauthorized(error: ApiError): ApiError {
  if (error.status === 401) for (const listener of unauthorizedListeners) listener(error);
  return error;
}

/**
 * `quiet`: a background load the user did not ask for; its 401 does not open the key dialog (the
 * user's own next request will, and a modal opened under their typing would swallow it).
 */
async function request<T>(method: string, url: string, body?: unknown, signal?: AbortSignal, quiet = false): Promise<T> {
  const init: RequestInit = { method, headers: { accept: 'application/json', ...authHeaders() }, signal };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, 'NETWORK', 'The server could not be reached. Check your connection and try again.');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    const retry = Number(res.headers.get('retry-after'));
    const failure = new ApiError(
      res.status,
      error?.code ?? `HTTP_${res.status}`,
      error?.message ?? `The server answered ${res.status} ${res.statusText}`.trim(),
      Number.isFinite(retry) && retry > 0 ? retry : undefined,
    );
    throw quiet ? failure : unauthorized(failure);
  }
  return json as T;
}

const enc = encodeURIComponent;

function qs(params: Record<string, string | number | undefined | null>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${enc(k)}=${enc(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

export interface QueryImages {
  contentImage?: Blob;
  styleImage?: Blob;
}

/** JSON when there are no images, multipart (`query` + image files) otherwise. */
function searchBody(req: SearchRequest, images: QueryImages): unknown {
  if (!images.contentImage && !images.styleImage) return req;
  const form = new FormData();
  form.set('query', JSON.stringify(req));
  if (images.contentImage) form.set('contentImage', images.contentImage, 'content');
  if (images.styleImage) form.set('styleImage', images.styleImage, 'style');
  return form;
}

export const api = {
  search: (req: SearchRequest, images: QueryImages = {}) => request<Page>('POST', '/v1/search', searchBody(req, images)),
  createSession: (req: SearchRequest, images: QueryImages = {}) =>
    request<SessionPage>('POST', '/v1/sessions', searchBody(req, images)),
  getSession: (id: string) => request<{ session: Session }>('GET', `/v1/sessions/${enc(id)}`),
  step: (id: string, step: RefineStep, options: PageOptions = {}) =>
    request<SessionPage>('POST', `/v1/sessions/${enc(id)}/steps${qs(pageQuery(options))}`, step),
  undo: (id: string, options: PageOptions = {}) => request<SessionPage>('DELETE', `/v1/sessions/${enc(id)}/steps/last${qs(pageQuery(options))}`),
  back: (id: string, step: number, options: PageOptions = {}) =>
    request<SessionPage>('POST', `/v1/sessions/${enc(id)}/back${qs(pageQuery(options))}`, { step }),
  results: (id: string, cursor?: string | null, options: PageOptions = {}) =>
    request<Page>('GET', `/v1/sessions/${enc(id)}/results${qs({ ...pageQuery(options), cursor })}`),
  interpolate: (req: InterpolateRequest) => request<Page>('POST', '/v1/interpolate', req),
  item: (id: string) => request<Item>('GET', `/v1/items/${enc(id)}`),
  /** Every indexed source with its item count (the collection switch; loaded in the background, so quiet). */
  sources: () => request<ApiSources>('GET', '/v1/sources', undefined, undefined, true),
  thumbnailUrl: (id: string) => `/v1/items/${enc(id)}/thumbnail`,

  generate: (req: GenerateRequest) => request<{ jobId: string; params?: Record<string, unknown> }>('POST', '/v1/generate', req),
  /** An empty request: the server checks that it can generate before it reads the body. */
  probeGenerate: () => request<unknown>('POST', '/v1/generate', {}),
  job: (id: string, signal?: AbortSignal) => request<Job>('GET', `/v1/jobs/${enc(id)}`, undefined, signal),
  cancelJob: (id: string) => request<void>('DELETE', `/v1/jobs/${enc(id)}`),
  jobImageUrl: (id: string) => `/v1/jobs/${enc(id)}/image`,
  async jobImage(id: string): Promise<Blob> {
    const res = await fetch(`/v1/jobs/${enc(id)}/image`, { headers: authHeaders() });
    if (!res.ok) {
      const body = (await res.json().catch(() => undefined)) as { error?: { code: string; message: string } } | undefined;
      throw unauthorized(
        new ApiError(res.status, body?.error?.code ?? `HTTP_${res.status}`, body?.error?.message ?? 'The image could not be fetched'),
      );
    }
    return res.blob();
  },
};

/** A sentence for people, from any error: the API's message, with a hint for a busy server. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401) return 'This server needs an API key: enter one under “API key” at the top.';
    if (error.status === 429) {
      const stop = /[.!?]$/.test(error.message) ? '' : '.';
      const wait = /retry|try again/i.test(error.message) ? '' : error.retryAfter ? ` Try again in ${error.retryAfter} s.` : ' Try again in a moment.';
      return `The server is busy: ${error.message}${stop}${wait}`;
    }
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
