import type { NoticeRequest } from '../domain/notice-request.js';
import type { Outcome } from '../domain/outcome.js';
import type { EventRecord, ImpressionType } from './ledger.js';

/**
 * One thing to commit: an exchange notice still to be decided (its request facts), or an event
 * already decided (a tracker hit).
 */
export type Submission = { notice: NoticeRequest } | { event: EventRecord };

/** How a submission reached Tally: a notice is always an exchange impression. */
export function impressionTypeOf(submission: Submission): ImpressionType {
  return 'notice' in submission ? 'exchange' : submission.event.dims.impressionType;
}

/** What committing one submission gave. */
export interface Recorded {
  outcome: Outcome;
  /** The DSP burl (macros filled) a counted notice on Tally's burl answers 302 to; '' otherwise. */
  redirectTo: string;
}

/**
 * Commits batches of submissions to the ledger, one `Ledger.record` transaction per batch. The
 * promise resolves only after the transaction committed, with what was recorded in input order,
 * and rejects when it did not commit. Batches are committed in the order given.
 */
export interface BatchRecorder {
  record(batch: readonly Submission[]): Promise<Recorded[]>;
  /** Stops accepting batches once those given are committed. */
  close(): Promise<void>;
}
