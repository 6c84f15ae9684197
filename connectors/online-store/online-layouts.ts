import { createHash } from 'node:crypto';

/**
 * Layouts: the feature list a stored record's JSON array follows. Every engine stores a record as
 * one JSON array of values plus the id of its layout, and the layouts themselves once per store, so
 * a read returns the array text as it is and the serving API can splice it into its response
 * without parsing it (docs/online-store.md, "Layouts").
 *
 * A layout id is content-addressed (a hash of the feature names), so it never changes meaning: a
 * feature added to a view gives new records a new layout, old records keep theirs until rewritten,
 * and readers cache layouts forever.
 */
export interface OnlineLayout {
  /** 16 hex digits of the SHA-256 of the names joined by `,` (names are identifiers: no `,`). */
  readonly id: string;
  /** Frozen, and the same array for every record of this layout in this process. */
  readonly features: readonly string[];
}

/** Layouts by their joined names (writers) and by id (readers). Bounded by the distinct feature lists of a project. */
const byNames = new Map<string, OnlineLayout>();
const byId = new Map<string, OnlineLayout>();

/** The layout of a feature list (names must be checked identifiers). */
export function layoutOf(features: readonly string[]): OnlineLayout {
  const joined = features.join(',');
  let layout = byNames.get(joined);
  if (layout === undefined) {
    const id = createHash('sha256').update(joined).digest('hex').slice(0, 16);
    layout = byId.get(id) ?? { id, features: Object.freeze([...features]) };
    byNames.set(joined, layout);
    byId.set(id, layout);
  }
  return layout;
}

/** A layout this process has seen (written or loaded), by id. */
export function knownLayout(id: string): OnlineLayout | undefined {
  return byId.get(id);
}

/** Registers a layout read from a store; returns the process's canonical instance. */
export function rememberLayout(id: string, featuresJson: string): OnlineLayout {
  const known = byId.get(id);
  if (known) return known;
  const layout = layoutOf(JSON.parse(featuresJson) as string[]);
  // A store holding a layout under another id was written by something else than this code.
  if (layout.id !== id) throw new Error(`layout ${id} does not match its features (${featuresJson})`);
  return layout;
}
