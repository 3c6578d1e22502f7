import type { Config } from '../config.js';
import { GroupCommitter } from '../hot/group-commit.js';
import type { Metrics } from '../lib/metrics.js';
import type { BatchRecorder } from '../ports/recorder.js';
import type { WatchedLedgerFile } from './watched-ledger-file.js';

/** Batches with the counting thread at once: the HTTP thread keeps serving while one commits. */
const COMMITS_IN_FLIGHT = 4;
/** A batch this large goes to the counting thread without waiting for the end of the event-loop turn. */
const FLUSH_AT_SIZE = 32;

/**
 * The group committer of the notices and hits served, recording their batches through `recorder`
 * (the counting thread) while `ledgerFile` is the file Tally opened.
 */
export function groupCommitter(
  config: Config,
  recorder: BatchRecorder,
  ledgerFile: WatchedLedgerFile,
  metrics: Metrics,
): GroupCommitter {
  // Nothing is committed into a ledger file no restart would read.
  const guarded: BatchRecorder = {
    record: (batch) => {
      const ledgerFileProblem = ledgerFile.problem();
      return ledgerFileProblem === undefined
        ? recorder.record(batch)
        : Promise.reject(new Error(ledgerFileProblem));
    },
    close: () => recorder.close(),
  };
  return new GroupCommitter(
    guarded,
    {
      maxBatch: config.commitMaxBatch,
      maxDelayMs: config.commitMaxDelayMs,
      maxQueue: config.commitMaxQueue,
      maxInFlight: COMMITS_IN_FLIGHT,
      flushAtSize: FLUSH_AT_SIZE,
    },
    metrics,
  );
}
