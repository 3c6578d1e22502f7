import type { Outcome } from '../domain/outcome.js';
import type { EventRecord } from './ledger.js';

/**
 * Commits batches of decided events (exchange notices and tracker hits, decided on the HTTP
 * thread) to the ledger, one `Ledger.record` transaction per batch. The promise resolves only
 * after the transaction committed, with each event's outcome in input order (a would-be count
 * may become a duplicate there), and rejects when it did not commit. Batches are committed in
 * the order given.
 */
export interface BatchRecorder {
  record(batch: readonly EventRecord[]): Promise<Outcome[]>;
  /** Stops accepting batches once those given are committed. */
  close(): Promise<void>;
}
