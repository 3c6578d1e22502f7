import type { ServerResponse } from 'node:http';
import type { Metrics } from '../lib/metrics.js';
import type { Recorded, Submission } from '../ports/recorder.js';
import { impressionTypeOf } from '../ports/recorder.js';
import type { GroupCommitter } from './group-commit.js';
import { sendUnavailable } from './responses.js';

/**
 * Commits one notice or hit (the committer counts it in the metrics) and calls `done` with what
 * was recorded, or with `undefined` when it cannot be committed (the commit queue is full, or the
 * ledger failed): the caller then answers 503, and answers anything else only for events that
 * are durably recorded. A full queue calls `done` before this returns.
 */
export function commitThen(
  committer: GroupCommitter,
  metrics: Metrics,
  submission: Submission,
  done: (recorded: Recorded | undefined) => void,
): void {
  if (committer.offer(submission, done, () => done(undefined))) return;
  metrics.inc('tally_notices_refused_total', 'Notices and hits answered 503: the commit queue was full', {
    impression_type: impressionTypeOf(submission),
  });
  done(undefined);
}

/** `commitThen` as a promise. */
export function commitOrRefuse(
  committer: GroupCommitter,
  metrics: Metrics,
  submission: Submission,
): Promise<Recorded | undefined> {
  return new Promise((resolve) => commitThen(committer, metrics, submission, resolve));
}

/** `commitOrRefuse`, answering 503 itself when the event was not committed. */
export async function recordOrRefuse(
  committer: GroupCommitter,
  metrics: Metrics,
  submission: Submission,
  res: ServerResponse,
): Promise<Recorded | undefined> {
  const recorded = await commitOrRefuse(committer, metrics, submission);
  if (recorded === undefined) sendUnavailable(res);
  return recorded;
}
