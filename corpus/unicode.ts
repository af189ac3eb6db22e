/**
 * The Unicode emoji reference: names, short names, keywords and categories for every codepoint
 * sequence, merged from emoji-datasource (names, short names, categories), emojilib (keywords)
 * and emojibase-data (CLDR labels, tags, and emoji that emoji-datasource lacks).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface EmojiInfo {
  /** Lowercase hex code points joined by '-', FE0F dropped. */
  codepoint: string;
  name: string;
  shortNames: string[];
  keywords: string[];
  category: string;
  subcategory: string;
}

interface DatasourceEmoji {
  name: string | null;
  unified: string;
  non_qualified: string | null;
  short_name: string;
  short_names: string[];
  category: string;
  subcategory: string;
  skin_variations?: Record<string, { unified: string; non_qualified: string | null }>;
}

interface EmojibaseEmoji {
  label: string;
  hexcode: string;
  tags?: string[];
  group?: number;
  subgroup?: number;
  skins?: EmojibaseEmoji[];
}

interface EmojibaseMessages {
  groups: Array<{ order: number; message: string }>;
  subgroups: Array<{ order: number; key: string }>;
}

/** FE0F (variation selector 16) only selects emoji presentation; it does not change identity. */
export function normalizeCodepoint(hex: string): string {
  return hex
    .toLowerCase()
    .split(/[-_\s]+/)
    .filter((part) => part !== '' && part !== 'fe0f')
    .map((part) => part.replace(/^0+(?=.)/, ''))
    .join('-');
}

export function codepointOfChar(char: string): string {
  return normalizeCodepoint([...char].map((c) => c.codePointAt(0)!.toString(16)).join('-'));
}

const SKIN_TONE_NAMES: Record<string, string> = {
  '1f3fb': 'light skin tone',
  '1f3fc': 'medium-light skin tone',
  '1f3fd': 'medium skin tone',
  '1f3fe': 'medium-dark skin tone',
  '1f3ff': 'dark skin tone',
};

function titleCase(category: string): string {
  return category.replace(/\b\w/g, (c) => c.toUpperCase());
}

export class EmojiReference {
  private readonly byCodepoint = new Map<string, EmojiInfo>();

  static load(): EmojiReference {
    const reference = new EmojiReference();
    reference.addDatasource(require('emoji-datasource/emoji.json') as DatasourceEmoji[]);
    reference.addEmojibase(
      require('emojibase-data/en/data.json') as EmojibaseEmoji[],
      require('emojibase-data/en/messages.json') as EmojibaseMessages,
    );
    reference.addEmojilib(require('emojilib/dist/emoji-en-US.json') as Record<string, string[]>);
    return reference;
  }

  get(codepoint: string): EmojiInfo | undefined {
    return this.byCodepoint.get(codepoint);
  }

  all(): IterableIterator<EmojiInfo> {
    return this.byCodepoint.values();
  }

  get size(): number {
    return this.byCodepoint.size;
  }

  private upsert(codepoint: string, patch: Partial<EmojiInfo>): EmojiInfo {
    let info = this.byCodepoint.get(codepoint);
    if (!info) {
      info = { codepoint, name: '', shortNames: [], keywords: [], category: '', subcategory: '' };
      this.byCodepoint.set(codepoint, info);
    }
    if (patch.name && !info.name) info.name = patch.name;
    if (patch.category && !info.category) info.category = patch.category;
    if (patch.subcategory && !info.subcategory) info.subcategory = patch.subcategory;
    for (const s of patch.shortNames ?? []) if (!info.shortNames.includes(s)) info.shortNames.push(s);
    for (const k of patch.keywords ?? []) if (!info.keywords.includes(k)) info.keywords.push(k);
    return info;
  }

  private addDatasource(emojis: DatasourceEmoji[]): void {
    for (const e of emojis) {
      const base = this.upsert(normalizeCodepoint(e.unified), {
        name: (e.name ?? e.short_name.replace(/_/g, ' ')).toLowerCase(),
        shortNames: e.short_names.map((s) => s.replace(/_/g, ' ')),
        category: e.category,
        subcategory: e.subcategory,
      });
      for (const [tone, variation] of Object.entries(e.skin_variations ?? {})) {
        const toneNames = tone
          .toLowerCase()
          .split('-')
          .map((t) => SKIN_TONE_NAMES[t])
          .filter(Boolean);
        this.upsert(normalizeCodepoint(variation.unified), {
          name: `${base.name}: ${toneNames.join(', ')}`,
          shortNames: base.shortNames,
          category: e.category,
          subcategory: e.subcategory,
        });
      }
    }
  }

  private addEmojibase(emojis: EmojibaseEmoji[], messages: EmojibaseMessages): void {
    const groups = new Map(messages.groups.map((g) => [g.order, titleCase(g.message)]));
    const subgroups = new Map(messages.subgroups.map((g) => [g.order, g.key]));
    const add = (e: EmojibaseEmoji, parent?: EmojibaseEmoji): void => {
      const group = e.group ?? parent?.group;
      const subgroup = e.subgroup ?? parent?.subgroup;
      // emojibase's CLDR label is the modern name; emoji-datasource's is the older Unicode one.
      const info = this.upsert(normalizeCodepoint(e.hexcode), {
        name: e.label.toLowerCase(),
        keywords: e.tags ?? parent?.tags ?? [],
        category: group === undefined ? '' : groups.get(group) ?? '',
        subcategory: subgroup === undefined ? '' : subgroups.get(subgroup) ?? '',
      });
      const label = e.label.toLowerCase();
      if (label !== info.name && !info.shortNames.includes(label)) info.shortNames.push(label);
      for (const skin of e.skins ?? []) add(skin, e);
    };
    for (const e of emojis) add(e);
  }

  private addEmojilib(keywordsByChar: Record<string, string[]>): void {
    for (const [char, words] of Object.entries(keywordsByChar)) {
      const info = this.byCodepoint.get(codepointOfChar(char));
      if (!info) continue;
      const [shortName, ...keywords] = words;
      const spoken = shortName.replace(/_/g, ' ');
      if (!info.shortNames.includes(spoken) && spoken !== info.name) info.shortNames.push(spoken);
      for (const k of keywords) {
        // emoticons such as ":D" carry no words to learn from.
        if (/[a-z]/i.test(k) && !info.keywords.includes(k)) info.keywords.push(k.replace(/_/g, ' '));
      }
    }
  }
}
