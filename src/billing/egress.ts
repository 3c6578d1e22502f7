import type { LookupAddress } from 'node:dns';
import type { DnsCache } from './dns-cache.js';
import { BlockList, isIP } from 'node:net';
import type { LookupFunction } from 'node:net';

/** Which addresses Tally may call a DSP's burl on: public ones only, or any. */
export type PrivateNetworks = 'deny' | 'allow';

/** Says whether an IP address (v4 or v6, as text) may be called. */
export type AddressPolicy = (address: string) => boolean;

/**
 * IPv4 addresses that are not on the public internet: this host, private networks, link-local ones
 * (cloud metadata services answer on 169.254.169.254), shared, reserved, documentation,
 * benchmarking and deprecated ranges, multicast and broadcast.
 */
const NOT_PUBLIC_IPV4 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NOT_PUBLIC_IPV4.addSubnet(network, prefix, 'ipv4');
}

/**
 * IPv6's global unicast space, 2000::/3: every IPv6 address outside it is not a public host —
 * `::`, `::1`, the IPv4-compatible and IPv4-translated addresses, NAT64 for local use (RFC 8215,
 * which may reach any IPv4 network), discard-only, SRv6 SIDs, unique local, link-local,
 * site-local and multicast addresses, and the space IANA has not allocated.
 */
const GLOBAL_UNICAST_IPV6 = new BlockList();
GLOBAL_UNICAST_IPV6.addSubnet('2000::', 3, 'ipv6');

/** The parts of IPv6's global unicast space that are not public hosts either. */
const NOT_PUBLIC_IPV6 = new BlockList();
for (const [network, prefix] of [
  // Teredo and benchmarking; ORCHID (deprecated); documentation (RFC 3849 and RFC 9637).
  ['2001::', 32],
  ['2001:2::', 48],
  ['2001:10::', 28],
  ['2001:db8::', 32],
  ['3fff::', 20],
] as const) {
  NOT_PUBLIC_IPV6.addSubnet(network, prefix, 'ipv6');
}

/**
 * True for an address on the public internet. An IPv6 address that carries an IPv4 one (mapped,
 * NAT64's well-known prefix, 6to4) is judged by that IPv4 address alone: a translator would take
 * a call to it there. Any other IPv6 address is public only inside the global unicast space,
 * 2000::/3, and outside its special ranges.
 */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  if (family === 4) return !NOT_PUBLIC_IPV4.check(address, 'ipv4');
  const carried = carriedIpv4(ipv6Groups(address));
  if (carried !== undefined) return isPublicAddress(carried);
  return GLOBAL_UNICAST_IPV6.check(address, 'ipv6') && !NOT_PUBLIC_IPV6.check(address, 'ipv6');
}

/** The eight 16-bit groups of a valid IPv6 address, its last 32 bits perhaps written dotted. */
function ipv6Groups(address: string): number[] {
  const withoutZone = address.split('%')[0] ?? '';
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(withoutZone);
  const text =
    dotted === null
      ? withoutZone
      : `${withoutZone.slice(0, dotted.index)}${hexGroups(dotted.slice(1).map(Number))}`;
  const groupsOf = (part: string | undefined) =>
    part === undefined || part === '' ? [] : part.split(':').map((group) => parseInt(group, 16));
  const [left, right] = text.split('::');
  if (right === undefined) return groupsOf(left);
  const head = groupsOf(left);
  const tail = groupsOf(right);
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** Four bytes as two IPv6 groups, `a.b.c.d` → `ab:cd` in hexadecimal. */
function hexGroups([a = 0, b = 0, c = 0, d = 0]: number[]): string {
  return `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

/**
 * The IPv4 address an IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96) or 6to4 (2002::/16)
 * address carries, if it is one.
 */
function carriedIpv4(groups: number[]): string | undefined {
  const [g0, g1 = 0, g2 = 0, g3, g4, g5, g6 = 0, g7 = 0] = groups;
  const dottedOf = (high: number, low: number) => `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) return dottedOf(g6, g7);
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return dottedOf(g6, g7);
  if (g0 === 0x2002) return dottedOf(g1, g2);
  return undefined;
}

/** The policy for a `TALLY_BURL_PRIVATE_NETWORKS` setting. */
export function addressPolicy(privateNetworks: PrivateNetworks): AddressPolicy {
  return privateNetworks === 'allow' ? () => true : isPublicAddress;
}

/** A burl's host is, or resolves to, an address the policy refuses. */
export class EgressRefusedError extends Error {
  constructor(host: string, address: string) {
    const where = host === address ? `${host} is an address` : `${host} resolves to ${address},`;
    super(
      `${where} outside the public internet; set TALLY_BURL_PRIVATE_NETWORKS=allow to call such DSP endpoints`,
    );
    this.name = 'EgressRefusedError';
  }
}

/**
 * A DNS lookup for `http.request`, through `dns`, that refuses a host when any of its addresses
 * is refused, so that the connection is made only to addresses that were checked (no second
 * lookup to rebind).
 */
export function guardedLookup(allows: AddressPolicy, dns: DnsCache): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, familyNumber(options.family)).then(
      (addresses: LookupAddress[]) => {
        const refused = addresses.find((entry) => !allows(entry.address));
        if (refused !== undefined) {
          callback(new EgressRefusedError(hostname, refused.address), '', 0);
          return;
        }
        if (options.all === true) {
          (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, addresses);
          return;
        }
        const first = addresses[0];
        callback(null, first?.address ?? '', first?.family ?? 4);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}

/** A lookup's address family as a number: 4, 6, or 0 for either. */
function familyNumber(family: number | 'IPv4' | 'IPv6' | undefined): number {
  if (family === 'IPv4') return 4;
  if (family === 'IPv6') return 6;
  return family ?? 0;
}
