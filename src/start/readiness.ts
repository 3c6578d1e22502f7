import type { WorkerRecorder } from '../counting-thread/worker-recorder.js';
import type { GroupCommitter } from '../hot/group-commit.js';
import type { Metrics } from '../lib/metrics.js';
import type { DataDiskSpace } from './data-disk-space.js';
import type { ServingState } from './serving-state.js';
import type { WatchedLedgerFile } from './watched-ledger-file.js';

/**
 * A commit waiting this long, neither done nor failed, makes `/readyz` answer 503: a healthy one
 * takes milliseconds, and its notices wait unanswered meanwhile.
 */
const STUCK_COMMIT_MS = 2000;

/** What Tally's readiness is read from. */
export interface ReadinessSources {
  state: ServingState;
  /** The data directory, kept out of the public reasons. */
  dataDir: string;
  ledgerFile: WatchedLedgerFile;
  recorder: WorkerRecorder;
  committer: GroupCommitter;
  /** The free space of the data directory's disk, against `TALLY_MIN_FREE_DISK_MB`. */
  dataDisk: DataDiskSpace;
}

/** Why `/readyz` answers 503, or `undefined` when Tally is ready. */
export function unreadyReasonOf({
  state,
  dataDir,
  ledgerFile,
  recorder,
  committer,
  dataDisk,
}: ReadinessSources): () => string | undefined {
  return (): string | undefined => {
    // Public: the data directory's path stays in the log. First, as what the operator must mend:
    // the counting thread fails for the same cause (a data directory moved away).
    const ledgerFileProblem = ledgerFile.problem();
    const ledgerGone =
      ledgerFileProblem === undefined
        ? undefined
        : `${ledgerFileProblem.replaceAll(dataDir, '<data dir>')}, so notices are answered 503 (logged as ledger_file_gone, with its path)`;
    const counterFailure = recorder.failure();
    // Public, as above: its error may name the ledger's path.
    if (counterFailure !== undefined) {
      const failed = `the counting thread failed (${counterFailure.replaceAll(dataDir, '<data dir>')}; logged as counter_failed) and is restarted: see the log`;
      return ledgerGone === undefined ? failed : `${ledgerGone}; ${failed}`;
    }
    if (!state.ready || !recorder.isWarm())
      return 'starting (loading the live dedupe claims from the ledger) or shutting down: retry shortly';
    if (ledgerGone !== undefined) return ledgerGone;
    if (committer.isFailing()) {
      const advice = committer.failureAdvice();
      return advice === undefined
        ? 'the ledger fails to commit (logged as commit_failed), so notices are answered 503: see the log'
        : `the ledger fails to commit (${advice}; logged as commit_failed), so notices are answered 503`;
    }
    const commitWaitingMs = committer.commitWaitingMs();
    if (commitWaitingMs >= STUCK_COMMIT_MS)
      return `a commit has waited ${(commitWaitingMs / 1000).toFixed(1)} s (the counting thread is stuck, or the disk or the ledger's write lock is held), so notices wait unanswered`;
    // Last: notices are still counted meanwhile, where each reason above says they are not.
    return dataDisk.lowReason();
  };
}

/** Shows on `/metrics` whether Tally is ready, as `unreadyReason` says. */
export function showReadiness(metrics: Metrics, unreadyReason: () => string | undefined): void {
  metrics.gauge(
    'tally_ready',
    'Whether Tally is ready (1: /readyz answers 200) or not (0: it answers 503, saying why: starting or stopping, the ledger failing or gone, a commit stuck, the counting thread failed, less free on the data directory disk than TALLY_MIN_FREE_DISK_MB)',
    () => (unreadyReason() === undefined ? 1 : 0),
  );
}
