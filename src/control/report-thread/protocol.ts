import type { DeliveryStatus, ReportQuery, ReportRefusal } from '../../ports/ledger.js';
import type { ReportMetric, ReportOutput } from '../report-text.js';

/**
 * A report as the API asks for it: refused if it has more than `maxRows` rows; written without
 * the `hiddenMetrics`.
 */
export interface ReportRequest {
  query: ReportQuery;
  output: ReportOutput;
  maxRows: number;
  hiddenMetrics: readonly ReportMetric[];
}

/** A read for a report thread: a report, or the outbox's deliveries counted by status. */
export type ReadRequest = { type: 'report'; report: ReportRequest } | { type: 'deliveryCounts' };

/**
 * A report thread's answer to a read: a report's body (UTF-8 JSON or CSV); `refused` says why a
 * report cannot be answered as asked, `code` the API's error code for it.
 */
export type ReadAnswer =
  | { body: Uint8Array }
  | { refused: string; code: ReportRefusal['code'] }
  | { counts: Record<DeliveryStatus, number> };

/** What a report thread starts with: the ledger's file, and the name the thread goes by. */
export interface ReportThreadData {
  dbPath: string;
  threadName: string;
}
