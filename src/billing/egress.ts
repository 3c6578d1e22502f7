import { lookup as dnsLookup } from 'node:dns';
import type { LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import type { LookupFunction } from 'node:net';

/** Which addresses Tally may call a DSP's burl on: public ones only, or any. */
export type PrivateNetworks = 'deny' | 'allow';

/** Says whether an IP address (v4 or v6, as text) may be called. */
export type AddressPolicy = (address: string) => boolean;

/**
 * Addresses that are not on the public internet: this host, private networks, link-local ones
 * (cloud metadata services answer on 169.254.169.254), shared and reserved ranges, multicast.
 */
const NOT_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NOT_PUBLIC.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  NOT_PUBLIC.addSubnet(network, prefix, 'ipv6');
}

const MAPPED_IPV4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** True for an address on the public internet (an IPv4-mapped IPv6 address is judged as IPv4). */
export function isPublicAddress(address: string): boolean {
  const mapped = MAPPED_IPV4.exec(address)?.[1];
  if (mapped !== undefined) return isPublicAddress(mapped);
  const family = isIP(address);
  if (family === 0) return false;
  return !NOT_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
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
 * A DNS lookup for `http.request` that refuses a host when any of its addresses is refused, so
 * that the connection is made only to addresses that were checked (no second lookup to rebind).
 */
export function guardedLookup(allows: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { family: options.family, hints: options.hints, all: true }, (error, found) => {
      if (error !== null) {
        callback(error, '', 0);
        return;
      }
      const addresses: LookupAddress[] = found;
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
    });
  };
}
