import { ApiError } from './http.js';

/** The forms a query's time takes, as the refusals of other forms name them. */
export const TIME_FORMS =
  'an RFC 3339 date-time with its offset (Z or ±hh:mm), e.g. 2026-12-03T11:00:00Z or 2026-12-03T06:00:00-05:00, or a date, e.g. 2026-12-03 (00:00 UTC)';
/** `YYYY-MM-DD`, or an RFC 3339 date-time: date, `T`, time, fraction of a second, `Z` or `±hh:mm`. */
const TIME_PATTERN =
  /^(?<year>\d{4})-(?<month>\d{2})-(?<day>\d{2})(?:[Tt](?<hours>\d{2}):(?<minutes>\d{2}):(?<seconds>\d{2})(?<fraction>\.\d+)?(?:[Zz]|(?<sign>[+-])(?<offsetHours>\d{2}):(?<offsetMinutes>\d{2})))?$/;

/**
 * Epoch ms of a time in a query (a report's window, a filter): an RFC 3339 date-time with an
 * explicit offset, or a `YYYY-MM-DD` date meaning 00:00 UTC (see `TIME_FORMS`). Never the
 * server's time zone, never one of `Date.parse`'s guesses (`0` is not the year 2000), and a day
 * its month lacks (2026-02-30) is refused, not rolled over into the next month. `label` begins
 * each refusal.
 */
export function parseTimeMs(value: string, label: string): number {
  const groups = TIME_PATTERN.exec(value)?.groups;
  if (groups === undefined) {
    // A `+` written as such in a query string arrives as a space.
    const plus = /\d \d{2}:\d{2}$/.test(value) ? ' (send a + in a URL as %2B)' : '';
    throw new ApiError(400, 'VALIDATION_FAILED', `${label} must be ${TIME_FORMS}${plus}`);
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
      `${label} is not a real date and time: month 01–12, a day its month has, hours 00–23, minutes and seconds 00–59`,
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
  const offsetMinutes = (groups.sign === '-' ? -1 : 1) * (field('offsetHours') * 60 + field('offsetMinutes'));
  const timeMs = ((field('hours') * 60 + field('minutes') - offsetMinutes) * 60 + field('seconds')) * 1000;
  return date.getTime() + timeMs + Number(fractionDigits.slice(0, 3).padEnd(3, '0'));
}
