import type { IncomingMessage, ServerResponse } from 'node:http';
import { decideHit, TRACKER_DEDUPE_WINDOW_MS, trackerDedupeKey } from '../domain/decide-hit.js';
import type { HitRequest } from '../domain/hit-request.js';
import type { IvtFilter } from '../domain/ivt-filter.js';
import type { Device } from '../domain/read-device.js';
import { isPrefetch } from '../domain/ivt.js';
import { escapeHtml } from '../domain/html.js';
import type { Outcome } from '../domain/outcome.js';
import { notCounted } from '../domain/outcome.js';
import type { PaymentRule } from '../domain/payment-rules.js';
import { ruleInEffect, selectPaymentRule } from '../domain/payment-rules.js';
import { clickCostAndRevenue, costAndRevenue } from '../domain/revenue.js';
import type { TrackerHit, TrackerKind } from '../domain/tracker-hit.js';
import { checkRedirectTarget, parseTrackerHit } from '../domain/tracker-hit.js';
import type { Metrics } from '../lib/metrics.js';
import { OPERATOR_ACCOUNT_ID } from '../ports/accounts.js';
import type { CatalogView, TrackerView } from '../ports/catalog.js';
import type { EventRecord } from '../ports/ledger.js';
import { EMPTY_DIMENSIONS } from '../ports/ledger.js';
import { hourStartMs } from '../lib/time.js';
import type { GroupCommitter } from './group-commit.js';
import type { LaneRequest } from './lane-request.js';
import type { NoticeAnswer } from './notice-answer.js';
import { PIXEL, sendAnswerOf, UNAVAILABLE } from './notice-answer.js';
import { ruleHeaders } from './read-notice.js';
import { commitThen } from './record.js';
import { refusedHitMethod } from './responses.js';

/** The `t=1` answer: a valid, empty script. */
const SCRIPT_ANSWER = bodyAnswer(
  200,
  'application/javascript; charset=utf-8',
  '/* Tally impression tracker */\n',
);
/** The page a click that cannot be sent on gets, titled `title` (what happened) and saying why. */
function noLandingPage(status: number, title: string, reason: string): NoticeAnswer {
  return bodyAnswer(
    status,
    'text/html; charset=utf-8',
    `<!doctype html><meta charset="utf-8"><title>${title}</title>
<h1>${title}</h1>
<p>The click was recorded, not counted, as there is nowhere to send you: ${reason}</p>
`,
  );
}
const UNKNOWN_TRACKER_ANSWER = noLandingPage(
  404,
  'No such click tracker',
  'no click tracker of this account has the <code>id</code> or <code>code</code> the link names, so Tally does not redirect it anywhere.',
);
const REFUSED_TARGET_ANSWER = noLandingPage(
  400,
  'This click tracker has no landing page',
  'the <code>redir=</code> target or the tracker’s click URL is not an http(s) URL or is outside the account’s redirect allow-list.',
);
const NO_TARGET_ANSWER = noLandingPage(
  400,
  'This click tracker has no landing page',
  'the link needs a <code>redir=</code> parameter (last in the query string) or the tracker a click URL.',
);

/**
 * A prefetched or prerendered click's answer: not its redirect, which the browser would keep and
 * use when the person clicks, so that the click itself would never reach Tally. A browser discards
 * a prefetch answered other than 2xx or a redirect, and asks again when the link is followed. It is
 * the 503 servers commonly decline a prefetch with, `Retry-After` included as every 503 Tally sends
 * (a browser does not prefetch from Tally again before it; the click itself is not held back).
 */
const PREFETCH_DECLINED_ANSWER = bodyAnswer(
  503,
  'text/plain; charset=utf-8',
  'prefetch declined: follow the link to be sent on\n',
);

/**
 * The answer to a click with a landing page that could not be recorded (the commit queue full,
 * its batch failed): 503 with `Retry-After`, as every hit Tally did not record gets, so that a
 * client that retries sends it again; its page sends a browser, which does not retry a
 * navigation, on to `location` (a refresh, and a link), rather than leave the person on Tally's.
 */
export function unrecordedClickAnswer(location: string): NoticeAnswer {
  const href = escapeHtml(location);
  return bodyAnswer(
    503,
    'text/html; charset=utf-8',
    `<!doctype html><meta http-equiv="refresh" content="0; url=${href}"><title>Continue</title>` +
      `<p>This click was not recorded. <a href="${href}">Continue to the page</a>.</p>\n`,
  );
}

function bodyAnswer(status: number, contentType: string, text: string): NoticeAnswer {
  return { kind: 'body', status, contentType, body: Buffer.from(text) };
}

/**
 * The counter of counted tracker hits whose `ancost` was given but could not be read — not a
 * decimal (`1,50`, `1e2`), or above 999999.999999 once rounded to the micro — and which
 * were billed as priced by the payment rule instead, as if it were absent. A hit that did not count
 * (a preview, a duplicate, invalid traffic, an inactive tracker, a click with no landing page) is
 * billed nothing, whatever its `ancost`, and is not in it.
 */
export const ANCOST_IGNORED_METRIC = {
  name: 'tally_tracker_ancost_ignored_total',
  help: 'Counted tracker hits whose ancost was malformed or out of range, priced by the payment rule instead',
} as const;

/** What the tracker endpoints need; narrow on purpose (the hot path sees no control plane). */
export interface TrackerDeps {
  catalog(): CatalogView;
  ivtFilter(): IvtFilter;
  committer: GroupCommitter;
  metrics: Metrics;
  nowMs(): number;
}

/** A tracker hit as its decision reads it, whether node:http or the notice lane read it. */
interface TrackerRequest extends HitRequest {
  /** The request target as sent (its query, after the first `?`, is the hit's). */
  target: string;
}

/**
 * `GET /imptr` and `GET /clktr`: Xandr-style tracker hits. The hit is decided, priced (`ancost`
 * overrides the payment rule, and the hit is then recorded with no payment rule; a counted hit's
 * `ancost` that cannot be read is counted in {@link ANCOST_IGNORED_METRIC}; revenue from the line
 * item), committed, and only then answered, through `done`: impressions with the 1×1 GIF (`t=2`,
 * default) or a tiny script (`t=1`), or 302 to `redir`; clicks with 302 to `redir` or the
 * tracker's click URL (a click with neither, or with neither allowed, is `no_landing_page`: it
 * reached no advertiser, and gets a page saying why; a prefetched click is declined with 503 and
 * `Retry-After`, so that the click itself comes); 503 when it could not be committed (a click's
 * with a page sending the person on to its landing page). Throws,
 * before anything is recorded, only when the catalog cannot be read.
 */
export function answerTrackerHit(
  kind: TrackerKind,
  request: TrackerRequest,
  deps: TrackerDeps,
  done: (answer: NoticeAnswer) => void,
): void {
  const nowMs = deps.nowMs();
  const queryAt = request.target.indexOf('?');
  const hit = parseTrackerHit(queryAt === -1 ? '' : request.target.slice(queryAt + 1));
  const catalog = deps.catalog();
  const tracker = findTracker(catalog, kind, hit);
  const decision = decideHit(tracker, request, deps.ivtFilter(), hit.preview);
  const target = tracker === undefined ? undefined : redirectTarget(kind, hit, tracker, catalog);
  // A click that lands nowhere reached no advertiser: recorded, never billed.
  const landsNowhere = kind === 'click' && target === undefined && decision.outcome.outcome === 'counted';
  const outcome = landsNowhere ? notCounted('no_landing_page') : decision.outcome;
  const event = hitEvent(kind, hit, tracker, catalog, outcome, decision.device, nowMs);
  const answer =
    kind === 'click' && isPrefetch(request)
      ? PREFETCH_DECLINED_ANSWER
      : hitAnswer(kind, hit, tracker, target);

  commitThen(deps.committer, deps.metrics, event, (committed) => {
    if (committed === undefined) {
      return done(
        answer.kind === 'redirect' && kind === 'click' ? unrecordedClickAnswer(answer.location) : UNAVAILABLE,
      );
    }
    // Its outcome as recorded (a duplicate is the ledger's to tell): only a counted hit is billed.
    if (hit.ancostMalformed && committed.outcome === 'counted') {
      deps.metrics.inc(ANCOST_IGNORED_METRIC.name, ANCOST_IGNORED_METRIC.help);
    }
    done(answer);
  });
}

/** A tracker hit through node:http (the notice lane serves most `GET`s and `HEAD`s itself). */
export function handleTrackerHit(
  kind: TrackerKind,
  req: IncomingMessage,
  res: ServerResponse,
  deps: TrackerDeps,
): Promise<void> {
  if (refusedHitMethod(res, req.method, deps.metrics, 'tracker')) return Promise.resolve();
  const request: TrackerRequest = {
    method: req.method ?? 'GET',
    target: req.url ?? '',
    // Read as the lane reads them, a repeated X-Device-User-Agent included (see `ruleHeaders`).
    headers: ruleHeaders(req.rawHeaders),
    remoteAddress: req.socket.remoteAddress ?? '',
  };
  return sendAnswerOf(req, res, (done) => answerTrackerHit(kind, request, deps, done));
}

/** The facts of a tracker hit the notice lane read: the headers the rules read, as node:http has them. */
export function laneTrackerHit(request: LaneRequest, remoteAddress: string): TrackerRequest {
  return {
    method: request.method,
    target: request.target,
    headers: ruleHeaders(request.rawHeaders),
    remoteAddress,
  };
}

/** What a recorded hit is answered with (see `answerTrackerHit`). */
function hitAnswer(
  kind: TrackerKind,
  hit: TrackerHit,
  tracker: TrackerView | undefined,
  target: string | undefined,
): NoticeAnswer {
  if (target !== undefined) return { kind: 'redirect', location: target };
  if (kind === 'click') {
    if (tracker === undefined) return UNKNOWN_TRACKER_ANSWER;
    return hit.redirect === undefined && tracker.clickUrl === null ? NO_TARGET_ANSWER : REFUSED_TARGET_ANSWER;
  }
  return hit.pixelType === 'javascript' ? SCRIPT_ANSWER : PIXEL;
}

function findTracker(catalog: CatalogView, kind: TrackerKind, hit: TrackerHit): TrackerView | undefined {
  if (hit.memberMalformed) return undefined;
  if (hit.id !== undefined) {
    const tracker = catalog.findTracker(kind, { id: hit.id });
    return hit.accountId === undefined || tracker?.accountId === hit.accountId ? tracker : undefined;
  }
  if (hit.code === undefined) return undefined;
  return catalog.findTracker(
    kind,
    hit.accountId === undefined ? { code: hit.code } : { code: hit.code, accountId: hit.accountId },
  );
}

/** Where to send the browser: `redir` when allowed, else (clicks) the tracker's click URL. */
function redirectTarget(
  kind: TrackerKind,
  hit: TrackerHit,
  tracker: TrackerView,
  catalog: CatalogView,
): string | undefined {
  const allowlist = catalog.redirectAllowlist(tracker.accountId);
  if (hit.redirect !== undefined) {
    const checked = checkRedirectTarget(hit.redirect, allowlist);
    if (checked.ok) return checked.url;
  }
  if (kind === 'click' && tracker.clickUrl !== null) {
    const checked = checkRedirectTarget(tracker.clickUrl, allowlist);
    if (checked.ok) return checked.url;
  }
  return undefined;
}

function hitEvent(
  kind: TrackerKind,
  hit: TrackerHit,
  tracker: TrackerView | undefined,
  catalog: CatalogView,
  outcome: Outcome,
  device: Device,
  nowMs: number,
): EventRecord {
  const rule = tracker === undefined ? undefined : paymentRuleFor(tracker, catalog, nowMs);
  const money =
    tracker === undefined
      ? { mediaCostMicros: 0, revenueMicros: 0 }
      : (kind === 'click' ? clickCostAndRevenue : costAndRevenue)(tracker.lineItem, rule, hit.ancostMicros);
  const event: EventRecord = {
    receivedMs: nowMs,
    servedHourMs: hourStartMs(nowMs),
    outcome,
    dims: {
      ...EMPTY_DIMENSIONS,
      accountId: tracker?.accountId ?? OPERATOR_ACCOUNT_ID,
      impressionType: kind === 'impression' ? 'external_impression' : 'external_click',
      publisher: tracker === undefined ? '' : String(tracker.publisherId),
      advertiserId: tracker?.advertiserId ?? 0,
      lineItemId: tracker?.lineItem.id ?? 0,
      // Worked out for a hit naming no tracker only: a known tracker's hit does no more.
      trackerId: tracker?.id ?? namedTrackerId(hit, catalog),
      placementId: tracker?.placementId ?? 0,
      // An `ancost` overrides the rule: the hit was priced by no rule.
      paymentRuleId: hit.ancostMicros === undefined ? (rule?.id ?? 0) : 0,
      cachebusterMissing: hit.cachebusterMissing,
    },
    priceMicros: 0,
    mediaCostMicros: money.mediaCostMicros,
    revenueMicros: money.revenueMicros,
    deviceIp: device.ip,
    userAgent: device.userAgent,
  };
  if (tracker !== undefined && hit.cachebuster !== undefined) {
    event.dedupe = {
      key: trackerDedupeKey(kind, tracker.id, hit.cachebuster, device),
      expiresMs: nowMs + TRACKER_DEDUPE_WINDOW_MS,
    };
  }
  return event;
}

/**
 * The tracker id a hit naming no tracker of its account named (`id=`), for ad ops to find the tag
 * that fires it: a deleted tracker's, another account's named with a wrong `member=`, one of the
 * other kind. Only an id the catalog has issued: any other, a mistyped or a scanner's, is 0 (no
 * such object), so that hits on ids no one was given add no rows to the reports.
 */
function namedTrackerId(hit: TrackerHit, catalog: CatalogView): number {
  return hit.id !== undefined && hit.id <= catalog.highestTrackerId ? hit.id : 0;
}

/**
 * The tracker's own payment rule while it is in effect (`ruleInEffect`: the base rule, or a
 * conditional rule active and within its dates), else the publisher's rule that applies now
 * (Xandr's evaluation): a tracker naming a rule that was replaced as the base, deactivated or
 * whose dates are over is priced as a tracker naming none.
 */
function paymentRuleFor(tracker: TrackerView, catalog: CatalogView, nowMs: number): PaymentRule | undefined {
  const own = tracker.paymentRule;
  if (own !== null && ruleInEffect(own, nowMs)) return own;
  return selectPaymentRule(catalog.paymentRules(tracker.publisherId), {
    placementId: tracker.placementId,
    nowMs,
  });
}
