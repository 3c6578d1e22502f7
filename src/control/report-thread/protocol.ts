import type { DeliveryStatus, ReportQuery, ReportRefusal, ReportRow } from '../../ports/ledger.js';

/** A read for the report thread: a report, or the outbox's deliveries counted by status. */
export type ReadRequest = { type: 'report'; query: ReportQuery } | { type: 'deliveryCounts' };

/**
 * The report thread's answer to a read; `refused` says why a report cannot be answered as asked
 * (the ledger threw a {@link ReportRefusal}), `code` the API's error code for it.
 */
export type ReadAnswer =
  | { rows: ReportRow[] }
  | { refused: string; code: ReportRefusal['code'] }
  | { counts: Record<DeliveryStatus, number> };
