import type { Outcome } from '../domain/outcome.js';
import type { CounterSink, Metrics } from '../lib/metrics.js';
import type { EventRecord, ImpressionType } from '../ports/ledger.js';
import { UnsyncedCommitError } from '../ports/recorder.js';
import type { GroupCommitter } from './group-commit.js';

/**
 * The counter of notices and hits answered 503, by impression type and why: the commit queue was
 * full (`queue_full`), their batch did not commit (`not_committed`: the ledger failed, its file
 * is gone, the counting thread died or restarts), it committed but its sync to the disk failed
 * (`not_synced`: recorded, and counted in `tally_notices_total` by their outcomes, yet answered
 * 503; a retry is a duplicate), or serving it failed before it was recorded (`failed`: a tracker
 * hit's catalog could not be read, or a fault; logged as `hit_failed`).
 */
export const REFUSED_NOTICES_METRIC = {
  name: 'tally_notices_refused_total',
  help: 'Notices and hits answered 503, by reason: the commit queue was full (queue_full), their batch did not commit (not_committed), it committed but could not be synced to the disk (not_synced: recorded, and in tally_notices_total), or serving it failed before it was recorded (failed, logged as hit_failed)',
  reasons: ['queue_full', 'not_committed', 'not_synced', 'failed'],
} as const;

/** Why a notice or hit was answered 503: one of {@link REFUSED_NOTICES_METRIC}'s reasons. */
export type RefusedReason = (typeof REFUSED_NOTICES_METRIC.reasons)[number];

/** Counts one notice or hit of `impressionType` answered 503 for `reason`. */
export function countRefused(
  metrics: CounterSink,
  impressionType: ImpressionType,
  reason: RefusedReason,
): void {
  metrics.inc(REFUSED_NOTICES_METRIC.name, REFUSED_NOTICES_METRIC.help, {
    impression_type: impressionType,
    reason,
  });
}

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
  const refused = (reason: RefusedReason) => {
    countRefused(metrics, event.dims.impressionType, reason);
    done(undefined);
  };
  const failed = (error: unknown) =>
    refused(error instanceof UnsyncedCommitError ? 'not_synced' : 'not_committed');
  if (!committer.offer(event, done, failed)) refused('queue_full');
}
