import type { Device, HitRequest, IvtFilter } from './ivt.js';
import { readDevice, screenRequest } from './ivt.js';
import type { Outcome } from './outcome.js';
import { COUNTED, notCounted } from './outcome.js';
import type { TrackerKind } from './tracker-hit.js';

/** The decision on one tracker hit, with the device the ledger records beside it. */
export interface HitDecision {
  outcome: Outcome;
  device: Device;
}

/** What a hit's decision reads of its tracker: its state, and its line item's. */
export interface HitTracker {
  readonly state: 'active' | 'inactive';
  /** The tracker's line item; left out, only the tracker's own state is judged. */
  readonly lineItem?: { readonly state: 'active' | 'inactive' };
}

/**
 * Decides one tracker hit, purely. Order: unknown tracker (`unknown_tracker`), inactive
 * tracker (`inactive_tracker`), tracker of an inactive line item (`inactive_line_item`: a
 * paused line item neither counts nor bills, whatever its trackers' states), then the same
 * invalid-traffic and prefetch screen as exchange notices. Trackers have no TTL and no preview
 * flag. Duplicates — the same cachebuster on the same tracker within
 * {@link TRACKER_DEDUPE_WINDOW_MS} — are for the ledger to decide, keyed by
 * {@link trackerDedupeKey}; a hit without a cachebuster is never a duplicate.
 */
export function decideHit(
  tracker: HitTracker | undefined,
  request: HitRequest,
  filter: IvtFilter,
): HitDecision {
  const device = readDevice(request, filter);
  if (tracker === undefined) return { outcome: notCounted('unknown_tracker'), device };
  if (tracker.state !== 'active') return { outcome: notCounted('inactive_tracker'), device };
  if (tracker.lineItem !== undefined && tracker.lineItem.state !== 'active') {
    return { outcome: notCounted('inactive_line_item'), device };
  }
  return { outcome: screenRequest(request, device, filter) ?? COUNTED, device };
}

/** How long a tracker hit's cachebuster claim lives: a repeat within five minutes is a `duplicate`. */
export const TRACKER_DEDUPE_WINDOW_MS = 5 * 60_000;

/**
 * The ledger's dedupe key for a tracker hit with a cachebuster: kind, tracker id and
 * cachebuster joined by U+001F. Tracker ids are unique across accounts, so the key needs no
 * account; the `imptr` / `clktr` prefix keeps it apart from the exchange's impression keys
 * (which start with `x`), and an impression and a click with the same cachebuster apart from
 * each other.
 */
export function trackerDedupeKey(kind: TrackerKind, trackerId: number, cachebuster: string): string {
  return [kind === 'impression' ? 'imptr' : 'clktr', trackerId, cachebuster].join('\u001f');
}
