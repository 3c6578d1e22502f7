import { IVT_RULES, NOT_COUNTED_REASONS } from '../domain/outcome.js';
import { CHANNELS, FORMATS, METHODS, NOTICE_KINDS } from '../domain/types.js';
import type { ReportDimension, ReportQuery } from '../ports/ledger.js';
import {
  IMPRESSION_TYPES,
  NUMERIC_REPORT_DIMENSIONS,
  REPORT_CURRENCY_PATTERN,
  REPORT_DIMENSIONS,
  REPORT_VAST_ERROR_PATTERN,
} from '../ports/ledger.js';
import type { Principal } from './auth.js';
import type { Route } from './router.js';
import { ApiError } from './api-error.js';
import type { ReportSource } from './report-thread/report-thread.js';
import { ReportRefusedError } from './report-thread/report-thread.js';
import { readFailureAnswer } from './read-failure.js';
import { refuseUnknownOrRepeated } from './query.js';
import { onTheHourExampleMs, parseTimeMs, parseTimeZone, timeForms } from './query-time.js';
import { MAX_ID } from './ids.js';
import { shown } from '../lib/shown.js';
import { DAY_MS, HOUR_MS } from '../lib/time.js';
import {
  hourlyMisfitMessage,
  localDay,
  localMidnightMs,
  offsetAtMs,
  zonedIsoString,
} from '../lib/time-zone.js';
import { OUTPUT_FORMATS, wantsCsv } from './accept.js';
import type { ReportMetric } from './report-text.js';
import type { ReportCatalog } from './report-id-warnings.js';
import { unknownIdWarnings } from './report-id-warnings.js';
import { warningsHeader } from './unknown-ids.js';
import { callerGone } from './caller-gone.js';

const MAX_RANGE_MS = 400 * DAY_MS;
/** Every query parameter a report takes (`format` is both the output and a dimension). */
const REPORT_PARAMETERS = new Set<string>(['from', 'to', 'tz', 'groupBy', ...REPORT_DIMENSIONS]);

/**
 * `GET /v1/reports`: the hourly rollups, grouped and filtered; JSON or CSV. The answer is read and
 * written out by `source` (the report thread), so that a long report never holds up the notices;
 * a report of more than `maxRows` rows, or one the source refuses, is refused with 400:
 * `REPORT_TOO_LARGE` for too many rows or, in JSON, a sum past 2^53 - 1 (CSV writes it exactly),
 * `MIXED_CURRENCIES` for amounts in more than one currency. A filter on a catalog id the key knows
 * no object by (`unknownIdWarnings`, read from `catalog`) is answered with a warning, in the JSON
 * (`warnings`) and, for either output, in the `X-Tally-Warnings` header.
 */
export function reportRoutes(source: ReportSource, catalog: ReportCatalog, maxRows: number): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/reports',
      readsQuery: true,
      answers: ['text/csv'],
      async handler(ctx) {
        const query = parseReportQuery(ctx.url.searchParams, ctx.principal, (accountId, publisherId) =>
          catalog.publisherExternalId(accountId, publisherId),
        );
        const output = wantsCsv(ctx.url.searchParams, ctx.req.headers.accept) ? 'csv' : 'json';
        const warnings = unknownIdWarnings(query.filters, ctx.principal, catalog);
        const abandoned = callerGone(ctx.res);
        let body: Uint8Array;
        try {
          body = await source.report(
            {
              query,
              output,
              maxRows,
              hiddenMetrics: hiddenMetricsOf(ctx.principal),
              warnings,
            },
            abandoned,
          );
        } catch (error) {
          if (error instanceof ReportRefusedError) {
            switch (error.code) {
              case 'MIXED_CURRENCIES':
                throw new ApiError(400, 'MIXED_CURRENCIES', error.message);
              case 'VALIDATION_FAILED':
                throw new ApiError(400, 'VALIDATION_FAILED', error.message);
              case 'REPORT_TOO_LARGE':
                throw new ApiError(400, 'REPORT_TOO_LARGE', error.message);
            }
          }
          const failure = readFailureAnswer(error, 'the report could not be run just now; retry it');
          // Its caller went away while it waited: there is nobody to answer, and nothing failed.
          if (failure === undefined) return;
          throw failure;
        }
        ctx.res.writeHead(200, {
          'Content-Type': output === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
          ...(output === 'csv'
            ? { 'Content-Disposition': `attachment; filename="${csvFileName(query)}"` }
            : {}),
          'Content-Length': body.byteLength,
          'Cache-Control': 'no-store',
          'X-Request-Id': ctx.requestId,
          ...(warnings.length === 0 ? {} : { 'X-Tally-Warnings': warningsHeader(warnings) }),
        });
        ctx.res.end(body);
      },
    },
  ];
}

/**
 * The name a CSV report is saved under: its window, in UTC hours, so that the reports of several
 * windows saved to one folder keep apart (`tally-report-2026-11-01T00-2026-12-01T00.csv`); in a
 * time zone, in its local hours each with its offset, which tells apart the two 01:00s of a day
 * the clocks go back (`tally-report-2026-11-01T00-0400-2026-11-02T00-0500.csv`).
 */
function csvFileName(query: Pick<ReportQuery, 'fromMs' | 'toMs' | 'timeZone'>): string {
  const { timeZone } = query;
  const hour = (ms: number) => {
    if (timeZone === undefined) return new Date(ms).toISOString().slice(0, 13);
    const local = localTimeText(timeZone, ms);
    return `${local.slice(0, 13)}${local.slice(-6).replace(':', '')}`;
  };
  return `tally-report-${hour(query.fromMs)}-${hour(query.toMs)}.csv`;
}

/**
 * The metrics a key's reports leave out: the other side's money. An advertiser's key sees what it
 * is charged (revenue), not what the publishers are paid (media cost) nor the margin between
 * them (profit); a publisher's key sees what it is paid, not what the advertisers are charged
 * nor the margin, nor what the DSPs paid the exchange for its impressions (the clearing price,
 * `priceMicros`), which beside what it is paid would tell it the exchange's take. An
 * advertiser's key keeps `priceMicros`, buy-side money, always 0 on its rows (tracker hits). An
 * account-wide key sees them all.
 */
export function hiddenMetricsOf(principal: Principal): readonly ReportMetric[] {
  if (principal.scope === null) return [];
  return principal.scope.type === 'advertiser'
    ? ['mediaCostMicros', 'profitMicros']
    : ['priceMicros', 'revenueMicros', 'profitMicros'];
}

/**
 * Parses and checks a report query; a scoped key only ever sees its advertiser's or publisher's
 * rows, an advertiser's key not the `paymentRule` dimension, the publisher side's pricing, and a
 * publisher's key only the events that counted. A misspelt filter must not quietly widen a report
 * (billing totals read as filtered), nor a repeated one keep only one of its values: both are
 * refused.
 */
export function parseReportQuery(
  params: URLSearchParams,
  principal: Principal,
  publisherExternalId: (accountId: number, publisherId: number) => string | null,
): ReportQuery {
  // `format` is both the output and the ad format: one of each is one parameter given twice.
  const [first, second, ...more] = params.getAll('format');
  const output = [first, second].find((value) => value !== undefined && OUTPUT_FORMATS.has(value));
  const adFormat = [first, second].find((value) => (FORMATS as readonly unknown[]).includes(value));
  if (more.length === 0 && output !== undefined && adFormat !== undefined) {
    const fix = output === 'csv' ? 'and ask for CSV with Accept: text/csv' : 'which answers JSON';
    throw new ApiError(
      400,
      'VALIDATION_FAILED',
      `format is given twice, as the output (${output}) and as the ad format to filter on (${adFormat}): give it once, format=${adFormat}, ${fix}`,
    );
  }
  refuseUnknownOrRepeated(
    params,
    REPORT_PARAMETERS,
    `a report takes from, to, tz, groupBy, format (csv or json) and filters on ${REPORT_DIMENSIONS.join(', ')}`,
  );
  const timeZone = parseTimeZone(params.get('tz'));
  const fromMs = parseHourBound(params.get('from'), 'from', timeZone);
  const toMs = parseHourBound(params.get('to'), 'to', timeZone);
  if (toMs <= fromMs)
    throw new ApiError(
      400,
      'VALIDATION_FAILED',
      'to must be after from: to is not included, so one day, e.g. 2026-12-03, is from=2026-12-03&to=2026-12-04',
    );
  // In a zone, 400 of its days: as long in local time, which its clock changes make an hour or
  // two more or less in UTC.
  const localMs = (ms: number) => (timeZone === undefined ? ms : ms + offsetAtMs(timeZone, ms));
  if (localMs(toMs) - localMs(fromMs) > MAX_RANGE_MS)
    throw new ApiError(400, 'VALIDATION_FAILED', 'a report spans at most 400 days; narrow from/to');
  const groupBy = (params.get('groupBy') ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  for (const dimension of groupBy) {
    if (!REPORT_DIMENSIONS.includes(dimension as ReportDimension)) {
      throw new ApiError(
        400,
        'VALIDATION_FAILED',
        `groupBy: unknown dimension ${shown(dimension)}; use any of ${REPORT_DIMENSIONS.join(', ')}`,
      );
    }
  }
  const filters: Partial<Record<ReportDimension, string>> = {};
  for (const dimension of REPORT_DIMENSIONS) {
    const value = params.get(dimension);
    // `format=csv` / `format=json` choose the output; other values filter the ad format.
    if (value === null || (dimension === 'format' && OUTPUT_FORMATS.has(value))) continue;
    filters[dimension] = checkFilter(dimension, value, timeZone);
  }
  refuseTimeFilterOutside(params, filters, fromMs, toMs, timeZone);
  const query: ReportQuery = {
    accountId: principal.accountId,
    fromMs,
    toMs,
    groupBy: [...new Set(groupBy)] as ReportDimension[],
    filters,
    ...(timeZone === undefined ? {} : { timeZone }),
  };
  const scope = principal.scope;
  if (scope === null) return query;
  const own = String(scope.id);
  if (scope.type === 'advertiser') {
    if (filters.advertiser !== undefined && filters.advertiser !== own)
      throw new ApiError(
        403,
        'FORBIDDEN',
        `your key is scoped to advertiser ${own}: filter on advertiser=${own}, or leave the filter out`,
      );
    if (query.groupBy.includes('paymentRule') || filters.paymentRule !== undefined)
      throw new ApiError(
        403,
        'FORBIDDEN',
        `your key is scoped to advertiser ${own}: it is shown no media cost, nor the payment rule (paymentRule) that priced it; leave paymentRule out of groupBy and the filters`,
      );
    filters.advertiser = own;
    return query;
  }
  // Its rows: tracker rows of its catalog publisher, exchange rows of its OpenRTB publisher id
  // (externalId); it may filter on either id of its own alone.
  const externalId = publisherExternalId(principal.accountId, scope.id);
  const otherPublisher = filters.publisher !== undefined && filters.publisher !== (externalId ?? '');
  if (otherPublisher || (filters.publisherId !== undefined && filters.publisherId !== own)) {
    const openRtb = externalId === null ? '' : `, or publisher=${externalId} (its OpenRTB publisher id)`;
    throw new ApiError(
      403,
      'FORBIDDEN',
      `your key is scoped to publisher ${own}: filter on publisherId=${own}${openRtb}`,
    );
  }
  // Only what counted, what it is paid for: which of its notices and hits did not, and why, would
  // let a publisher firing its own find out which ones count (as /metrics would, see the README).
  if (filters.outcome !== undefined && filters.outcome !== 'counted')
    throw new ApiError(
      403,
      'FORBIDDEN',
      `your key is scoped to publisher ${own}: its reports hold counted events only; filter on outcome=counted, or leave the filter out`,
    );
  filters.outcome = 'counted';
  return { ...query, publisherScope: { catalogId: own, externalId } };
}

/**
 * The values a dimension of a closed set of values can hold; '' where the dimension does not
 * apply to some rows (the reason of counted ones, the format of tracker hits and of invalid
 * tokens), as the API documents them.
 */
const FILTER_VALUES: Partial<Record<ReportDimension, readonly string[]>> = {
  outcome: ['counted', 'not_counted'],
  reason: ['', ...NOT_COUNTED_REASONS],
  impressionType: IMPRESSION_TYPES,
  format: ['', ...FORMATS],
  channel: ['', ...CHANNELS],
  method: ['', ...METHODS],
  notice: ['', ...NOTICE_KINDS],
  ivtRule: ['', ...IVT_RULES],
};

/**
 * Throws 400 for a filter value that could never match: a bad time, an `hour` not on a UTC hour,
 * a `day` not at a midnight (UTC's, or `timeZone`'s), a bad id or flag, a value its dimension
 * never holds (a misspelt `outcome=Counted` would answer a report of nothing, read as nothing to
 * bill). Returns the value to filter on: an `hour` or `day` as `toISOString` writes it (UTC), the
 * others as given.
 */
function checkFilter(dimension: ReportDimension, value: string, timeZone: string | undefined): string {
  const label = `${dimension}=${shown(value)}`;
  const fail = (what: string) => new ApiError(400, 'VALIDATION_FAILED', `${label}: ${what}`);
  if (timeZone !== undefined && (dimension === 'hour' || dimension === 'day')) {
    return new Date(localTimeFilterMs(dimension, value, label, timeZone)).toISOString();
  }
  if (dimension === 'hour' || dimension === 'day') {
    const ms = parseTimeMs(value, label);
    if (dimension === 'hour' && ms % HOUR_MS !== 0) {
      throw fail(
        'must be the start of a UTC hour (minutes and seconds zero), e.g. 2026-11-22T10:00:00Z: rows are by the UTC hour the impression was served',
      );
    }
    if (dimension === 'day' && ms % DAY_MS !== 0)
      throw fail(
        'must be the start of a UTC day, e.g. 2026-11-22 or 2026-11-22T00:00:00Z: days are UTC days',
      );
    return new Date(ms).toISOString();
  }
  if (NUMERIC_REPORT_DIMENSIONS.has(dimension)) {
    if (!/^\d+$/.test(value)) throw fail('must be a numeric id');
    // As the rows hold it: `05` names id 5, and would otherwise match no row.
    const id = Number(value);
    if (id > MAX_ID) throw fail('must be a numeric id of at most 2^53 - 1');
    return String(id);
  }
  if (dimension === 'cachebusterMissing' && value !== 'true' && value !== 'false')
    throw fail('must be true or false');
  if (dimension === 'vastError' && !new RegExp(REPORT_VAST_ERROR_PATTERN).test(value))
    throw fail('must be a VAST error code, 100 to 999 (or empty, for rows without one)');
  const values = FILTER_VALUES[dimension];
  if (values !== undefined && !values.includes(value)) {
    const named = values.filter((known) => known !== '').join(', ');
    const empty = values.includes('') ? ' (or empty, for rows without one)' : '';
    const output = dimension === 'format' ? '; format=csv or format=json chooses the output' : '';
    throw fail(`must be one of ${named}${empty}${output}`);
  }
  if (dimension === 'currency' && !new RegExp(REPORT_CURRENCY_PATTERN).test(value)) {
    throw fail(
      'must be an ISO 4217 code of three capital letters, e.g. USD (or empty, for rows without money)',
    );
  }
  return value;
}

/**
 * Refuses an `hour` or `day` filter (`params`' value, as {@link checkFilter} reads it into
 * `filters`) naming no hour of the window from `fromMs` up to `toMs`: its report has no rows,
 * which reads as nothing served then (a day filter on the `to` date, which is not included, is
 * the usual slip).
 */
function refuseTimeFilterOutside(
  params: URLSearchParams,
  filters: Partial<Record<ReportDimension, string>>,
  fromMs: number,
  toMs: number,
  timeZone: string | undefined,
): void {
  for (const dimension of ['hour', 'day'] as const) {
    const value = filters[dimension];
    if (value === undefined) continue;
    const startMs = Date.parse(value);
    const endMs = dimension === 'hour' ? startMs + HOUR_MS : nextDayStartMs(startMs, timeZone);
    if (startMs < toMs && endMs > fromMs) continue;
    const shownTime = (ms: number) => zonedIsoString(ms, timeZone).replace('.000', '');
    throw new ApiError(
      400,
      'VALIDATION_FAILED',
      `${dimension}=${shown(params.get(dimension))}: names no hour of the window, from ${shownTime(fromMs)} up to ${shownTime(toMs)} (to is not included): widen from and to, or filter on a time inside them`,
    );
  }
}

/** The first instant of the day after the one starting at `dayStartMs`: in `timeZone`, 23 to 25 hours on. */
function nextDayStartMs(dayStartMs: number, timeZone: string | undefined): number {
  if (timeZone === undefined) return dayStartMs + DAY_MS;
  const day = localDay(dayStartMs, offsetAtMs(timeZone, dayStartMs));
  // A day the zone skipped (Pacific/Apia's 2011-12-30) has no start: the next begins after it.
  return localMidnightMs(timeZone, day + 1) ?? localMidnightMs(timeZone, day + 2) ?? dayStartMs + DAY_MS;
}

/**
 * Epoch ms of an `hour` or `day` filter in `timeZone`: the start of one of its hours (in a zone
 * whose offset is whole hours, a UTC hour's), or the first instant of one of its days (a date
 * names its day).
 */
function localTimeFilterMs(
  dimension: 'hour' | 'day',
  value: string,
  label: string,
  timeZone: string,
): number {
  const ms = parseTimeMs(value, label, timeZone);
  const offsetMs = offsetAtMs(timeZone, ms);
  const fail = (what: string) => new ApiError(400, 'VALIDATION_FAILED', `${label}: ${what}`);
  if (dimension === 'hour') {
    if (ms % HOUR_MS !== 0) {
      const example = localTimeText(timeZone, ms - (ms % HOUR_MS));
      throw fail(
        `must be the start of an hour (minutes and seconds zero), e.g. ${example}: rows are by the hour the impression was served`,
      );
    }
    return ms;
  }
  const dayStartMs = localMidnightMs(timeZone, localDay(ms, offsetMs)) ?? ms;
  if (ms !== dayStartMs) {
    const example = localTimeText(timeZone, dayStartMs);
    throw fail(
      `must be the start of a day in ${timeZone}, e.g. ${example.slice(0, 10)} or ${example}: days are ${timeZone} days`,
    );
  }
  return ms;
}

/** `atMs` in `timeZone`'s local time with its offset, to the second: `2026-11-22T00:00:00-05:00`. */
function localTimeText(timeZone: string, atMs: number): string {
  return zonedIsoString(atMs, timeZone).replace('.000', '');
}

/**
 * Epoch ms of `from` or `to`, which must be the start of a UTC hour: the rollups are hourly. In a
 * time zone, a date is its midnight there, and the zone's offset at `from` must be whole hours
 * (at `to`, which the window does not include, only where `to` is off the hour: say why).
 */
function parseHourBound(value: string | null, name: 'from' | 'to', timeZone: string | undefined): number {
  if (value === null)
    throw new ApiError(400, 'VALIDATION_FAILED', `${name} is required: ${timeForms(timeZone)}`);
  const ms = parseTimeMs(value, name, timeZone);
  if (timeZone !== undefined) {
    // Asia/Kolkata's midnights (18:30 UTC) are no UTC hour starts: say why, not just "on the hour".
    // `to` is not in the window: its offset matters only where it puts `to` off the hour (the
    // window ending as Lord Howe goes back to +10:30 is all +11:00; the ledger checks its hours).
    const offsetMs = offsetAtMs(timeZone, ms);
    if (offsetMs % HOUR_MS !== 0 && (name === 'from' || ms % HOUR_MS !== 0))
      throw new ApiError(400, 'VALIDATION_FAILED', hourlyMisfitMessage(timeZone, { atMs: ms, offsetMs }));
    if (ms % HOUR_MS !== 0) {
      const earlierMs = ms - (ms % HOUR_MS);
      // The example is a bound that is taken: for a from whose hour before is at an offset off
      // whole hours (Lord Howe's 01:30, +10:30, before its clocks go on from 02:00 to 02:30,
      // +11:00), the hour after (03:00, +11:00).
      const exampleMs =
        name === 'from' && offsetAtMs(timeZone, earlierMs) % HOUR_MS !== 0
          ? earlierMs + HOUR_MS
          : onTheHourExampleMs(ms, name === 'from' ? 'start' : 'end');
      throw new ApiError(
        400,
        'VALIDATION_FAILED',
        `${name} must be on the hour (the time it names, its offset applied, has minutes and seconds zero), e.g. ${localTimeText(timeZone, exampleMs)}: reports are by the hour the impression was served`,
      );
    }
    return ms;
  }
  if (ms % HOUR_MS !== 0) {
    const exampleMs = onTheHourExampleMs(ms, name === 'from' ? 'start' : 'end');
    const example = new Date(exampleMs).toISOString().replace('.000', '');
    throw new ApiError(
      400,
      'VALIDATION_FAILED',
      `${name} must be on the hour in UTC (the time it names, its offset applied, has minutes and seconds zero), e.g. ${example}: reports are by the UTC hour the impression was served`,
    );
  }
  return ms;
}
