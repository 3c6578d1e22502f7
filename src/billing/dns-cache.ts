import { lookup as dnsLookup } from 'node:dns';
import type { LookupAddress } from 'node:dns';

/** How long a host name's addresses are kept: `getaddrinfo` does not tell the record's TTL. */
export const DNS_CACHE_SECONDS = 30;
/** How long a failed lookup is kept, so that a host that does not resolve is not asked for at every call. */
export const DNS_FAILURE_CACHE_SECONDS = 5;

/**
 * How long a lookup that has not settled is shared before it is given up for a new one: longer than
 * the system resolver takes to give up on servers that do not answer (`resolv.conf`'s 5 s timeout,
 * twice, for each of up to three servers), so that a host whose DNS does not answer has one lookup
 * at a time; yet not for good, should one never settle.
 */
export const UNSETTLED_LOOKUP_SECONDS = 60;

/** How often, at most, the entries past their time are dropped. */
const SWEEP_INTERVAL_MS = 1000;

/** Looks up every address of a host name, of `family` (0 for any), as `dns.lookup` with `all` does. */
export type ResolveAll = (hostname: string, family: number) => Promise<LookupAddress[]>;

/** `dns.lookup` (the system resolver, `/etc/hosts` included) for every address of a host name. */
const systemResolveAll: ResolveAll = (hostname, family) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { family, all: true }, (error, addresses) => {
      if (error === null) resolve(addresses);
      else reject(error);
    });
  });

/** A lookup that answered no address: a failed lookup, as the system resolver's ENOTFOUND. */
class NoAddressError extends Error {
  readonly code = 'ENOTFOUND';

  constructor(hostname: string, family: number) {
    super(`${hostname} has no ${family === 0 ? '' : `IPv${family} `}address`);
    this.name = 'NoAddressError';
  }
}

/**
 * The relay's host name lookups, shared and kept for a while: a lookup runs on one of libuv's four
 * threads for the whole process (two at most at a time: libuv keeps the others for quick work), so
 * a burl per notice to a few DSP hosts would otherwise look each up thousands of times a second,
 * and a host whose lookups hang (5 s and more each) would hold the threads every other lookup
 * waits for. Lookups of one name at the same time share one, however long it takes (up to
 * `UNSETTLED_LOOKUP_SECONDS`); its addresses are kept `DNS_CACHE_SECONDS`, a failure (an answer of
 * no address included) `DNS_FAILURE_CACHE_SECONDS`.
 */
export class DnsCache {
  private readonly entries = new Map<string, { expiresMs: number; addresses: Promise<LookupAddress[]> }>();
  /** When the entries past their time are next dropped. */
  private nextSweepMs = 0;

  constructor(
    private readonly resolveAll: ResolveAll = systemResolveAll,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** Every address of `hostname` of `family` (0 for any), as last looked up. */
  lookup(hostname: string, family: number): Promise<LookupAddress[]> {
    const key = `${family} ${hostname.toLowerCase()}`;
    const kept = this.entries.get(key);
    if (kept !== undefined && kept.expiresMs > this.nowMs()) return kept.addresses;
    // Until it settles, the lookup is shared by every call that asks, up to a minute: libuv runs two
    // lookups at a time for the whole process, and a new lookup of a name every few seconds while
    // the last still waits on a DNS server that does not answer would hold both, every other DSP's
    // lookup (its addresses due again every 30 s) waiting seconds behind them.
    const entry = {
      expiresMs: this.nowMs() + UNSETTLED_LOOKUP_SECONDS * 1000,
      addresses: this.resolveAll(hostname, family).then((addresses) => {
        // The system resolver fails with ENOTFOUND instead; `net` would crash on no address.
        if (addresses.length === 0) throw new NoAddressError(hostname, family);
        return addresses;
      }),
    };
    this.entries.set(key, entry);
    entry.addresses.then(
      () => (entry.expiresMs = this.nowMs() + DNS_CACHE_SECONDS * 1000),
      () => (entry.expiresMs = this.nowMs() + DNS_FAILURE_CACHE_SECONDS * 1000),
    );
    this.forgetExpired();
    return entry.addresses;
  }

  /**
   * Drops the entries past their time, at most once a second, so that the names of one-off burls
   * are not kept forever, nor every entry read at every lookup.
   */
  private forgetExpired(): void {
    const nowMs = this.nowMs();
    if (nowMs < this.nextSweepMs) return;
    this.nextSweepMs = nowMs + SWEEP_INTERVAL_MS;
    for (const [key, entry] of this.entries) if (entry.expiresMs <= nowMs) this.entries.delete(key);
  }
}
