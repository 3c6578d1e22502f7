import type { Outcome } from '../../src/domain/outcome.js';
import type { Ledger } from '../../src/ports/ledger.js';
import type { BatchRecorder } from '../../src/ports/recorder.js';

/**
 * A recorder that commits each batch on the calling thread, straight into `ledger`: the group
 * committer and the notice endpoints tested without the counting thread. A ledger that throws
 * rejects the batch, as the counting thread's failure would.
 */
export function inlineRecorder(ledger: Ledger): BatchRecorder {
  return {
    record: (batch) => new Promise<Outcome[]>((resolve) => resolve(ledger.record(batch))),
    close: () => Promise.resolve(),
  };
}
