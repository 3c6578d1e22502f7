import type {
  BillingRecordPage,
  BillingRecordQuery,
  DeliveryStatus,
  ReportQuery,
  ReportRefusal,
} from '../../ports/ledger.js';
import type { UnknownIdWarning } from '../unknown-ids.js';
import type { ReportMetric, ReportOutput } from '../report-text.js';

/**
 * A report as the API asks for it: refused if it has more than `maxRows` rows; written without
 * the `hiddenMetrics`, and in JSON with the `warnings`.
 */
export interface ReportRequest {
  query: ReportQuery;
  output: ReportOutput;
  maxRows: number;
  hiddenMetrics: readonly ReportMetric[];
  warnings: readonly UnknownIdWarning[];
}

/** A read for a report thread: a report, a page of billing records, or the state of the outbox at `nowMs`. */
export type ReadRequest =
  | { type: 'report'; report: ReportRequest }
  | { type: 'billingRecords'; query: BillingRecordQuery }
  | { type: 'outbox'; nowMs: number };

/**
 * The outbox for `/metrics`: its deliveries by status; how far the relay is behind: how long the
 * delivery longest due has waited past its due time (0 when none is waiting); and how long ago the
 * pending delivery kept longest was created (0 when none is pending), retries and all.
 */
export interface OutboxState {
  counts: Record<DeliveryStatus, number>;
  relayLagMs: number;
  oldestPendingAgeMs: number;
}

/**
 * A report thread's answer to a read: a report's body (UTF-8 JSON or CSV); `refused` says why a
 * report cannot be answered as asked, `code` the API's error code for it; a page of billing
 * records; the outbox.
 */
export type ReadAnswer =
  | { body: Uint8Array }
  | { refused: string; code: ReportRefusal['code'] }
  | { billingRecords: BillingRecordPage }
  | { outbox: OutboxState };

/** What a report thread starts with: the ledger's file, and the name the thread goes by. */
export interface ReportThreadData {
  dbPath: string;
  threadName: string;
}
