import { createHash } from 'node:crypto';
import type { HitRequest } from './hit-request.js';
import type { IvtFilter } from './ivt-filter.js';
import type { Device } from './read-device.js';
import { readDevice } from './read-device.js';
import type { Notifier } from './ivt.js';
import { screenRequest } from './ivt.js';
import type { Outcome } from './outcome.js';
import { COUNTED, notCounted } from './outcome.js';
import type { TrackerKind } from './tracker-hit.js';

/** The decision on one tracker hit, with the device the ledger records beside it. */
interface HitDecision {
  outcome: Outcome;
  device: Device;
}

/** What a hit's decision reads of its tracker: its state, its line item's, and who fires its hits. */
interface HitTracker {
  readonly state: 'active' | 'inactive';
  /**
   * Who fires the tracker's hits: a `browser` (a tag on a web page), or an `app` (a video player's
   * VAST `<Impression>`, an app's SDK, a CTV device, an SSAI server), whose HTTP stacks the bot
   * list takes for bots; see `screenRequest`. Left out, `browser`.
   */
  readonly firedBy?: Notifier;
  /** The tracker's line item; left out, only the tracker's own state is judged. */
  readonly lineItem?: { readonly state: 'active' | 'inactive' };
}

/**
 * Decides one tracker hit, purely. Order: unknown tracker (`unknown_tracker`), inactive tracker
 * (`inactive_tracker`), tracker of an inactive line item (`inactive_line_item`: a paused line item
 * neither counts nor bills, whatever its trackers' states), a `preview` render (`preview`: the
 * hit's `preview=1` or an `AUDIT` value, see `TrackerHit.preview`), then the same invalid-traffic
 * and prefetch screen as exchange notices, with the tracker's `firedBy` as the notifier (an app's
 * or player's HTTP stack is no bot on an app tracker). Trackers have no TTL.
 * Duplicates — the same cachebuster on the same tracker within {@link TRACKER_DEDUPE_WINDOW_MS} —
 * are for the ledger to decide, keyed by {@link trackerDedupeKey}; a hit without a cachebuster is
 * never a duplicate.
 */
export function decideHit(
  tracker: HitTracker | undefined,
  request: HitRequest,
  filter: IvtFilter,
  preview = false,
): HitDecision {
  const device = readDevice(request, filter);
  if (tracker === undefined) return { outcome: notCounted('unknown_tracker'), device };
  if (tracker.state !== 'active') return { outcome: notCounted('inactive_tracker'), device };
  if (tracker.lineItem !== undefined && tracker.lineItem.state !== 'active') {
    return { outcome: notCounted('inactive_line_item'), device };
  }
  if (preview) return { outcome: notCounted('preview'), device };
  return { outcome: screenRequest(request, device, filter, tracker.firedBy) ?? COUNTED, device };
}

/** How long a tracker hit's cachebuster claim lives: a repeat within five minutes is a `duplicate`. */
export const TRACKER_DEDUPE_WINDOW_MS = 5 * 60_000;

/**
 * The ledger's dedupe key for a tracker hit with a cachebuster: kind, tracker id, cachebuster
 * and the device that fired it (the SHA-256, base64url, of its address and User-Agent as
 * `readDevice` reads them), joined by U+001F. A repeat is the same device firing the same
 * tag URL again (a creative re-rendered from cache, a tag pasted twice); another device's hit with
 * that cachebuster is another impression, for a cachebuster is no unique id: a timestamp macro
 * (`[timestamp]`, in seconds) gives every page served in a second the same one, and an ad server's
 * random number repeats across pages. Tracker ids are unique across accounts, so the key needs no
 * account; the `imptr` / `clktr` prefix keeps it apart from the exchange's impression keys
 * (which start with `x`), and an impression and a click with the same cachebuster apart from
 * each other. A cachebuster longer than {@link MAX_KEPT_CACHEBUSTER_LENGTH} is kept as its
 * SHA-256 (base64url) under an `imptr#` / `clktr#` prefix of its own, so that no hit's key holds
 * kilobytes, however long a cachebuster a URL may carry.
 */
export function trackerDedupeKey(
  kind: TrackerKind,
  trackerId: number,
  cachebuster: string,
  device: Pick<Device, 'ip' | 'userAgent'>,
): string {
  const prefix = kind === 'impression' ? 'imptr' : 'clktr';
  const deviceDigest = digestOfDevice(device);
  if (cachebuster.length <= MAX_KEPT_CACHEBUSTER_LENGTH) {
    return [prefix, trackerId, cachebuster, deviceDigest].join('\u001f');
  }
  return [`${prefix}#`, trackerId, sha256(cachebuster), deviceDigest].join('\u001f');
}

/**
 * Today's dedupe key (see {@link trackerDedupeKey}) of a tracker hit whose stored key names no
 * device, as a Tally before ce366e2 (7 December 2026) wrote them: kind, tracker id and cachebuster
 * (one over 64 characters kept whole before 8e21959, hashed under `imptr#` / `clktr#` after),
 * `deviceOf` giving the hit's device as its row keeps it, read only for such a key. `undefined`
 * for any other key. Their claims, live for five minutes after an upgrade, are indexed under it,
 * so that the same device's repeat stays a duplicate across the upgrade.
 */
export function deviceLessTrackerKeyToday(
  storedKey: string,
  deviceOf: () => Pick<Device, 'ip' | 'userAgent'>,
): string | undefined {
  const fields = storedKey.split('\u001f');
  if (fields.length !== 3) return undefined;
  const [prefix = '', trackerId = '', cachebuster = ''] = fields;
  if (!/^[1-9][0-9]*$/.test(trackerId)) return undefined;
  if (prefix === 'imptr#' || prefix === 'clktr#') return `${storedKey}\u001f${digestOfDevice(deviceOf())}`;
  if (prefix !== 'imptr' && prefix !== 'clktr') return undefined;
  return trackerDedupeKey(
    prefix === 'imptr' ? 'impression' : 'click',
    Number(trackerId),
    cachebuster,
    deviceOf(),
  );
}

/** The device's part of a tracker hit's dedupe key: SHA-256 (base64url) of address and User-Agent. */
function digestOfDevice(device: Pick<Device, 'ip' | 'userAgent'>): string {
  return sha256(`${device.ip}\u001f${device.userAgent}`);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

/** The longest cachebuster a tracker hit's dedupe key holds as it is (ad servers' run to 20 digits). */
export const MAX_KEPT_CACHEBUSTER_LENGTH = 64;
