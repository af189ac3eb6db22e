/**
 * A descriptor picker: a text, or one of the pinned results. Used by Interpolate and Generate.
 */
import type { DescriptorSource } from './api.js';
import { h, uid } from './dom.js';
import { getPins, onPinsChange } from './pins.js';

export interface Picker {
  el: HTMLElement;
  /** The chosen source, or null when nothing is chosen. */
  value(): DescriptorSource | null;
  /** Words for people: `"ink wash"` or the item's title. */
  describe(): string;
  set(source: DescriptorSource): void;
}

const TEXT = '__text__';

export function createPicker(label: string, options: { placeholder?: string; initialText?: string; name: string }): Picker {
  const selectId = uid('pick');
  const inputId = uid('pick-text');
  const select = h('select', { id: selectId, name: `${options.name}-kind`, 'aria-label': `${label}: text or a pinned result` });
  const input = h('input', {
    id: inputId,
    name: `${options.name}-text`,
    type: 'text',
    maxLength: 500,
    placeholder: options.placeholder ?? 'Describe it',
    'aria-label': `${label} text`,
    autocomplete: 'off',
  }) as HTMLInputElement;
  if (options.initialText) input.value = options.initialText;
  let pendingItem: string | null = null;

  const fill = () => {
    const previous = pendingItem ?? select.value;
    select.replaceChildren(h('option', { value: TEXT }, 'Text'));
    const pins = getPins();
    if (pins.length) {
      const group = h('optgroup', { label: 'Pinned results' });
      for (const pin of pins) group.appendChild(h('option', { value: pin.id }, pin.title));
      select.appendChild(group);
    }
    select.value = pins.some((p) => p.id === previous) ? previous : TEXT;
    pendingItem = null;
    sync();
  };
  const sync = () => {
    const isText = select.value === TEXT;
    input.hidden = !isText;
    input.disabled = !isText;
  };
  select.addEventListener('change', sync);
  onPinsChange(fill);
  fill();

  const el = h(
    'div',
    { class: 'picker', role: 'group', 'aria-labelledby': `${selectId}-label` },
    h('label', { id: `${selectId}-label`, for: selectId, class: 'picker-label' }, label),
    h('div', { class: 'picker-row' }, select, input),
  );

  return {
    el,
    value() {
      if (select.value !== TEXT) return { itemId: select.value };
      const text = input.value.trim();
      return text ? { text } : null;
    },
    describe() {
      if (select.value !== TEXT) return select.selectedOptions[0]?.textContent ?? select.value;
      return `“${input.value.trim()}”`;
    },
    set(source) {
      if ('itemId' in source) {
        pendingItem = source.itemId;
        fill();
      } else {
        select.value = TEXT;
        input.value = source.text;
        sync();
      }
    },
  };
}
