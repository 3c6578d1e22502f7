import type { DeliveryStatus, ReportQuery, ReportRow } from '../../ports/ledger.js';

/** A read for the report thread: a report, or the outbox's deliveries counted by status. */
export type ReadRequest = { type: 'report'; query: ReportQuery } | { type: 'deliveryCounts' };

/**
 * The report thread's answer to a read; `refused` says why a report cannot be answered as asked
 * (the ledger threw a `ReportTooLargeError`: a sum past what a JSON number holds exactly).
 */
export type ReadAnswer =
  { rows: ReportRow[] } | { refused: string } | { counts: Record<DeliveryStatus, number> };
