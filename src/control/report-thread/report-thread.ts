import type { BillingRecordPage, BillingRecordQuery, ReportRefusal } from '../../ports/ledger.js';
import { RequestThread, ThreadOutOfMemoryError } from '../../lib/request-thread.js';
import type { OutboxState, ReadAnswer, ReadRequest, ReportRequest, ReportThreadData } from './protocol.js';

/** Where the reports API gets its answers. */
export interface ReportSource {
  /**
   * The report's answer body, UTF-8 JSON or CSV; rejects with a {@link ReportRefusedError} for one
   * that cannot be answered as asked.
   */
  report(request: ReportRequest): Promise<Uint8Array>;
}

/** Where the billing records API reads its pages (each a long run of the ledger, see `listBillingRecords`). */
export interface BillingRecordSource {
  billingRecords(query: BillingRecordQuery): Promise<BillingRecordPage>;
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
 * Runs reports, written out as JSON or CSV, reads pages of billing records and the outbox's state
 * on a thread of its own (`worker.ts`, named `threadName`), on a read-only connection to the
 * ledger at `dbPath`, one read at a time.
 */
export class ReportThread implements ReportSource, BillingRecordSource {
  private readonly thread: RequestThread<ReadRequest, ReadAnswer>;

  constructor(dbPath: string, threadName: string) {
    const data: ReportThreadData = { dbPath, threadName };
    this.thread = new RequestThread('report', import.meta.url, data);
  }

  async report(report: ReportRequest): Promise<Uint8Array> {
    let answer: ReadAnswer;
    try {
      answer = await this.thread.request({ type: 'report', report });
    } catch (error) {
      if (!(error instanceof ThreadOutOfMemoryError)) throw error;
      throw new ReportRefusedError(
        `the report needs more memory than Tally's report thread has (it may be allowed more rows, TALLY_REPORT_MAX_ROWS, than it can hold): narrow from and to, group by fewer dimensions or filter on some`,
        'REPORT_TOO_LARGE',
      );
    }
    if ('refused' in answer) throw new ReportRefusedError(answer.refused, answer.code);
    if (!('body' in answer)) throw new Error('the report thread answered another read');
    return answer.body;
  }

  async billingRecords(query: BillingRecordQuery): Promise<BillingRecordPage> {
    const answer = await this.thread.request({ type: 'billingRecords', query });
    if (!('billingRecords' in answer)) throw new Error('the report thread answered another read');
    return answer.billingRecords;
  }

  /** The outbox at `nowMs`: its deliveries by status (a count over every delivery kept) and the relay's lag. */
  async outbox(nowMs: number): Promise<OutboxState> {
    const answer = await this.thread.request({ type: 'outbox', nowMs });
    if (!('outbox' in answer)) throw new Error('the report thread answered another read');
    return answer.outbox;
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}
