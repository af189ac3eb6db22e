/**
 * Which model pack made the vectors a store holds: its name and a fingerprint (src/encoders/stamp.ts
 * computes it). Stores record it on first open and refuse another pack's, so two packs' vectors
 * are never mixed in one index, even when their dimensions agree.
 */
export interface PackStamp {
  name: string;
  /** 16 hex digits. */
  fingerprint: string;
}

/** The same pack when the fingerprints agree (a renamed copy is the same pack). */
export function sameStamp(a: PackStamp, b: PackStamp): boolean {
  return a.fingerprint === b.fingerprint;
}

/** `"mini" (3f2a09c1d4e5b6a7)`, as refusals name a pack. */
export function describeStamp(stamp: PackStamp): string {
  return `"${stamp.name}" (${stamp.fingerprint})`;
}

/** The one-line refusal both backends give for an index built with another pack. */
export function packMismatchMessage(where: string, stored: PackStamp, current: PackStamp): string {
  return (
    `${where} was built with the model pack ${describeStamp(stored)}, not ${describeStamp(current)}; ` +
    `run \`parasol reindex\` to re-encode it with ${describeStamp(current)} (or point PARASOL_PACK back at "${stored.name}")`
  );
}
