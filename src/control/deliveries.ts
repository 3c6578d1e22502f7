import type { DeliveryStatus, Ledger } from '../ports/ledger.js';
import { DELIVERY_STATUSES } from '../ports/ledger.js';
import { requireRole, requireUnscoped } from './auth.js';
import type { Route } from './http.js';
import { ApiError, sendJson } from './http.js';
import { AFTER_PROBLEM, afterCursor, pageOf } from './catalog/paging.js';
import { refuseUnknownOrRepeated } from './query.js';

/** The query parameters `GET /v1/deliveries` reads; any other is refused. */
const PARAMETERS = new Set(['status', 'limit', 'after']);

/** `GET /v1/deliveries?status=pending|delivered|dead&limit=&after=`: the burl outbox, newest first. */
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
        // One row more than the page: `next` only when another page follows.
        const rows = ledger.listDeliveries(
          ctx.principal.accountId,
          status as DeliveryStatus | undefined,
          limit + 1,
          after,
        );
        const { items: deliveries, next } = pageOf(rows, limit, (delivery) => delivery);
        sendJson(ctx.res, 200, { deliveries, next }, ctx.requestId);
      },
    },
  ];
}
