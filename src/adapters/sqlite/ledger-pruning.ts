/** Retention: the events that did not count, and the deliveries done with, pruned step by step. */
import type Database from 'better-sqlite3';
import type { PruneStep } from '../../ports/ledger.js';
import { claimKey } from './claim-index.js';
import { writeTransaction } from './database.js';
import { firstIdFrom } from './id-window.js';
import type { LedgerClaims } from './ledger-claims.js';
import { CLAIM_LOAD_MARGIN_MS } from './ledger-claims.js';

/**
 * How many delivered (and as many redirected) deliveries past the retention one pruning step reads
 * for each it may delete: those whose claims still live (a TTL longer than the retention) are read
 * and kept, and must not hold back the ones behind them for long, nor make a step slow.
 */
const PRUNE_READ_FACTOR = 2;

/** The statuses of the deliveries retention prunes. */
const PRUNED_DELIVERY_STATUSES = ['delivered', 'redirected'] as const;
type PrunedDeliveryStatus = (typeof PRUNED_DELIVERY_STATUSES)[number];

/**
 * The ledger's retention, one bounded step a transaction: the events received before the cutoff
 * that did not count, and the deliveries delivered or redirected before it whose claims have ended.
 */
export class LedgerPruning {
  /**
   * Per status, in the pruning pass under way, the last delivery (its `due_ms` and id) a step read,
   * for the next step to read on from, past those kept while their claims live; `'all'` once a
   * step read the last one past the retention. Emptied as the pass is done.
   */
  private readonly pruneReadTo = new Map<PrunedDeliveryStatus, { dueMs: number; id: number } | 'all'>();

  constructor(
    private readonly db: Database.Database,
    private readonly claims: LedgerClaims,
  ) {}

  /** See {@link Ledger.prune}: `nowMs` is the wall clock there by default. */
  prune(beforeMs: number, maxRows: number, nowMs: number): PruneStep {
    return writeTransaction(this.db, () => {
      const fromId = this.db.prepare('SELECT events_below_id FROM prune_progress').pluck().get() as number;
      const cutoffId = this.firstEventIdReceivedAfter(beforeMs);
      const toId = Math.max(fromId, Math.min(cutoffId, fromId + maxRows));
      const events = this.db
        .prepare(
          // Each row's dims looked up by id: a list of the dims that did not count would be
          // built from the whole table at every step, milliseconds with many publishers and seats.
          `DELETE FROM event_rows WHERE id >= ? AND id < ?
             AND EXISTS (SELECT 1 FROM event_dims d WHERE d.id = event_rows.dims_id AND d.outcome <> 'counted')`,
        )
        .run(fromId, toId).changes;
      this.db.prepare('UPDATE prune_progress SET events_below_id = ?').run(toId);
      const { deliveries, moreToRead } = this.pruneDeliveries(beforeMs, maxRows, nowMs);
      const done = toId >= cutoffId && !moreToRead;
      // The next pass reads the deliveries from the oldest again.
      if (done) this.pruneReadTo.clear();
      return { events, deliveries, done };
    });
  }

  /**
   * Deletes up to `maxRows` deliveries delivered or redirected before `beforeMs` whose impression's
   * claim has ended by `nowMs`, reading at most `PRUNE_READ_FACTOR` times as many of each status,
   * on from where the last step stopped reading; answers how many it deleted, and whether a later
   * step has more to read. A delivery is what tells a repeat of the impression's notices how its
   * burl went: while its claim lives (a TTL longer than the retention) a repeat of the publisher's
   * burl whose delivery was pruned would read as a count that predates kept redirects and be sent
   * on to the DSP's burl a second time, and a second registration of the win could queue the burl
   * again. Those kept are read past, not again at each step: however many there are (days of a
   * long TTL's deliveries), they hold back none behind them.
   */
  private pruneDeliveries(
    beforeMs: number,
    maxRows: number,
    nowMs: number,
  ): { deliveries: number; moreToRead: boolean } {
    // A claim a notice received up to the margin before `nowMs` could still find (a clock stepped
    // back) is live.
    const liveAtMs = nowMs - CLAIM_LOAD_MARGIN_MS;
    this.claims.forgetClaimsDroppedBefore(liveAtMs);
    const claims = this.claims.claimIndex(nowMs);
    // Delivered at or after it fell due: the (status, due_ms) index finds the old ones, in the order
    // of its entries (due_ms, then id). The newest delivery is never pruned, as the newest event is
    // not: a new one would take its id, which calls send as `X-Tally-Delivery-Id`, so that a DSP
    // would take a new impression for a retry.
    const oldest = this.db
      .prepare(
        `SELECT id, dedupe_key, due_ms FROM deliveries
         WHERE status = ? AND due_ms < ? AND delivered_ms < ? AND id < (SELECT MAX(id) FROM deliveries)
           AND (due_ms, id) > (?, ?)
         ORDER BY due_ms, id LIMIT ?`,
      )
      .raw();
    const readLimit = maxRows * PRUNE_READ_FACTOR;
    const ids: number[] = [];
    for (const status of PRUNED_DELIVERY_STATUSES) {
      const from = this.pruneReadTo.get(status) ?? { dueMs: Number.MIN_SAFE_INTEGER, id: 0 };
      if (from === 'all' || ids.length === maxRows) continue;
      const rows = oldest.all(status, beforeMs, beforeMs, from.dueMs, from.id, readLimit) as [
        number,
        string,
        number,
      ][];
      let read = 0;
      for (const [id, key] of rows) {
        if (ids.length === maxRows) break;
        read++;
        if (claims.find(claimKey(key), liveAtMs, this.claims.keyOf) === 0) ids.push(id);
      }
      const last = rows[read - 1];
      if (read === rows.length && rows.length < readLimit) this.pruneReadTo.set(status, 'all');
      else if (last !== undefined) this.pruneReadTo.set(status, { dueMs: last[2], id: last[0] });
    }
    const moreToRead = PRUNED_DELIVERY_STATUSES.some((status) => this.pruneReadTo.get(status) !== 'all');
    const deliveries = this.db
      .prepare('DELETE FROM deliveries WHERE id IN (SELECT value FROM json_each(?))')
      .run(JSON.stringify(ids)).changes;
    return { deliveries, moreToRead };
  }

  /**
   * The id of the first event received at or after `ms`, or the last event's id when none is:
   * ids grow with received_ms, so a binary search over ids finds it without a time index.
   * Events of one batch may be a few ms out of order; the cutoff is exact to that. The newest
   * event is never pruned: SQLite gives a new row the largest id plus one, so deleting the
   * newest would hand its id again, below where pruning has already been.
   */
  private firstEventIdReceivedAfter(ms: number): number {
    const { firstId, lastId } = firstIdFrom(this.db, 'event_rows', 'received_ms', ms);
    return Math.min(firstId, lastId);
  }
}
