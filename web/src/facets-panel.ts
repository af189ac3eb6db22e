/**
 * The facets panel beside the results: per-value counts of collection (source), licence and tag
 * over the set the page was ranked from, each value a button that adds it as a filter, and the
 * active filters, each removable. Nothing is shown when the server sent no facets and no filter
 * is active (a server without facets).
 */
import { FACET_FIELDS, type FacetField, type FacetValue, type Page, type SearchFilters } from './api.js';
import { h } from './dom.js';

/** Which filter list a facet field narrows. */
export const FILTER_OF: Record<FacetField, keyof SearchFilters> = { source: 'sources', license: 'licenses', tags: 'tags' };

const FIELD_LABELS: Record<FacetField, string> = { source: 'Collection', license: 'Licence', tags: 'Tags' };

export interface FacetsPanelOptions {
  /** A facet value was clicked: narrow to it. */
  onAdd(field: FacetField, value: string): void;
  /** An active filter's remove button was clicked. */
  onRemove(field: FacetField, value: string): void;
}

export class FacetsPanel {
  readonly el: HTMLElement;

  constructor(private readonly options: FacetsPanelOptions) {
    this.el = h('aside', { class: 'facets', 'aria-label': 'Narrow the results', hidden: true });
  }

  /** Shows the page's facets (absent: only the active filters) and the active filters. */
  render(facets: Page['facets'], filters: Required<SearchFilters>): void {
    const active = FACET_FIELDS.flatMap((field) => filters[FILTER_OF[field]].map((value) => ({ field, value })));
    const groups = FACET_FIELDS.flatMap((field) => {
      const values = (facets?.[field] ?? []).filter((v) => !filters[FILTER_OF[field]].includes(v.value));
      return values.length ? [this.group(field, values)] : [];
    });
    this.el.replaceChildren();
    this.el.hidden = active.length === 0 && groups.length === 0;
    if (active.length) {
      this.el.appendChild(
        h(
          'div',
          { class: 'facet-group active-filters' },
          h('h2', { class: 'facet-title' }, 'Filters'),
          h(
            'ul',
            { class: 'facet-values' },
            ...active.map(({ field, value }) =>
              h(
                'li',
                {},
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'filter-chip',
                    dataset: { field, value },
                    'aria-label': `Remove filter ${FIELD_LABELS[field]}: ${value}`,
                    onclick: () => this.options.onRemove(field, value),
                  },
                  `${FIELD_LABELS[field]}: ${value} ×`,
                ),
              ),
            ),
          ),
        ),
      );
    }
    for (const group of groups) this.el.appendChild(group);
  }

  clear(): void {
    this.el.replaceChildren();
    this.el.hidden = true;
  }

  private group(field: FacetField, values: FacetValue[]): HTMLElement {
    const titleId = `facet-${field}`;
    return h(
      'div',
      { class: 'facet-group', dataset: { facet: field } },
      h('h2', { class: 'facet-title', id: titleId }, FIELD_LABELS[field]),
      h(
        'ul',
        { class: 'facet-values', 'aria-labelledby': titleId },
        ...values.map(({ value, count }) =>
          h(
            'li',
            {},
            h(
              'button',
              {
                type: 'button',
                class: 'facet-value',
                dataset: { field, value },
                'aria-label': `Only ${FIELD_LABELS[field].toLowerCase()} ${value} (${count})`,
                onclick: () => this.options.onAdd(field, value),
              },
              h('span', { class: 'facet-name' }, value),
              h('span', { class: 'facet-count' }, String(count)),
            ),
          ),
        ),
      ),
    );
  }
}
