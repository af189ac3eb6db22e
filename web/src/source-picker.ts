/**
 * The collection switch in the search form: every indexed source (GET /v1/sources: an emoji set,
 * the artwork corpus, an indexed folder) with its item count, after "All collections". Choosing
 * one narrows the search to it through the same `sources` filter the facets panel sets, so its
 * chip shows there and removes it, and the URL carries it. Hidden while there is only one source
 * to choose (or the server would not say).
 */
import { api, type FacetValue } from './api.js';
import { h } from './dom.js';

const ALL = '';
/** The option shown while the facets panel has narrowed to more than one source. */
const SEVERAL = '\u0000several';

export class SourcePicker {
  readonly el: HTMLElement;
  private readonly select: HTMLSelectElement;
  private sources: FacetValue[] = [];
  private active: readonly string[] = [];

  constructor(onChange: (sources: string[]) => void) {
    this.select = h('select', {
      name: 'source',
      'aria-label': 'Collection',
      title: 'Search one collection, or all of them',
      onchange: () => {
        const value = this.select.value;
        if (value !== SEVERAL) onChange(value === ALL ? [] : [value]);
      },
    });
    this.el = h('label', { class: 'source-picker', hidden: true }, h('span', { class: 'source-picker-name' }, 'Collection'), this.select);
  }

  /** Asks the server for its sources; on failure (no key yet, an older server) the switch stays hidden. */
  async load(): Promise<void> {
    try {
      this.sources = (await api.sources()).sources;
    } catch {
      this.sources = [];
    }
    this.render();
  }

  /**
   * Shows the active source filter (from a search, the facets panel or the URL). A picker whose
   * first load failed (no key yet) loads again once a search has gone through.
   */
  show(active: readonly string[]): void {
    this.active = [...active];
    this.render();
    if (this.sources.length === 0) void this.load();
  }

  private render(): void {
    const total = this.sources.reduce((sum, s) => sum + s.count, 0);
    const options = [
      h('option', { value: ALL }, `All collections (${total})`),
      ...this.sources.map((s) => h('option', { value: s.value }, `${s.value} (${s.count})`)),
    ];
    // A filtered source the list does not hold (an old link) still shows as chosen.
    for (const value of this.active) {
      if (this.active.length === 1 && !this.sources.some((s) => s.value === value)) options.push(h('option', { value }, value));
    }
    if (this.active.length > 1) options.push(h('option', { value: SEVERAL, disabled: true }, `${this.active.length} collections (see Filters)`));
    this.select.replaceChildren(...options);
    this.select.value = this.active.length === 0 ? ALL : this.active.length === 1 ? this.active[0] : SEVERAL;
    this.el.hidden = this.sources.length < 2;
  }
}
