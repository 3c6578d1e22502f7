import { Worker } from 'node:worker_threads';
import type { ReportQuery, ReportRow } from '../../ports/ledger.js';
import { workerEntry } from '../../lib/worker-entry.js';
import type { ReportAnswer, ReportRequest } from './protocol.js';

/** Where the reports API gets its rows. */
export interface ReportSource {
  report(query: ReportQuery): Promise<ReportRow[]>;
}

interface Pending {
  resolve: (rows: ReportRow[]) => void;
  reject: (error: Error) => void;
}

/**
 * Runs reports on a thread of their own (`worker.ts`), one at a time in arrival order, on a
 * read-only connection to the ledger at `dbPath`. The thread starts with the first report; if
 * it dies, the reports it held fail and the next report starts a new one.
 */
export class ReportThread implements ReportSource {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(private readonly dbPath: string) {}

  report(query: ReportQuery): Promise<ReportRow[]> {
    const worker = this.worker ?? this.spawn();
    const id = this.nextId++;
    return new Promise<ReportRow[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const request: ReportRequest = { id, query };
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
    worker.on('message', (answer: ReportAnswer) => {
      const pending = this.pending.get(answer.id);
      this.pending.delete(answer.id);
      if ('rows' in answer) pending?.resolve(answer.rows);
      else pending?.reject(new Error(answer.error));
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
