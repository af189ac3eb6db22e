/**
 * Pinned results: items a person keeps at hand to interpolate between or generate from. Kept in
 * localStorage (a handful of ids and titles), shared by every view.
 */

export interface Pin {
  id: string;
  title: string;
}

const KEY = 'parasol.pins';
const MAX_PINS = 24;
const listeners = new Set<() => void>();

function load(): Pin[] {
  try {
    const raw = JSON.parse(localStorage.getItem(KEY) ?? '[]') as unknown;
    return Array.isArray(raw) ? raw.filter((p): p is Pin => typeof p?.id === 'string' && typeof p?.title === 'string') : [];
  } catch {
    return [];
  }
}

let pins: Pin[] = load();

function save(): void {
  try {
    localStorage.setItem(KEY, JSON.stringify(pins));
  } catch {
    // Private mode or a full quota: pins last for this page only.
  }
  for (const listener of listeners) listener();
}

export function getPins(): readonly Pin[] {
  return pins;
}

export function isPinned(id: string): boolean {
  return pins.some((p) => p.id === id);
}

export function togglePin(pin: Pin): boolean {
  if (isPinned(pin.id)) {
    pins = pins.filter((p) => p.id !== pin.id);
    save();
    return false;
  }
  pins = [pin, ...pins].slice(0, MAX_PINS);
  save();
  return true;
}

export function onPinsChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
