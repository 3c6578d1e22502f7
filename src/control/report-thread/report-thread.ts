import type { DeliveryStatus, ReportQuery, ReportRefusal, ReportRow } from '../../ports/ledger.js';
import { RequestThread } from '../../lib/request-thread.js';
import type { ReadAnswer, ReadRequest } from './protocol.js';

/** Where the reports API gets its rows. */
export interface ReportSource {
  /** The report's rows; rejects with a {@link ReportRefusedError} for one that cannot be answered as asked. */
  report(query: ReportQuery): Promise<ReportRow[]>;
}

/**
 * A report that cannot be answered as asked (its message says why and what to change, `code` is
 * the API's error code for it), unlike a failure of the thread, which is worth retrying.
 */
export class ReportRefusedError extends Error {
  override readonly name = 'ReportRefusedError';

  constructor(
    message: string,
    readonly code: ReportRefusal['code'],
  ) {
    super(message);
  }
}

/**
 * Runs reports and counts the outbox on a thread of their own (`worker.ts`), on a read-only
 * connection to the ledger at `dbPath`, one read at a time.
 */
export class ReportThread implements ReportSource {
  private readonly thread: RequestThread<ReadRequest, ReadAnswer>;

  constructor(dbPath: string) {
    this.thread = new RequestThread('report', import.meta.url, dbPath);
  }

  async report(query: ReportQuery): Promise<ReportRow[]> {
    const answer = await this.thread.request({ type: 'report', query });
    if ('refused' in answer) throw new ReportRefusedError(answer.refused, answer.code);
    if (!('rows' in answer)) throw new Error('the report thread answered another read');
    return answer.rows;
  }

  /** The outbox's deliveries by status (a count over every delivery kept). */
  async deliveryCounts(): Promise<Record<DeliveryStatus, number>> {
    const answer = await this.thread.request({ type: 'deliveryCounts' });
    if (!('counts' in answer)) throw new Error('the report thread answered another read');
    return answer.counts;
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}
