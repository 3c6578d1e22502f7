/** Reading an account's billing records (its counted events) page by page, for `Ledger.listBillingRecords`. */
import type Database from 'better-sqlite3';
import type {
  BillingRecord,
  BillingRecordPage,
  BillingRecordQuery,
  DeliveryStatus,
  ImpressionType,
} from '../../ports/ledger.js';
import { CLOCK_STEP_MARGIN_MS, firstIdFrom, idBoundsSql } from './id-window.js';
import { catalogPublisherIdSql, openRtbPublisherSql } from './publisher-sql.js';

/**
 * The most event ids one call reads through, whatever it finds there: about 30 ms of the report
 * thread that runs it at most (measured on 1 M rows), however sparse the account's records are
 * among the rows.
 */
export const MAX_SCANNED_IDS = 250_000;

interface RecordRow {
  id: number;
  received_ms: number;
  served_hour_ms: number;
  auction_id: string;
  imp_id: string;
  bid_id: string;
  price_micros: number;
  media_cost_micros: number;
  revenue_micros: number;
  impression_type: ImpressionType;
  kind: string;
  format: string;
  channel: string;
  method: string;
  seat: string;
  /** The OpenRTB publisher id, '' for none (see `openRtbPublisherSql`). */
  publisher: string;
  currency: string;
  advertiser_id: number;
  /** The catalog publisher, 0 for none (see `catalogPublisherIdSql`). */
  publisher_id: number;
  line_item_id: number;
  tracker_id: number;
  placement_id: number;
  payment_rule_id: number;
  delivery_status: DeliveryStatus | null;
}

/**
 * A page of `query.accountId`'s billing records, oldest first, from ids in `[first, first +
 * MAX_SCANNED_IDS)`, where `first` follows `afterId` and the window's start. The window of count
 * times is a range of ids (see `firstIdFrom`), each row's time then checked; the rows are read in
 * id order, each joined to its dimensions (`CROSS JOIN` keeps SQLite from driving the join from
 * the dimensions, which would visit every row of the account) and to its burl delivery, found by
 * the impression's key.
 */
export function readBillingRecords(db: Database.Database, query: BillingRecordQuery): BillingRecordPage {
  const fromMs = query.countedFromMs ?? Number.MIN_SAFE_INTEGER;
  const toMs = query.countedToMs ?? Number.MAX_SAFE_INTEGER;
  const windowStartId =
    query.countedFromMs === undefined
      ? 0
      : firstIdFrom(db, 'event_rows', 'received_ms', fromMs - CLOCK_STEP_MARGIN_MS).firstId;
  const windowEndId =
    query.countedToMs === undefined
      ? ((db.prepare(idBoundsSql('event_rows')).get() as { high: number | null }).high ?? 0) + 1
      : firstIdFrom(db, 'event_rows', 'received_ms', toMs + CLOCK_STEP_MARGIN_MS).firstId;
  const startId = Math.max(windowStartId, (query.afterId ?? 0) + 1);
  const scanEndId = Math.min(windowEndId, startId + MAX_SCANNED_IDS);
  if (startId >= scanEndId) return { records: [], nextAfterId: null };
  const parameters: (string | number)[] = [
    startId,
    scanEndId,
    fromMs,
    toMs,
    query.servedFromMs ?? Number.MIN_SAFE_INTEGER,
    query.servedToMs ?? Number.MAX_SAFE_INTEGER,
    query.accountId,
  ];
  if (query.seat !== undefined) parameters.push(query.seat);
  if (query.impressionType !== undefined) parameters.push(query.impressionType);
  if (query.auctionId !== undefined) parameters.push(query.auctionId);
  if (query.publisherId !== undefined) parameters.push(query.accountId, query.publisherId);
  if (query.publisher !== undefined) parameters.push(query.accountId, query.publisher);
  const rows = db
    .prepare(
      billingRecordsSql({
        seat: query.seat !== undefined,
        impressionType: query.impressionType !== undefined,
        auctionId: query.auctionId !== undefined,
        publisherId: query.publisherId !== undefined,
        publisher: query.publisher !== undefined,
      }),
    )
    .all(...parameters, query.limit + 1) as RecordRow[];
  if (rows.length > query.limit) {
    const records = rows.slice(0, query.limit).map(toRecord);
    return { records, nextAfterId: records.at(-1)?.id ?? null };
  }
  return { records: rows.map(toRecord), nextAfterId: scanEndId < windowEndId ? scanEndId - 1 : null };
}

/**
 * The statement reading a page of billing records: its parameters are the ids' range, the count
 * times' range, the served hours' range, the account, then the seat, the impression type, the
 * auction, the account and catalog publisher and the account and OpenRTB publisher when filtered on,
 * then the most rows to read. A record's publisher, of either kind of id, is read as a report's row's is
 * (`catalogPublisherIdSql`, `openRtbPublisherSql`), so that a publisher's records are its report's.
 */
export function billingRecordsSql(filters: {
  seat: boolean;
  impressionType: boolean;
  auctionId: boolean;
  publisherId: boolean;
  publisher: boolean;
}): string {
  const where = [
    'r.id >= ? AND r.id < ?',
    'r.received_ms >= ? AND r.received_ms < ?',
    'r.served_hour_ms >= ? AND r.served_hour_ms < ?',
    "d.account_id = ? AND d.outcome = 'counted'",
    ...(filters.seat ? ['d.seat = ?'] : []),
    ...(filters.impressionType ? ['d.impression_type = ?'] : []),
    ...(filters.auctionId ? ['r.auction_id = ?'] : []),
    ...(filters.publisherId ? [publisherDimsSql(catalogPublisherIdSql)] : []),
    ...(filters.publisher ? [publisherDimsSql(openRtbPublisherSql)] : []),
  ];
  return `SELECT r.id, r.received_ms, r.served_hour_ms, r.auction_id, r.imp_id, r.bid_id, r.price_micros,
      r.media_cost_micros, r.revenue_micros, d.impression_type, d.kind, d.format, d.channel, d.method, d.seat,
      ${openRtbPublisherSql('d')} AS publisher, d.currency, d.advertiser_id, ${catalogPublisherIdSql('d')} AS publisher_id,
      d.line_item_id, d.tracker_id, d.placement_id, d.payment_rule_id, dl.status AS delivery_status
    FROM event_rows r CROSS JOIN event_dims d ON d.id = r.dims_id
      LEFT JOIN deliveries dl ON dl.dedupe_key = r.dedupe_key
    WHERE ${where.join(' AND ')} ORDER BY r.id LIMIT ?`;
}

/**
 * A filter on a record's publisher: its dimensions are among the account's (the first parameter)
 * whose publisher, read by `publisherSql`, is the second: those are looked up in the catalog once
 * a statement, rather than each row's dimensions again for every row (which, over a page's
 * {@link MAX_SCANNED_IDS}, took about half as long again).
 */
function publisherDimsSql(publisherSql: (table: string) => string): string {
  return `d.id IN (SELECT pd.id FROM event_dims pd WHERE pd.account_id = ? AND ${publisherSql('pd')} = ?)`;
}

function toRecord(row: RecordRow): BillingRecord {
  const exchange = row.impression_type === 'exchange';
  const ifExchange = <T>(value: T): T | null => (exchange ? value : null);
  const ifTracker = <T>(value: T): T | null => (exchange ? null : value);
  return {
    id: row.id,
    countedMs: row.received_ms,
    servedHourMs: row.served_hour_ms,
    impressionType: row.impression_type,
    notice: ifExchange(row.kind),
    method: ifExchange(row.method),
    format: ifExchange(row.format),
    channel: ifExchange(row.channel),
    auctionId: ifExchange(row.auction_id),
    impId: ifExchange(row.imp_id),
    bidId: ifExchange(row.bid_id),
    seat: ifExchange(row.seat),
    // '' for none: a win whose request named no publisher.id, a tracker's publisher without an externalId.
    publisher: row.publisher === '' ? null : row.publisher,
    currency: ifExchange(row.currency),
    priceMicros: ifExchange(row.price_micros),
    deliveryStatus: ifExchange(row.delivery_status),
    trackerId: ifTracker(row.tracker_id),
    advertiserId: ifTracker(row.advertiser_id),
    lineItemId: ifTracker(row.line_item_id),
    publisherId: row.publisher_id,
    placementId: ifTracker(row.placement_id),
    paymentRuleId: ifTracker(row.payment_rule_id),
    mediaCostMicros: ifTracker(row.media_cost_micros),
    revenueMicros: ifTracker(row.revenue_micros),
  };
}
