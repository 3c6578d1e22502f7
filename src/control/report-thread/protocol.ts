import type { DeliveryStatus, ReportQuery, ReportRow } from '../../ports/ledger.js';

/** A read for the report thread: a report, or the outbox's deliveries counted by status. */
export type ReadRequest = { type: 'report'; query: ReportQuery } | { type: 'deliveryCounts' };

/** The report thread's answer to a read. */
export type ReadAnswer = { rows: ReportRow[] } | { counts: Record<DeliveryStatus, number> };
