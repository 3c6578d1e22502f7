import type { ReportQuery, ReportRow } from '../../ports/ledger.js';

/** A report for the report thread to run. */
export interface ReportRequest {
  id: number;
  query: ReportQuery;
}

/** The report thread's answer to one request. */
export type ReportAnswer = { id: number; rows: ReportRow[] } | { id: number; error: string };
