/** The statements listing an account's deliveries newest first, for `Ledger.listDeliveries`. */
import type { DeliveryFilter, DeliveryStatus } from '../../ports/ledger.js';
import { DELIVERY_STATUSES } from '../../ports/ledger.js';

/** The ids `[lowId, endId)` of the deliveries queued in a filter's window of time. */
interface DeliveryIdRange {
  lowId: number;
  endId: number;
}

/** A statement and the values of its parameters, in order. */
interface DeliveryListQuery {
  sql: string;
  parameters: (number | string)[];
}

/**
 * The statement reading up to `limit` of an account's deliveries newest first, those of `status`
 * (any without one) that `filter` picks but for its auction (read through the dedupe keys' index
 * instead): one statement per shape, so that each finds its rows through an index of its own, the
 * account's (`account_id, id`), its statuses' (`account_id, status, id`) or its seats' (`account_id,
 * seat, status, id`: a seat's deliveries of any status are read status by status, each newest
 * first, `limit` at most of each, and merged). A window of time is read as the range of ids `ids`
 * (see `firstIdFrom`), the times then checked row by row.
 */
export function deliveryListQuery(
  accountId: number,
  status: DeliveryStatus | undefined,
  limit: number,
  filter: DeliveryFilter,
  ids: DeliveryIdRange | undefined,
): DeliveryListQuery {
  const select = (statusPicked: DeliveryStatus | undefined): DeliveryListQuery => {
    const where = ['account_id = ?'];
    const parameters: (number | string)[] = [accountId];
    if (filter.seat !== undefined) {
      where.push('seat = ?');
      parameters.push(filter.seat);
    }
    if (statusPicked !== undefined) {
      where.push('status = ?');
      parameters.push(statusPicked);
    }
    where.push('id < ?');
    parameters.push(filter.afterId ?? Number.MAX_SAFE_INTEGER);
    if (ids !== undefined) {
      where.push('id >= ? AND id < ? AND created_ms >= ? AND created_ms < ?');
      parameters.push(
        ids.lowId,
        ids.endId,
        filter.createdFromMs ?? Number.MIN_SAFE_INTEGER,
        filter.createdToMs ?? Number.MAX_SAFE_INTEGER,
      );
    }
    // Named: SQLite would read a window of time through the account's index instead, every status
    // and seat of the window.
    const from =
      filter.seat !== undefined
        ? 'deliveries INDEXED BY deliveries_account_seat'
        : statusPicked !== undefined
          ? 'deliveries INDEXED BY deliveries_account_status'
          : 'deliveries';
    return {
      sql: `SELECT * FROM ${from} WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`,
      parameters: [...parameters, limit],
    };
  };
  if (filter.seat === undefined || status !== undefined) return select(status);
  const byStatus = DELIVERY_STATUSES.map(select);
  return {
    sql: `${byStatus.map((query) => `SELECT * FROM (${query.sql})`).join(' UNION ALL ')} ORDER BY id DESC LIMIT ?`,
    parameters: [...byStatus.flatMap((query) => query.parameters), limit],
  };
}
