import { Worker } from 'node:worker_threads';
import type { DeliveryStatus, ReportQuery, ReportRow } from '../../ports/ledger.js';
import { workerEntry } from '../../lib/worker-entry.js';
import type { ReadAnswer, ReadRequest } from './protocol.js';

/** Where the reports API gets its rows. */
export interface ReportSource {
  report(query: ReportQuery): Promise<ReportRow[]>;
}

interface Pending {
  resolve: (answer: ReadAnswer) => void;
  reject: (error: Error) => void;
}

/**
 * Runs reports and counts the outbox on a thread of their own (`worker.ts`), one read at a time
 * in arrival order, on a read-only connection to the ledger at `dbPath`. The thread starts with
 * the first read; if it dies, the reads it held fail and the next read starts a new one.
 */
export class ReportThread implements ReportSource {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(private readonly dbPath: string) {}

  async report(query: ReportQuery): Promise<ReportRow[]> {
    const answer = await this.read({ id: this.nextId++, type: 'report', query });
    if (!('rows' in answer)) throw new Error('the report thread answered another request');
    return answer.rows;
  }

  /** The outbox's deliveries by status (a count over every delivery kept). */
  async deliveryCounts(): Promise<Record<DeliveryStatus, number>> {
    const answer = await this.read({ id: this.nextId++, type: 'deliveryCounts' });
    if (!('counts' in answer)) throw new Error('the report thread answered another request');
    return answer.counts;
  }

  private read(request: ReadRequest): Promise<ReadAnswer> {
    const worker = this.worker ?? this.spawn();
    return new Promise<ReadAnswer>((resolve, reject) => {
      this.pending.set(request.id, { resolve, reject });
      worker.postMessage(request);
    });
  }

  /** Stops the thread; reports still running fail. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private spawn(): Worker {
    const entry = workerEntry(import.meta.url, 'worker');
    const worker = new Worker(entry.filename, { eval: entry.evaluate, workerData: this.dbPath });
    worker.unref();
    worker.on('message', (answer: ReadAnswer) => {
      const pending = this.pending.get(answer.id);
      this.pending.delete(answer.id);
      if ('error' in answer) pending?.reject(new Error(answer.error));
      else pending?.resolve(answer);
    });
    let failure = '';
    worker.on('error', (error) => (failure = `: ${String(error)}`));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      const error = new Error(`the report thread exited (${code})${failure}`);
      for (const pending of this.pending.values()) pending.reject(error);
      this.pending.clear();
    });
    this.worker = worker;
    return worker;
  }
}
