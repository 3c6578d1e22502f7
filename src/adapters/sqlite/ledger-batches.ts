/** Recording batches of decided events into the ledger, one transaction a batch: the hot path. */
import type Database from 'better-sqlite3';
import { deliveryHost } from '../../domain/delivery-host.js';
import type { Outcome } from '../../domain/outcome.js';
import { duplicateOfRedirect, notCounted } from '../../domain/outcome.js';
import type { EventRecord } from '../../ports/ledger.js';
import type { ClaimIndex, ClaimKey } from './claim-index.js';
import { claimKey } from './claim-index.js';
import {
  CURRENCY_DIM,
  DIMS_COLUMNS,
  dimsKey,
  dimsValues,
  IVT_RULE_DIM,
  ROLLUP_DIMS,
  sameDims,
  VAST_ERROR_DIM,
} from './event-dims.js';
import type { LedgerClaims } from './ledger-claims.js';
import { CLAIM_LOAD_MARGIN_MS } from './ledger-claims.js';
import { saturatingSum } from './rollup-sums.js';

/** A count by a 302 to the DSP's burl, as a repeat of its impression reads it. */
interface KeptRedirect {
  /** When the notice that counted was received. */
  impressionMs: number;
  /** The URL its 302 named; absent for a count recorded before Tally kept its delivery. */
  location?: string;
}

/** A claim made or extended in a batch, added to the index once the batch committed. */
interface NewClaim {
  key: ClaimKey;
  eventId: number;
  expiresMs: number;
}

/** What a batch's transaction wrote that the ledger keeps in memory once it committed. */
interface BatchWrites {
  outcomes: Outcome[];
  newClaims: NewClaim[];
  /** `event_dims` rows added, by their `dimsKey`. */
  newDims: Map<string, number>;
}

/** Whether a notice was decided `late`: after its win's TTL. */
function isLate(outcome: Outcome): boolean {
  return outcome.outcome === 'not_counted' && outcome.reason === 'late';
}

/**
 * Whether a notice that did not count leaves its win able to count until the notice's claim would
 * expire: it was invalid traffic or a prefetch (the same URL fired by a device may count), or the
 * notice of another method than the win's (its billing notice may count). A duplicate, a preview
 * (a test win never counts), a late notice or an unopened token leaves none.
 */
function leavesWinCountable(outcome: Outcome): boolean {
  return (
    outcome.outcome === 'not_counted' &&
    (outcome.reason === 'invalid_traffic' ||
      outcome.reason === 'prefetch' ||
      outcome.reason === 'not_billing_method')
  );
}

/**
 * Delivery ids left for each millisecond since the epoch: a ledger opened at time T hands out
 * delivery ids from T × this up (or on from its last, if higher). A ledger restored from a backup
 * has lost the deliveries made after it, and would otherwise hand their ids, which the DSPs saw as
 * `X-Tally-Delivery-Id`, to other impressions; the run that made them, begun at T' before T, gave
 * out ids below T × this, unless more than this many a millisecond on average since T' (100 000 a
 * second: far above what one Tally counts). Ids so stay within 15 digits, which a spreadsheet reads
 * exactly, until the year 2286, well inside 2^53 - 1, the bound of an `after` cursor (`MAX_ID`).
 */
const DELIVERY_IDS_PER_MS = 100;

/**
 * Records batches of decided events, each in one transaction: their dedupe claims checked, made
 * and extended, their `event_dims` rows found or added, their raw rows and hourly rollups written,
 * and the DSP burls of those that counted queued for the outbox (or kept as redirected).
 */
export class LedgerBatches {
  private readonly insertDims: Database.Statement;
  /** The id of the `event_dims` row with the given values. */
  private readonly dimsIdOf: Database.Statement;
  private readonly insertEvent: Database.Statement;
  private readonly insertDelivery: Database.Statement;
  private readonly extendClaim: Database.Statement;
  /**
   * When the impression of a dedupe key counted and the URL its 302 named (`created_ms`, `url`), if
   * its DSP's burl was sent on by a 302.
   */
  private readonly redirectedOf: Database.Statement;
  /** Makes a dedupe key's `redirected` delivery pending: its burl is called from the outbox. */
  private readonly queueRedirected: Database.Statement;
  /**
   * When the event was received, if it counted on the publisher's burl and no delivery of its
   * impression is kept: a count by a 302 before such counts kept a `redirected` delivery.
   */
  private readonly redirectedBeforeKept: Database.Statement;
  private readonly upsertRollup: Database.Statement;
  private readonly recordBatch: Database.Transaction<
    (batch: readonly EventRecord[], claims: ClaimIndex) => BatchWrites
  >;
  /**
   * Every `event_dims` row's id, by its `dimsKey`: read at the first `record`, as the claims are,
   * so that a connection that never records (reports, deliveries, the CLI) never holds them.
   */
  private dimsIds: Map<string, number> | undefined;

  /** The lowest id this connection hands a new delivery (see {@link DELIVERY_IDS_PER_MS}). */
  private readonly deliveryIdFloor: number;

  /** `openedMs`: the wall clock as the ledger is opened, which sets the delivery ids' floor. */
  constructor(
    private readonly db: Database.Database,
    private readonly claims: LedgerClaims,
    openedMs: number,
  ) {
    this.deliveryIdFloor = openedMs * DELIVERY_IDS_PER_MS;
    // Another connection may have added the row since this one read the table (a second process
    // on the data directory, its lock file deleted): it is then found, not added twice.
    this.insertDims = db
      .prepare(
        `INSERT INTO event_dims (${DIMS_COLUMNS}) VALUES (${DIMS_COLUMNS.replace(/\w+/g, '?')})
         ON CONFLICT DO NOTHING RETURNING id`,
      )
      .pluck();
    this.dimsIdOf = db
      .prepare(
        `SELECT id FROM event_dims WHERE ${DIMS_COLUMNS.replace(/\w+/g, '$& = ?').replaceAll(',', ' AND')}`,
      )
      .pluck();
    this.insertEvent = db.prepare(
      `INSERT INTO event_rows (received_ms, served_hour_ms, dims_id, auction_id, imp_id, bid_id, price_micros,
         media_cost_micros, revenue_micros, device_ip, user_agent, dedupe_key, claim_expires_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.extendClaim = db.prepare(
      'UPDATE event_rows SET claim_expires_ms = ? WHERE id = ? AND claim_expires_ms < ?',
    );
    // Only an impression queued before is skipped (its key is unique): a row that breaks another
    // constraint (a NULL) fails the batch, loudly, rather than passing for that impression again.
    this.insertDelivery = db.prepare(
      `INSERT INTO deliveries (id, account_id, dedupe_key, url, host, seat, device_ip, user_agent, status,
         created_ms, due_ms, deadline_ms, delivered_ms)
       VALUES (MAX(COALESCE((SELECT MAX(id) FROM deliveries), 0) + 1, ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (dedupe_key) DO NOTHING`,
    );
    this.redirectedBeforeKept = db
      .prepare(
        `SELECT r.received_ms FROM event_rows r JOIN event_dims d ON d.id = r.dims_id
         WHERE r.id = ? AND d.kind = 'burl' AND NOT EXISTS (SELECT 1 FROM deliveries WHERE dedupe_key = r.dedupe_key)`,
      )
      .pluck();
    this.redirectedOf = db.prepare(
      `SELECT created_ms, url FROM deliveries WHERE dedupe_key = ? AND status = 'redirected'`,
    );
    // The URL (the one the 302 sent the publisher to, the impression's time in its macros), the
    // id (`X-Tally-Delivery-Id`) and the time the impression counted (`created_ms`) stay.
    this.queueRedirected = db.prepare(
      `UPDATE deliveries SET status = 'pending', due_ms = ?, deadline_ms = ?, delivered_ms = NULL, attempts = 0,
         first_failed_ms = NULL, lease_until_ms = 0, last_error = '' WHERE dedupe_key = ? AND status = 'redirected'`,
    );
    this.upsertRollup = db.prepare(
      `INSERT INTO rollup_hourly (hour_ms, account_id, outcome, reason, impression_type, format, channel, method, seat,
         publisher, advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing,
         kind, currency, ivt_rule, vast_error, events, price_micros, media_cost_micros, revenue_micros)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET events = events + excluded.events,
         price_micros = ${saturatingSum('price_micros')},
         media_cost_micros = ${saturatingSum('media_cost_micros')},
         revenue_micros = ${saturatingSum('revenue_micros')}`,
    );
    this.recordBatch = db.transaction((batch: readonly EventRecord[], claims: ClaimIndex) =>
      this.recordInTransaction(batch, claims),
    );
  }

  /** See {@link Ledger.record}. */
  record(batch: readonly EventRecord[]): Outcome[] {
    const first = batch[0];
    if (first === undefined) return [];
    let earliestMs = first.receivedMs;
    for (const event of batch) if (event.receivedMs < earliestMs) earliestMs = event.receivedMs;
    // Claims that expired up to the margin before this batch's earliest event are kept, whether the
    // index is built here (the first batch reached a starting counting thread before `loadClaims`
    // ran) or reuses their slots and replaces its table below: an event of this batch or a later
    // one may have been received before that (a clock stepped back) while its claim was live.
    const keptSinceMs = earliestMs - CLAIM_LOAD_MARGIN_MS;
    this.claims.forgetClaimsDroppedBefore(earliestMs);
    const claims = this.claims.liveClaims(keptSinceMs);
    const dimsIds = this.knownDims();
    // Begun IMMEDIATE, as `writeTransaction` explains: a batch may read a claim's key first.
    const { outcomes, newClaims, newDims } = this.recordBatch.immediate(batch, claims);
    // Only what committed is remembered: a batch that failed claimed nothing and added no dims.
    for (const claim of newClaims) claims.add(claim.key, claim.eventId, claim.expiresMs, keptSinceMs);
    this.claims.keptClaimsSince(keptSinceMs);
    for (const [key, id] of newDims) dimsIds.set(key, id);
    return outcomes;
  }

  /** The `event_dims` rows' ids by their `dimsKey`, read from the table the first time. */
  knownDims(): Map<string, number> {
    if (this.dimsIds !== undefined) return this.dimsIds;
    const ids = new Map<string, number>();
    for (const row of this.db.prepare(`SELECT id, ${DIMS_COLUMNS} FROM event_dims`).raw().iterate()) {
      const [id, ...values] = row as [number, ...(string | number)[]];
      ids.set(dimsKey(values), id);
    }
    this.dimsIds = ids;
    return ids;
  }

  private recordInTransaction(batch: readonly EventRecord[], claims: ClaimIndex): BatchWrites {
    const outcomes: Outcome[] = [];
    const newClaims: NewClaim[] = [];
    const newDims = new Map<string, number>();
    const claimedInBatch = new Map<string, NewClaim>();
    const keyOf = this.claims.keyOf;
    /** Per hour and dims row: the rollup row's values and its metrics to add. */
    const rollups = new Map<string, { values: unknown[]; metrics: [number, number, number, number] }>();
    /** The last event's dims row: its values and id, and the event and outcome it was found for. */
    let previous:
      { event: EventRecord; outcome: Outcome; values: (string | number)[]; id: number } | undefined;
    for (const event of batch) {
      let outcome = event.outcome;
      const dedupe = event.dedupe;
      const counts = outcome.outcome === 'counted';
      // Tracker hits keep their fixed window from the first hit (their expiry is the hit's time
      // plus the window, so extending would slide it with every repeat).
      const exchange = event.dims.impressionType === 'exchange';
      // Fingerprinted once, for the lookup and for the claim this event may make.
      const claimed =
        dedupe !== undefined && (counts || (exchange && leavesWinCountable(outcome)))
          ? claimKey(dedupe.key)
          : undefined;
      if (claimed !== undefined && dedupe !== undefined) {
        const inBatch = claimedInBatch.get(dedupe.key);
        const claimant =
          inBatch === undefined
            ? claims.find(claimed, event.receivedMs, keyOf)
            : inBatch.expiresMs >= event.receivedMs
              ? inBatch.eventId
              : 0;
        if (claimant !== 0) {
          if (counts) {
            const redirected =
              event.dims.kind === 'burl' ? this.keptRedirect(dedupe.key, claimant) : undefined;
            outcome = this.repeatOutcome(event, dedupe.key, redirected);
          }
          // An exchange notice of the impression whose win could still count later than its
          // claim lasts (a second registration of the win, with a longer TTL or a later auction
          // time), a duplicate or one that did not count but leaves its win countable (invalid
          // traffic, a prefetch, the notice of another method), makes the claim last as long: one
          // count per impression, whichever notice comes when.
          if (exchange && this.extendClaim.run(dedupe.expiresMs, claimant, dedupe.expiresMs).changes > 0) {
            if (inBatch === undefined) {
              // Later events of this batch must see the longer claim before the index does.
              const extended = { key: claimed, eventId: claimant, expiresMs: dedupe.expiresMs };
              claimedInBatch.set(dedupe.key, extended);
              newClaims.push(extended);
            } else inBatch.expiresMs = dedupe.expiresMs;
          }
        }
      }
      // A notice of Tally's burl after the TTL, of an impression that counted with a 302 to the
      // DSP's burl: the publisher retrying a call whose redirect was lost. The DSP's burl is owed
      // for that count (the outbox would still be retrying it), so the retry is sent on again.
      if (isLate(outcome) && event.dims.kind === 'burl' && dedupe !== undefined) {
        const redirected = this.keptRedirect(dedupe.key);
        if (redirected !== undefined) outcome = this.repeatOutcome(event, dedupe.key, redirected);
      }
      // The DSP's burl is queued, or its 302 kept, once per impression (its key is unique): an
      // impression whose burl was queued or redirected to before, by a count whose claim has since
      // expired (a second registration of the win with a later auction time), is that impression
      // again, not a second one to bill.
      const delivery = event.delivery;
      if (outcome.outcome === 'counted' && delivery !== undefined && dedupe !== undefined) {
        const redirected = delivery.redirected === true;
        const queued = this.insertDelivery.run(
          this.deliveryIdFloor,
          event.dims.accountId,
          dedupe.key,
          delivery.url,
          deliveryHost(delivery.url),
          event.dims.seat,
          event.deviceIp,
          event.userAgent,
          redirected ? 'redirected' : 'pending',
          event.receivedMs,
          event.receivedMs,
          delivery.deadlineMs,
          redirected ? event.receivedMs : null,
        );
        if (queued.changes === 0) {
          const redirected = event.dims.kind === 'burl' ? this.keptRedirect(dedupe.key) : undefined;
          outcome = this.repeatOutcome(event, dedupe.key, redirected);
        }
      }
      const counted = outcome.outcome === 'counted';
      const d = event.dims;
      // Events of a batch often share their dims: comparing with the previous event spares
      // building the values and the key.
      if (previous === undefined || !sameDims(previous.event, previous.outcome, event, outcome)) {
        const values = dimsValues(event, outcome);
        const key = dimsKey(values);
        let id = this.knownDims().get(key) ?? newDims.get(key);
        if (id === undefined) {
          id = (this.insertDims.get(...values) ?? this.dimsIdOf.get(...values)) as number;
          newDims.set(key, id);
        }
        previous = { event, outcome, values, id };
      }
      const dims = previous.values;
      const dimsId = previous.id;
      const dedupeKey = dedupe?.key ?? null;
      const claimExpiresMs = counted && dedupe !== undefined ? dedupe.expiresMs : 0;
      const inserted = this.insertEvent.run(
        event.receivedMs,
        event.servedHourMs,
        dimsId,
        d.auctionId,
        d.impId,
        d.bidId,
        event.priceMicros,
        event.mediaCostMicros,
        event.revenueMicros,
        event.deviceIp,
        event.userAgent,
        dedupeKey,
        claimExpiresMs,
      );
      if (claimExpiresMs > 0 && claimed !== undefined) {
        const claim = {
          key: claimed,
          eventId: Number(inserted.lastInsertRowid),
          expiresMs: claimExpiresMs,
        };
        claimedInBatch.set(claimed.key, claim);
        newClaims.push(claim);
      }
      const rollupKey = `${event.servedHourMs}/${dimsId}`;
      let rollup = rollups.get(rollupKey);
      if (rollup === undefined) {
        // The currency of what was billed: events that did not count carry no money, so none.
        const currency = counted ? dims[CURRENCY_DIM] : '';
        rollup = {
          values: [
            event.servedHourMs,
            ...dims.slice(0, ROLLUP_DIMS),
            currency,
            dims[IVT_RULE_DIM],
            dims[VAST_ERROR_DIM],
          ],
          metrics: [0, 0, 0, 0],
        };
        rollups.set(rollupKey, rollup);
      }
      // Money is what was billed: only counted events carry it into the reports.
      if (counted && rollupWouldPassSafeInteger(rollup.metrics, event)) {
        // The batch's sum would leave the integers a double holds exactly: what this row has so
        // far goes in now (SQLite adds 64-bit integers exactly) and the row starts again at 0.
        this.upsertRollup.run(...rollup.values, ...rollup.metrics);
        rollup.metrics = [0, 0, 0, 0];
      }
      rollup.metrics[0] += 1;
      if (counted) {
        rollup.metrics[1] += event.priceMicros;
        rollup.metrics[2] += event.mediaCostMicros;
        rollup.metrics[3] += event.revenueMicros;
      }
      outcomes.push(outcome);
    }
    // Dims rows that differ only where the rollups do not look (the currency of an event that did
    // not count) add into one rollup row: the upsert adds them.
    for (const { values, metrics } of rollups.values()) this.upsertRollup.run(...values, ...metrics);
    return { outcomes, newClaims, newDims };
  }

  /**
   * How the impression of a dedupe key counted with a 302 to the DSP's burl, if it did: when, and
   * the URL the 302 named, from its kept `redirected` delivery; else, given the `claimant` event,
   * when that count was, if it was one by a 302 recorded before such counts kept a delivery (which
   * holds no URL).
   */
  private keptRedirect(key: string, claimant?: number): KeptRedirect | undefined {
    const kept = this.redirectedOf.get(key) as { created_ms: number; url: string } | undefined;
    if (kept !== undefined) return { impressionMs: kept.created_ms, location: kept.url };
    const beforeKeptMs =
      claimant === undefined ? undefined : (this.redirectedBeforeKept.get(claimant) as number | undefined);
    return beforeKeptMs === undefined ? undefined : { impressionMs: beforeKeptMs };
  }

  /**
   * The outcome of a notice repeating an impression that counted: a plain `duplicate`, unless it is
   * a notice of Tally's burl and the impression counted with a 302 to the DSP's burl (`redirected`:
   * its delivery kept `redirected`). Then it is a `duplicate` sent on to the DSP again, to the URL
   * the count's 302 named, where the account's allow-list still admits its host (the event's
   * delivery is a redirect). Where it no longer does (the event's delivery is one to queue), no 302
   * goes there: the kept delivery becomes pending instead, due now and by the event's deadline, and
   * the outbox calls the DSP's burl, so that a publisher retrying because its call never reached the
   * DSP still has the DSP told. Once: the delivery is no longer `redirected`, so a later repeat is a
   * plain `duplicate`, as after any count whose burl went to the outbox.
   */
  private repeatOutcome(event: EventRecord, key: string, redirected: KeptRedirect | undefined): Outcome {
    if (redirected === undefined) return notCounted('duplicate');
    const delivery = event.delivery;
    if (delivery === undefined || delivery.redirected === true)
      return duplicateOfRedirect(redirected.impressionMs, redirected.location);
    this.queueRedirected.run(event.receivedMs, delivery.deadlineMs, key);
    return notCounted('duplicate');
  }
}

/** True when adding `event`'s money to a rollup's `metrics` would pass `Number.MAX_SAFE_INTEGER`. */
function rollupWouldPassSafeInteger(
  metrics: readonly [number, number, number, number],
  event: EventRecord,
): boolean {
  return (
    metrics[1] + event.priceMicros > Number.MAX_SAFE_INTEGER ||
    metrics[2] + event.mediaCostMicros > Number.MAX_SAFE_INTEGER ||
    metrics[3] + event.revenueMicros > Number.MAX_SAFE_INTEGER
  );
}
