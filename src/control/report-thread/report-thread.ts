import type { BillingRecordPage, BillingRecordQuery, ReportRefusal } from '../../ports/ledger.js';
import { RequestThread, ThreadOutOfMemoryError } from '../../lib/request-thread.js';
import type { OutboxState, ReadAnswer, ReadRequest, ReportRequest, ReportThreadData } from './protocol.js';

/** Where the reports API gets its answers. */
export interface ReportSource {
  /**
   * The report's answer body, UTF-8 JSON or CSV; rejects with a {@link ReportRefusedError} for one
   * that cannot be answered as asked, a {@link ReportsBusyError} when too many reads wait already,
   * a {@link ReadAbandonedError} once every caller asking it went away (`abandoned` aborted)
   * before it began, and with any other error for a failure worth retrying.
   */
  report(request: ReportRequest, abandoned?: AbortSignal): Promise<Uint8Array>;
}

/** Where the billing records API reads its pages (each a long run of the ledger, see `listBillingRecords`). */
export interface BillingRecordSource {
  /** Rejects as {@link ReportSource.report} does when the page could not be read just now. */
  billingRecords(query: BillingRecordQuery, abandoned?: AbortSignal): Promise<BillingRecordPage>;
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

/** A read refused because as many reports and pages as are kept waiting wait already: the caller should retry shortly. */
export class ReportsBusyError extends Error {
  override readonly name = 'ReportsBusyError';

  constructor(waitingReads: number) {
    super(
      `Tally has ${waitingReads} reports and pages of billing records waiting to be read, as many as it keeps waiting: retry in a few seconds`,
    );
  }
}

/** A read dropped before it began, every caller asking it gone. */
export class ReadAbandonedError extends Error {
  override readonly name = 'ReadAbandonedError';

  constructor() {
    super('every caller asking the read went away before it began');
  }
}

/**
 * Most distinct reports and pages of billing records waiting for the thread (a report over months
 * takes seconds, a page tens of ms): past it, another is refused ({@link ReportsBusyError}) rather
 * than answered long after its caller, a dashboard or a script that gave up, has gone. A read
 * joining the same one waiting, and Tally's own reads of the outbox, are never refused.
 */
export const MAX_WAITING_READS = 64;

/** A read waiting for the thread: its answer, and how that is settled. */
interface WaitingRead {
  read: ReadRequest;
  /** The read as text, for a report or a page of billing records: the same read asked again joins it. */
  key: string | undefined;
  /** The callers asking it that have not gone away; a caller that cannot go away counts for good. */
  callers: number;
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
  private readonly maxWaitingReads: number;

  /**
   * `maxWaitingReads`: most reports and pages left waiting ({@link MAX_WAITING_READS} by default).
   * Reads of the outbox are never refused, but wait their turn: Tally counts the outbox on a
   * thread of its own, so that no report holds up a scrape of `/metrics`.
   */
  constructor(
    dbPath: string,
    threadName: string,
    { maxWaitingReads = MAX_WAITING_READS }: { maxWaitingReads?: number } = {},
  ) {
    const data: ReportThreadData = { dbPath, threadName };
    this.thread = new RequestThread('report', import.meta.url, data);
    this.maxWaitingReads = maxWaitingReads;
  }

  async report(report: ReportRequest, abandoned?: AbortSignal): Promise<Uint8Array> {
    let answer: ReadAnswer;
    try {
      answer = await this.read({ type: 'report', report }, abandoned);
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

  async billingRecords(query: BillingRecordQuery, abandoned?: AbortSignal): Promise<BillingRecordPage> {
    const answer = await this.read({ type: 'billingRecords', query }, abandoned);
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
   * same report or page waiting already, if one is (see the class). A new report or page is
   * refused once `maxWaitingReads` wait; one whose every caller went away (its `abandoned`
   * aborted) before it began is dropped.
   */
  private read(read: ReadRequest, abandoned?: AbortSignal): Promise<ReadAnswer> {
    if (abandoned?.aborted === true) return Promise.reject(new ReadAbandonedError());
    const key = read.type === 'outbox' ? undefined : JSON.stringify(read);
    const same = key === undefined ? undefined : this.waitingByKey.get(key);
    if (same !== undefined) {
      this.join(same, abandoned);
      return same.answer;
    }
    if (key !== undefined && this.waitingByKey.size >= this.maxWaitingReads)
      return Promise.reject(new ReportsBusyError(this.waitingByKey.size));
    let resolve: (answer: ReadAnswer) => void = () => {};
    let reject: (error: unknown) => void = () => {};
    const answer = new Promise<ReadAnswer>((resolved, rejected) => {
      resolve = resolved;
      reject = rejected;
    });
    const waiting = { read, key, callers: 0, answer, resolve, reject };
    this.join(waiting, abandoned);
    this.waiting.push(waiting);
    if (key !== undefined) this.waitingByKey.set(key, waiting);
    this.next();
    return answer;
  }

  /** Counts a caller of `waiting`, until `abandoned`, if given, aborts. */
  private join(waiting: WaitingRead, abandoned: AbortSignal | undefined): void {
    waiting.callers++;
    abandoned?.addEventListener(
      'abort',
      () => {
        waiting.callers--;
        if (waiting.callers === 0) this.drop(waiting);
      },
      { once: true },
    );
  }

  /** Drops `waiting`, if it has not begun: nobody waits for its answer any longer. */
  private drop(waiting: WaitingRead): void {
    const at = this.waiting.indexOf(waiting);
    if (at === -1) return;
    this.waiting.splice(at, 1);
    if (waiting.key !== undefined) this.waitingByKey.delete(waiting.key);
    waiting.reject(new ReadAbandonedError());
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
