import { setTimeout as sleep } from 'node:timers/promises';
import { errorCode } from './error-code.js';

/**
 * How long a write waits for another connection's write lock (held by the counting thread's
 * commit, a CLI command, an operator's `sqlite3`) before it is refused SQLITE_BUSY.
 */
export const WRITE_LOCK_WAIT_MS = 5000;

/** How long {@link retryWhileBusy} waits before its first retry, doubled after each. */
const FIRST_RETRY_DELAY_MS = 2;

/** The longest {@link retryWhileBusy} waits between two tries. */
const MAX_RETRY_DELAY_MS = 50;

/** How {@link retryWhileBusy} waits: the defaults in production, shorter in tests. */
export interface BusyRetryOptions {
  /** How long after the first try the last may begin; a try refused then is the caller's error. */
  limitMs?: number;
  /** The wait before the first retry, doubled after each retry up to {@link maxDelayMs}. */
  firstDelayMs?: number;
  /** The longest wait between two tries. */
  maxDelayMs?: number;
}

/**
 * Runs `write` (synchronous SQLite work on a connection whose busy timeout is 0) and answers its
 * result; while it is refused because another connection holds the write lock (SQLITE_BUSY…), it
 * is tried again after a short wait, growing, on a timer: the event loop runs meanwhile, where
 * SQLite's own busy handler would sleep on it. Once `limitMs` has passed the refusal is thrown, as
 * any other error `write` throws is at once. `write` must leave nothing changed when refused: a
 * transaction begun IMMEDIATE, or a single statement, is refused before it writes anything.
 */
export async function retryWhileBusy<T>(
  write: () => T,
  {
    limitMs = WRITE_LOCK_WAIT_MS,
    firstDelayMs = FIRST_RETRY_DELAY_MS,
    maxDelayMs = MAX_RETRY_DELAY_MS,
  }: BusyRetryOptions = {},
): Promise<T> {
  const startedMs = performance.now();
  let delayMs = firstDelayMs;
  for (;;) {
    try {
      return write();
    } catch (error) {
      const waitedMs = performance.now() - startedMs;
      if (!isBusy(error) || waitedMs >= limitMs) throw error;
      await sleep(Math.min(delayMs, limitMs - waitedMs));
      delayMs = Math.min(delayMs * 2, maxDelayMs);
    }
  }
}

/** Whether `error` is SQLite's refusal for a write lock another connection holds. */
function isBusy(error: unknown): boolean {
  return errorCode(error)?.startsWith('SQLITE_BUSY') === true;
}
