import type { Outcome } from '../domain/outcome.js';
import type { Metrics } from '../lib/metrics.js';
import type { EventRecord } from '../ports/ledger.js';
import { UnsyncedCommitError } from '../ports/recorder.js';
import type { GroupCommitter } from './group-commit.js';

/**
 * The counter of notices and hits answered 503, by impression type and why: the commit queue was
 * full (`queue_full`), their batch did not commit (`not_committed`: the ledger failed, its file
 * is gone, the counting thread died or restarts), or it committed but its sync to the disk failed
 * (`not_synced`: recorded, and counted in `tally_notices_total` by their outcomes, yet answered
 * 503; a retry is a duplicate).
 */
export const REFUSED_NOTICES_METRIC = {
  name: 'tally_notices_refused_total',
  help: 'Notices and hits answered 503, by reason: the commit queue was full (queue_full), their batch did not commit (not_committed), or it committed but could not be synced to the disk (not_synced: recorded, and in tally_notices_total)',
  reasons: ['queue_full', 'not_committed', 'not_synced'],
} as const;

/**
 * Commits one decided notice or hit (the committer counts it in the metrics) and calls `done`
 * with its outcome, or with `undefined` when it cannot be committed (the commit queue is full,
 * or the ledger failed) or its commit could not be synced to the disk: the caller then answers
 * 503, and answers anything else only for events that are durably recorded. A full queue calls
 * `done` before this returns.
 */
export function commitThen(
  committer: GroupCommitter,
  metrics: Metrics,
  event: EventRecord,
  done: (outcome: Outcome | undefined) => void,
): void {
  const refused = (reason: (typeof REFUSED_NOTICES_METRIC.reasons)[number]) => {
    metrics.inc(REFUSED_NOTICES_METRIC.name, REFUSED_NOTICES_METRIC.help, {
      impression_type: event.dims.impressionType,
      reason,
    });
    done(undefined);
  };
  const failed = (error: unknown) =>
    refused(error instanceof UnsyncedCommitError ? 'not_synced' : 'not_committed');
  if (!committer.offer(event, done, failed)) refused('queue_full');
}
