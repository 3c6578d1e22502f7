import type { Logger } from '../lib/log.js';
import type { CounterSink } from '../lib/metrics.js';
import type { Delivery, Ledger } from '../ports/ledger.js';
import type { AddressPolicy, PrivateNetworks } from './egress.js';
import { addressPolicy } from './egress.js';
import { httpGet } from './http-get.js';
import { deliveryHost } from '../domain/delivery-host.js';
import type { RetryPolicy } from './retry.js';
import { nextAttemptMs } from './retry.js';
import { TALLY_VERSION } from '../version.js';

/** Dispatcher tuning. */
export interface DispatcherOptions {
  pollIntervalMs: number;
  /** Most deliveries in flight at once. */
  concurrency: number;
  /** Most deliveries in flight at once to one host, so that a DSP that never answers cannot hold them all. */
  hostConcurrency: number;
  /** One HTTP attempt's time limit. */
  requestTimeoutMs: number;
  retry: RetryPolicy;
  /** Whether burls may point at addresses outside the public internet (see egress.ts). */
  privateNetworks: PrivateNetworks;
}

/** Who calls the DSP: the relay names itself; the device is in `X-Device-User-Agent`. */
export const RELAY_USER_AGENT = `Tally-burl-relay/${TALLY_VERSION}`;

/** The counter of burl delivery attempts, by result: one label value per way an attempt ends. */
export const BURL_DELIVERIES_METRIC = {
  name: 'tally_burl_deliveries_total',
  help: 'DSP burl delivery attempts, by result',
  statuses: ['delivered', 'retry', 'dead'],
} as const;

/**
 * Relays DSP burls from the outbox: leases due deliveries, calls each with the device's
 * `X-Device-IP` / `X-Device-User-Agent`, following redirects; a 2xx marks it delivered,
 * anything else retries until the deadline, then it is dead. A burl that can never be called
 * (an address outside the public internet unless allowed, a URL that is not http(s)) is dead at
 * once: burls come from the wins callers send, and Tally must not become their way into the
 * operator's private network. At least once: a lease that expires (crash, restart) makes the
 * delivery due again. A delivery whose call is still in flight when its lease runs out (the wall
 * clock stepped past it, or the thread was held up) is not leased again, called a second time or
 * counted as another attempt: the call in flight settles it.
 */
export class BurlDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  /** The ids of the deliveries whose call is in flight. */
  private readonly inFlightIds = new Set<number>();
  /** How many calls are in flight to each host. */
  private readonly inFlightByHost = new Map<string, number>();
  private stopped = false;
  private readonly allows: AddressPolicy;

  constructor(
    private readonly ledger: Ledger,
    private readonly options: DispatcherOptions,
    private readonly metrics: CounterSink,
    private readonly log: Logger,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.allows = addressPolicy(options.privateNetworks);
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops leasing and waits for deliveries in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await Promise.allSettled([...this.inFlight]);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.tick(), delayMs);
    this.timer.unref();
  }

  private tick(): void {
    const free = this.options.concurrency - this.inFlight.size;
    let leased: Delivery[] = [];
    if (free > 0) {
      try {
        leased = this.ledger.leaseDeliveries(this.nowMs(), free, this.options.requestTimeoutMs * 2, {
          ids: this.inFlightIds,
          byHost: this.inFlightByHost,
          hostLimit: this.options.hostConcurrency,
        });
      } catch (error) {
        this.log.error('lease_failed', { error: String(error) });
      }
    }
    for (const delivery of leased) {
      const host = deliveryHost(delivery.url);
      this.inFlightIds.add(delivery.id);
      this.inFlightByHost.set(host, (this.inFlightByHost.get(host) ?? 0) + 1);
      const attempt = this.attempt(delivery).finally(() => {
        this.inFlight.delete(attempt);
        this.inFlightIds.delete(delivery.id);
        const calls = (this.inFlightByHost.get(host) ?? 1) - 1;
        if (calls === 0) this.inFlightByHost.delete(host);
        else this.inFlightByHost.set(host, calls);
      });
      this.inFlight.add(attempt);
    }
    this.schedule(leased.length === free && free > 0 ? 0 : this.options.pollIntervalMs);
  }

  private async attempt(delivery: Delivery): Promise<void> {
    const result = await httpGet(
      delivery.url,
      {
        'User-Agent': RELAY_USER_AGENT,
        'X-Device-IP': delivery.deviceIp,
        'X-Device-User-Agent': delivery.userAgent,
      },
      this.options.requestTimeoutMs,
      this.allows,
    );
    try {
      if ('status' in result && result.status >= 200 && result.status < 300) {
        this.ledger.markDelivered(delivery.id, this.nowMs());
        this.count('delivered');
        return;
      }
      const failure = 'status' in result ? `HTTP ${result.status}` : result.error;
      const next =
        'permanent' in result && result.permanent
          ? null
          : nextAttemptMs(delivery.attempts, this.nowMs(), delivery.deadlineMs, this.options.retry);
      this.ledger.markFailed(delivery.id, failure, next);
      this.count(next === null ? 'dead' : 'retry');
      if (next === null) {
        this.log.warn('burl_dead', { deliveryId: delivery.id, attempts: delivery.attempts, error: failure });
      }
    } catch (error) {
      // The lease runs out and the delivery is leased again: still at least once.
      this.log.error('delivery_update_failed', { deliveryId: delivery.id, error: String(error) });
    }
  }

  private count(status: (typeof BURL_DELIVERIES_METRIC.statuses)[number]): void {
    this.metrics.inc(BURL_DELIVERIES_METRIC.name, BURL_DELIVERIES_METRIC.help, { status });
  }
}
