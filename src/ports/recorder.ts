import type { Outcome } from '../domain/outcome.js';
import type { EventRecord } from './ledger.js';

/**
 * Commits batches of decided events (exchange notices and tracker hits, decided on the HTTP
 * thread) to the ledger, one `Ledger.record` transaction per batch. The promise resolves only
 * after the transaction committed and is durable, with each event's outcome in input order (a
 * would-be count may become a duplicate there), and rejects when it did not commit, or with an
 * {@link UnsyncedCommitError} when it committed but could not be made durable. Batches are
 * committed in the order given.
 */
export interface BatchRecorder {
  record(batch: readonly EventRecord[]): Promise<Outcome[]>;
  /** Stops accepting batches once those given are committed. */
  close(): Promise<void>;
}

/**
 * A batch that committed but whose commit could not be synced to the disk: not acknowledged (its
 * notices are answered 503), yet recorded, with these `outcomes` (in input order), which the
 * ledger keeps (a retry of one is a duplicate of it). Reads of the ledger, metrics included,
 * see them; a crash before the disk holds them would lose them.
 */
export class UnsyncedCommitError extends Error {
  constructor(
    message: string,
    readonly outcomes: readonly Outcome[],
  ) {
    super(message);
    this.name = 'UnsyncedCommitError';
  }
}
