import { RequestThread } from '../../lib/request-thread.js';
import type { WinsAnswer } from '../register-wins.js';
import type { WinSettings, WinsRequest } from './protocol.js';

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
  register(call: WinsCall): Promise<WinsAnswer>;
}

/** A call refused because too many wait for the wins thread: the caller should retry shortly. */
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
 * Most characters of bodies waiting for the wins thread (some seconds of its work: a VAST win of
 * 7 KB takes about 0.4 ms): past it, a call is refused ({@link WinsBusyError}) rather than
 * answered after its caller, an auction waiting on it, has given up.
 */
export const MAX_WAITING_CHARS = 32 * 1024 * 1024;

interface Waiting {
  call: WinsCall;
  resolve: (answer: WinsAnswer) => void;
  reject: (error: Error) => void;
}

/**
 * Registers wins on a thread of their own (`worker.ts`), one call at a time in arrival order. The
 * calls waiting are kept here, so that one whose caller went away is dropped before it begins,
 * and are bounded ({@link MAX_WAITING_CHARS}) but for the first, however large.
 */
export class WinThread implements WinRegistrar {
  private readonly thread: RequestThread<WinsRequest, WinsAnswer>;
  private readonly waiting: Waiting[] = [];
  private waitingChars = 0;
  private busy = false;

  constructor(
    settings: WinSettings,
    private readonly maxWaitingChars = MAX_WAITING_CHARS,
  ) {
    this.thread = new RequestThread('wins', import.meta.url, settings);
  }

  /** Starts the thread now rather than with the first call, which would wait for it. */
  start(): void {
    this.thread.start();
  }

  register(call: WinsCall): Promise<WinsAnswer> {
    if (this.waiting.length > 0 && this.waitingChars + call.body.length > this.maxWaitingChars)
      return Promise.reject(new WinsBusyError(this.waitingChars));
    return new Promise<WinsAnswer>((resolve, reject) => {
      this.waiting.push({ call, resolve, reject });
      this.waitingChars += call.body.length;
      this.next();
    });
  }

  close(): Promise<void> {
    return this.thread.close();
  }

  private next(): void {
    if (this.busy) return;
    const waiting = this.waiting.shift();
    if (waiting === undefined) return;
    const { call, resolve, reject } = waiting;
    this.waitingChars -= call.body.length;
    if (call.abandoned?.aborted === true) {
      reject(new WinsAbandonedError());
      this.next();
      return;
    }
    this.busy = true;
    this.thread
      .request({ accountId: call.accountId, body: call.body, receivedMs: call.receivedMs })
      .then(resolve, reject)
      .finally(() => {
        this.busy = false;
        this.next();
      });
  }
}
