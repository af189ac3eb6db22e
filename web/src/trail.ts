/**
 * The refinement trail as the page and the URL know it: the initial query plus one action per
 * step. The URL carries it (`?q=…&style=…&r=ls:<id>&r=un:<id>&sid=<session>`), so a search can
 * be shared and, when its session has expired, replayed step by step on load.
 */
import type { RefineStep } from './api.js';

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
}

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
  return { q: '', style: '', contentImage: false, styleImage: false, actions: [], sessionId: null };
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
  return {
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
