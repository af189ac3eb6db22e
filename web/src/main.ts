/**
 * The Parasol web app: three views (Search at /, Interpolate at /interpolate, Generate at
 * /generate) with client-side routes; the API server answers index.html for each of them.
 */
import { getApiKey, loadApiImagesWithKey, onUnauthorized, setApiKey } from './api.js';
import { h } from './dom.js';
import { createGenerateView } from './generate-view.js';
import { createInterpolateView } from './interpolate-view.js';
import { createSearchView } from './search-view.js';

type Route = 'search' | 'interpolate' | 'generate';

const PATHS: Record<Route, string> = { search: '/', interpolate: '/interpolate', generate: '/generate' };
const TITLES: Record<Route, string> = { search: 'Search', interpolate: 'Interpolate', generate: 'Generate' };

function routeOf(pathname: string): Route {
  if (pathname.startsWith('/interpolate')) return 'interpolate';
  if (pathname.startsWith('/generate')) return 'generate';
  return 'search';
}

function start(root: HTMLElement): void {
  /** The search view's last URL query, so that the Search tab returns to it. */
  let lastSearch = '';
  const navigate = (url: string, replace: boolean) => {
    if (url !== `${location.pathname}${location.search}`) {
      if (replace) history.replaceState(null, '', url);
      else history.pushState(null, '', url);
    }
    if (routeOf(location.pathname) === 'search') lastSearch = location.search;
  };

  const search = createSearchView(navigate);
  const interpolate = createInterpolateView();
  const generate = createGenerateView((image, name) => {
    go('search', '/');
    void search.searchWithImage(image, name);
  });

  const links = new Map<Route, HTMLAnchorElement>();
  const nav = h('nav', { class: 'tabs', 'aria-label': 'Sections' });
  for (const route of Object.keys(PATHS) as Route[]) {
    const link = h('a', { href: PATHS[route], class: 'tab', dataset: { route } }, TITLES[route]) as HTMLAnchorElement;
    link.addEventListener('click', (event) => {
      if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      go(route, route === 'search' ? `/${lastSearch}` : PATHS[route]);
    });
    links.set(route, link);
    nav.appendChild(link);
  }

  const keys = createKeyDialog();
  onUnauthorized(() => keys.open(true));
  loadApiImagesWithKey(document);

  const main = h('main', { id: 'main', tabindex: '-1' }, search.el, interpolate.el, generate.el);
  root.replaceChildren(
    h('a', { href: '#main', class: 'skip' }, 'Skip to content'),
    h('header', { class: 'top' }, h('a', { href: '/', class: 'brand', 'aria-label': 'Parasol home' }, h('span', { 'aria-hidden': 'true' }, '☂'), ' Parasol'), nav, keys.button),
    keys.dialog,
    main,
    h('footer', { class: 'foot' }, h('a', { href: '/v1/openapi.yaml' }, 'API'), ' · thumbnails keep their sets’ licences'),
  );

  let current: Route | null = null;
  const show = (route: Route, focus: boolean) => {
    const views: Record<Route, HTMLElement> = { search: search.el, interpolate: interpolate.el, generate: generate.el };
    for (const [name, view] of Object.entries(views)) view.hidden = name !== route;
    for (const [name, link] of links) {
      if (name === route) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    document.title = `${TITLES[route]} · Parasol`;
    if (route === 'generate') generate.activate();
    if (focus && current !== route) {
      if (route === 'search') search.focus();
      else if (route === 'interpolate') interpolate.focus();
      else generate.focus();
    }
    current = route;
  };

  function go(route: Route, url: string): void {
    navigate(url, false);
    show(route, true);
    if (route === 'search') void search.restore(location.search);
  }

  const sync = () => {
    const route = routeOf(location.pathname);
    if (route === 'search') lastSearch = location.search;
    show(route, false);
    if (route === 'search') void search.restore(location.search);
  };
  window.addEventListener('popstate', sync);
  sync();
}

/**
 * The "API key" button and its dialog: the key is kept in localStorage and sent with every API
 * call (web/src/api.ts). A 401 opens the dialog with the field focused.
 */
function createKeyDialog(): { button: HTMLButtonElement; dialog: HTMLDialogElement; open(needed: boolean): void } {
  const input = h('input', { type: 'password', id: 'api-key', name: 'api-key', autocomplete: 'off', spellcheck: 'false', size: 40 }) as HTMLInputElement;
  const message = h('p', { class: 'hint', role: 'status' });
  const form = h(
    'form',
    { method: 'dialog', class: 'key-form' },
    h('h2', { id: 'api-key-title' }, 'API key'),
    message,
    h('label', { for: 'api-key' }, 'Key'),
    ' ',
    input,
    h(
      'p',
      { class: 'key-actions' },
      h('button', { type: 'submit', value: 'save' }, 'Save'),
      ' ',
      h('button', { type: 'submit', value: 'clear' }, 'Forget'),
      ' ',
      h('button', { type: 'submit', value: 'cancel', formnovalidate: true }, 'Cancel'),
    ),
  );
  const dialog = h('dialog', { class: 'key-dialog', 'aria-labelledby': 'api-key-title' }, form) as HTMLDialogElement;
  const button = h('button', { type: 'button', class: 'key-button' }, 'API key') as HTMLButtonElement;
  const label = () => (button.textContent = getApiKey() ? 'API key ✓' : 'API key');
  label();

  const open = (needed: boolean) => {
    message.textContent = needed
      ? getApiKey()
        ? 'This server needs an API key, and it refused the saved one.'
        : 'This server needs an API key.'
      : 'Saved in this browser and sent with every request.';
    input.value = getApiKey();
    if (!dialog.open) dialog.showModal();
    input.focus();
    input.select();
  };
  button.addEventListener('click', () => open(false));
  dialog.addEventListener('close', () => {
    if (dialog.returnValue === 'save') setApiKey(input.value);
    else if (dialog.returnValue === 'clear') setApiKey('');
    dialog.returnValue = '';
    label();
  });
  return { button, dialog, open };
}

start(document.getElementById('app')!);
