/**
 * One search field (what / style): a text input that also takes an image, dropped, pasted or
 * chosen with its "Image…" button. An attached image replaces the text as that side's query.
 */
import { h, uid } from './dom.js';

export interface QueryField {
  el: HTMLElement;
  input: HTMLInputElement;
  text(): string;
  setText(text: string): void;
  image(): Blob | null;
  setImage(image: Blob | null, name?: string): void;
}

export function createQueryField(options: { label: string; hint: string; name: string; placeholder: string; onImage(): void }): QueryField {
  const inputId = uid(`q-${options.name}`);
  const hintId = `${inputId}-hint`;
  let image: Blob | null = null;
  let previewUrl: string | null = null;

  const input = h('input', {
    id: inputId,
    name: options.name,
    type: 'search',
    maxLength: 500,
    placeholder: options.placeholder,
    autocomplete: 'off',
    enterkeyhint: 'search',
    'aria-describedby': hintId,
  }) as HTMLInputElement;
  const file = h('input', {
    type: 'file',
    accept: 'image/*',
    class: 'visually-hidden',
    tabindex: '-1',
    'aria-hidden': 'true',
    name: `${options.name}-file`,
  }) as HTMLInputElement;
  const chip = h('div', { class: 'image-chip', hidden: true });
  const pick = h('button', { type: 'button', class: 'secondary attach', 'aria-label': `Use an image as the ${options.label.toLowerCase()} query`, onclick: () => file.click() }, 'Image…');

  const field = h(
    'div',
    { class: 'query-field', dataset: { field: options.name } },
    h('label', { for: inputId }, options.label),
    h('div', { class: 'drop', dataset: { drop: options.name } }, input, chip, pick),
    h('p', { id: hintId, class: 'hint' }, options.hint),
    file,
  );
  const drop = field.querySelector<HTMLElement>('.drop')!;

  const setImage = (blob: Blob | null, name = 'image') => {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
    image = blob;
    chip.replaceChildren();
    if (blob) {
      previewUrl = URL.createObjectURL(blob);
      chip.append(
        h('img', { src: previewUrl, alt: '', onerror: (event: Event) => ((event.target as HTMLElement).hidden = true) }),
        h('span', { class: 'chip-name' }, name),
        h('button', { type: 'button', class: 'chip-remove', 'aria-label': `Remove the ${options.label.toLowerCase()} image`, onclick: () => { setImage(null); input.focus(); } }, '×'),
      );
    }
    chip.hidden = !blob;
    input.hidden = Boolean(blob);
    field.classList.toggle('has-image', Boolean(blob));
  };

  const takeFiles = (files: FileList | null | undefined): boolean => {
    const first = files?.[0];
    if (!first) return false;
    setImage(first, first.name || 'pasted image');
    options.onImage();
    return true;
  };

  file.addEventListener('change', () => {
    takeFiles(file.files);
    file.value = '';
  });
  drop.addEventListener('dragover', (event) => {
    if (!event.dataTransfer?.types.includes('Files')) return;
    event.preventDefault();
    drop.classList.add('dragging');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
  drop.addEventListener('drop', (event) => {
    drop.classList.remove('dragging');
    if (event.dataTransfer?.files.length) {
      event.preventDefault();
      takeFiles(event.dataTransfer.files);
    }
  });
  field.addEventListener('paste', (event) => {
    if (event.clipboardData?.files.length) {
      event.preventDefault();
      takeFiles(event.clipboardData.files);
    }
  });

  return {
    el: field,
    input,
    text: () => (image ? '' : input.value.trim()),
    setText(text) {
      input.value = text;
    },
    image: () => image,
    setImage,
  };
}
