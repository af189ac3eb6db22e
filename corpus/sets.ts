/**
 * The twelve emoji sets of the demo corpus: one content drawn in up to twelve styles.
 * Three whole sets are held out as unseen styles and never trained on; they were picked to
 * differ from each other: one monochrome, one flat, one detailed with gradients.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface StyleSetInfo {
  /** The set id, used as the item's source and its style label. */
  id: string;
  package: string;
  title: string;
  license: string;
  licenseUrl: string;
  author: string;
  authorUrl: string;
  heldOut: boolean;
}

export interface IconifyIcon {
  body: string;
  width?: number;
  height?: number;
  left?: number;
  top?: number;
}

export interface IconifySet {
  prefix: string;
  icons: Record<string, IconifyIcon>;
  aliases?: Record<string, { parent: string }>;
  width?: number;
  height?: number;
  left?: number;
  top?: number;
}

export const STYLE_SET_IDS = [
  'noto',
  'noto-v1',
  'twemoji',
  'openmoji',
  'fluent-emoji',
  'fluent-emoji-flat',
  'fluent-emoji-high-contrast',
  'emojione',
  'emojione-monotone',
  'emojione-v1',
  'fxemoji',
  'streamline-emojis',
] as const;

export type StyleSetId = (typeof STYLE_SET_IDS)[number];

export const HELD_OUT_SETS: ReadonlySet<string> = new Set(['emojione-monotone', 'twemoji', 'fxemoji']);

interface IconifyInfoJson {
  name: string;
  author: { name: string; url?: string };
  license: { title: string; spdx?: string; url?: string };
}

export function loadSetInfo(id: string): StyleSetInfo {
  const pkg = `@iconify-json/${id}`;
  const info = require(`${pkg}/info.json`) as IconifyInfoJson;
  return {
    id,
    package: pkg,
    title: info.name,
    license: info.license.spdx ?? info.license.title,
    licenseUrl: info.license.url ?? '',
    author: info.author.name,
    authorUrl: info.author.url ?? '',
    heldOut: HELD_OUT_SETS.has(id),
  };
}

export function loadIconSet(id: string): IconifySet {
  return require(`@iconify-json/${id}/icons.json`) as IconifySet;
}

/** The set's own icon name → codepoint table, where it ships one (`chars.json` maps codepoint → name). */
export function loadSetChars(id: string): Map<string, string> {
  const chars = require(`@iconify-json/${id}/chars.json`) as Record<string, string>;
  const byName = new Map<string, string>();
  for (const [codepoint, name] of Object.entries(chars)) {
    if (!byName.has(name)) byName.set(name, codepoint);
  }
  return byName;
}

export function attributionFor(set: StyleSetInfo): string {
  return `${set.title} by ${set.author}${set.authorUrl ? ` (${set.authorUrl})` : ''}, ${set.license}`;
}
