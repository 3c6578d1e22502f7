import type Database from 'better-sqlite3';
import type { Outcome } from '../../domain/outcome.js';
import type {
  BillingRecordPage,
  BillingRecordQuery,
  CallsInFlight,
  DeadDelivery,
  DeadDeliveryFilter,
  Delivery,
  DeliveryFilter,
  DeliverySettlement,
  DeliveryStatus,
  EventRecord,
  LeasedDelivery,
  Ledger,
  PruneStep,
  ReportQuery,
  ReportRow,
} from '../../ports/ledger.js';
import { readBillingRecords } from './billing-records.js';
import { LedgerBatches } from './ledger-batches.js';
import { LedgerClaims } from './ledger-claims.js';
import { LedgerDeliveries } from './ledger-deliveries.js';
import { LedgerOutbox } from './ledger-outbox.js';
import { LedgerPruning } from './ledger-pruning.js';
import { readReport } from './rollup-report.js';

/**
 * The billing ledger on SQLite: one transaction per batch, on one connection. The live dedupe
 * claims are indexed in memory (built on the first `record`), so one process may record into a
 * database at a time. Its parts, on that connection: recording batches, the claims, the outbox,
 * the deliveries' listing, retention and reports.
 */
export class SqliteLedger implements Ledger {
  /** Leasing the deliveries due and settling their calls. */
  private readonly outbox: LedgerOutbox;
  /** The deliveries listed, counted, and the dead ones replayed. */
  private readonly deliveries: LedgerDeliveries;
  /** The live dedupe claims, indexed in memory. */
  private readonly claims: LedgerClaims;
  /** Recording batches of events: the hot path. */
  private readonly batches: LedgerBatches;
  /** Retention, step by step. */
  private readonly pruning: LedgerPruning;

  /** `openedMs`: the wall clock as the ledger is opened, which sets the delivery ids' floor. */
  constructor(
    private readonly db: Database.Database,
    openedMs: number = Date.now(),
  ) {
    this.outbox = new LedgerOutbox(db);
    this.deliveries = new LedgerDeliveries(db);
    this.claims = new LedgerClaims(db);
    this.batches = new LedgerBatches(db, this.claims, openedMs);
    this.pruning = new LedgerPruning(db, this.claims);
  }

  record(batch: readonly EventRecord[]): Outcome[] {
    return this.batches.record(batch);
  }

  /**
   * Builds the index of live dedupe claims now, rather than at the first `record` (a few seconds
   * for millions of claims), and reads the `event_dims` rows' ids; answers how many claims are
   * live at `nowMs`. Claims that expired up to `CLAIM_LOAD_MARGIN_MS` before `nowMs`, or before
   * the last event was received if that is earlier (a clock ahead), are loaded too: a notice
   * received while its claim was live may be recorded after the load (it waited for a starting
   * counting thread, or the clock stepped back) and must still find the claim.
   */
  loadClaims(nowMs: number): number {
    this.batches.knownDims();
    return this.claims.claimIndex(nowMs).liveCount(nowMs);
  }

  /** See {@link LedgerOutbox.endLeasesOfKilledProcess}. */
  endLeasesOfKilledProcess(): number {
    return this.outbox.endLeasesOfKilledProcess();
  }

  leaseDeliveries(nowMs: number, limit: number, leaseMs: number, inFlight?: CallsInFlight): LeasedDelivery[] {
    return this.outbox.leaseDeliveries(nowMs, limit, leaseMs, inFlight);
  }

  markDelivered(id: number, nowMs: number): void {
    this.outbox.markDelivered(id, nowMs);
  }

  settleDeliveries(settlements: readonly DeliverySettlement[]): void {
    this.outbox.settleDeliveries(settlements);
  }

  markFailed(id: number, error: string, nextDueMs: number | null, firstFailedMs?: number): void {
    this.outbox.markFailed(id, error, nextDueMs, firstFailedMs);
  }

  oldestDueMs(nowMs: number): number | undefined {
    return this.outbox.oldestDueMs(nowMs);
  }

  listDeliveries(
    accountId: number,
    status: DeliveryStatus | undefined,
    limit: number,
    filter?: DeliveryFilter,
  ): Delivery[] {
    return this.deliveries.listDeliveries(accountId, status, limit, filter);
  }

  /** See {@link Ledger.deadDeliveries}. */
  deadDeliveries(filter?: DeadDeliveryFilter): DeadDelivery[] {
    return this.deliveries.deadDeliveries(filter);
  }

  replayDead(deliveries: readonly DeadDelivery[], nowMs: number, deadlineMs: number): number {
    return this.deliveries.replayDead(deliveries, nowMs, deadlineMs);
  }

  countDeliveries(): Record<DeliveryStatus, number> {
    return this.deliveries.countDeliveries();
  }

  countDeliveriesWith(status: DeliveryStatus): number {
    return this.deliveries.countDeliveriesWith(status);
  }

  oldestPendingCreatedMs(): number | undefined {
    return this.deliveries.oldestPendingCreatedMs();
  }

  listBillingRecords(query: BillingRecordQuery): BillingRecordPage {
    return readBillingRecords(this.db, query);
  }

  report(query: ReportQuery): ReportRow[] {
    return readReport(this.db, query);
  }

  /** See {@link LedgerClaims.newestReceivedMs}. */
  newestReceivedMs(): number | undefined {
    return this.claims.newestReceivedMs();
  }

  prune(beforeMs: number, maxRows: number, nowMs = Date.now()): PruneStep {
    return this.pruning.prune(beforeMs, maxRows, nowMs);
  }

  countEvents(): { total: number; counted: number } {
    const row = this.db
      .prepare(`SELECT COUNT(*) AS total, COALESCE(SUM(outcome = 'counted'), 0) AS counted FROM events`)
      .get() as { total: number; counted: number };
    return { total: row.total, counted: row.counted };
  }

  close(): void {
    this.db.close();
  }
}
