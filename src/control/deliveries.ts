import { headerText } from '../lib/header-text.js';
import { shown } from '../lib/shown.js';
import type { DeliveryStatus, Ledger } from '../ports/ledger.js';
import { DELIVERY_STATUSES } from '../ports/ledger.js';
import { requireAccountWide } from './auth.js';
import type { Route } from './router.js';
import { ApiError } from './api-error.js';
import { sendJson } from './send.js';
import { pageOf } from './catalog/paging.js';
import { readIdFilter, readPageParameters, readTimeWindow, refuseUnknownOrRepeated } from './query.js';
import { readImpressionKey } from '../domain/impression-key.js';
import { withoutCredentials } from '../domain/url-credentials.js';

/** The query parameters `GET /v1/deliveries` reads; any other is refused. */
const PARAMETERS = new Set(['status', 'auctionId', 'seat', 'from', 'to', 'limit', 'after']);

/**
 * `GET /v1/deliveries?status=pending|delivered|dead|redirected&auctionId=&seat=&from=&to=&limit=&after=`:
 * the burl outbox, newest first, each delivery with the ids of the impression it bills (read from
 * its dedupe key) and its URL and last error without any user name or password; `auctionId` and
 * `seat` pick one auction's or one DSP seat's, `from` and `to` (RFC 3339, `to` exclusive) bound
 * when its impression counted.
 */
export function deliveryRoutes(ledger: Ledger): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/deliveries',
      readsQuery: true,
      handler(ctx) {
        requireAccountWide(ctx.principal, 'editor');
        refuseUnknownOrRepeated(ctx.url.searchParams, PARAMETERS, `use ${[...PARAMETERS].join(', ')}`);
        const status = ctx.url.searchParams.get('status') ?? undefined;
        if (status !== undefined && !DELIVERY_STATUSES.includes(status as DeliveryStatus)) {
          throw new ApiError(
            400,
            'VALIDATION_FAILED',
            `status must be one of ${DELIVERY_STATUSES.join(', ')}, not ${shown(status)}`,
          );
        }
        const { limit, afterId } = readPageParameters(ctx.url.searchParams, 100, 1000);
        const auctionId = readIdFilter(ctx.url.searchParams, 'auctionId', 'an auction id (BidRequest.id)');
        const seat = readIdFilter(ctx.url.searchParams, 'seat', 'a seat id (SeatBid.seat)');
        const window = readTimeWindow(ctx.url.searchParams);
        // One row more than the page: `next` only when another page follows.
        const rows = ledger.listDeliveries(
          ctx.principal.accountId,
          status as DeliveryStatus | undefined,
          limit + 1,
          {
            afterId,
            auctionId,
            seat,
            createdFromMs: window.fromMs,
            createdToMs: window.toMs,
          },
        );
        const { items: deliveries, next } = pageOf(rows, limit, (row) => {
          // A burl's user name and password are the DSP's secret, kept to call it, never shown
          // (nor in a last error an older Tally kept with them).
          const delivery = {
            ...row,
            url: withoutCredentials(row.url),
            lastError: withoutCredentials(row.lastError),
            userAgent: headerText(row.userAgent),
          };
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
