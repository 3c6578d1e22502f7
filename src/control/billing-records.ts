import { shown } from '../lib/shown.js';
import type {
  BillingRecord,
  BillingRecordPage,
  BillingRecordQuery,
  ImpressionType,
} from '../ports/ledger.js';
import { IMPRESSION_TYPES } from '../ports/ledger.js';
import { requireAccountWide } from './auth.js';
import type { Route } from './router.js';
import { ApiError } from './api-error.js';
import { sendJson } from './send.js';
import { OUTPUT_FORMATS, wantsCsv } from './accept.js';
import { csvText } from './csv.js';
import {
  readCatalogIdFilter,
  readIdFilter,
  readPageParameters,
  readTimeWindow,
  refuseUnknownOrRepeated,
} from './query.js';
import { onTheHourExampleMs, parseTimeZone } from './query-time.js';
import { MAX_CLOCK_SKEW_MS } from '../domain/win-parse.js';
import { HOUR_MS } from '../lib/time.js';
import { offsetAtMs, offsetText, zonedIsoString } from '../lib/time-zone.js';
import type { BillingRecordSource } from './report-thread/report-thread.js';
import { readFailureAnswer } from './read-failure.js';
import { unknownIdWarnings } from './report-id-warnings.js';
import type { KnownIds } from './unknown-ids.js';
import { warningsHeader } from './unknown-ids.js';
import { callerGone } from './caller-gone.js';

/** The query parameters `GET /v1/billing-records` reads; any other is refused. */
const PARAMETERS = new Set([
  'from',
  'to',
  'servedFrom',
  'servedTo',
  'tz',
  'seat',
  'auctionId',
  'impressionType',
  'publisherId',
  'publisher',
  'limit',
  'after',
  'format',
]);

/** A record's fields in the order JSON and CSV write them. */
const BILLING_RECORD_COLUMNS = [
  'id',
  'countedAt',
  'servedHour',
  'impressionType',
  'notice',
  'method',
  'format',
  'channel',
  'auctionId',
  'impId',
  'bidId',
  'seat',
  'publisher',
  'currency',
  'priceMicros',
  'deliveryStatus',
  'trackerId',
  'advertiserId',
  'lineItemId',
  'publisherId',
  'placementId',
  'paymentRuleId',
  'mediaCostMicros',
  'revenueMicros',
] as const;
type RecordJson = Record<(typeof BILLING_RECORD_COLUMNS)[number], string | number | null>;
const DEFAULT_LIMIT = 100;
/** A query's time given as a date alone, `2026-12-03`: its midnight in `tz`. */
const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const MAX_LIMIT = 1000;

/**
 * `GET /v1/billing-records`: the account's billing records, one per counted impression or click,
 * oldest first, for reconciling what was billed impression by impression (with a DSP, by auction,
 * impression and bid id). `servedFrom` and `servedTo` pick the impressions served in a window of
 * hours, the rows a report over it adds up, read from the ledger's rows counted from when their
 * auction may have been ahead of Tally's clock to `ttlCeilingMs` (the longest TTL the ledger's
 * servers started with: `raiseTtlCeiling`) after the window; `from` and `to` bound when each
 * counted; `tz` reads their dates and writes the answer's times; `seat`, `auctionId` and
 * `impressionType` pick a seat's, an auction's or a kind's records; `publisherId` and `publisher` a
 * publisher's, by its catalog or OpenRTB id, each resolved as a report's dimension of that name is
 * (the records a publisher's scoped key is shown in reports are those of its `publisherId`;
 * `publisher=` empty, those of no OpenRTB publisher id), and a `publisherId` the key knows no
 * publisher by (`known`) is warned of as in a report (`warnings`, `X-Tally-Warnings`). A
 * page reads a bounded run of the ledger, so it may hold fewer records than `limit`, or none, and
 * still have a `next`: read on until `next` is null (in CSV, `format=csv` or `Accept: text/csv`,
 * the next page is the `Link` header's `rel="next"`, given in JSON too). Account-wide keys of any
 * role.
 */
export function billingRecordRoutes(
  source: BillingRecordSource,
  ttlCeilingMs: number,
  known: KnownIds,
): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/billing-records',
      readsQuery: true,
      answers: ['text/csv'],
      async handler(ctx) {
        requireAccountWide(ctx.principal, 'reader');
        const params = ctx.url.searchParams;
        refuseUnknownOrRepeated(params, PARAMETERS, `use ${[...PARAMETERS].join(', ')}`);
        const { limit, afterId } = readPageParameters(params, DEFAULT_LIMIT, MAX_LIMIT);
        const timeZone = parseTimeZone(params.get('tz'));
        const counted = readTimeWindow(params, timeZone);
        const served = readTimeWindow(params, timeZone, ['servedFrom', 'servedTo']);
        for (const [name, ms] of [
          ['servedFrom', served.fromMs],
          ['servedTo', served.toMs],
        ] as const) {
          if (ms !== undefined) refuseOffHour(name, params.get(name) ?? '', ms, timeZone);
        }
        const seat = readIdFilter(params, 'seat', 'a seat id (SeatBid.seat)');
        const auctionId = readIdFilter(params, 'auctionId', 'an auction id (BidRequest.id)');
        const publisherId = readCatalogIdFilter(params, 'publisherId');
        // Empty, as a report's filter: the records of no OpenRTB publisher id (`publisher` null).
        const publisher = params.get('publisher') ?? undefined;
        const warnings =
          publisherId === undefined
            ? []
            : unknownIdWarnings({ publisherId: String(publisherId) }, ctx.principal, known);
        if (warnings.length > 0) ctx.res.setHeader('X-Tally-Warnings', warningsHeader(warnings));
        const format = params.get('format');
        if (format !== null && !OUTPUT_FORMATS.has(format))
          throw new ApiError(400, 'VALIDATION_FAILED', `format must be csv or json, not ${shown(format)}`);
        const impressionType = params.get('impressionType') ?? undefined;
        if (impressionType !== undefined && !IMPRESSION_TYPES.includes(impressionType as ImpressionType)) {
          throw new ApiError(
            400,
            'VALIDATION_FAILED',
            `impressionType must be one of ${IMPRESSION_TYPES.join(', ')}, not ${shown(impressionType)}`,
          );
        }
        const abandoned = callerGone(ctx.res);
        const page = await readPage(source, abandoned, {
          accountId: ctx.principal.accountId,
          afterId,
          // The impressions served in a window counted from when their auction may have been
          // ahead of Tally's clock to when the TTL ceiling ends after it.
          countedFromMs: narrowed(counted.fromMs, served.fromMs, -MAX_CLOCK_SKEW_MS, Math.max),
          countedToMs: narrowed(counted.toMs, served.toMs, ttlCeilingMs, Math.min),
          servedFromMs: served.fromMs,
          servedToMs: served.toMs,
          seat,
          auctionId,
          impressionType: impressionType as ImpressionType | undefined,
          publisherId,
          publisher,
          limit,
        });
        // Its caller went away while it waited: there is nobody to answer, and nothing failed.
        if (page === undefined) return;
        const records = page.records.map((record) => recordJson(record, timeZone));
        if (page.nextAfterId !== null) {
          const next = new URLSearchParams(params);
          next.set('after', String(page.nextAfterId));
          ctx.res.setHeader('Link', `<${ctx.url.pathname}?${next.toString()}>; rel="next"`);
        }
        if (!wantsCsv(params, ctx.req.headers.accept)) {
          sendJson(ctx.res, 200, { records, next: page.nextAfterId, warnings }, ctx.requestId);
          return;
        }
        const body = Buffer.from(csvText(BILLING_RECORD_COLUMNS, records));
        ctx.res.writeHead(200, {
          'Content-Type': 'text/csv; charset=utf-8',
          'Content-Disposition': `attachment; filename="${csvFileName(page.records)}"`,
          'Content-Length': body.byteLength,
          'Cache-Control': 'no-store',
          'X-Request-Id': ctx.requestId,
        });
        ctx.res.end(body);
      },
    },
  ];
}

/**
 * Refuses (400 `VALIDATION_FAILED`) a served bound, `name=text` read as `ms`, that is not on a UTC
 * hour: records are by the UTC hour the impression was served. The refusal says what to send for
 * what was sent, an hour as an example (see `onTheHourExampleMs`; in `timeZone`'s local time where
 * that is on a UTC hour too); it names the zone only where `text` is a date whose midnight in
 * `timeZone` is on no UTC hour (a zone not a whole number of hours off UTC, Asia/Kolkata's +05:30).
 */
function refuseOffHour(
  name: 'servedFrom' | 'servedTo',
  text: string,
  ms: number,
  timeZone: string | undefined,
): void {
  if (ms % HOUR_MS === 0) return;
  const hourMs = onTheHourExampleMs(ms, name === 'servedFrom' ? 'start' : 'end');
  const reason = 'records are by the UTC hour the impression was served, as reports are';
  const utcExample = new Date(hourMs).toISOString().replace('.000Z', 'Z');
  if (timeZone !== undefined && DATE_PATTERN.test(text)) {
    const offset = offsetText(offsetAtMs(timeZone, ms));
    const utc = new Date(ms).toISOString().replace('.000Z', 'Z');
    throw new ApiError(
      400,
      'VALIDATION_FAILED',
      `${name}=${text} is 00:00 in ${timeZone}, ${utc}, on no UTC hour: tz=${timeZone} is ${offset} from UTC then, not a whole number of hours, and ${reason}; give ${name} as a date-time on the hour, e.g. ${utcExample}`,
    );
  }
  const local = timeZone !== undefined && offsetAtMs(timeZone, hourMs) % HOUR_MS === 0;
  const example = local ? zonedIsoString(hourMs, timeZone).replace('.000', '') : utcExample;
  throw new ApiError(
    400,
    'VALIDATION_FAILED',
    `${name} must be on the hour${local ? '' : ' in UTC'} (the time it names, its offset applied, has minutes and seconds zero), e.g. ${example}: ${reason}`,
  );
}

/** The name a CSV page is saved under: the ids it holds, so that the pages of a window keep apart. */
function csvFileName(records: readonly BillingRecord[]): string {
  const [first] = records;
  const last = records.at(-1);
  return first === undefined || last === undefined
    ? 'tally-billing-records-none.csv'
    : `tally-billing-records-${first.id}-${last.id}.csv`;
}

/**
 * A page from `source`; none when its caller went away (`abandoned`) before it was read; or 503
 * when it could not be read (a failure worth retrying, logged with its cause) or too many reads
 * wait already (saying so).
 */
async function readPage(
  source: BillingRecordSource,
  abandoned: AbortSignal,
  query: BillingRecordQuery,
): Promise<BillingRecordPage | undefined> {
  try {
    return await source.billingRecords(query, abandoned);
  } catch (error) {
    const failure = readFailureAnswer(error, 'the billing records could not be read just now; retry');
    if (failure === undefined) return undefined;
    throw failure;
  }
}

/** A billing record as the API writes it: times in RFC 3339, in `timeZone`'s offset (UTC without one). */
function recordJson(record: BillingRecord, timeZone: string | undefined): RecordJson {
  const { id, countedMs, servedHourMs, ...rest } = record;
  return {
    id,
    countedAt: zonedIsoString(countedMs, timeZone),
    servedHour: zonedIsoString(servedHourMs, timeZone),
    ...rest,
  };
}

/**
 * A count window's `bound` narrowed to a served window's edge moved by `shiftMs` (`pick`: `Math.max`
 * for a start, `Math.min` for an end); either may be absent.
 */
function narrowed(
  bound: number | undefined,
  servedMs: number | undefined,
  shiftMs: number,
  pick: (a: number, b: number) => number,
): number | undefined {
  if (servedMs === undefined) return bound;
  return bound === undefined ? servedMs + shiftMs : pick(bound, servedMs + shiftMs);
}
