import type { TrackerKind } from '../domain/tracker-hit.js';
import type { Logger } from '../lib/log.js';
import type { ImpressionType } from '../ports/ledger.js';
import type { NoticeAnswer } from './notice-answer.js';
import { UNAVAILABLE } from './notice-answer.js';
import { loggedTarget } from './logged-target.js';
import type { LaneServe } from './notice-lane.js';
import type { NoticeDeps } from './notices.js';
import { answerNotice, laneNotice } from './notices.js';
import type { TrackerDeps } from './trackers.js';
import { answerTrackerHit, laneTrackerHit } from './trackers.js';
import { countRefused } from './record.js';

/**
 * The answer to a notice or hit that failed (it was not recorded): the client should retry. It
 * is the 503 of one that could not be committed, `Retry-After` included, as every 503 Tally sends
 * says when to try again.
 */
export const HIT_FAILED: NoticeAnswer = UNAVAILABLE;

/**
 * How the notice lane serves what it read: a notice by `answerNotice`, a tracker hit by
 * `answerTrackerHit`. A notice or hit that fails before it is recorded (a hit's catalog cannot be
 * read, or a fault) is answered {@link HIT_FAILED}, counted in `tally_notices_refused_total` as
 * `failed` and logged `hit_failed` with its target's path and parameter names (see
 * `loggedTarget`), as node:http's path answers it; thrown on, it would end the server.
 */
export function laneServe(notices: NoticeDeps, trackers: TrackerDeps, log: Logger): LaneServe {
  return (request, remoteAddress, answer) => {
    try {
      if (request.endpoint === 'notice')
        answerNotice(laneNotice(request, remoteAddress, notices.nowMs()), notices, answer);
      else answerTrackerHit(request.endpoint, laneTrackerHit(request, remoteAddress), trackers, answer);
    } catch (error) {
      log.error('hit_failed', { path: loggedTarget(request.target), error: String(error) });
      countRefused(notices.metrics, hitImpressionType(request.endpoint), 'failed');
      answer(HIT_FAILED);
    }
  };
}

/** The impression type a notice (`notice`) or tracker hit (its kind) is recorded as. */
export function hitImpressionType(endpoint: 'notice' | TrackerKind): ImpressionType {
  if (endpoint === 'notice') return 'exchange';
  return endpoint === 'impression' ? 'external_impression' : 'external_click';
}
