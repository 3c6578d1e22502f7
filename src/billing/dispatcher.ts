import { setMaxListeners } from 'node:events';
import type { Logger } from '../lib/log.js';
import { throttledErrorLog, throttledWarnLog } from '../lib/throttled-log.js';
import { writeFailureFields } from '../lib/write-fault.js';
import type { CounterSink } from '../lib/metrics.js';
import type { DeliverySettlement, LeasedDelivery, Ledger } from '../ports/ledger.js';
import type { AddressPolicy, PrivateNetworks } from './egress.js';
import { addressPolicy } from './egress.js';
import { httpGet } from './http-get.js';
import { DnsCache } from './dns-cache.js';
import type { RetryPolicy } from './retry.js';
import { nextAttemptMs, retryAfterDueMs } from './retry.js';
import { TALLY_VERSION } from '../version.js';
import { withoutCredentials } from '../domain/url-credentials.js';

/** Dispatcher tuning. */
export interface DispatcherOptions {
  pollIntervalMs: number;
  /** Most deliveries in flight at once. */
  concurrency: number;
  /**
   * Most deliveries in flight at once to one host, so that a DSP that never answers cannot hold
   * them all; one at a time to a host whose last call got no answer.
   */
  hostConcurrency: number;
  /** One HTTP attempt's time limit. */
  requestTimeoutMs: number;
  retry: RetryPolicy;
  /** Whether burls may point at addresses outside the public internet (see egress.ts). */
  privateNetworks: PrivateNetworks;
}

/** Who calls the DSP: the relay names itself; the device is in `X-Device-User-Agent`. */
const RELAY_USER_AGENT = `Tally-burl-relay/${TALLY_VERSION}`;

/** The counter of burl delivery attempts, by result: one label value per way an attempt ends. */
export const BURL_DELIVERIES_METRIC = {
  name: 'tally_burl_deliveries_total',
  help: 'DSP burl delivery attempts, by result',
  statuses: ['delivered', 'retry', 'dead'],
} as const;

/**
 * How long after a call ends the dispatcher writes its outcome and leases the next deliveries:
 * the calls that end meanwhile are written in the same transaction.
 */
const SETTLE_DELAY_MS = 5;

/**
 * A failure to lease or to write outcomes, and a dead delivery, is logged as it begins, then at most
 * once this often (with how many were left out): the relay polls many times a second, a full disk
 * fails each poll, and one bad DSP can kill thousands of deliveries a second.
 */
const FAILURE_LOG_INTERVAL_MS = 1000;

/** Most hosts remembered as unanswering: past it the longest remembered is forgotten (and called as any). */
const MAX_UNANSWERING_HOSTS = 10_000;

/**
 * An answer that is no 2xx, as the delivery's last error: naming the URL that gave it where the
 * burl redirected there, as a DSP checking its burl alone would find nothing wrong with it.
 */
function failedStatusText(status: number, redirectedTo: string | undefined): string {
  return redirectedTo === undefined
    ? `HTTP ${status}`
    : `HTTP ${status} from ${redirectedTo}, where the burl redirected`;
}

/**
 * The last error of a delivery whose call was abandoned (see `abandonCalls`): it is pending, due
 * as it was, and called again at the next start.
 */
export const ABANDONED_CALL_ERROR =
  'the call was abandoned: Tally stopped before the DSP answered; it is sent again at the next start';

/** A call that ended, its outcome to be written. */
interface EndedCall {
  settlement: DeliverySettlement;
  /**
   * Whether the call got no answer that ended it: it timed out, failed to connect, or was
   * redirected where it could not follow.
   */
  unanswered: boolean;
  /** How the attempt ended, as counted; `abandoned`: cut short, neither counted nor an answer. */
  status: (typeof BURL_DELIVERIES_METRIC.statuses)[number] | 'abandoned';
  attempts: number;
}

/**
 * Relays DSP burls from the outbox: leases due deliveries, calls each with the device's
 * `X-Device-IP` / `X-Device-User-Agent`, following redirects; a 2xx marks it delivered,
 * anything else retries until the deadline, then it is dead. A burl that can never be called
 * (an address outside the public internet unless allowed, a URL that is not http(s)) is dead at
 * once: burls come from the wins callers send, and Tally must not become their way into the
 * operator's private network. At most `concurrency` calls are in flight, `hostConcurrency` to one
 * host, and one to a host whose last call got no answer (it timed out, or failed to connect) until
 * a call to it is answered, so that a few DSPs that never answer cannot hold every call. A call
 * that ends frees its slot a few ms later, when its outcome is written together with those of the
 * calls that ended meanwhile and the next deliveries are leased; the dispatcher polls the outbox
 * between times; an outcome that could not be written is written at the next turn, its call
 * holding its slot meanwhile. At least once: a lease that expires makes the delivery due again,
 * and a start ends those a killed process left (`endLeasesOfKilledProcess`). A delivery whose call
 * is still in flight, or whose outcome is not yet written, when its lease runs out (the wall clock
 * stepped past it, the thread was held up, the ledger was locked) is not leased again, called a
 * second time or counted as another attempt: the call settles it. Told to abandon its calls (Tally
 * stopping, its grace period over), it ends those in flight and gives their deliveries back as
 * they were, to be called at the next start.
 */
export class BurlDispatcher {
  private timer: NodeJS.Timeout | undefined;
  /** Whether the timer is set to settle the calls that ended. */
  private settling = false;
  /** The calls in flight, or ended but not yet written, by delivery id. */
  private readonly calls = new Map<number, { host: string; call: Promise<void> }>();
  /** How many of `calls` are to each host. */
  private readonly callsByHost = new Map<string, number>();
  /** The hosts whose last call that ended got no answer: one call at a time to each. */
  private readonly unanswering = new Set<string>();
  /** The calls that ended, their outcomes not yet written. */
  private ended: EndedCall[] = [];
  private stopped = false;
  /** Aborts the calls in flight: see `abandonCalls`. */
  private abandoning = new AbortController();
  private readonly allows: AddressPolicy;
  /** The DSP hosts' addresses, looked up once for many calls. */
  private readonly dns = new DnsCache();
  /** A ledger that cannot be read or written (full, locked) fails every lease and settlement. */
  private readonly logLeaseFailure: (fields: Record<string, unknown>) => void;
  private readonly logSettleFailure: (fields: Record<string, unknown>) => void;
  /** A DSP whose burls all fail, or bids with burls that can never be called, kill many deliveries. */
  private readonly logDead: (fields: Record<string, unknown>) => void;

  constructor(
    private readonly ledger: Ledger,
    private readonly options: DispatcherOptions,
    private readonly metrics: CounterSink,
    private readonly log: Logger,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.allows = addressPolicy(options.privateNetworks);
    this.logLeaseFailure = throttledErrorLog(log, 'lease_failed', FAILURE_LOG_INTERVAL_MS, nowMs);
    this.logSettleFailure = throttledErrorLog(log, 'delivery_update_failed', FAILURE_LOG_INTERVAL_MS, nowMs);
    this.logDead = throttledWarnLog(log, 'burl_dead', FAILURE_LOG_INTERVAL_MS, nowMs);
  }

  start(): void {
    this.stopped = false;
    this.abandoning = new AbortController();
    // Each call listens on it while any request of it is open (past `concurrency`: a call's slot
    // is free while a 2xx body is still discarded) and unhooks then: not the leak Node warns of (on
    // stderr) past 10 listeners.
    setMaxListeners(0, this.abandoning.signal);
    this.schedule(0);
  }

  /**
   * Stops leasing, waits for deliveries in flight (up to their time limit, unless `abandonCalls`
   * ends them sooner) and writes their outcomes.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await Promise.allSettled([...this.calls.values()].map(({ call }) => call));
    const unwritten = this.ended.map(({ settlement }) => settlement.id);
    const error = this.settle();
    if (error !== undefined)
      this.log.warn('burl_outcomes_unwritten', {
        deliveryIds: unwritten,
        error,
        note: 'Tally stopped before the ledger took the outcomes of these burl calls (a full disk, a failing one): they stay pending, and the next start calls them again, under the same X-Tally-Delivery-Id, though their DSPs may have answered',
      });
  }

  /**
   * Stops leasing and ends the calls in flight now (Tally stopping, its grace period over: a DSP
   * that does not answer would hold the shutdown up to the time limit). Their deliveries are given
   * back pending, due as they were, with `ABANDONED_CALL_ERROR` as their last error, so that the
   * next start calls them at once: an abandoned call is no failure, which would put the next try
   * off or, at the deadline, kill the delivery. A call answered meanwhile keeps its outcome.
   */
  abandonCalls(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.abandoning.signal.aborted) return;
    const inFlight = this.calls.size - this.ended.length;
    if (inFlight > 0)
      this.log.warn('burl_calls_abandoned', {
        calls: inFlight,
        note: 'Tally is stopping: their deliveries stay pending, and are sent at the next start',
      });
    this.abandoning.abort();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.tick(), delayMs);
    this.timer.unref();
  }

  private tick(): void {
    this.settling = false;
    this.settle();
    const free = this.options.concurrency - this.calls.size;
    let leased: LeasedDelivery[] = [];
    if (free > 0) {
      try {
        leased = this.ledger.leaseDeliveries(this.nowMs(), free, this.options.requestTimeoutMs * 2, {
          ids: new Set(this.calls.keys()),
          byHost: this.callsByHost,
          hostLimit: (host) => (this.unanswering.has(host) ? 1 : this.options.hostConcurrency),
        });
      } catch (error) {
        this.logLeaseFailure(writeFailureFields(error));
      }
    }
    for (const delivery of leased) {
      // Never two calls of one delivery: the ledger leases none in flight, and a second would
      // leave its host's count one too high for good.
      if (this.calls.has(delivery.id)) continue;
      const { host } = delivery;
      const call = this.attempt(delivery).catch((error: unknown) => {
        // Its lease runs out and the delivery is leased again: still at least once.
        this.log.error('burl_call_failed', {
          deliveryId: delivery.id,
          error: withoutCredentials(String(error)),
        });
        this.release(delivery.id);
      });
      this.calls.set(delivery.id, { host, call });
      this.callsByHost.set(host, (this.callsByHost.get(host) ?? 0) + 1);
    }
    this.schedule(leased.length === free && free > 0 ? 0 : this.options.pollIntervalMs);
  }

  /** Calls the delivery's burl, and has its outcome written shortly. */
  private async attempt(delivery: LeasedDelivery): Promise<void> {
    const startedMs = this.nowMs();
    const result = await httpGet(
      delivery.url,
      {
        'User-Agent': RELAY_USER_AGENT,
        'X-Device-IP': delivery.deviceIp,
        'X-Device-User-Agent': delivery.userAgent,
        // The same delivery each time it is sent again: a DSP whose burl names no impression, or
        // that answered too late, can tell a retry from another impression.
        'X-Tally-Delivery-Id': String(delivery.id),
        'X-Tally-Attempt': String(delivery.attempts),
      },
      this.options.requestTimeoutMs,
      this.allows,
      this.dns,
      this.abandoning.signal,
    );
    const { id, attempts } = delivery;
    if ('status' in result && result.status >= 200 && result.status < 300) {
      const settlement = { id, deliveredMs: this.nowMs() };
      this.ended.push({ settlement, unanswered: false, status: 'delivered', attempts });
    } else if (this.abandoning.signal.aborted) {
      const settlement = { id, abandoned: ABANDONED_CALL_ERROR };
      this.ended.push({ settlement, unanswered: false, status: 'abandoned', attempts });
    } else {
      // The burl, or a URL it redirected to, may carry a DSP's user name and password: the last
      // error, which the outbox lists and a dead delivery's log line gives, shows neither.
      const error = withoutCredentials(
        'error' in result ? result.error : failedStatusText(result.status, result.redirectedTo),
      );
      const endedMs = this.nowMs();
      const firstFailedMs = delivery.firstFailedMs ?? startedMs;
      const nextDueMs =
        'permanent' in result && result.permanent
          ? null
          : nextAttemptMs(
              { startedMs, endedMs, firstFailedMs },
              delivery.deadlineMs,
              this.options.retry,
              // A DSP that says when to call again (a 429 or 503 of its rate limiter) is not
              // called sooner, though never past the deadline.
              'status' in result ? retryAfterDueMs(result.retryAfter, endedMs) : undefined,
            );
      const status = nextDueMs === null ? 'dead' : 'retry';
      const unanswered = 'error' in result && !result.permanent;
      this.ended.push({ settlement: { id, error, nextDueMs, firstFailedMs }, unanswered, status, attempts });
    }
    if (!this.settling && !this.stopped) {
      this.settling = true;
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.schedule(SETTLE_DELAY_MS);
    }
  }

  /**
   * Writes the outcomes of the calls that ended, in one transaction, and frees their slots; when
   * the write fails, keeps them, slots and all, to be written at the next turn, and answers the
   * ledger's error, as text.
   */
  private settle(): string | undefined {
    if (this.ended.length === 0) return undefined;
    const ended = this.ended;
    this.ended = [];
    try {
      this.ledger.settleDeliveries(ended.map(({ settlement }) => settlement));
    } catch (error) {
      // Written again at the next turn (a lock held a few seconds, a disk full for a while), the
      // calls keeping their slots meanwhile, so that no delivery whose outcome is known is leased
      // and called again once its lease runs out: a DSP that answered 2xx would be billed twice.
      // Should the thread end first, its leases run out and the deliveries are called again.
      this.ended = ended;
      const deliveryIds = ended.map(({ settlement }) => settlement.id);
      this.logSettleFailure({ deliveryIds, ...writeFailureFields(error) });
      return String(error);
    }
    for (const { settlement, status, attempts } of ended) {
      if (status === 'abandoned') continue;
      this.metrics.inc(BURL_DELIVERIES_METRIC.name, BURL_DELIVERIES_METRIC.help, { status });
      if ('error' in settlement && status === 'dead') {
        this.logDead({ deliveryId: settlement.id, attempts, error: settlement.error });
      }
    }
    for (const { settlement, unanswered, status } of ended) {
      const host = this.calls.get(settlement.id)?.host;
      // An abandoned call says nothing of its host.
      if (host !== undefined && unanswered) this.rememberUnanswering(host);
      else if (host !== undefined && status !== 'abandoned') this.unanswering.delete(host);
      this.release(settlement.id);
    }
    return undefined;
  }

  /** Marks `host` as unanswering, forgetting the host marked longest ago past `MAX_UNANSWERING_HOSTS`. */
  private rememberUnanswering(host: string): void {
    this.unanswering.delete(host);
    this.unanswering.add(host);
    const oldest = this.unanswering.values().next();
    if (this.unanswering.size > MAX_UNANSWERING_HOSTS && oldest.done !== true)
      this.unanswering.delete(oldest.value);
  }

  /** Frees the slot of the delivery's call. */
  private release(id: number): void {
    const host = this.calls.get(id)?.host;
    if (host === undefined) return;
    this.calls.delete(id);
    const calls = (this.callsByHost.get(host) ?? 1) - 1;
    if (calls === 0) this.callsByHost.delete(host);
    else this.callsByHost.set(host, calls);
  }
}
