/** Renders a demo item's thumbnail from its SVG on demand; icon sets load lazily, once. */
import { STYLE_SET_IDS, loadIconSet } from './sets.js';
import type { IconifySet } from './sets.js';
import { renderIcon } from './render.js';

const loaded = new Map<string, IconifySet>();

export function renderDemoThumbnail(setId: string, iconName: string, size: number): Promise<Buffer | undefined> {
  return renderDemoImage(setId, iconName, size, 'webp');
}

/** A demo item's image rendered from its SVG (`parasol reindex` re-encodes demo items from these, as they were indexed). */
export async function renderDemoImage(setId: string, iconName: string, size: number, format: 'png' | 'webp'): Promise<Buffer | undefined> {
  // The set id comes from stored data, but it still must never steer `require` elsewhere.
  if (!(STYLE_SET_IDS as readonly string[]).includes(setId)) return undefined;
  let set = loaded.get(setId);
  if (!set) {
    try {
      set = loadIconSet(setId);
    } catch {
      return undefined;
    }
    loaded.set(setId, set);
  }
  const icon = set.icons[iconName];
  return icon ? renderIcon(set, icon, size, format) : undefined;
}
