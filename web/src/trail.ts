/**
 * The refinement trail as the page and the URL know it: the initial query plus one action per
 * step. The URL carries it (`?q=…&style=…&r=ls:<id>&r=un:<id>&sid=<session>`), so a search can
 * be shared and, when its session has expired, replayed step by step on load.
 */
import type { RefineStep, SearchFilters, SearchWeights } from './api.js';

export type ActionKind = 'ls' | 'lc' | 'un' | 'uc' | 'us';

export interface Action {
  kind: ActionKind;
  id: string;
}

export interface SearchState {
  q: string;
  style: string;
  /** Uploaded query images cannot travel in a URL; these flags say that the search had one. */
  contentImage: boolean;
  styleImage: boolean;
  actions: Action[];
  sessionId: string | null;
  /** Signal weights; each is 1 unless the user moved its slider. */
  weights: SearchWeights;
  /** Filters added from the facets panel. */
  filters: Required<SearchFilters>;
}

export const DEFAULT_WEIGHTS: SearchWeights = { content: 1, style: 1, text: 1 };
/** The URL parameter of each weight and of each filter list. */
const WEIGHT_PARAMS: Record<keyof SearchWeights, string> = { content: 'wc', style: 'ws', text: 'wt' };
const FILTER_PARAMS: Record<keyof SearchFilters, string> = { sources: 'source', licenses: 'license', tags: 'tag' };
const MAX_WEIGHT = 10;

export const ACTION_LABELS: Record<ActionKind, { button: string; long: string; crumb: string }> = {
  ls: { button: 'More style', long: 'More like this style', crumb: 'more of the style of' },
  lc: { button: 'More content', long: 'More like this content', crumb: 'more of the content of' },
  un: { button: 'Less', long: 'Less like this', crumb: 'less like' },
  uc: { button: 'As content', long: 'Use as content', crumb: 'content from' },
  us: { button: 'As style', long: 'Use as style', crumb: 'style from' },
};

const KINDS = new Set<string>(Object.keys(ACTION_LABELS));
const ITEM_ID = /^[A-Za-z0-9._:~-]{1,128}$/;

export function stepFor(action: Action): RefineStep {
  switch (action.kind) {
    case 'ls':
      return { like: { style: [action.id] } };
    case 'lc':
      return { like: { content: [action.id] } };
    case 'un':
      return { unlike: { content: [action.id], style: [action.id] } };
    case 'uc':
      return { set: { contentItemId: action.id } };
    case 'us':
      return { set: { styleItemId: action.id } };
  }
}

export function emptyState(): SearchState {
  return { q: '', style: '', contentImage: false, styleImage: false, actions: [], sessionId: null, weights: { ...DEFAULT_WEIGHTS }, filters: emptyFilters() };
}

export function emptyFilters(): Required<SearchFilters> {
  return { sources: [], licenses: [], tags: [] };
}

export function hasFilters(filters: SearchFilters): boolean {
  return Boolean(filters.sources?.length || filters.licenses?.length || filters.tags?.length);
}

/** The weights a request carries: none when they are all the defaults (the server's own). */
export function requestWeights(weights: SearchWeights): SearchWeights | undefined {
  const keys = Object.keys(DEFAULT_WEIGHTS) as Array<keyof SearchWeights>;
  return keys.every((key) => weights[key] === DEFAULT_WEIGHTS[key]) ? undefined : { ...weights };
}

/** The filters a request carries: only the non-empty lists, or none at all. */
export function requestFilters(filters: Required<SearchFilters>): SearchFilters | undefined {
  if (!hasFilters(filters)) return undefined;
  const out: SearchFilters = {};
  for (const key of Object.keys(FILTER_PARAMS) as Array<keyof SearchFilters>) if (filters[key].length) out[key] = [...filters[key]];
  return out;
}

export function hasQuery(state: SearchState): boolean {
  return Boolean(state.q.trim() || state.style.trim() || state.contentImage || state.styleImage);
}

export function parseState(search: string): SearchState {
  const params = new URLSearchParams(search);
  const actions: Action[] = [];
  for (const raw of params.getAll('r')) {
    const colon = raw.indexOf(':');
    const kind = raw.slice(0, colon);
    const id = raw.slice(colon + 1);
    if (colon > 0 && KINDS.has(kind) && ITEM_ID.test(id)) actions.push({ kind: kind as ActionKind, id });
  }
  const sid = params.get('sid');
  const weights = { ...DEFAULT_WEIGHTS };
  for (const [key, name] of Object.entries(WEIGHT_PARAMS) as Array<[keyof SearchWeights, string]>) {
    const raw = params.get(name);
    const value = raw === null ? NaN : Number(raw);
    if (Number.isFinite(value) && value >= 0 && value <= MAX_WEIGHT) weights[key] = value;
  }
  if (weights.content === 0 && weights.style === 0) Object.assign(weights, { content: 1, style: 1 }); // the server refuses both at 0
  const filters = emptyFilters();
  for (const [key, name] of Object.entries(FILTER_PARAMS) as Array<[keyof SearchFilters, string]>) {
    filters[key] = [...new Set(params.getAll(name).map((v) => v.trim().slice(0, 200)).filter(Boolean))].slice(0, 50);
  }
  return {
    weights,
    filters,
    q: (params.get('q') ?? '').slice(0, 500),
    style: (params.get('style') ?? '').slice(0, 500),
    contentImage: params.get('img')?.includes('c') ?? false,
    styleImage: params.get('img')?.includes('s') ?? false,
    actions,
    sessionId: sid && ITEM_ID.test(sid) ? sid : null,
  };
}

export function formatState(state: SearchState): string {
  const params = new URLSearchParams();
  if (state.q) params.set('q', state.q);
  if (state.style) params.set('style', state.style);
  const img = `${state.contentImage ? 'c' : ''}${state.styleImage ? 's' : ''}`;
  if (img) params.set('img', img);
  for (const [key, name] of Object.entries(FILTER_PARAMS) as Array<[keyof SearchFilters, string]>) {
    for (const value of state.filters[key]) params.append(name, value);
  }
  for (const [key, name] of Object.entries(WEIGHT_PARAMS) as Array<[keyof SearchWeights, string]>) {
    if (state.weights[key] !== DEFAULT_WEIGHTS[key]) params.set(name, String(state.weights[key]));
  }
  for (const action of state.actions) params.append('r', `${action.kind}:${action.id}`);
  if (state.sessionId) params.set('sid', state.sessionId);
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Whether the server's trail (its changes after step 0) is exactly these actions. */
export function trailMatches(trail: Array<{ change: RefineStep | null }>, actions: Action[]): boolean {
  const changes = trail.slice(1).map((entry) => JSON.stringify(entry.change));
  if (changes.length !== actions.length) return false;
  return actions.every((action, i) => JSON.stringify(normalise(stepFor(action))) === JSON.stringify(normalise(JSON.parse(changes[i]) as RefineStep)));
}

/** Key order and empty parts do not matter when two steps are compared. */
function normalise(step: RefineStep): unknown {
  const sortObject = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sortObject);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>)
          .filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => [k, sortObject(v)]),
      );
    }
    return value;
  };
  return sortObject(step);
}
