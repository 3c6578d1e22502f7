import type { ReportQuery } from '../../ports/ledger.js';
import { TimeZoneMisfitError } from '../../ports/ledger.js';
import { DAY_MS } from '../../lib/time.js';
import {
  dayStartMs,
  hourlyMisfit,
  hourlyMisfitMessage,
  localDay,
  localIsoString,
  offsetAtMs,
  offsetInMs,
  offsetSegments,
} from '../../lib/time-zone.js';
import type { OffsetSegment } from '../../lib/time-zone.js';

/**
 * The calendar a report reads its rollups' hours in: how the `day` dimension is grouped and
 * filtered on in SQL, and how hours and days are written in the answer.
 */
export interface ReportCalendar {
  /** SQL expression of a rollup row's day, over its `hour_ms`. */
  daySql: string;
  /** The value `daySql` has on the day whose first instant is `firstMs` (a `day` filter's). */
  dayValue(firstMs: number): number;
  /** The start of an hour, `hourMs`, as the answer writes it. */
  hourText(hourMs: number): string;
  /** A value of `daySql` as the answer writes it: its day's first instant. */
  dayText(day: number): string;
}

/** UTC days, each named by its midnight's epoch ms; times written as `toISOString` writes them. */
const UTC_CALENDAR: ReportCalendar = {
  daySql: `(hour_ms - hour_ms % ${DAY_MS})`,
  dayValue: (firstMs) => firstMs,
  hourText: (hourMs) => new Date(hourMs).toISOString(),
  dayText: (dayMs) => new Date(dayMs).toISOString(),
};

/**
 * The calendar of `query.timeZone`: UTC's without one; else the zone's local days, each named by
 * its local day number (days since 1970-01-01 in local time), its hours and days written in local
 * time with their offset. Each hour's day is read at that hour's own offset, which may differ from
 * the offset at its day's midnight (a day of 23 or 25 hours). Throws a
 * {@link TimeZoneMisfitError} for a zone whose local days and hours are no whole UTC hours within
 * the window.
 */
export function reportCalendar(query: Pick<ReportQuery, 'timeZone' | 'fromMs' | 'toMs'>): ReportCalendar {
  const { timeZone, fromMs, toMs } = query;
  if (timeZone === undefined) return UTC_CALENDAR;
  // A day the window touches may begin up to a day before it and end up to a day after it.
  const segments = offsetSegments(timeZone, fromMs - DAY_MS, toMs + DAY_MS);
  const misfit = hourlyMisfit(segments, fromMs, toMs);
  if (misfit !== undefined) throw new TimeZoneMisfitError(hourlyMisfitMessage(timeZone, misfit));
  const local = (atMs: number) => localIsoString(atMs, offsetInMs(segments, atMs));
  return {
    daySql: localDaySql(segments),
    // A filter's day may lie outside the window: its offset is read from the zone itself.
    dayValue: (firstMs) => localDay(firstMs, offsetAtMs(timeZone, firstMs)),
    hourText: local,
    dayText(day) {
      const startMs = dayStartMs(segments, day);
      if (startMs === undefined) throw new Error(`${timeZone} has no day ${day} near the report's window`);
      return local(startMs);
    },
  };
}

/**
 * The local day number of a rollup row: its hour plus the offset in force at that hour (a CASE
 * over the offsets' changes), in whole days. Integer division: the hours are after 1970.
 */
function localDaySql(segments: readonly OffsetSegment[]): string {
  const [first, ...changes] = segments;
  let offsetSql = String(first?.offsetMs ?? 0);
  if (changes.length > 0) {
    const whens = changes.map(
      (change, index) => `WHEN hour_ms < ${change.startMs} THEN ${segments[index]?.offsetMs ?? 0}`,
    );
    offsetSql = `(CASE ${whens.join(' ')} ELSE ${changes.at(-1)?.offsetMs ?? 0} END)`;
  }
  return `((hour_ms + ${offsetSql}) / ${DAY_MS})`;
}
