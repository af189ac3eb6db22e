/**
 * Interpolate: two styles and two contents (texts or pinned results), and an N×N grid whose row i
 * sits at style t = i/(N−1) and column j at content t = j/(N−1).
 *
 * POST /v1/interpolate takes one `t` for both modalities, so a cell with different style and
 * content positions cannot be one request. Each row is a style-only interpolation and each
 * column a content-only one (2N requests); a cell ranks the items of both lists by the sum of
 * their cosines (weighted fusion with equal weights), an item missing from a list counting that
 * list's lowest cosine. With only styles or only contents, the strip of N cells is exact.
 */
import { api, describeError, type DescriptorSource, type InterpolateRequest, type Result } from './api.js';
import { fmtScore, h } from './dom.js';
import { createPicker } from './picker.js';

const PER_CELL = 3;
const K = 60;

export interface InterpolateView {
  el: HTMLElement;
  focus(): void;
}

export function createInterpolateView(): InterpolateView {
  const styleA = createPicker('Style A', { name: 'style-a', placeholder: 'e.g. flat', initialText: '' });
  const styleB = createPicker('Style B', { name: 'style-b', placeholder: 'e.g. outlined' });
  const contentA = createPicker('Content A', { name: 'content-a', placeholder: 'e.g. a cat' });
  const contentB = createPicker('Content B', { name: 'content-b', placeholder: 'e.g. a dog' });
  const size = h('select', { id: 'interp-n', name: 'n' }, ...[2, 3, 4, 5].map((n) => h('option', { value: String(n), selected: n === 3 }, `${n} × ${n}`)));
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const errorBox = h('div', { class: 'error', role: 'alert', hidden: true });
  const out = h('div', { class: 'interp-out' });
  const run = h('button', { type: 'submit', class: 'primary' }, 'Interpolate');

  const form = h(
    'form',
    { class: 'interp-form', 'aria-label': 'Interpolation' },
    h('fieldset', {}, h('legend', {}, 'Styles (rows)'), styleA.el, styleB.el),
    h('fieldset', {}, h('legend', {}, 'Contents (columns)'), contentA.el, contentB.el),
    h('div', { class: 'form-actions' }, h('label', { for: 'interp-n' }, 'Grid '), size, run),
  );

  const el = h(
    'section',
    { class: 'view view-interpolate', 'aria-label': 'Interpolate' },
    h('h2', {}, 'Interpolate'),
    h('p', { class: 'hint' }, 'Choose two styles and two contents: texts, or results pinned with ★ in Search. Each cell shows what the index holds between them.'),
    form,
    errorBox,
    status,
    out,
  );

  let generation = 0;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void go();
  });

  async function go(): Promise<void> {
    const n = Number(size.value);
    const style = pair(styleA.value(), styleB.value());
    const content = pair(contentA.value(), contentB.value());
    errorBox.hidden = true;
    if (style === 'partial' || content === 'partial') {
      showError('Give both ends of a pair (A and B), or leave both empty.');
      return;
    }
    if (!style && !content) {
      showError('Choose two styles, two contents, or both.');
      return;
    }
    const token = ++generation;
    el.setAttribute('aria-busy', 'true');
    run.disabled = true;
    status.textContent = 'Interpolating…';
    const ts = Array.from({ length: n }, (_, i) => (n === 1 ? 0 : i / (n - 1)));
    try {
      const fetchRow = (modality: 'style' | 'content', ends: { a: DescriptorSource; b: DescriptorSource }) =>
        Promise.all(ts.map((t) => api.interpolate({ [modality]: ends, t, k: style && content ? K : PER_CELL } as InterpolateRequest)));
      const [styleRows, contentCols] = await Promise.all([style ? fetchRow('style', style) : null, content ? fetchRow('content', content) : null]);
      if (token !== generation) return;
      out.replaceChildren();
      const grid = h('div', { class: 'interp-grid', role: 'table', 'aria-label': 'Interpolation grid', style: `--n:${n}` });
      const header = h('div', { role: 'row', class: 'interp-row' }, h('span', { role: 'columnheader', class: 'corner' }, style && content ? 'style ↓ · content →' : ''));
      if (styleRows && contentCols) {
        for (const t of ts) header.appendChild(h('span', { role: 'columnheader' }, `content ${t.toFixed(2)}`));
        grid.appendChild(header);
        styleRows.forEach((rowPage, i) => {
          const row = h('div', { role: 'row', class: 'interp-row' }, h('span', { role: 'rowheader' }, `style ${ts[i].toFixed(2)}`));
          contentCols.forEach((colPage, j) => row.appendChild(cell(fuse(rowPage.results, colPage.results).slice(0, PER_CELL), `style ${ts[i].toFixed(2)}, content ${ts[j].toFixed(2)}`)));
          grid.appendChild(row);
        });
      } else {
        const pages = (styleRows ?? contentCols)!;
        const modality = styleRows ? 'style' : 'content';
        for (const t of ts) header.appendChild(h('span', { role: 'columnheader' }, `${modality} ${t.toFixed(2)}`));
        grid.appendChild(header);
        const row = h('div', { role: 'row', class: 'interp-row' }, h('span', { role: 'rowheader' }, ''));
        pages.forEach((page, j) => row.appendChild(cell(page.results.slice(0, PER_CELL), `${modality} ${ts[j].toFixed(2)}`)));
        grid.appendChild(row);
      }
      out.appendChild(grid);
      if (styleRows && contentCols) {
        out.appendChild(h('p', { class: 'hint' }, `Rows go from ${styleA.describe()} to ${styleB.describe()}; columns from ${contentA.describe()} to ${contentB.describe()}. Each cell ranks a style-only and a content-only interpolation together.`));
      }
      status.textContent = `Interpolation grid ready: ${styleRows && contentCols ? `${n} × ${n}` : `${n}`} cells.`;
    } catch (error) {
      if (token === generation) {
        showError(describeError(error));
        status.textContent = '';
      }
    } finally {
      if (token === generation) {
        el.setAttribute('aria-busy', 'false');
        run.disabled = false;
      }
    }
  }

  function showError(message: string): void {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  return { el, focus: () => (form.querySelector('select') as HTMLElement | null)?.focus() };
}

function pair(a: DescriptorSource | null, b: DescriptorSource | null): { a: DescriptorSource; b: DescriptorSource } | null | 'partial' {
  if (a && b) return { a, b };
  return a || b ? 'partial' : null;
}

interface Fused {
  result: Result;
  style: number;
  content: number;
}

function fuse(styleList: Result[], contentList: Result[]): Result[] {
  const floor = (list: Result[], pick: (r: Result) => number | null) => Math.min(...list.map((r) => pick(r) ?? 0), 1);
  const styleFloor = floor(styleList, (r) => r.scores.style);
  const contentFloor = floor(contentList, (r) => r.scores.content);
  const byId = new Map<string, Fused>();
  for (const r of styleList) byId.set(r.id, { result: r, style: r.scores.style ?? styleFloor, content: contentFloor });
  for (const r of contentList) {
    const seen = byId.get(r.id);
    if (seen) seen.content = r.scores.content ?? contentFloor;
    else byId.set(r.id, { result: r, style: styleFloor, content: r.scores.content ?? contentFloor });
  }
  return [...byId.values()]
    .sort((x, y) => y.style + y.content - (x.style + x.content))
    .map(({ result, style, content }) => ({ ...result, score: style + content, scores: { style, content, text: null } }));
}

function cell(results: Result[], label: string): HTMLElement {
  const [first, ...rest] = results;
  return h(
    'figure',
    { role: 'cell', class: 'interp-cell', 'aria-label': label, tabindex: '0' },
    first
      ? h('img', { class: 'interp-main', src: first.thumbnail, alt: first.title, title: `${first.title} (content ${fmtScore(first.scores.content)}, style ${fmtScore(first.scores.style)})`, loading: 'lazy' })
      : h('span', { class: 'interp-empty' }, 'No result'),
    rest.length ? h('div', { class: 'interp-more' }, ...rest.map((r) => h('img', { src: r.thumbnail, alt: r.title, title: r.title, loading: 'lazy' }))) : null,
    h('figcaption', {}, first ? first.title : label),
  );
}
