import type { BurlHost } from '../domain/delivery-host.js';
import type { Outcome } from '../domain/outcome.js';

/** How an event reached Tally: an exchange notice, or a hit on an ad-ops tracker. */
export const IMPRESSION_TYPES = ['exchange', 'external_impression', 'external_click'] as const;
/** One of {@link IMPRESSION_TYPES}. */
export type ImpressionType = (typeof IMPRESSION_TYPES)[number];

/** What a report's `currency` filter takes: an ISO 4217 code, or empty for rows without money. */
export const REPORT_CURRENCY_PATTERN = '^([A-Z]{3})?$';

/** What a report's `vastError` filter takes: a VAST error code, 100 to 999, or empty for rows without one. */
export const REPORT_VAST_ERROR_PATTERN = '^([1-9][0-9]{2})?$';

/** The reporting dimensions stored with every event; '' / 0 (null: `vastError`) where they do not apply. */
export interface EventDimensions {
  accountId: number;
  impressionType: ImpressionType;
  /** What the notice URL reported (`adm`, `omid`, `loaded`, …); '' for tracker hits. */
  kind: string;
  format: string;
  channel: string;
  method: string;
  seat: string;
  publisher: string;
  auctionId: string;
  impId: string;
  bidId: string;
  currency: string;
  advertiserId: number;
  lineItemId: number;
  trackerId: number;
  placementId: number;
  paymentRuleId: number;
  /** A tracker hit whose cachebuster was missing or an unreplaced placeholder. */
  cachebusterMissing: boolean;
  /**
   * The VAST error code (100-999) a `vast_error` notice reported (see `vastErrorCode`); null on
   * every other event, and on a `vast_error` notice that reported none.
   */
  vastError: number | null;
}

/** Dimensions that do not apply: '' and 0 everywhere, no VAST error code; notices and hits fill in their own. */
export const EMPTY_DIMENSIONS: Readonly<EventDimensions> = Object.freeze({
  accountId: 0,
  impressionType: 'exchange',
  kind: '',
  format: '',
  channel: '',
  method: '',
  seat: '',
  publisher: '',
  auctionId: '',
  impId: '',
  bidId: '',
  currency: '',
  advertiserId: 0,
  lineItemId: 0,
  trackerId: 0,
  placementId: 0,
  paymentRuleId: 0,
  cachebusterMissing: false,
  vastError: null,
});

/** Which of an account's billing records `listBillingRecords` reads. */
export interface BillingRecordQuery {
  accountId: number;
  /** Only records after this id (a previous page's `nextAfterId`). */
  afterId?: number;
  /** Only records counted at or after this time, epoch ms. */
  countedFromMs?: number;
  /** Only records counted before this time, epoch ms. */
  countedToMs?: number;
  /** Only records of impressions served in hours that begin at or after this time, epoch ms. */
  servedFromMs?: number;
  /** Only records of impressions served in hours that begin before this time, epoch ms. */
  servedToMs?: number;
  /** Only the records of this seat. */
  seat?: string;
  /** Only the records of this auction's impressions (BidRequest.id). */
  auctionId?: string;
  /** Only the records of this kind of event. */
  impressionType?: ImpressionType;
  /** Only the records of this catalog publisher (see {@link BillingRecord.publisherId}; 0: none). */
  publisherId?: number;
  /** Only the records of this OpenRTB publisher id (see {@link BillingRecord.publisher}). */
  publisher?: string;
  /** At most this many records. */
  limit: number;
}

/**
 * One billing record: an event that counted, so billed (an exchange impression, to the seat at its
 * clearing price; a tracker's impression or click, at its media cost and revenue). Fields that do
 * not apply to its kind are null.
 */
export interface BillingRecord {
  id: number;
  /** When Tally received the notice or hit that counted, epoch ms. */
  countedMs: number;
  /** Start of the UTC hour the impression was served (the auction's; the hit's), epoch ms. */
  servedHourMs: number;
  impressionType: ImpressionType;
  /** Exchange rows: the notice that counted (`adm`, `burl`, `omid`, …). */
  notice: string | null;
  method: string | null;
  format: string | null;
  channel: string | null;
  /** Exchange rows: the auction (BidRequest.id), impression, bid and seat billed. */
  auctionId: string | null;
  impId: string | null;
  bidId: string | null;
  seat: string | null;
  /**
   * The OpenRTB publisher id: the win's, on exchange rows (null when its request named none); the
   * `externalId` of the tracker's catalog publisher, on tracker rows (null without one). As a
   * report's `publisher` dimension, read from the catalog as it stands.
   */
  publisher: string | null;
  /** Exchange rows: the currency of `priceMicros`. */
  currency: string | null;
  /** Exchange rows: the clearing price, a CPM in micros (the impression's cost is a thousandth). */
  priceMicros: number | null;
  /**
   * Exchange rows: where the DSP's burl delivery of the impression stands (`redirected`: the
   * publisher was sent on to it by a 302); null without one kept (the DSP gave no burl, or a
   * delivered one was pruned at the retention).
   */
  deliveryStatus: DeliveryStatus | null;
  /** Tracker rows: the catalog objects the hit was priced by (a payment rule of 0: none). */
  trackerId: number | null;
  advertiserId: number | null;
  lineItemId: number | null;
  /**
   * The catalog publisher: the tracker's, on tracker rows; the one whose `externalId` is the win's
   * publisher id, on exchange rows (0 for none). As a report's `publisherId` dimension, read from
   * the catalog as it stands.
   */
  publisherId: number;
  placementId: number | null;
  paymentRuleId: number | null;
  /** Tracker rows: the event's media cost and revenue, micros. */
  mediaCostMicros: number | null;
  revenueMicros: number | null;
}

/** A page of billing records, and the id to read on after (`null` once the window is read to its end). */
export interface BillingRecordPage {
  records: BillingRecord[];
  nextAfterId: number | null;
}

/** One notice or hit to record, with the outcome the pure rules gave it. */
export interface EventRecord {
  receivedMs: number;
  /** Start of the UTC hour the impression was served (the auction hour), in epoch ms. */
  servedHourMs: number;
  outcome: Outcome;
  dims: EventDimensions;
  priceMicros: number;
  mediaCostMicros: number;
  revenueMicros: number;
  deviceIp: string;
  userAgent: string;
  /**
   * The impression's dedupe claim, for events that would count: the first event to claim
   * `key` counts; others while the claim lives are `duplicate`. An exchange event of a live
   * claim's key that is a duplicate, or did not count but leaves its win countable (invalid
   * traffic, a prefetch, another method's notice), makes the claim last until its `expiresMs`
   * where that is later.
   */
  dedupe?: { key: string; expiresMs: number };
  /**
   * The DSP's billing URL (macros filled) when the event counts: to deliver server-side by
   * `deadlineMs`, or, `redirected`, sent on already by the 302 that answers the publisher's call
   * (kept, as a delivery of that status, so that the impression is billed once). On a repeat of a
   * count that was `redirected`, one to deliver server-side queues that kept delivery instead.
   */
  delivery?: { url: string; deadlineMs: number; redirected?: true };
}

/** The burl calls a relay has in flight, which it leases more deliveries around. */
export interface CallsInFlight {
  /** The ids of the deliveries called. */
  ids: ReadonlySet<number>;
  /** How many calls are in flight to each host (a leased delivery's `host`). */
  byHost: ReadonlyMap<string, number>;
  /** Most calls in flight to a host. */
  hostLimit: (host: string) => number;
}

/**
 * How a call of a leased delivery ended: its `markDelivered` or `markFailed`; a failed one says
 * when the delivery's first failed call began (kept from the first, which the retries' first minute
 * is timed from). An `abandoned` one (Tally stopping before the DSP answered) is neither: its
 * delivery is given back, pending and due as it was, to be leased again at once, `abandoned`
 * its last error; no failure is recorded, so its retries are not put off.
 */
export type DeliverySettlement =
  | { id: number; deliveredMs: number }
  | { id: number; error: string; nextDueMs: number | null; firstFailedMs: number }
  | { id: number; abandoned: string };

/**
 * A dead delivery as a replay read it: its id, and when its first failed call began as the relay
 * stamped it (`null` for none), which tells it from the same delivery replayed and dead again.
 */
export interface DeadDelivery {
  id: number;
  firstFailedMs: number | null;
}

/** A burl delivery in the outbox. */
export interface Delivery {
  id: number;
  dedupeKey: string;
  url: string;
  deviceIp: string;
  userAgent: string;
  status: DeliveryStatus;
  attempts: number;
  createdMs: number;
  dueMs: number;
  deadlineMs: number;
  lastError: string;
  deliveredMs: number | null;
}

/** A delivery leased for a call, with the host it calls as the ledger keeps it (see `deliveryHost`). */
export interface LeasedDelivery extends Delivery {
  host: string;
  /**
   * When the first failed call of the delivery began, epoch ms; `null` before any failed (or since
   * it was replayed, or made pending from `redirected`: its calls begin anew).
   */
  firstFailedMs: number | null;
}

/**
 * `pending` (to call), `delivered` (called, answered 2xx), `dead` (its deadline passed), or
 * `redirected` (not called: the publisher's call of Tally's burl was redirected to it; it becomes
 * `pending` should a repeat of that call come once the account's allow-list no longer admits its
 * host).
 */
export type DeliveryStatus = 'pending' | 'delivered' | 'dead' | 'redirected';
/** Every {@link DeliveryStatus}. */
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'delivered', 'dead', 'redirected'];

/** A report query over the hourly rollups. */
export interface ReportQuery {
  accountId: number;
  fromMs: number;
  toMs: number;
  groupBy: readonly ReportDimension[];
  /**
   * An `hour` or `day` filter is a UTC time as `toISOString` writes it (a `day` filter: the first
   * instant of its day, in `timeZone` when set); the others as the rows hold them.
   */
  filters: Partial<Record<ReportDimension, string>>;
  /**
   * The canonical IANA name of the time zone whose local days `day` groups by, and in whose
   * local time (with its offset) `hour` and `day` are written; UTC when absent. A zone whose
   * offset within [`fromMs`, `toMs`) is not a whole number of hours is refused
   * ({@link TimeZoneMisfitError}): the rollups are by the UTC hour.
   */
  timeZone?: string;
  /**
   * A publisher-scoped caller: only that publisher's rows — tracker rows naming its catalog
   * id, exchange rows naming its OpenRTB publisher id (`externalId`, none when null).
   */
  publisherScope?: { catalogId: string; externalId: string | null };
  /** At most this many rows are answered; all of them when absent. */
  maxRows?: number;
  /**
   * Set for an answer that writes any integer exactly (CSV): a sum past 2^53 - 1 then comes as a
   * bigint. Without it such a report is refused ({@link ReportTooLargeError}), a JSON number
   * holding no such sum exactly.
   */
  exactSums?: boolean;
  /**
   * Amounts the caller is not shown (a scoped key's, the other side's money): not added up (each
   * comes as 0, and `profitMicros` with either of its two), and not looked at for the currency of
   * a row's amounts, so that a report is neither refused for them nor says anything of them.
   */
  hiddenAmounts?: readonly ReportAmount[];
}

/** A report's amounts, as a {@link ReportRow} names them (`profitMicros` is the revenue less the cost). */
export type ReportAmount = 'priceMicros' | 'mediaCostMicros' | 'revenueMicros';

/** Every {@link ReportAmount}. */
export const REPORT_AMOUNTS: readonly ReportAmount[] = ['priceMicros', 'mediaCostMicros', 'revenueMicros'];

/** What a report can group and filter its rows by, as `groupBy` and filters name them. */
export const REPORT_DIMENSIONS = [
  'hour',
  'day',
  'outcome',
  'reason',
  'impressionType',
  'format',
  'channel',
  'method',
  'seat',
  'publisher',
  'publisherId',
  'advertiser',
  'lineItem',
  'tracker',
  'placement',
  'paymentRule',
  'cachebusterMissing',
  'notice',
  'ivtRule',
  'vastError',
  'currency',
] as const;
/** One of {@link REPORT_DIMENSIONS}. */
export type ReportDimension = (typeof REPORT_DIMENSIONS)[number];

/** The dimensions whose values are catalog ids: a filter on one is a decimal id, compared as a number. */
export const NUMERIC_REPORT_DIMENSIONS: ReadonlySet<ReportDimension> = new Set<ReportDimension>([
  'publisherId',
  'advertiser',
  'lineItem',
  'tracker',
  'placement',
  'paymentRule',
]);

/**
 * A report that cannot be answered as asked, unlike a failure worth retrying: its message says why
 * and what to change, `code` is the API's error code for it.
 */
export abstract class ReportRefusal extends Error {
  abstract readonly code: 'REPORT_TOO_LARGE' | 'MIXED_CURRENCIES' | 'VALIDATION_FAILED';
}

/**
 * A report one of whose sums no JSON number holds exactly (past 2^53 - 1), or of more rows than
 * allowed: it is refused, its message saying how to narrow it, rather than answered a few micros
 * off or built at any cost.
 */
export class ReportTooLargeError extends ReportRefusal {
  override readonly name = 'ReportTooLargeError';
  readonly code = 'REPORT_TOO_LARGE';
}

/**
 * A report one of whose rows would add up amounts billed in different currencies (or a currency
 * and the unnamed units of tracker hits): it is refused, its message saying to group by or filter
 * on the currency, rather than answered with a sum that is no amount of anything.
 */
export class MixedCurrenciesError extends ReportRefusal {
  override readonly name = 'MixedCurrenciesError';
  readonly code = 'MIXED_CURRENCIES';
}

/**
 * A report in a time zone whose offset from UTC, somewhere in its window, is not a whole number of
 * hours or changes within an hour: its local days and hours are no whole UTC hours, so they cannot
 * be made of the hourly rollups. It is refused, its message saying what to ask for instead, rather
 * than answered with an hour's impressions put in the wrong day.
 */
export class TimeZoneMisfitError extends ReportRefusal {
  override readonly name = 'TimeZoneMisfitError';
  readonly code = 'VALIDATION_FAILED';
}

/**
 * One report row: the grouped dimensions and the metrics. `events` counts every recorded
 * event; the money metrics add up counted events only (what was billed). A metric is a bigint
 * only past 2^53 - 1, in a report asked for with `exactSums`.
 */
export type ReportRow = Partial<Record<ReportDimension, string | number | boolean>> & {
  events: number | bigint;
  priceMicros: number | bigint;
  mediaCostMicros: number | bigint;
  revenueMicros: number | bigint;
  profitMicros: number | bigint;
};

/** What one step of pruning deleted, and whether anything before the cutoff is left. */
export interface PruneStep {
  events: number;
  deliveries: number;
  done: boolean;
}

/** When the deliveries a filter picks were queued (their impression counted). */
interface QueuedWindow {
  /** Only deliveries queued at or after this time. */
  createdFromMs?: number;
  /** Only deliveries queued before this time. */
  createdToMs?: number;
}

/** Which of an account's deliveries `listDeliveries` lists. */
export interface DeliveryFilter extends QueuedWindow {
  /** Only deliveries older than this one (of lower id): the page after the one it ended. */
  afterId?: number;
  /** Only the deliveries of this auction's impressions. */
  auctionId?: string;
  /** Only the deliveries of this seat's impressions (SeatBid.seat). */
  seat?: string;
}

/** Which dead deliveries to replay: each given field narrows the choice. */
export interface DeadDeliveryFilter extends QueuedWindow {
  accountId?: number;
  /**
   * The host the burl calls, on any port or the one given, however the burl spells it, as WHATWG
   * URL parsing reads it (see `callsHost`): port 443 or 80 also names the burls of its scheme that
   * write no port.
   */
  host?: BurlHost;
}

/**
 * The billing ledger. Every method is one transaction. Implementations must be safe against
 * a crash at any point: what `record` returned is committed, what it did not is not.
 */
export interface Ledger {
  /**
   * Records a batch atomically, in order: claims each dedupe key (a live claim makes the
   * event `duplicate`), inserts the event (a counted event is a billing record), queues its
   * delivery when counted, and adds it to the hourly rollups. Returns the final outcome of
   * each event, in input order.
   */
  record(batch: readonly EventRecord[]): Outcome[];
  /**
   * Leases up to `limit` pending deliveries due at `nowMs`, those due first first, hiding them from
   * other leases for `leaseMs` and counting an attempt on each. Around the caller's `inFlight`
   * calls: none of those is leased again (though its lease has run out), and no host is leased
   * more deliveries than bring its calls in flight to `inFlight.hostLimit`.
   */
  leaseDeliveries(nowMs: number, limit: number, leaseMs: number, inFlight?: CallsInFlight): LeasedDelivery[];
  /** Marks a leased delivery delivered. */
  markDelivered(id: number, nowMs: number): void;
  /**
   * Records a failed attempt: due again at `nextDueMs`, or dead when `nextDueMs` is `null`; its
   * first failed call began at `firstFailedMs` (kept from the first failure reported, if given).
   */
  markFailed(id: number, error: string, nextDueMs: number | null, firstFailedMs?: number): void;
  /**
   * Marks each delivery delivered, failed or abandoned as its settlement says, all in one
   * transaction.
   */
  settleDeliveries(settlements: readonly DeliverySettlement[]): void;
  /** An account's deliveries by status (all without one), those `filter` picks, newest first. */
  listDeliveries(
    accountId: number,
    status: DeliveryStatus | undefined,
    limit: number,
    filter?: DeliveryFilter,
  ): Delivery[];
  /**
   * The dead deliveries `filter` picks (all by default), in id order, read without taking the write
   * lock, so that a replay of millions can make them pending a step at a time.
   */
  deadDeliveries(filter?: DeadDeliveryFilter): DeadDelivery[];
  /**
   * Makes those of `deliveries` still dead as they were read pending again, due at `nowMs`, with
   * the new deadline `deadlineMs` and their attempts counted from 0, in one transaction; returns
   * how many. One made pending since by another replay run at the same time, and dead again, has
   * another first failure than was read, and is not replayed a second time. The first failures are
   * compared, never the clock: a delivery dead is replayed whatever time its failure was stamped.
   */
  replayDead(deliveries: readonly DeadDelivery[], nowMs: number, deadlineMs: number): number;
  /** Aggregates the hourly rollups. */
  report(query: ReportQuery): ReportRow[];
  /**
   * A page of an account's billing records (its counted events), oldest first, reading at most
   * a bounded run of ids a call whatever it finds there: a page may hold fewer records than
   * `query.limit` (none, past another account's traffic) and still have a next.
   */
  listBillingRecords(query: BillingRecordQuery): BillingRecordPage;
  /**
   * One bounded step of retention: deletes raw events received before `beforeMs` that did not
   * count, among the next `maxRows` event ids not yet pruned, and up to `maxRows` deliveries
   * delivered before it whose impression's claim has ended by `nowMs` (the wall clock by default):
   * while the claim lives, a repeat of the impression reads its delivery to know whether the DSP's
   * burl went by a 302; billing records (counted events) and the hourly rollups stay. Call again
   * until `done`, letting other work in between.
   */
  prune(beforeMs: number, maxRows: number, nowMs?: number): PruneStep;
  /** Counts raw events (for tests and health): total and by outcome. */
  countEvents(): { total: number; counted: number };
  /** How many deliveries the outbox holds, by status. */
  countDeliveries(): Record<DeliveryStatus, number>;
  /**
   * How many deliveries of one status the outbox holds, as long to count as they are many (the
   * delivered ones are kept for the retention: millions).
   */
  countDeliveriesWith(status: DeliveryStatus): number;
  /**
   * The due time of the pending delivery longest due at `nowMs` and not being called (its lease,
   * if any, run out); `undefined` when none is due.
   */
  oldestDueMs(nowMs: number): number | undefined;
  /**
   * When the pending delivery kept longest (the first stored of those pending, being called or
   * not) was created; `undefined` when none is pending.
   */
  oldestPendingCreatedMs(): number | undefined;
  close(): void;
}
