/**
 * Maps an icon's name in a set to its Unicode codepoint sequence. Sets that ship `chars.json`
 * map directly; the others name their icons after CLDR labels, older Unicode names, short
 * codes, `flag-for-X`, skin-tone suffixes, `-1/-2` variants or words run together (fxemoji).
 */
import type { EmojiReference } from './unicode.js';

/** Lowercase words joined by '-', accents and punctuation dropped. */
export function slugify(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/&/g, ' and ')
    .replace(/[’'.!]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function compact(slug: string): string {
  return slug.replace(/-/g, '');
}

const TONE_SUFFIXES: Array<[RegExp, string]> = [
  [/-tone-?1$/, '-light-skin-tone'],
  [/-tone-?2$/, '-medium-light-skin-tone'],
  [/-tone-?3$/, '-medium-skin-tone'],
  [/-tone-?4$/, '-medium-dark-skin-tone'],
  [/-tone-?5$/, '-dark-skin-tone'],
];

/** The spellings to try for an icon name, most specific first. */
export function nameVariants(iconName: string): string[] {
  const slug = slugify(iconName);
  const variants = [slug];
  const withoutVariant = slug.replace(/-\d$/, '');
  if (withoutVariant !== slug) variants.push(withoutVariant);
  for (const base of [slug, withoutVariant]) {
    if (base.startsWith('flag-for-')) {
      const country = base.slice('flag-for-'.length);
      variants.push(`flag-${country}`, country);
      if (country.startsWith('flag-')) variants.push(country);
    } else if (!base.startsWith('flag-')) {
      variants.push(`flag-${base}`);
    }
    const bareTone = /-(light|medium-light|medium|medium-dark|dark)$/.exec(base);
    if (bareTone) variants.push(`${base}-skin-tone`);
    for (const [pattern, replacement] of TONE_SUFFIXES) {
      if (pattern.test(base)) variants.push(base.replace(pattern, replacement));
    }
    if (base.startsWith('keycap-')) variants.push(`keycap-digit-${base.slice('keycap-'.length)}`);
    if (base.endsWith('-face')) variants.push(base.slice(0, -'-face'.length));
    else variants.push(`${base}-face`);
  }
  return [...new Set(variants)];
}

export type MatchMethod = 'chars' | 'name' | 'compact';

export interface NameMatch {
  codepoint: string;
  method: MatchMethod;
}

/**
 * Every known name of every emoji, by slug and by slug with the hyphens removed.
 * Earlier sources win: a set's own chars.json, then other sets' chars.json, then the
 * reference's names, short names and CLDR labels.
 */
export class NameIndex {
  private readonly bySlug = new Map<string, string>();
  private readonly byCompact = new Map<string, string>();

  constructor(reference: EmojiReference, charTables: Array<Map<string, string>>) {
    for (const table of charTables) {
      for (const [name, codepoint] of table) this.add(name, codepoint);
    }
    for (const info of reference.all()) {
      this.add(info.name, info.codepoint);
      for (const shortName of info.shortNames) this.add(shortName, info.codepoint);
    }
  }

  private add(name: string, codepoint: string): void {
    const slug = slugify(name);
    if (!slug) return;
    if (!this.bySlug.has(slug)) this.bySlug.set(slug, codepoint);
    const key = compact(slug);
    if (!this.byCompact.has(key)) this.byCompact.set(key, codepoint);
  }

  resolve(iconName: string): NameMatch | undefined {
    const variants = nameVariants(iconName);
    for (const variant of variants) {
      const codepoint = this.bySlug.get(variant);
      if (codepoint) return { codepoint, method: 'name' };
    }
    for (const variant of variants) {
      const codepoint = this.byCompact.get(compact(variant));
      if (codepoint) return { codepoint, method: 'compact' };
    }
    return undefined;
  }
}
