/**
 * The demo corpus: every icon of the twelve sets with its content identity (codepoint), its
 * style (set), names, keywords, licence and split. Pure metadata; rendering is separate.
 */
import { HELD_OUT_SETS, STYLE_SET_IDS, attributionFor, loadIconSet, loadSetChars, loadSetInfo } from './sets.js';
import type { IconifyIcon, IconifySet, StyleSetInfo } from './sets.js';
import { EmojiReference, normalizeCodepoint } from './unicode.js';
import { NameIndex, slugify } from './mapping.js';
import type { MatchMethod } from './mapping.js';
import { splitOf } from './split.js';
import type { Split } from './split.js';

export interface CorpusItem {
  /** `<set>:<codepoint>`, or `<set>:~<icon name>` for icons with no Unicode identity. */
  id: string;
  set: string;
  iconName: string;
  codepoint: string | null;
  match: MatchMethod | null;
  name: string;
  shortNames: string[];
  keywords: string[];
  category: string;
  subcategory: string;
  license: string;
  attribution: string;
  split: Split;
}

export interface SetStats {
  icons: number;
  mapped: number;
  duplicates: number;
}

export interface Corpus {
  sets: StyleSetInfo[];
  items: CorpusItem[];
  iconSets: Map<string, IconifySet>;
  stats: Record<string, SetStats>;
  mappingRate: number;
}

export function iconOf(corpus: Corpus, item: CorpusItem): { set: IconifySet; icon: IconifyIcon } {
  const set = corpus.iconSets.get(item.set);
  const icon = set?.icons[item.iconName];
  if (!set || !icon) throw new Error(`icon ${item.iconName} missing from set ${item.set}`);
  return { set, icon };
}

function humanize(iconName: string): string {
  return iconName.replace(/-\d$/, '').replace(/-/g, ' ');
}

export function buildCorpus(setIds: readonly string[] = STYLE_SET_IDS): Corpus {
  const reference = EmojiReference.load();
  const ownChars = new Map<string, Map<string, string>>();
  for (const id of STYLE_SET_IDS) {
    const table = new Map<string, string>();
    for (const [name, codepoint] of loadSetChars(id)) table.set(name, normalizeCodepoint(codepoint));
    ownChars.set(id, table);
  }
  const names = new NameIndex(reference, [...ownChars.values()]);

  const sets: StyleSetInfo[] = [];
  const iconSets = new Map<string, IconifySet>();
  const items: CorpusItem[] = [];
  const stats: Record<string, SetStats> = {};
  let total = 0;
  let mapped = 0;

  for (const setId of setIds) {
    const info = loadSetInfo(setId);
    const iconSet = loadIconSet(setId);
    sets.push(info);
    iconSets.set(setId, iconSet);
    const attribution = attributionFor(info);
    const aliasesOf = new Map<string, string[]>();
    for (const [alias, { parent }] of Object.entries(iconSet.aliases ?? {})) {
      aliasesOf.set(parent, [...(aliasesOf.get(parent) ?? []), alias]);
    }
    const seen = new Set<string>();
    const setStats: SetStats = { icons: 0, mapped: 0, duplicates: 0 };
    for (const iconName of Object.keys(iconSet.icons)) {
      setStats.icons++;
      let codepoint: string | null = ownChars.get(setId)?.get(iconName) ?? null;
      let match: MatchMethod | null = codepoint ? 'chars' : null;
      for (const candidate of codepoint ? [] : [iconName, ...(aliasesOf.get(iconName) ?? [])]) {
        const found = names.resolve(candidate);
        if (found) {
          codepoint = found.codepoint;
          match = found.method;
          break;
        }
      }
      const emoji = codepoint ? reference.get(codepoint) : undefined;
      if (!emoji) {
        codepoint = null;
        match = null;
      }
      const id = codepoint ? `${setId}:${codepoint}` : `${setId}:~${slugify(iconName)}`;
      if (seen.has(id)) {
        // A second drawing of the same emoji in one set (a `-2` variant): one per set is enough.
        setStats.duplicates++;
        continue;
      }
      seen.add(id);
      if (emoji) setStats.mapped++;
      items.push({
        id,
        set: setId,
        iconName,
        codepoint,
        match,
        name: emoji?.name ?? humanize(iconName),
        shortNames: emoji?.shortNames ?? [],
        keywords: emoji?.keywords ?? [],
        category: emoji?.category ?? '',
        subcategory: emoji?.subcategory ?? '',
        license: info.license,
        attribution,
        split: splitOf(setId, codepoint),
      });
    }
    stats[setId] = setStats;
    total += setStats.icons - setStats.duplicates;
    mapped += setStats.mapped;
  }
  return { sets, items, iconSets, stats, mappingRate: total === 0 ? 0 : mapped / total };
}

export { HELD_OUT_SETS };
