import type { BillingRecord, ImpressionType, Ledger } from '../ports/ledger.js';
import { IMPRESSION_TYPES } from '../ports/ledger.js';
import { requireUnscoped } from './auth.js';
import type { Route } from './http.js';
import { ApiError, sendJson } from './http.js';
import { readPageParameters, readTimeWindow, refuseUnknownOrRepeated } from './query.js';

/** The query parameters `GET /v1/billing-records` reads; any other is refused. */
const PARAMETERS = new Set(['from', 'to', 'seat', 'impressionType', 'limit', 'after']);
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/**
 * `GET /v1/billing-records?from=&to=&seat=&impressionType=&limit=&after=`: the account's billing
 * records, one per counted impression or click, oldest first, for reconciling what was billed
 * impression by impression (with a DSP, by auction, impression and bid id). `from` and `to`
 * (RFC 3339, `to` exclusive) bound when each counted. A page reads a bounded run of the ledger, so
 * it may hold fewer records than `limit`, or none, and still have a `next`: read on until `next`
 * is null. Account-wide keys of any role.
 */
export function billingRecordRoutes(ledger: Ledger): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/billing-records',
      handler(ctx) {
        requireUnscoped(ctx.principal);
        const params = ctx.url.searchParams;
        refuseUnknownOrRepeated(params, PARAMETERS, `use ${[...PARAMETERS].join(', ')}`);
        const { limit, afterId } = readPageParameters(params, DEFAULT_LIMIT, MAX_LIMIT);
        const window = readTimeWindow(params);
        const seat = params.get('seat') ?? undefined;
        if (seat === '')
          throw new ApiError(400, 'VALIDATION_FAILED', 'seat must be a seat id (SeatBid.seat)');
        const impressionType = params.get('impressionType') ?? undefined;
        if (impressionType !== undefined && !IMPRESSION_TYPES.includes(impressionType as ImpressionType)) {
          throw new ApiError(
            400,
            'VALIDATION_FAILED',
            `impressionType must be one of ${IMPRESSION_TYPES.join(', ')}`,
          );
        }
        const page = ledger.listBillingRecords({
          accountId: ctx.principal.accountId,
          afterId,
          countedFromMs: window.fromMs,
          countedToMs: window.toMs,
          seat,
          impressionType: impressionType as ImpressionType | undefined,
          limit,
        });
        sendJson(
          ctx.res,
          200,
          { records: page.records.map(recordJson), next: page.nextAfterId },
          ctx.requestId,
        );
      },
    },
  ];
}

/** A billing record as the API writes it: times in RFC 3339 (UTC). */
function recordJson(record: BillingRecord): Record<string, unknown> {
  const { id, countedMs, servedHourMs, ...rest } = record;
  return {
    id,
    countedAt: new Date(countedMs).toISOString(),
    servedHour: new Date(servedHourMs).toISOString(),
    ...rest,
  };
}
