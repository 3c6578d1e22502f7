import type { Worker } from 'node:worker_threads';
import type { MessagePort, TransferListItem } from 'node:worker_threads';
import { startWorkerThread } from './worker-entry.js';

/** A request as it travels to the thread. */
interface Envelope<Request> {
  id: number;
  request: Request;
}

/** An answer as it travels back: what the handler returned, or what it threw. */
type Reply<Answer> = { id: number; answer: Answer } | { id: number; error: string };

interface Pending<Answer> {
  resolve: (answer: Answer) => void;
  reject: (error: Error) => void;
}

/**
 * What the request a thread was answering when it ran out of memory fails with: sent again, it
 * would fail the same way (the requests queued behind it fail as for any other death of the thread).
 */
export class ThreadOutOfMemoryError extends Error {
  override readonly name = 'ThreadOutOfMemoryError';
}

/**
 * A worker thread (the module `worker` beside `moduleUrl`, started with `workerData`; `label`
 * names it in errors) that answers requests one at a time, in arrival order, so that their work
 * never holds up the calling thread. It starts with the first request; if it dies, the requests
 * it held fail and the next request starts a new one. Once closed, it refuses requests. The
 * module answers with {@link serveRequests}.
 */
export class RequestThread<Request, Answer> {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending<Answer>>();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly label: string,
    private readonly moduleUrl: string,
    private readonly workerData: unknown,
  ) {}

  /** Starts the thread, if none runs, so that the first request need not wait for it. */
  start(): void {
    if (!this.closed) this.worker ??= this.spawn();
  }

  /** The thread's answer; rejects with what the handler threw, when the thread died, or once closed. */
  request(request: Request): Promise<Answer> {
    if (this.closed) return Promise.reject(new Error(`the ${this.label} thread is closed`));
    const worker = this.worker ?? this.spawn();
    const id = this.nextId++;
    return new Promise<Answer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const envelope: Envelope<Request> = { id, request };
      worker.postMessage(envelope);
    });
  }

  /** Stops the thread; requests still running fail. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private spawn(): Worker {
    const worker = startWorkerThread(this.moduleUrl, this.workerData);
    worker.unref();
    worker.on('message', (reply: Reply<Answer>) => {
      const pending = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if ('error' in reply) pending?.reject(new Error(reply.error));
      else pending?.resolve(reply.answer);
    });
    let failure: NodeJS.ErrnoException | undefined;
    worker.on('error', (error) => (failure = error));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      const error = new Error(
        `the ${this.label} thread exited (${code})${failure ? `: ${String(failure)}` : ''}`,
      );
      // Requests are answered in arrival order: the first pending is the one it was answering.
      let answering = failure?.code === 'ERR_WORKER_OUT_OF_MEMORY';
      for (const pending of this.pending.values()) {
        pending.reject(answering ? new ThreadOutOfMemoryError(error.message) : error);
        answering = false;
      }
      this.pending.clear();
    });
    this.worker = worker;
    return worker;
  }
}

/**
 * In the worker thread's module: answers every request that `port` receives with `handle`. The
 * buffers `movedOf` names in an answer are moved to the calling thread rather than copied (they
 * must own their memory, as a `TextEncoder`'s do, not share a pool as small `Buffer`s do).
 */
export function serveRequests<Request, Answer>(
  port: MessagePort,
  handle: (request: Request) => Answer,
  movedOf: (answer: Answer) => TransferListItem[] = () => [],
): void {
  port.on('message', ({ id, request }: Envelope<Request>) => {
    let reply: Reply<Answer>;
    let moved: TransferListItem[] = [];
    try {
      const answer = handle(request);
      reply = { id, answer };
      moved = movedOf(answer);
    } catch (error) {
      reply = { id, error: String(error) };
    }
    port.postMessage(reply, moved);
  });
}
