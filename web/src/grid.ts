/**
 * The results grid: one card per result (thumbnail, title, other ids, licence and attribution,
 * content, style and words scores, the matched words when explained, refinement actions). One card is in the tab order at a time (roving tabindex);
 * the arrow keys, Home and End move between cards, Tab moves into the focused card's buttons.
 */
import type { Result } from './api.js';
import { fmtScore, h } from './dom.js';
import { isPinned, togglePin } from './pins.js';
import { ACTION_LABELS, type ActionKind } from './trail.js';

export interface GridOptions {
  label: string;
  onAction(kind: ActionKind, result: Result): void;
}

const ACTION_ORDER: ActionKind[] = ['ls', 'lc', 'un', 'uc', 'us'];

export class ResultGrid {
  readonly el: HTMLUListElement;
  private cards: HTMLElement[] = [];
  private active = 0;

  constructor(private readonly options: GridOptions) {
    this.el = h('ul', { class: 'grid', 'aria-label': options.label }) as HTMLUListElement;
    this.el.addEventListener('keydown', (event) => this.onKey(event));
    this.el.addEventListener('focusin', (event) => {
      const card = (event.target as HTMLElement).closest<HTMLElement>('.card');
      const index = card ? this.cards.indexOf(card) : -1;
      if (index >= 0 && index !== this.active) this.setActive(index, false);
    });
  }

  get size(): number {
    return this.cards.length;
  }

  clear(): void {
    this.el.replaceChildren();
    this.cards = [];
    this.active = 0;
  }

  append(results: Result[]): void {
    for (const result of results) {
      const card = this.card(result, this.cards.length);
      for (const button of card.querySelectorAll('button')) button.tabIndex = -1;
      this.cards.push(card);
      this.el.appendChild(h('li', {}, card));
    }
    this.setActive(Math.min(this.active, this.cards.length - 1), false);
  }

  focusFirst(): void {
    if (this.cards.length) this.setActive(0, true);
  }

  private card(result: Result, index: number): HTMLElement {
    const titleId = `card-title-${index}`;
    const scoresId = `card-scores-${index}`;
    const pinned = isPinned(result.id);
    const pin = h(
      'button',
      {
        type: 'button',
        class: 'pin',
        'aria-pressed': String(pinned),
        title: 'Pin for Interpolate and Generate',
        'aria-label': `Pin ${result.title}`,
        onclick: () => {
          const now = togglePin({ id: result.id, title: result.title });
          pin.setAttribute('aria-pressed', String(now));
        },
      },
      '★',
    );
    const actions = h(
      'div',
      { class: 'actions', role: 'group', 'aria-label': `Refine with ${result.title}` },
      ...ACTION_ORDER.map((kind) =>
        h(
          'button',
          {
            type: 'button',
            class: `action action-${kind}`,
            dataset: { action: kind },
            title: ACTION_LABELS[kind].long,
            'aria-label': `${ACTION_LABELS[kind].long}: ${result.title}`,
            onclick: () => this.options.onAction(kind, result),
          },
          ACTION_LABELS[kind].button,
        ),
      ),
    );
    const licence = [result.license, result.attribution].filter(Boolean).join(' · ');
    return h(
      'article',
      {
        class: 'card',
        tabindex: '-1',
        'aria-labelledby': titleId,
        'aria-describedby': scoresId,
        dataset: { id: result.id, source: result.source },
      },
      h('div', { class: 'thumb' }, h('img', { src: result.thumbnail, alt: result.title, loading: 'lazy', width: '256', height: '256', decoding: 'async' })),
      h('div', { class: 'card-head' }, h('h3', { id: titleId, class: 'card-title' }, result.title), pin),
      result.aliases?.length
        ? h('p', { class: 'aliases', title: result.aliases.join(', ') }, 'also ', result.aliases.join(', '))
        : null,
      h('p', { class: 'licence', title: licence }, licence || 'No licence information'),
      h(
        'p',
        { class: 'scores', id: scoresId },
        h('span', { class: 'score score-content' }, 'content ', h('b', {}, fmtScore(result.scores.content))),
        h('span', { class: 'score score-style' }, 'style ', h('b', {}, fmtScore(result.scores.style))),
        // A server from before the words signal sends no `text`: shown like a signal that took no part.
        h('span', { class: 'score score-text' }, 'words ', h('b', {}, fmtScore(result.scores.text ?? null))),
      ),
      result.explanation
        ? h(
            'p',
            { class: 'terms' },
            result.explanation.terms?.length ? `matched: ${result.explanation.terms.join(', ')}` : 'no words matched',
          )
        : null,
      actions,
    );
  }

  private setActive(index: number, focus: boolean): void {
    if (index < 0 || index >= this.cards.length) return;
    const previous = this.cards[this.active];
    if (previous) {
      previous.tabIndex = -1;
      for (const button of previous.querySelectorAll('button')) button.tabIndex = -1;
    }
    this.active = index;
    const card = this.cards[index];
    card.tabIndex = 0;
    for (const button of card.querySelectorAll('button')) button.tabIndex = 0;
    if (focus) {
      card.focus();
      card.scrollIntoView({ block: 'nearest' });
    }
  }

  /** Cards per row, from their layout (the grid reflows with the window). */
  private columns(): number {
    if (this.cards.length < 2) return 1;
    const top = this.cards[0].getBoundingClientRect().top;
    let n = 1;
    while (n < this.cards.length && Math.abs(this.cards[n].getBoundingClientRect().top - top) < 4) n++;
    return n;
  }

  private onKey(event: KeyboardEvent): void {
    const target = event.target as HTMLElement;
    if (!target.classList.contains('card')) return;
    const cols = this.columns();
    const moves: Record<string, number> = {
      ArrowRight: 1,
      ArrowLeft: -1,
      ArrowDown: cols,
      ArrowUp: -cols,
      Home: -this.active,
      End: this.cards.length - 1 - this.active,
    };
    const delta = moves[event.key];
    if (delta === undefined) return;
    event.preventDefault();
    const next = Math.max(0, Math.min(this.cards.length - 1, this.active + delta));
    this.setActive(next, true);
  }
}
