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

/** A read waiting for the thread: its answer, and how that is settled. */
interface WaitingRead {
  read: ReadRequest;
  /** The read as text, for a report or a page of billing records: the same read asked again joins it. */
  key: string | undefined;
  answer: Promise<ReadAnswer>;
  resolve: (answer: ReadAnswer) => void;
  reject: (error: unknown) => void;
}

/**
 * Runs reports, written out as JSON or CSV, reads pages of billing records and the outbox's state
 * on a thread of its own (`worker.ts`, named `threadName`), on a read-only connection to the
 * ledger at `dbPath`, one read at a time. The reads waiting are kept here, and a report or a page
 * asked again while the same one waits is answered by that one read, begun after both were
 * asked: a report over a year of rollups takes seconds, and its callers, giving up and asking
 * again (Tally cannot tell a caller gone from one that half-closed its connection), would
 * otherwise have it run once for each time asked before any read behind them.
 */
export class ReportThread implements ReportSource, BillingRecordSource {
  private readonly thread: RequestThread<ReadRequest, ReadAnswer>;
  /** The reads not yet begun, oldest first. */
  private readonly waiting: WaitingRead[] = [];
  /** The reads of `waiting` that have a key, by it. */
  private readonly waitingByKey = new Map<string, WaitingRead>();
  /** Whether a read is with the thread. */
  private reading = false;

  constructor(dbPath: string, threadName: string) {
    const data: ReportThreadData = { dbPath, threadName };
    this.thread = new RequestThread('report', import.meta.url, data);
  }

  async report(report: ReportRequest): Promise<Uint8Array> {
    let answer: ReadAnswer;
    try {
      answer = await this.read({ type: 'report', report });
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
    const answer = await this.read({ type: 'billingRecords', query });
    if (!('billingRecords' in answer)) throw new Error('the report thread answered another read');
    return answer.billingRecords;
  }

  /** The outbox at `nowMs`: its deliveries by status (a count over every delivery kept) and the relay's lag. */
  async outbox(nowMs: number): Promise<OutboxState> {
    const answer = await this.read({ type: 'outbox', nowMs });
    if (!('outbox' in answer)) throw new Error('the report thread answered another read');
    return answer.outbox;
  }

  close(): Promise<void> {
    return this.thread.close();
  }

  /**
   * The thread's answer to `read`, read once those asked before it are answered; the answer of the
   * same report or page waiting already, if one is (see the class).
   */
  private read(read: ReadRequest): Promise<ReadAnswer> {
    const key = read.type === 'outbox' ? undefined : JSON.stringify(read);
    const same = key === undefined ? undefined : this.waitingByKey.get(key);
    if (same !== undefined) return same.answer;
    let resolve: (answer: ReadAnswer) => void = () => {};
    let reject: (error: unknown) => void = () => {};
    const answer = new Promise<ReadAnswer>((resolved, rejected) => {
      resolve = resolved;
      reject = rejected;
    });
    const waiting = { read, key, answer, resolve, reject };
    this.waiting.push(waiting);
    if (key !== undefined) this.waitingByKey.set(key, waiting);
    this.next();
    return answer;
  }

  /** Hands the oldest waiting read to the thread once it is free. */
  private next(): void {
    if (this.reading) return;
    const waiting = this.waiting.shift();
    if (waiting === undefined) return;
    if (waiting.key !== undefined) this.waitingByKey.delete(waiting.key);
    this.reading = true;
    this.thread
      .request(waiting.read)
      .then(waiting.resolve, waiting.reject)
      .finally(() => {
        this.reading = false;
        this.next();
      });
  }
}
