import { ApiError } from './api-error.js';
import { shown } from '../lib/shown.js';
import { DAY_MS, HOUR_MS, hourStartMs } from '../lib/time.js';
import { localMidnightMs, resolvedTimeZone } from '../lib/time-zone.js';

/**
 * The forms a query's time takes, as the refusals of other forms name them: a date means its
 * midnight in `timeZone` (UTC by default).
 */
export function timeForms(timeZone = 'UTC'): string {
  const midnight = timeZone === 'UTC' ? '00:00 UTC' : `00:00 in ${timeZone}`;
  return `an RFC 3339 date-time with its offset (Z or ±hh:mm), e.g. 2026-12-03T11:00:00Z or 2026-12-03T06:00:00-05:00, or a date, e.g. 2026-12-03 (${midnight})`;
}

/**
 * The hour a refusal of a window's bound off the hour (`ms`) suggests in its place: the one that
 * keeps the time it named inside the window. For a start, the start of its hour; for an end, which
 * the window does not include, the next hour, which thus stays after any start before it.
 */
export function onTheHourExampleMs(ms: number, bound: 'start' | 'end'): number {
  return bound === 'start' ? hourStartMs(ms) : hourStartMs(ms) + HOUR_MS;
}

/** `YYYY-MM-DD`, or an RFC 3339 date-time: date, `T`, time, fraction of a second, `Z` or `±hh:mm`. */
const TIME_PATTERN =
  /^(?<year>\d{4})-(?<month>\d{2})-(?<day>\d{2})(?:[Tt](?<hours>\d{2}):(?<minutes>\d{2}):(?<seconds>\d{2})(?<fraction>\.\d+)?(?:[Zz]|(?<sign>[+-])(?<offsetHours>\d{2}):(?<offsetMinutes>\d{2})))?$/;

/**
 * Epoch ms of a time in a query (a report's window, a filter): an RFC 3339 date-time with an
 * explicit offset, or a `YYYY-MM-DD` date meaning its midnight in `timeZone` (a canonical IANA
 * name; 00:00 UTC without one), see `timeForms`. Never the server's time zone, never one of
 * `Date.parse`'s guesses (`0` is not the year 2000), and a day its month lacks (2026-02-30) is
 * refused, not rolled over into the next month. `label` begins each refusal.
 */
export function parseTimeMs(value: string, label: string, timeZone?: string): number {
  const groups = TIME_PATTERN.exec(value)?.groups;
  if (groups === undefined) {
    // A `+` written as such in a query string arrives as a space.
    const plus = /\d \d{2}:\d{2}$/.test(value) ? ' (send a + in a URL as %2B)' : '';
    throw new ApiError(400, 'VALIDATION_FAILED', `${label} must be ${timeForms(timeZone)}${plus}`);
  }
  const field = (name: string) => Number(groups[name] ?? 0);
  const date = new Date(0);
  date.setUTCFullYear(field('year'), field('month') - 1, field('day'));
  const real =
    date.getUTCMonth() === field('month') - 1 &&
    date.getUTCDate() === field('day') &&
    field('hours') <= 23 &&
    field('minutes') <= 59 &&
    field('seconds') <= 59 &&
    field('offsetHours') <= 23 &&
    field('offsetMinutes') <= 59;
  if (!real) {
    throw new ApiError(
      400,
      'VALIDATION_FAILED',
      `${label} is not a real date and time: month 01–12, a day its month has, hours 00–23, minutes and seconds 00–59, an offset from -23:59 to +23:59`,
    );
  }
  // Read digit by digit: as a number, .9999999999999999 would round to a whole second.
  const fractionDigits = (groups.fraction ?? '.').slice(1);
  if (/[1-9]/.test(fractionDigits.slice(3))) {
    throw new ApiError(
      400,
      'VALIDATION_FAILED',
      `${label} names a time finer than a millisecond, which no time Tally keeps is`,
    );
  }
  if (timeZone !== undefined && groups.hours === undefined) {
    const midnightMs = localMidnightMs(timeZone, date.getTime() / DAY_MS);
    if (midnightMs === undefined)
      throw new ApiError(
        400,
        'VALIDATION_FAILED',
        `${label}: ${timeZone} skipped that date (its clocks jumped a day)`,
      );
    return midnightMs;
  }
  const offsetMinutes = (groups.sign === '-' ? -1 : 1) * (field('offsetHours') * 60 + field('offsetMinutes'));
  const timeMs = ((field('hours') * 60 + field('minutes') - offsetMinutes) * 60 + field('seconds')) * 1000;
  return date.getTime() + timeMs + Number(fractionDigits.slice(0, 3).padEnd(3, '0'));
}

/**
 * The name of the IANA time zone a query's `tz` names: as given, in the case its zone spells it
 * (`america/new_york` is `America/New_York`); `undefined` without one, or for UTC (`UTC`,
 * `Etc/UTC`…), so that an answer in UTC is the same whether asked for or not.
 */
export function parseTimeZone(value: string | null): string | undefined {
  if (value === null) return undefined;
  const resolved = resolvedTimeZone(value);
  if (resolved === undefined) {
    // A `+` written as such in a query string arrives as a space: Etc/GMT+5 as "Etc/GMT 5".
    const plussed = value.replaceAll(' ', '+');
    const fix =
      plussed !== value && resolvedTimeZone(plussed) !== undefined
        ? `${plussed} is one: send a + in a URL as %2B (tz=${value.replaceAll(' ', '%2B')})`
        : 'give an IANA time zone name, e.g. tz=America/New_York, tz=Europe/Paris or tz=UTC (the default)';
    throw new ApiError(400, 'VALIDATION_FAILED', `tz=${shown(value)}: no such time zone; ${fix}`);
  }
  if (resolved === 'UTC') return undefined;
  // An alias as given: ICU would write Asia/Kolkata as Asia/Calcutta.
  return resolved.toLowerCase() === value.toLowerCase() ? resolved : value;
}
