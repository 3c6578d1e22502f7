import type { DeliveryStatus, Ledger } from '../ports/ledger.js';
import { DELIVERY_STATUSES } from '../ports/ledger.js';
import { requireRole, requireUnscoped } from './auth.js';
import type { Route } from './http.js';
import { ApiError, sendJson } from './http.js';
import { AFTER_PROBLEM, afterCursor, pageOf } from './catalog/paging.js';
import { refuseUnknownOrRepeated } from './query.js';
import { readImpressionKey } from '../domain/impression-key.js';
import { parseTimeMs } from './query-time.js';

/** The query parameters `GET /v1/deliveries` reads; any other is refused. */
const PARAMETERS = new Set(['status', 'auctionId', 'from', 'to', 'limit', 'after']);

/**
 * `GET /v1/deliveries?status=pending|delivered|dead|redirected&auctionId=&from=&to=&limit=&after=`:
 * the burl outbox, newest first, each delivery with the ids of the impression it bills (read from
 * its dedupe key); `from` and `to` (RFC 3339, `to` exclusive) bound when its impression counted.
 */
export function deliveryRoutes(ledger: Ledger): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/deliveries',
      handler(ctx) {
        requireRole(ctx.principal, 'editor');
        requireUnscoped(ctx.principal);
        refuseUnknownOrRepeated(ctx.url.searchParams, PARAMETERS, `use ${[...PARAMETERS].join(', ')}`);
        const status = ctx.url.searchParams.get('status') ?? undefined;
        if (status !== undefined && !DELIVERY_STATUSES.includes(status as DeliveryStatus)) {
          throw new ApiError(
            400,
            'VALIDATION_FAILED',
            `status must be one of ${DELIVERY_STATUSES.join(', ')}`,
          );
        }
        const limitText = ctx.url.searchParams.get('limit') ?? '100';
        const limit = Number(limitText);
        if (!/^\d{1,4}$/.test(limitText) || limit < 1 || limit > 1000) {
          throw new ApiError(400, 'VALIDATION_FAILED', 'limit must be an integer from 1 to 1000');
        }
        const afterText = ctx.url.searchParams.get('after');
        const after = afterText === null ? undefined : afterCursor(afterText);
        if (afterText !== null && after === undefined)
          throw new ApiError(400, 'VALIDATION_FAILED', AFTER_PROBLEM);
        const auctionId = ctx.url.searchParams.get('auctionId') ?? undefined;
        if (auctionId === '')
          throw new ApiError(400, 'VALIDATION_FAILED', 'auctionId must be an auction id (BidRequest.id)');
        const fromText = ctx.url.searchParams.get('from');
        const toText = ctx.url.searchParams.get('to');
        const createdFromMs = fromText === null ? undefined : parseTimeMs(fromText, 'from');
        const createdToMs = toText === null ? undefined : parseTimeMs(toText, 'to');
        if (createdFromMs !== undefined && createdToMs !== undefined && createdFromMs >= createdToMs)
          throw new ApiError(400, 'VALIDATION_FAILED', 'from must be before to');
        // One row more than the page: `next` only when another page follows.
        const rows = ledger.listDeliveries(
          ctx.principal.accountId,
          status as DeliveryStatus | undefined,
          limit + 1,
          {
            afterId: after,
            auctionId,
            createdFromMs,
            createdToMs,
          },
        );
        const { items: deliveries, next } = pageOf(rows, limit, (delivery) => {
          const ids = readImpressionKey(delivery.dedupeKey);
          return ids === undefined
            ? delivery
            : { ...delivery, auctionId: ids.auctionId, impId: ids.impId, bidId: ids.bidId, seat: ids.seat };
        });
        sendJson(ctx.res, 200, { deliveries, next }, ctx.requestId);
      },
    },
  ];
}
