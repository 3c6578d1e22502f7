import type { Logger } from '../lib/log.js';
import type { NoticeAnswer } from './notice-answer.js';
import { UNAVAILABLE } from './notice-answer.js';
import { loggedTarget } from './logged-target.js';
import type { LaneServe } from './notice-lane.js';
import type { NoticeDeps } from './notices.js';
import { answerNotice, laneNotice } from './notices.js';
import type { TrackerDeps } from './trackers.js';
import { answerTrackerHit, laneTrackerHit } from './trackers.js';

/**
 * The answer to a notice or hit that failed (it was not recorded): the client should retry. It
 * is the 503 of one that could not be committed, `Retry-After` included, as every 503 Tally sends
 * says when to try again.
 */
export const HIT_FAILED: NoticeAnswer = UNAVAILABLE;

/**
 * How the notice lane serves what it read: a notice by `answerNotice`, a tracker hit by
 * `answerTrackerHit`. A hit that fails before it is recorded (its catalog cannot be read) is
 * answered {@link HIT_FAILED} and logged `hit_failed` with its target's path and parameter names
 * (see `loggedTarget`), as node:http's path answers it.
 */
export function laneServe(notices: NoticeDeps, trackers: TrackerDeps, log: Logger): LaneServe {
  return (request, remoteAddress, answer) => {
    if (request.endpoint === 'notice')
      return answerNotice(laneNotice(request, remoteAddress, notices.nowMs()), notices, answer);
    try {
      answerTrackerHit(request.endpoint, laneTrackerHit(request, remoteAddress), trackers, answer);
    } catch (error) {
      log.error('hit_failed', { path: loggedTarget(request.target), error: String(error) });
      answer(HIT_FAILED);
    }
  };
}
