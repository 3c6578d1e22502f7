/**
 * The general invalid-traffic filter (per MRC) as configured: User-Agent patterns to block, blocked
 * addresses and ranges, and the notifiers trusted to relay for devices; built once from the settings.
 */
import { isIP } from 'node:net';
import type { Subnet } from './address-ranges.js';
import { AddressRanges } from './address-ranges.js';

/** General invalid-traffic filters (per MRC): User-Agent and IP block lists. */
export interface IvtFilter {
  /** Extra User-Agent patterns to block, beside the maintained bot list (isbot). */
  userAgentPatterns: readonly RegExp[];
  /** Blocked addresses and CIDR ranges, IPv4 and IPv6. */
  blockedIps: AddressRanges;
  /**
   * Servers that fire notices for devices (SSAI, an ad server) and proxies in front of Tally:
   * addresses and CIDR ranges never screened against `blockedIps` as the TCP peer or as an
   * `X-Forwarded-For` hop (a data-centre list would otherwise refuse every notice they relay);
   * the device they name still is.
   */
  trustedNotifiers: AddressRanges;
}

/** A CIDR prefix length as written: one to three decimal digits. */
const PREFIX_LENGTH = /^[0-9]{1,3}$/;

/** A bad entry of one of the filter's lists, with the list it is in. */
interface IvtListError {
  list: 'userAgents' | 'blockedIps' | 'trustedNotifiers';
  message: string;
}

/** Builds a filter from configuration text; every bad entry is reported at once, by its list. */
export function buildIvtFilter(
  userAgentPatterns: readonly string[],
  blockedCidrs: readonly string[],
  trustedNotifierCidrs: readonly string[] = [],
): { ok: true; filter: IvtFilter } | { ok: false; errors: IvtListError[] } {
  const errors: IvtListError[] = [];
  const patterns: RegExp[] = [];
  for (const pattern of userAgentPatterns) {
    let compiled: RegExp;
    try {
      compiled = new RegExp(pattern, 'i');
    } catch {
      errors.push({
        list: 'userAgents',
        message: `User-Agent pattern ${JSON.stringify(pattern)} is not a valid regular expression`,
      });
      continue;
    }
    // One that matches the empty string matches every User-Agent: no notice would ever count.
    if (compiled.test('')) {
      errors.push({
        list: 'userAgents',
        message: `User-Agent pattern ${JSON.stringify(pattern)} matches every User-Agent; give a part of the agents to block`,
      });
      continue;
    }
    patterns.push(compiled);
  }
  const blockedIps = addressList(blockedCidrs, 'blockedIps', 'blocked IP', errors);
  const trustedNotifiers = addressList(trustedNotifierCidrs, 'trustedNotifiers', 'trusted notifier', errors);
  return errors.length > 0
    ? { ok: false, errors }
    : {
        ok: true,
        filter: {
          userAgentPatterns: patterns,
          blockedIps,
          trustedNotifiers,
        },
      };
}

/** A list of addresses and CIDR ranges from configuration; each bad entry is added to `errors`. */
function addressList(
  entries: readonly string[],
  listName: IvtListError['list'],
  kind: string,
  errors: IvtListError[],
): AddressRanges {
  const subnets: Subnet[] = [];
  for (const entry of entries) {
    const subnet = subnetOf(entry);
    if (subnet !== undefined) subnets.push(subnet);
    else errors.push({ list: listName, message: `${kind} entry ${JSON.stringify(entry)} ${NOT_A_SUBNET}` });
  }
  return new AddressRanges(subnets);
}

/** What an entry of an address list that is none is told. */
export const NOT_A_SUBNET = 'is not an IPv4/IPv6 address or CIDR (e.g. 203.0.113.0/24, 2001:db8::/32)';

/**
 * An entry of an address list as configured (`203.0.113.7`, `203.0.113.0/24`, `2001:db8::/32`,
 * spaces around it ignored), or `undefined` when it is none.
 */
export function subnetOf(entry: string): Subnet | undefined {
  const [address = '', prefixText, ...rest] = entry.trim().split('/');
  const family = isIP(address);
  const maxPrefix = family === 6 ? 128 : 32;
  // A prefix length is decimal digits: Number('') is 0, so '203.0.113.0/' would take every address.
  const prefix =
    prefixText === undefined ? maxPrefix : PREFIX_LENGTH.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (family === 0 || rest.length > 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > maxPrefix) {
    return undefined;
  }
  return { address, prefixBits: prefix };
}

/** An empty filter: only the built-in rules (HEAD, prefetch, empty and bot User-Agents). */
export function defaultIvtFilter(): IvtFilter {
  return {
    userAgentPatterns: [],
    blockedIps: new AddressRanges([]),
    trustedNotifiers: new AddressRanges([]),
  };
}
