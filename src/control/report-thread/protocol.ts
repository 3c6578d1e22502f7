import type { DeliveryStatus, ReportQuery, ReportRow } from '../../ports/ledger.js';

/** A read for the report thread: a report, or the outbox's deliveries counted by status. */
export type ReadRequest =
  { id: number; type: 'report'; query: ReportQuery } | { id: number; type: 'deliveryCounts' };

/** The report thread's answer to one request. */
export type ReadAnswer =
  | { id: number; rows: ReportRow[] }
  | { id: number; counts: Record<DeliveryStatus, number> }
  | { id: number; error: string };
