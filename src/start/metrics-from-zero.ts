import { API_AUTH_FAILURES_METRIC, API_ERRORS_METRIC } from '../control/api-handler.js';
import { BURL_DELIVERIES_METRIC } from '../billing/dispatcher.js';
import { COUNTED, notCounted } from '../domain/outcome.js';
import {
  COMMIT_BATCH_SIZE_METRIC,
  COMMIT_FAILURES_METRIC,
  COMMIT_LATENCY_METRIC,
  NOTICE_WAIT_METRIC,
  NOTICES_METRIC,
  noticeLabels,
} from '../hot/group-commit.js';
import { REFUSED_NOTICES_METRIC } from '../hot/record.js';
import { ANCOST_IGNORED_METRIC } from '../hot/trackers.js';
import { UNREAD_REQUESTS_METRIC } from '../lib/client-error.js';
import { REFUSED_METHODS_METRIC } from '../lib/method-refusals.js';
import type { Metrics } from '../lib/metrics.js';
import { IMPRESSION_TYPES } from '../ports/ledger.js';

/**
 * Shows the counters and histograms dashboards and alerts are written on at 0 from the start. A
 * series that first appears already at 1 hides that first increase from `rate()` and
 * `increase()`: the first counted notice, failed commit, refused notice, notice whose token could
 * not be read, dead burl, ignored tracker `ancost`, API call refused 401, API call failed or refused
 * by Tally (500, 502, 503), request that could not be read or request refused for its method would
 * go unseen.
 */
export function showMetricsFromZero(metrics: Metrics): void {
  metrics.inc(COMMIT_FAILURES_METRIC.name, COMMIT_FAILURES_METRIC.help, {}, 0);
  for (const histogram of [COMMIT_BATCH_SIZE_METRIC, COMMIT_LATENCY_METRIC, NOTICE_WAIT_METRIC]) {
    metrics.histogram(histogram.name, histogram.help, histogram.buckets);
  }
  for (const impressionType of IMPRESSION_TYPES) {
    metrics.inc(NOTICES_METRIC.name, NOTICES_METRIC.help, noticeLabels(COUNTED, impressionType), 0);
    for (const reason of REFUSED_NOTICES_METRIC.reasons) {
      const labels = { impression_type: impressionType, reason };
      metrics.inc(REFUSED_NOTICES_METRIC.name, REFUSED_NOTICES_METRIC.help, labels, 0);
    }
  }
  // Exchange notices alone carry a token: a surge of unreadable ones is a sealing key lost.
  const invalidToken = noticeLabels(notCounted('invalid_token'), 'exchange');
  metrics.inc(NOTICES_METRIC.name, NOTICES_METRIC.help, invalidToken, 0);
  for (const status of BURL_DELIVERIES_METRIC.statuses) {
    metrics.inc(BURL_DELIVERIES_METRIC.name, BURL_DELIVERIES_METRIC.help, { status }, 0);
  }
  metrics.inc(ANCOST_IGNORED_METRIC.name, ANCOST_IGNORED_METRIC.help, {}, 0);
  for (const key of API_AUTH_FAILURES_METRIC.keys) {
    metrics.inc(API_AUTH_FAILURES_METRIC.name, API_AUTH_FAILURES_METRIC.help, { key }, 0);
  }
  for (const code of API_ERRORS_METRIC.codesShownFromZero) {
    metrics.inc(API_ERRORS_METRIC.name, API_ERRORS_METRIC.help, { code }, 0);
  }
  for (const status of UNREAD_REQUESTS_METRIC.statuses) {
    metrics.inc(UNREAD_REQUESTS_METRIC.name, UNREAD_REQUESTS_METRIC.help, { status }, 0);
  }
  for (const target of REFUSED_METHODS_METRIC.targets) {
    metrics.inc(REFUSED_METHODS_METRIC.name, REFUSED_METHODS_METRIC.help, { target }, 0);
  }
}
