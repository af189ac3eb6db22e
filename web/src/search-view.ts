/**
 * Search: the what/style form, the results grid with infinite scroll, and the refinement trail
 * (a server-side session) shown as breadcrumbs with undo and "back to step n". The URL holds
 * the query and the trail; on load it is restored from the session, or replayed when the
 * session has expired.
 */
import {
  api,
  ApiError,
  DEFAULT_K,
  describeError,
  FACET_FIELDS,
  type FacetField,
  type Page,
  type PageOptions,
  type Result,
  type SearchRequest,
  type SearchWeights,
  type SessionPage,
} from './api.js';
import { h } from './dom.js';
import { FacetsPanel, FILTER_OF } from './facets-panel.js';
import { ResultGrid } from './grid.js';
import { SourcePicker } from './source-picker.js';
import { createQueryField } from './query-field.js';
import {
  ACTION_LABELS,
  emptyState,
  formatState,
  DEFAULT_WEIGHTS,
  hasQuery,
  parseState,
  requestFilters,
  requestWeights,
  stepFor,
  trailMatches,
  type Action,
  type ActionKind,
  type SearchState,
} from './trail.js';

export interface SearchView {
  el: HTMLElement;
  /** Restores the page from the URL (first load, back/forward). */
  restore(search: string): Promise<void>;
  /** Starts a search with an image as the content query (from Generate's "search with this image"). */
  searchWithImage(image: Blob, name: string): Promise<void>;
  focus(): void;
}

export function createSearchView(navigate: (url: string, replace: boolean) => void): SearchView {
  let state: SearchState = emptyState();
  let cursor: string | null = null;
  let shown = 0;
  let loadingMore = false;
  /** Bumped by every new request that replaces the results; stale answers are dropped. */
  let generation = 0;
  const titles = new Map<string, string>();

  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const errorBox = h('div', { class: 'error', role: 'alert', 'aria-live': 'assertive', hidden: true });
  const notice = h('p', { class: 'notice', hidden: true });

  const what = createQueryField({
    label: 'What',
    name: 'q',
    placeholder: 'a cat, a red apple…',
    hint: 'What the image shows. Type, or drop or paste an image.',
    onImage: () => void runSearch(),
  });
  const how = createQueryField({
    label: 'Style',
    name: 'style',
    placeholder: 'flat, outlined, glossy 3D…',
    hint: 'How it is drawn. Type, or drop or paste an image.',
    onImage: () => void runSearch(),
  });

  const weightSliders = createWeightSliders();
  const sourcePicker = new SourcePicker((sources) => void chooseSources(sources));
  void sourcePicker.load();
  const explainBox = h('input', { type: 'checkbox', name: 'explain' });
  const form = h(
    'form',
    { class: 'search-form', role: 'search', 'aria-label': 'Search images', novalidate: true },
    what.el,
    how.el,
    h('div', { class: 'form-actions' }, sourcePicker.el, h('button', { type: 'submit', class: 'primary' }, 'Search')),
    weightSliders.el,
    h('label', { class: 'explain-toggle' }, explainBox, ' Explain scores (show the matched words)'),
  );
  // Explanations are per page: fetch the current first page again with (or without) them.
  explainBox.addEventListener('change', () => {
    if (!state.sessionId) return;
    void exclusive(async (token) => {
      const page = await withSession((id) => api.results(id, null, firstPage()));
      if (token === generation) renderPage(page, false);
    });
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void runSearch();
  });

  const undoButton = h('button', { type: 'button', class: 'secondary undo', disabled: true, onclick: () => void undo() }, 'Undo');
  const crumbs = h('ol', { class: 'crumbs' });
  const trailNav = h('nav', { class: 'trail', 'aria-label': 'Refinement trail', hidden: true }, crumbs, undoButton);

  const grid = new ResultGrid({ label: 'Results', onAction: (kind, result) => void act(kind, result) });
  const facets = new FacetsPanel({
    onAdd: (field, value) => void refilter(field, value, true),
    onRemove: (field, value) => void refilter(field, value, false),
  });
  const more = h('button', { type: 'button', class: 'secondary more', hidden: true, onclick: () => void loadMore() }, 'Load more');
  const sentinel = h('div', { class: 'sentinel', 'aria-hidden': 'true' });
  const intro = h(
    'div',
    { class: 'intro' },
    h('p', {}, 'Search by ', h('strong', {}, 'what'), ' an image shows and ', h('strong', {}, 'how'), ' it is drawn. Either field may be empty.'),
    h('p', {}, 'Refine with the buttons on each result; pin results (★) to interpolate between them or to generate from them.'),
  );

  const results = h('div', { class: 'results' }, grid.el, more, sentinel);
  const el = h(
    'section',
    { class: 'view view-search', 'aria-label': 'Search' },
    form,
    errorBox,
    notice,
    trailNav,
    status,
    intro,
    h('div', { class: 'results-layout' }, facets.el, results),
  );

  new IntersectionObserver(
    (entries) => {
      if (entries.some((entry) => entry.isIntersecting)) void loadMore();
    },
    { rootMargin: '400px 0px' },
  ).observe(sentinel);

  // ---- rendering ----

  const showError = (error: unknown) => {
    if ((error as Error)?.name === 'AbortError') return;
    const busy = error instanceof ApiError && error.status === 429;
    errorBox.replaceChildren(busy ? '' : h('strong', {}, 'Error. '), describeError(error));
    errorBox.classList.toggle('busy-message', busy);
    errorBox.hidden = false;
  };
  const clearError = () => {
    errorBox.hidden = true;
    errorBox.replaceChildren();
  };
  const setNotice = (text: string | null) => {
    notice.textContent = text ?? '';
    notice.hidden = !text;
  };
  const setBusy = (busy: boolean) => {
    el.setAttribute('aria-busy', String(busy));
    el.classList.toggle('busy', busy);
  };

  const describeQuery = (): string => {
    const parts: string[] = [];
    if (state.contentImage) parts.push('an image');
    else if (state.q) parts.push(`“${state.q}”`);
    if (state.styleImage) parts.push('drawn like an image');
    else if (state.style) parts.push(`drawn ${state.style}`);
    return parts.join(', ') || 'search';
  };

  const renderTrail = () => {
    crumbs.replaceChildren();
    trailNav.hidden = !state.sessionId;
    const labels = [describeQuery(), ...state.actions.map((a) => `${ACTION_LABELS[a.kind].crumb} ${titles.get(a.id) ?? a.id}`)];
    labels.forEach((label, step) => {
      const current = step === labels.length - 1;
      crumbs.appendChild(
        h(
          'li',
          {},
          current
            ? h('span', { 'aria-current': 'step', class: 'crumb current' }, label)
            : h('button', { type: 'button', class: 'crumb', 'aria-label': `Back to step ${step}: ${label}`, onclick: () => void backTo(step) }, label),
        ),
      );
    });
    undoButton.disabled = state.actions.length === 0;
  };

  const renderPage = (page: Page, append: boolean) => {
    for (const r of page.results) titles.set(r.id, r.title);
    if (!append) {
      grid.clear();
      shown = 0;
      facets.render(page.facets, state.filters);
      sourcePicker.show(state.filters.sources);
    }
    grid.append(page.results);
    shown += page.results.length;
    cursor = page.nextCursor;
    more.hidden = cursor === null;
    intro.hidden = true;
    if (shown === 0) {
      status.textContent = 'No results. Try other words, or undo the last step.';
    } else {
      const total = page.total !== undefined ? ` of ${page.total}` : '';
      status.textContent = `${shown}${total} result${shown === 1 ? '' : 's'} shown${cursor ? '; scroll for more' : ''}.`;
    }
  };

  const syncUrl = (replace: boolean) => navigate(`/${formatState(state)}`, replace);

  const applySessionPage = (page: SessionPage) => {
    state.sessionId = page.session.id;
    // The sliders show the weights the session searched with, which a step may have changed (a
    // style-only "more like this style" raises style to content + words): what you see is what ran.
    weightSliders.show(page.session.weights, state.weights);
    renderPage(page, false);
    renderTrail();
  };

  /** Runs `task` as the newest results-replacing request; returns false when a newer one superseded it. */
  const exclusive = async (task: (token: number) => Promise<void>): Promise<void> => {
    const token = ++generation;
    clearError();
    setBusy(true);
    try {
      await task(token);
    } catch (error) {
      if (token === generation) showError(error);
    } finally {
      if (token === generation) setBusy(false);
    }
  };

  // ---- requests ----

  /** A first page: with the facet counts, and explanations when asked for. */
  const firstPage = (): PageOptions => ({ k: DEFAULT_K, explain: explainBox.checked, facets: FACET_FIELDS });

  /** The session request for a search state (its query text, weights and filters). */
  const sessionRequest = (from: SearchState): SearchRequest => ({
    q: from.q || undefined,
    style: from.style || undefined,
    k: DEFAULT_K,
    weights: requestWeights(from.weights),
    filters: requestFilters(from.filters),
    facets: [...FACET_FIELDS],
    explain: explainBox.checked || undefined,
  });

  // ---- actions ----

  async function runSearch(): Promise<void> {
    const contentImage = what.image();
    const styleImage = how.image();
    const next: SearchState = {
      ...emptyState(),
      q: what.text(),
      style: how.text(),
      contentImage: Boolean(contentImage),
      styleImage: Boolean(styleImage),
      weights: weightSliders.value(),
      // Filters narrow the next search too, until removed in the facets panel.
      filters: state.filters,
    };
    if (!hasQuery(next)) {
      showError(new Error('Type what to look for or a style (or drop an image into either field).'));
      what.input.focus();
      return;
    }
    setNotice(null);
    await exclusive(async (token) => {
      const page = await api.createSession(sessionRequest(next), {
        contentImage: contentImage ?? undefined,
        styleImage: styleImage ?? undefined,
      });
      if (token !== generation) return;
      state = next;
      applySessionPage(page);
      syncUrl(false);
    });
  }

  async function act(kind: ActionKind, result: Result): Promise<void> {
    if (!state.sessionId) return;
    const action: Action = { kind, id: result.id };
    titles.set(result.id, result.title);
    await exclusive(async (token) => {
      const page = await withSession((id) => api.step(id, stepFor(action), firstPage()));
      if (token !== generation) return;
      state.actions = [...state.actions, action];
      applySessionPage(page);
      status.textContent = `${ACTION_LABELS[kind].long} (${result.title}): ${status.textContent}`;
      syncUrl(false);
      grid.focusFirst();
    });
  }

  async function undo(): Promise<void> {
    if (!state.sessionId || state.actions.length === 0) return;
    await exclusive(async (token) => {
      const page = await withSession((id) => api.undo(id, firstPage()));
      if (token !== generation) return;
      state.actions = state.actions.slice(0, -1);
      applySessionPage(page);
      syncUrl(false);
    });
  }

  async function backTo(step: number): Promise<void> {
    if (!state.sessionId) return;
    await exclusive(async (token) => {
      const page = await withSession((id) => api.back(id, step, firstPage()));
      if (token !== generation) return;
      state.actions = state.actions.slice(0, step);
      applySessionPage(page);
      syncUrl(false);
    });
  }

  /** Searches `next` (filters changed) again as a new session, its trail replayed, unless a newer search overtakes it. */
  async function searchAgain(next: SearchState): Promise<void> {
    await exclusive(async (token) => {
      const page = await replay(next);
      if (token !== generation) return;
      state = { ...next, sessionId: page.session.id };
      applySessionPage(page);
      syncUrl(false);
    });
  }

  /** Adds (or removes) a facet value as a filter and searches again: a new session, its trail replayed. */
  async function refilter(field: FacetField, value: string, add: boolean): Promise<void> {
    if (!hasQuery(state)) return;
    const key = FILTER_OF[field];
    const list = state.filters[key].filter((v) => v !== value);
    const next: SearchState = { ...state, filters: { ...state.filters, [key]: add ? [...list, value] : list }, sessionId: null };
    await searchAgain(next);
  }

  /** The collection switch: narrows to the chosen sources (none: all) and searches again, as a facet does. */
  async function chooseSources(sources: string[]): Promise<void> {
    const next: SearchState = { ...state, filters: { ...state.filters, sources }, sessionId: null };
    if (!hasQuery(state)) {
      // Nothing searched yet: the next search starts in the chosen collection.
      state = { ...state, filters: next.filters };
      sourcePicker.show(sources);
      return;
    }
    await searchAgain(next);
  }

  async function loadMore(): Promise<void> {
    if (!state.sessionId || cursor === null || loadingMore || el.getAttribute('aria-busy') === 'true' || el.hidden) return;
    loadingMore = true;
    const token = generation;
    more.disabled = true;
    try {
      const page = await withSession((id) => api.results(id, cursor, { k: DEFAULT_K, explain: explainBox.checked }));
      if (token === generation) renderPage(page, true);
    } catch (error) {
      if (token === generation) showError(error);
    } finally {
      loadingMore = false;
      more.disabled = false;
    }
  }

  /**
   * Calls the API with the current session; when the session has expired (SESSION_NOT_FOUND) it
   * is rebuilt from the query and the trail, and the call is made again.
   */
  async function withSession<T>(call: (sessionId: string) => Promise<T>): Promise<T> {
    try {
      return await call(state.sessionId!);
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 'SESSION_NOT_FOUND')) throw error;
      const rebuilt = await replay(state);
      state.sessionId = rebuilt.session.id;
      return call(state.sessionId);
    }
  }

  /** A new session from the state's query, with its trail of steps applied again. */
  async function replay(from: SearchState): Promise<SessionPage> {
    if (from.contentImage || from.styleImage) {
      const images = { contentImage: from.contentImage ? what.image() : null, styleImage: from.styleImage ? how.image() : null };
      if ((from.contentImage && !images.contentImage) || (from.styleImage && !images.styleImage)) {
        throw new ApiError(404, 'SESSION_NOT_FOUND', 'This search used an uploaded image, which a link cannot carry, and its session has expired. Drop the image again to search.');
      }
      let page = await api.createSession(sessionRequest(from), {
        contentImage: images.contentImage ?? undefined,
        styleImage: images.styleImage ?? undefined,
      });
      for (const action of from.actions) page = await api.step(page.session.id, stepFor(action), firstPage());
      return page;
    }
    let page = await api.createSession(sessionRequest(from));
    for (const action of from.actions) page = await api.step(page.session.id, stepFor(action), firstPage());
    return page;
  }

  async function restore(search: string): Promise<void> {
    const wanted = parseState(search);
    if (state.sessionId && formatState(wanted) === formatState(state)) return; // already showing it
    what.setText(wanted.q);
    how.setText(wanted.style);
    weightSliders.set(wanted.weights);
    sourcePicker.show(wanted.filters.sources);
    if (!hasQuery(wanted)) {
      ++generation;
      state = emptyState();
      grid.clear();
      facets.clear();
      cursor = null;
      more.hidden = true;
      intro.hidden = false;
      status.textContent = '';
      clearError();
      renderTrail();
      return;
    }
    // Back/forward within this page's own session: move the session instead of rebuilding it.
    const sameQuery =
      state.sessionId !== null &&
      wanted.sessionId === state.sessionId &&
      wanted.q === state.q &&
      wanted.style === state.style &&
      JSON.stringify([wanted.weights, wanted.filters]) === JSON.stringify([state.weights, state.filters]);
    await exclusive(async (token) => {
      let page: SessionPage | undefined;
      if (sameQuery && isPrefix(wanted.actions, state.actions) && wanted.actions.length < state.actions.length) {
        page = await api.back(state.sessionId!, wanted.actions.length, firstPage()).catch(expired);
      } else if (wanted.sessionId) {
        const found = await api.getSession(wanted.sessionId).catch(expired);
        if (found && trailMatches(found.session.trail, wanted.actions)) {
          const first = await api.results(found.session.id, null, firstPage());
          page = { ...first, session: found.session };
        } else if (found && isPrefix(wanted.actions, actionsOfTrail(found.session.trail)) && found.session.trail.length > wanted.actions.length + 1) {
          page = await api.back(found.session.id, wanted.actions.length, firstPage());
        }
      }
      let replayed = false;
      if (!page) {
        page = await replay(wanted);
        replayed = true;
      }
      if (token !== generation) return;
      state = { ...wanted, sessionId: page.session.id };
      applySessionPage(page);
      void fillTitles(state.actions);
      if (replayed || wanted.sessionId !== page.session.id) syncUrl(true);
    });
  }

  async function fillTitles(actions: Action[]): Promise<void> {
    const missing = [...new Set(actions.map((a) => a.id))].filter((id) => !titles.has(id));
    if (!missing.length) return;
    await Promise.all(
      missing.map((id) =>
        api.item(id).then(
          (item) => titles.set(id, item.title),
          () => undefined,
        ),
      ),
    );
    renderTrail();
  }

  async function searchWithImage(image: Blob, name: string): Promise<void> {
    what.setImage(image, name);
    how.setImage(null);
    how.setText('');
    await runSearch();
  }

  return {
    el,
    restore,
    searchWithImage,
    focus: () => what.input.focus(),
  };
}

/**
 * The content, style and words weight sliders (0–2, each 1 by default). `show` puts the weights a
 * session searched with on them; one that differs from what the user asked for is marked, with
 * the asked value in its tooltip, and a weight above 2 widens its slider so that it is shown as is.
 */
function createWeightSliders(): {
  el: HTMLElement;
  value(): SearchWeights;
  set(weights: SearchWeights): void;
  show(used: SearchWeights, asked: SearchWeights): void;
} {
  const labels: Record<keyof SearchWeights, [string, string]> = {
    content: ['content', 'What the image shows'],
    style: ['style', 'How it is drawn'],
    text: ['words', 'The catalogue’s words (title, tags, keywords, description) matching “What”'],
  };
  const keys = Object.keys(labels) as Array<keyof SearchWeights>;
  const inputs = {} as Record<keyof SearchWeights, HTMLInputElement>;
  const rowOf = {} as Record<keyof SearchWeights, HTMLElement>;
  const rows = keys.map((key) => {
    const output = h('span', { class: 'weight-value', 'aria-hidden': 'true' }, DEFAULT_WEIGHTS[key].toFixed(1));
    const input = h('input', {
      type: 'range',
      name: `weight-${key}`,
      min: '0',
      max: String(SLIDER_MAX),
      step: '0.1',
      value: String(DEFAULT_WEIGHTS[key]),
      'aria-label': `${labels[key][0][0].toUpperCase()}${labels[key][0].slice(1)} weight`,
      title: labels[key][1],
      oninput: () => {
        output.textContent = Number(input.value).toFixed(1);
        // A hand on the slider takes over from what the session chose.
        row.classList.remove('weight-adjusted');
        input.title = labels[key][1];
      },
    });
    inputs[key] = input;
    const row = h('label', { class: `weight weight-${key}` }, h('span', { class: 'weight-name' }, labels[key][0]), input, output);
    rowOf[key] = row;
    return row;
  });
  const set = (weights: SearchWeights) => {
    for (const key of keys) {
      inputs[key].max = String(Math.max(SLIDER_MAX, weights[key]));
      inputs[key].value = String(weights[key]);
      inputs[key].dispatchEvent(new Event('input'));
    }
  };
  const show = (used: SearchWeights, asked: SearchWeights) => {
    set(used);
    for (const key of keys) {
      if (used[key] === asked[key]) continue;
      rowOf[key].classList.add('weight-adjusted');
      inputs[key].title = `${labels[key][1]}: ${used[key].toFixed(1)} in this step (the search asked for ${asked[key].toFixed(1)})`;
    }
  };
  return {
    el: h('fieldset', { class: 'weights' }, h('legend', {}, 'Weights'), ...rows),
    value: () => {
      const weights = { ...DEFAULT_WEIGHTS };
      for (const key of keys) weights[key] = Number(inputs[key].value);
      // The server refuses content and style both at 0: keep the search possible.
      if (weights.content === 0 && weights.style === 0) Object.assign(weights, { content: DEFAULT_WEIGHTS.content, style: DEFAULT_WEIGHTS.style });
      return weights;
    },
    set,
    show,
  };
}

/** A slider's usual reach; a session's weight beyond it widens that slider. */
const SLIDER_MAX = 2;

function expired(error: unknown): undefined {
  if (error instanceof ApiError && (error.code === 'SESSION_NOT_FOUND' || error.status === 404)) return undefined;
  throw error;
}

function isPrefix(prefix: Action[], of: Action[]): boolean {
  return prefix.length <= of.length && prefix.every((a, i) => a.kind === of[i].kind && a.id === of[i].id);
}

/** The actions a server trail stands for, where each change is one the page makes. */
function actionsOfTrail(trail: Array<{ change: import('./api.js').RefineStep | null }>): Action[] {
  const actions: Action[] = [];
  for (const { change } of trail.slice(1)) {
    if (!change) return actions;
    const kinds: ActionKind[] = ['ls', 'lc', 'un', 'uc', 'us'];
    const match = kinds
      .flatMap((kind) => {
        const id = change.like?.style?.[0] ?? change.like?.content?.[0] ?? change.unlike?.content?.[0] ?? change.set?.contentItemId ?? change.set?.styleItemId;
        return id ? [{ kind, id }] : [];
      })
      .find((candidate) => trailMatches([{ change: null }, { change }], [candidate]));
    if (!match) return actions;
    actions.push(match);
  }
  return actions;
}
