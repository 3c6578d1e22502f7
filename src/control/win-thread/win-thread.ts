import { RequestThread } from '../../lib/request-thread.js';
import type { WinSettings, WinsReply, WinsRequest } from './protocol.js';

/** One `POST /v1/wins` call to register. */
export interface WinsCall {
  accountId: number;
  body: string;
  /** When the call arrived: the auction time of its wins that give none. */
  receivedMs: number;
  /** Aborted once the caller went away: a call not yet begun is then dropped. */
  abandoned?: AbortSignal;
}

/** Where the wins API has its calls answered. */
export interface WinRegistrar {
  register(call: WinsCall): Promise<WinsReply>;
}

/** A call refused because too many wait for the wins threads: the caller should retry shortly. */
export class WinsBusyError extends Error {
  constructor(waitingChars: number) {
    super(
      `Tally has ${waitingChars} characters of wins waiting to be registered, more than it takes at once: retry the call in a second`,
    );
    this.name = 'WinsBusyError';
  }
}

/** A call dropped before it began, its caller gone. */
export class WinsAbandonedError extends Error {
  constructor() {
    super('the caller went away before its wins were registered');
    this.name = 'WinsAbandonedError';
  }
}

/**
 * Most characters of bodies waiting for the wins threads (some seconds of their work: a VAST win of
 * 7 KB takes about 0.4 ms): past it, a call is refused ({@link WinsBusyError}) rather than
 * answered after its caller, an auction waiting on it, has given up.
 */
const MAX_WAITING_CHARS = 32 * 1024 * 1024;

interface Waiting {
  call: WinsCall;
  resolve: (answer: WinsReply) => void;
  reject: (error: Error) => void;
}

/** What {@link WinThreads} is started with besides the wins' settings. */
interface WinThreadsOptions {
  /** Threads registering calls side by side (1 by default). */
  threads?: number;
  /** Most characters of bodies left waiting ({@link MAX_WAITING_CHARS} by default). */
  maxWaitingChars?: number;
}

/**
 * Registers wins on threads of their own (`worker.ts`), each taking the oldest waiting call as it
 * becomes free, so that a small call need not wait behind one large call of thousands of wins
 * while another thread is free. The calls waiting are kept here, so that one whose caller went
 * away is dropped before it begins, and are bounded ({@link MAX_WAITING_CHARS}) but for the first,
 * however large.
 */
export class WinThreads implements WinRegistrar {
  private readonly threads: RequestThread<WinsRequest, WinsReply>[];
  /** The threads without a call. */
  private readonly idle: RequestThread<WinsRequest, WinsReply>[];
  private readonly waiting: Waiting[] = [];
  private waitingChars = 0;
  private readonly maxWaitingChars: number;

  constructor(
    settings: WinSettings,
    { threads = 1, maxWaitingChars = MAX_WAITING_CHARS }: WinThreadsOptions = {},
  ) {
    this.threads = Array.from(
      { length: threads },
      () => new RequestThread('wins', import.meta.url, settings),
    );
    this.idle = [...this.threads];
    this.maxWaitingChars = maxWaitingChars;
  }

  /** Starts the threads now rather than with the first calls, which would wait for them. */
  start(): void {
    for (const thread of this.threads) thread.start();
  }

  register(call: WinsCall): Promise<WinsReply> {
    if (this.waiting.length > 0 && this.waitingChars + call.body.length > this.maxWaitingChars)
      return Promise.reject(new WinsBusyError(this.waitingChars));
    return new Promise<WinsReply>((resolve, reject) => {
      this.waiting.push({ call, resolve, reject });
      this.waitingChars += call.body.length;
      this.next();
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((thread) => thread.close()));
  }

  /** Hands waiting calls to idle threads, dropping those whose caller went away. */
  private next(): void {
    while (this.idle.length > 0) {
      const waiting = this.waiting.shift();
      if (waiting === undefined) return;
      const { call, resolve, reject } = waiting;
      this.waitingChars -= call.body.length;
      if (call.abandoned?.aborted === true) {
        reject(new WinsAbandonedError());
        continue;
      }
      const thread = this.idle.pop() as RequestThread<WinsRequest, WinsReply>;
      thread
        .request({ accountId: call.accountId, body: call.body, receivedMs: call.receivedMs })
        .then(resolve, reject)
        .finally(() => {
          this.idle.push(thread);
          this.next();
        });
    }
  }
}
