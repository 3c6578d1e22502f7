import type { OutboxState } from '../control/report-thread/protocol.js';
import type { ReportThread } from '../control/report-thread/report-thread.js';
import type { Logger } from '../lib/log.js';
import type { Metrics } from '../lib/metrics.js';
import { sharedRefresh } from '../lib/shared-refresh.js';
import { DELIVERY_STATUSES } from '../ports/ledger.js';

/** The outbox counts `/metrics` shows are at most this old. */
const OUTBOX_COUNT_MAX_AGE_MS = 1000;

/** An outbox counted empty, as `/metrics` shows it until it is first counted. */
export function emptyOutbox(): OutboxState {
  return {
    counts: { pending: 0, delivered: 0, dead: 0, redirected: 0 },
    relayLagMs: 0,
    oldestPendingAgeMs: 0,
  };
}

/** Shows the outbox's deliveries by status on `/metrics`, as `outbox` last counted them. */
export function showOutboxCounts(metrics: Metrics, outbox: OutboxState): void {
  const outboxHelp = 'DSP burl deliveries in the outbox, by status';
  for (const status of DELIVERY_STATUSES) {
    metrics.gauge('tally_burl_outbox', outboxHelp, () => outbox.counts[status], { status });
  }
}

/** Shows how late the outbox's relay runs on `/metrics`, as `outbox` last counted it. */
export function showOutboxAges(metrics: Metrics, outbox: OutboxState): void {
  metrics.gauge(
    'tally_burl_relay_lag_seconds',
    'How long the pending burl delivery longest due has waited past its due time',
    () => outbox.relayLagMs / 1000,
  );
  metrics.gauge(
    'tally_burl_oldest_pending_age_seconds',
    'How long ago the pending burl delivery kept longest was created, retries and all (0 with none pending): a DSP failing that long, or a relay that long behind',
    () => outbox.oldestPendingAgeMs / 1000,
  );
}

/**
 * Counts the outbox into `outbox` on `outboxCounter`'s thread, for a scrape of `/metrics`; logs
 * a count that failed.
 */
export function outboxCountForScrapes(
  outboxCounter: ReportThread,
  outbox: OutboxState,
  log: Logger,
): () => Promise<void> {
  // /metrics is public: however often it is scraped, the outbox is counted at most once at a time
  // and once a second.
  return sharedRefresh(async () => {
    try {
      Object.assign(outbox, await outboxCounter.outbox(Date.now()));
    } catch (error) {
      log.error('outbox_count_failed', { error: String(error) });
    }
  }, OUTBOX_COUNT_MAX_AGE_MS);
}
