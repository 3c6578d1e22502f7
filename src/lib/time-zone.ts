// Local time in an IANA time zone, for reports read by the days of their reader's zone: the
// zone's offsets from UTC over a window, its days' first instants, and times written with their
// offset. Node's Intl (its ICU time zone data) is the one source of the zones' rules.
import { DAY_MS, HOUR_MS } from './time.js';

/** A stretch of time over which a zone's offset from UTC stays the same, until the next one's start. */
export interface OffsetSegment {
  /** Epoch ms at which the offset takes effect. */
  startMs: number;
  /** Local time less UTC, in ms: -18_000_000 for UTC−05:00. */
  offsetMs: number;
}

/** A time at which a zone's local days cannot be made of whole UTC hours (see `hourlyMisfit`). */
interface HourlyMisfit {
  atMs: number;
  /** The offset from UTC that takes effect at `atMs`. */
  offsetMs: number;
}

/** Formatters writing a time with its zone's offset (`GMT-05:00`), by zone name. */
const offsetFormats = new Map<string, Intl.DateTimeFormat>();
/** At most this many formatters are kept (there are about 600 zone names, aliases included). */
const MAX_OFFSET_FORMATS = 1000;
/** The offset as `longOffset` writes it: `GMT` alone for UTC, else `GMT±hh:mm`, seconds where any. */
const LONG_OFFSET = /GMT(?:(?<sign>[+-])(?<hours>\d{2}):(?<minutes>\d{2})(?::(?<seconds>\d{2}))?)?$/;

/**
 * Node's own name for the time zone `name` names (in any case, or by an alias: `utc`, `GMT` and
 * `Etc/UTC` are `UTC`, `US/Eastern` is `America/New_York`, and ICU calls Asia/Kolkata by its
 * older name `Asia/Calcutta`), or `undefined` for no zone Node knows.
 */
export function resolvedTimeZone(name: string): string | undefined {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** The offset from UTC, in ms (exact to the second), of `timeZone`'s local time at `atMs`. */
export function offsetAtMs(timeZone: string, atMs: number): number {
  let format = offsetFormats.get(timeZone);
  if (format === undefined) {
    // Callers' spellings of a zone (any case) are many: the cache is emptied now and then.
    if (offsetFormats.size >= MAX_OFFSET_FORMATS) offsetFormats.clear();
    format = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
    offsetFormats.set(timeZone, format);
  }
  const written = format.format(atMs);
  const groups = LONG_OFFSET.exec(written)?.groups;
  if (groups === undefined) throw new Error(`no offset in ${JSON.stringify(written)} (${timeZone})`);
  if (groups.sign === undefined) return 0;
  const seconds = (Number(groups.hours) * 60 + Number(groups.minutes)) * 60 + Number(groups.seconds ?? 0);
  return (groups.sign === '-' ? -1 : 1) * seconds * 1000;
}

/**
 * `timeZone`'s offsets over [`fromMs`, `toMs`), in order, the first starting at `fromMs`. Read at
 * every UTC hour start (a report's rows are hours), each change found to the millisecond between
 * the two hours it falls between, so that a change within an hour is seen at its time.
 */
export function offsetSegments(timeZone: string, fromMs: number, toMs: number): OffsetSegment[] {
  const offsetAt = (atMs: number) => offsetAtMs(timeZone, atMs);
  let current: OffsetSegment = { startMs: fromMs, offsetMs: offsetAt(fromMs) };
  const segments = [current];
  let sampledMs = fromMs;
  while (sampledMs < toMs - 1) {
    // The next hour start, or the window's last millisecond.
    const nextMs = Math.min(Math.floor(sampledMs / HOUR_MS) * HOUR_MS + HOUR_MS, toMs - 1);
    // A loop: more than one change may fall between two samples.
    while (offsetAt(nextMs) !== current.offsetMs) {
      // offsetAt(lowMs) is current.offsetMs, offsetAt(highMs) is not: halve until they touch.
      let lowMs = sampledMs;
      let highMs = nextMs;
      while (highMs - lowMs > 1) {
        const midMs = lowMs + Math.floor((highMs - lowMs) / 2);
        if (offsetAt(midMs) === current.offsetMs) lowMs = midMs;
        else highMs = midMs;
      }
      current = { startMs: highMs, offsetMs: offsetAt(highMs) };
      segments.push(current);
      sampledMs = highMs;
    }
    sampledMs = nextMs;
  }
  return segments;
}

/** The offset `segments` give at `atMs` (the first segment's for a time before it). */
export function offsetInMs(segments: readonly OffsetSegment[], atMs: number): number {
  let offsetMs = segments[0]?.offsetMs ?? 0;
  for (const segment of segments) {
    if (segment.startMs > atMs) break;
    offsetMs = segment.offsetMs;
  }
  return offsetMs;
}

/** The local day (days since 1970-01-01, in local time) that `atMs` falls on at `offsetMs`. */
export function localDay(atMs: number, offsetMs: number): number {
  return Math.floor((atMs + offsetMs) / DAY_MS);
}

/**
 * The first instant of local day `day` (days since 1970-01-01): its midnight, or, where the
 * clocks skip midnight, the instant they skip to. `segments` must cover the whole day;
 * `undefined` when the zone skips the day altogether.
 */
export function dayStartMs(segments: readonly OffsetSegment[], day: number): number | undefined {
  for (const [index, segment] of segments.entries()) {
    const endMs = segments[index + 1]?.startMs ?? Infinity;
    const startMs = Math.max(segment.startMs, day * DAY_MS - segment.offsetMs);
    if (startMs < endMs && localDay(startMs, segment.offsetMs) === day) return startMs;
  }
  return undefined;
}

/**
 * The first instant of the local date `day` (days since 1970-01-01) in `timeZone`; `undefined`
 * when the zone skipped that date (Pacific/Apia's 2011-12-30).
 */
export function localMidnightMs(timeZone: string, day: number): number | undefined {
  // No zone is a day or more off UTC: the day lies within these.
  return dayStartMs(offsetSegments(timeZone, (day - 1) * DAY_MS, (day + 2) * DAY_MS), day);
}

/**
 * `atMs` in local time at `offsetMs`, as `toISOString` writes UTC but with the offset in place of
 * `Z`: `2026-11-22T00:00:00.000-05:00`.
 */
export function localIsoString(atMs: number, offsetMs: number): string {
  return `${new Date(atMs + offsetMs).toISOString().slice(0, -1)}${offsetText(offsetMs)}`;
}

/**
 * `atMs` as an answer writes a time: `toISOString`'s UTC without a `timeZone`, else in its local
 * time with its offset (see {@link localIsoString}).
 */
export function zonedIsoString(atMs: number, timeZone: string | undefined): string {
  return timeZone === undefined
    ? new Date(atMs).toISOString()
    : localIsoString(atMs, offsetAtMs(timeZone, atMs));
}

/** An offset as RFC 3339 writes it, `+05:30` or `-05:00` (`+00:00` for none), seconds only where any. */
export function offsetText(offsetMs: number): string {
  const totalSeconds = Math.abs(offsetMs) / 1000;
  const two = (value: number) => String(Math.floor(value)).padStart(2, '0');
  const seconds = totalSeconds % 60 === 0 ? '' : `:${two(totalSeconds % 60)}`;
  return `${offsetMs < 0 ? '-' : '+'}${two(totalSeconds / 3600)}:${two((totalSeconds / 60) % 60)}${seconds}`;
}

/**
 * The first time in [`fromMs`, `toMs`) at which `segments` cannot be served from hourly rollups:
 * an offset that is not a whole number of hours (Asia/Kolkata's +05:30), or a change within an
 * hour. Either would put one UTC hour's impressions in two local days (or hours); `undefined`
 * when every hour of the window falls in one.
 */
export function hourlyMisfit(
  segments: readonly OffsetSegment[],
  fromMs: number,
  toMs: number,
): HourlyMisfit | undefined {
  for (const [index, segment] of segments.entries()) {
    const endMs = segments[index + 1]?.startMs ?? Infinity;
    if (endMs <= fromMs || segment.startMs >= toMs) continue;
    const atMs = Math.max(segment.startMs, fromMs);
    if (segment.offsetMs % HOUR_MS !== 0 || atMs % HOUR_MS !== 0) return { atMs, offsetMs: segment.offsetMs };
  }
  return undefined;
}

/** Why a report in `timeZone` is refused for `misfit`, and what to ask for instead. */
export function hourlyMisfitMessage(timeZone: string, misfit: HourlyMisfit): string {
  const at = new Date(misfit.atMs).toISOString();
  const what =
    misfit.offsetMs % HOUR_MS !== 0
      ? `is ${offsetText(misfit.offsetMs)} from UTC at ${at}, not a whole number of hours`
      : `changes its offset from UTC at ${at}, within an hour`;
  return `tz=${timeZone} ${what}: reports are made of hourly rollups (by the UTC hour), which cannot be split between its days or hours; ask for the report in a zone whose offset is a whole number of hours, or in UTC (leave tz out)`;
}
