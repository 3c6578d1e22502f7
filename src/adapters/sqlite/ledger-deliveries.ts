/** The deliveries as their owners see them: listed, counted, and the dead ones found and replayed. */
import type Database from 'better-sqlite3';
import { callsHost } from '../../domain/delivery-host.js';
import { auctionKeyEnd, auctionKeyStart } from '../../domain/impression-key.js';
import type {
  DeadDelivery,
  DeadDeliveryFilter,
  Delivery,
  DeliveryFilter,
  DeliveryStatus,
} from '../../ports/ledger.js';
import { DELIVERY_STATUSES } from '../../ports/ledger.js';
import { deliveryListQuery } from './delivery-list.js';
import type { DeliveryRow } from './delivery-row.js';
import { toDelivery } from './delivery-row.js';
import { CLOCK_STEP_MARGIN_MS, firstIdFrom } from './id-window.js';

/**
 * The ledger's deliveries for the API, the CLI and the metrics: an account's listed newest first,
 * those of each status counted, and the dead ones found and made pending again.
 */
export class LedgerDeliveries {
  /** An auction's deliveries, status or not, newest first: a range of the dedupe keys' index. */
  private readonly deliveriesOfAuction: Database.Statement;
  /** How many deliveries have a status: a range of the (status, due_ms) index, no other row read. */
  private readonly deliveriesWithStatus: Database.Statement;
  /**
   * Makes a delivery pending again if it is still dead with the first failure read: a seek on its
   * id. (A join of the ids read with the dead deliveries walked every dead one for each id.)
   */
  private readonly replayOne: Database.Statement;
  /** Runs `replayOne` for each delivery, in one transaction; answers how many it replayed. */
  private readonly replayBatch: Database.Transaction<
    (deliveries: readonly DeadDelivery[], nowMs: number, deadlineMs: number) => number
  >;

  constructor(private readonly db: Database.Database) {
    this.deliveriesOfAuction = db.prepare(
      // `+`: no index on the account or the id, whose ranges hold every delivery of the account.
      `SELECT * FROM deliveries WHERE dedupe_key >= ? AND dedupe_key < ? AND +account_id = ?
         AND (? IS NULL OR status = ?) AND (? IS NULL OR seat = ?) AND +id < ? AND created_ms >= ? AND created_ms < ?
         ORDER BY +id DESC LIMIT ?`,
    );
    this.deliveriesWithStatus = db.prepare('SELECT COUNT(*) FROM deliveries WHERE status = ?').pluck();
    this.replayOne = db.prepare(
      `UPDATE deliveries SET status = 'pending', due_ms = @nowMs, deadline_ms = @deadlineMs, attempts = 0,
         first_failed_ms = NULL, lease_until_ms = 0
       WHERE id = @id AND status = 'dead' AND first_failed_ms IS @firstFailedMs`,
    );
    this.replayBatch = db.transaction(
      (deliveries: readonly DeadDelivery[], nowMs: number, deadlineMs: number) => {
        let replayed = 0;
        for (const { id, firstFailedMs } of deliveries)
          replayed += this.replayOne.run({ nowMs, deadlineMs, id, firstFailedMs }).changes;
        return replayed;
      },
    );
  }

  /**
   * The SQL of a statement whose query plan the tests check against the index it is written for
   * (`EXPLAIN QUERY PLAN`), as prepared.
   */
  sqlOf(statement: 'deliveriesOfAuction' | 'deliveriesWithStatus' | 'replayOne'): string {
    return this[statement].source;
  }

  listDeliveries(
    accountId: number,
    status: DeliveryStatus | undefined,
    limit: number,
    filter: DeliveryFilter = {},
  ): Delivery[] {
    const before = filter.afterId ?? Number.MAX_SAFE_INTEGER;
    const fromMs = filter.createdFromMs ?? Number.MIN_SAFE_INTEGER;
    const toMs = filter.createdToMs ?? Number.MAX_SAFE_INTEGER;
    if (filter.auctionId !== undefined) {
      // An auction's few deliveries, through the dedupe key's index: its keys share their start.
      const rows = this.deliveriesOfAuction.all(
        auctionKeyStart(accountId, filter.auctionId),
        auctionKeyEnd(accountId, filter.auctionId),
        accountId,
        status ?? null,
        status ?? null,
        filter.seat ?? null,
        filter.seat ?? null,
        before,
        fromMs,
        toMs,
        limit,
      ) as DeliveryRow[];
      return rows.map(toDelivery);
    }
    // A window of time is a range of ids, found without a time index (see `firstDeliveryIdFrom`).
    const ids =
      filter.createdFromMs === undefined && filter.createdToMs === undefined
        ? undefined
        : {
            lowId:
              filter.createdFromMs === undefined
                ? 0
                : this.firstDeliveryIdFrom(fromMs - CLOCK_STEP_MARGIN_MS),
            endId:
              filter.createdToMs === undefined
                ? before
                : this.firstDeliveryIdFrom(toMs + CLOCK_STEP_MARGIN_MS),
          };
    const { sql, parameters } = deliveryListQuery(accountId, status, limit, filter, ids);
    const rows = this.db.prepare(sql).all(...parameters) as DeliveryRow[];
    return rows.map(toDelivery);
  }

  /**
   * The id of the first delivery queued at or after `ms`, or one past the last when none was:
   * deliveries are queued as their notices are recorded, in the order received, so ids grow with
   * `created_ms` (a clock stepped back breaks the order: {@link CLOCK_STEP_MARGIN_MS} allows for
   * that).
   */
  private firstDeliveryIdFrom(ms: number): number {
    return firstIdFrom(this.db, 'deliveries', 'created_ms', ms).firstId;
  }

  /** See {@link Ledger.deadDeliveries}. */
  deadDeliveries(filter: DeadDeliveryFilter = {}): DeadDelivery[] {
    const where = ["status = 'dead'"];
    const params: (number | string)[] = [];
    if (filter.accountId !== undefined) {
      where.push('account_id = ?');
      params.push(filter.accountId);
    }
    if (filter.createdFromMs !== undefined) {
      where.push('created_ms >= ?');
      params.push(filter.createdFromMs);
    }
    if (filter.createdToMs !== undefined) {
      where.push('created_ms < ?');
      params.push(filter.createdToMs);
    }
    const { host } = filter;
    if (host === undefined) {
      return this.db
        .prepare(
          `SELECT id, first_failed_ms AS firstFailedMs FROM deliveries WHERE ${where.join(' AND ')} ORDER BY id`,
        )
        .all(...params) as DeadDelivery[];
    }
    // The host as URL parsing reads each burl, which SQL cannot: `127.1` is 127.0.0.1. Read a row
    // at a time, keeping only the ids and first failures.
    const dead: DeadDelivery[] = [];
    const rows = this.db
      .prepare(`SELECT id, first_failed_ms, url FROM deliveries WHERE ${where.join(' AND ')} ORDER BY id`)
      .raw()
      .iterate(...params) as IterableIterator<[number, number | null, string]>;
    for (const [id, firstFailedMs, url] of rows) if (callsHost(url, host)) dead.push({ id, firstFailedMs });
    return dead;
  }

  replayDead(deliveries: readonly DeadDelivery[], nowMs: number, deadlineMs: number): number {
    return this.replayBatch(deliveries, nowMs, deadlineMs);
  }

  countDeliveries(): Record<DeliveryStatus, number> {
    return Object.fromEntries(
      DELIVERY_STATUSES.map((status) => [status, this.countDeliveriesWith(status)]),
    ) as Record<DeliveryStatus, number>;
  }

  countDeliveriesWith(status: DeliveryStatus): number {
    return this.deliveriesWithStatus.get(status) as number;
  }

  oldestPendingCreatedMs(): number | undefined {
    // Ids grow as deliveries are stored: the least pending one is the oldest. Each account's is one
    // seek in its (account, status, id) index, the accounts found by a seek each in theirs; the
    // least pending id of all, read from the status index, would read every pending delivery.
    const createdMs = this.db
      .prepare(
        `WITH RECURSIVE account(id) AS (
           SELECT MIN(account_id) FROM deliveries
           UNION ALL
           SELECT (SELECT MIN(account_id) FROM deliveries WHERE account_id > account.id) FROM account
             WHERE account.id IS NOT NULL
         )
         SELECT created_ms FROM deliveries WHERE id = (
           SELECT MIN((SELECT MIN(id) FROM deliveries WHERE account_id = account.id AND status = 'pending'))
             FROM account
         )`,
      )
      .pluck()
      .get() as number | undefined;
    return createdMs;
  }
}
