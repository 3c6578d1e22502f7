/**
 * The device a notice or tracker hit speaks for: its address (from `X-Device-IP`, `X-Forwarded-For`
 * or the TCP peer, in one spelling) and its User-Agent, as the counting rules and the ledger read them.
 */
import { isIP } from 'node:net';
import type { HitRequest } from './hit-request.js';
import { header } from './hit-request.js';
import type { IvtFilter } from './ivt-filter.js';
import { defaultIvtFilter } from './ivt-filter.js';

/** The device behind a request: itself, or the one a server-to-server notifier speaks for. */
export interface Device {
  ip: string;
  /** The device's User-Agent, cut to `MAX_USER_AGENT_BYTES` (as the ledger keeps it). */
  userAgent: string;
  /** Whether the User-Agent sent was longer than `MAX_USER_AGENT_BYTES`: no browser's is. */
  userAgentTooLong: boolean;
}

/**
 * The longest User-Agent a notice may count with, in bytes (headers are read as latin1, a
 * character a byte), and the most of one the ledger keeps: browsers' and apps' agents run to a
 * few hundred. A longer one is `long_user_agent`, and judged no further (the bot list's cost grows
 * with the length), so that a flood of notices with kilobytes of agent each costs the ledger a
 * kilobyte a notice at most.
 */
export const MAX_USER_AGENT_BYTES = 1024;

/**
 * The first `maxBytes` bytes of a header read as latin1, less the start of a UTF-8 character the
 * cut would split (its lead byte and the continuation bytes after it), so that what is kept reads
 * as whole characters.
 */
function cutBetweenCharacters(latin1: string, maxBytes: number): string {
  let end = maxBytes;
  const isContinuation = (at: number) => (latin1.charCodeAt(at) & 0xc0) === 0x80;
  if (isContinuation(end)) {
    while (end > 0 && isContinuation(end)) end--;
    // `end` is now the split character's lead byte, left out with its continuation bytes.
  }
  return latin1.slice(0, end);
}

/**
 * The address of the client `X-Forwarded-For` names (see `readDevice`), if it names one. From a
 * trusted peer, the hops are read from the end, past trusted addresses only: each trusted proxy
 * vouches for the entry before its own, and for no other. An entry there that is no address (the
 * `unknown` some proxies write, an obfuscated identifier, nothing) ends the walk with none, as
 * nginx's `real_ip_recursive` and Express's `trust proxy` end it: every entry before it was written
 * by the client, which would otherwise name any device it likes. Where every entry is trusted (an
 * SSAI server in a trusted range behind a trusted load balancer), the first, as nginx and Express
 * take it; but the peer where there are more entries than the walk reads.
 */
function forwardedClient(request: HitRequest, filter: IvtFilter): string | undefined {
  const forwarded = header(request, 'x-forwarded-for');
  if (forwarded === undefined) return undefined;
  const trusted = (ip: string) => filter.trustedNotifiers.has(ip);
  if (!trusted(unmapIpv4(request.remoteAddress))) {
    const comma = forwarded.indexOf(',');
    return validIp(comma === -1 ? forwarded : forwarded.slice(0, comma));
  }
  const hops = lastHops(forwarded);
  let furthest: string | undefined;
  for (let at = hops.length - 1; at >= 0; at--) {
    const ip = validIp(hops[at]);
    if (ip === undefined) return undefined;
    if (!trusted(ip)) return ip;
    furthest = ip;
  }
  // Every hop read is trusted: the first of the header, where it was read whole; the peer where
  // hops before those read were left unread, as past them the walk cannot go.
  const readWhole = hops.reduce((length, hop) => length + hop.length, hops.length - 1) === forwarded.length;
  return readWhole ? furthest : undefined;
}

/**
 * Most `X-Forwarded-For` hops read from its end: those the proxies in front of Tally appended (a
 * chain of a few), where the client's address as they saw it is. What comes before them the client
 * wrote itself, up to the head's 16 KiB: some two thousand addresses, each a look-up in the block
 * and trusted lists, milliseconds of the HTTP thread for one notice.
 */
const MAX_FORWARDED_HOPS = 16;

/** The last {@link MAX_FORWARDED_HOPS} hops of an `X-Forwarded-For` value, in order, unparsed. */
export function lastHops(forwarded: string): string[] {
  const hops: string[] = [];
  let end = forwarded.length;
  while (hops.length < MAX_FORWARDED_HOPS) {
    const comma = forwarded.lastIndexOf(',', end - 1);
    hops.push(forwarded.slice(comma + 1, end));
    if (comma === -1) break;
    end = comma;
  }
  return hops.reverse();
}

/** The filter `readDevice` reads with when it is given none: no notifier is trusted. */
const NO_FILTER = defaultIvtFilter();

/**
 * The agent `X-Device-User-Agent` names, or `undefined` when it names none: absent, empty or
 * blank, or repeated (which the headers hold as empty: see `ruleHeaders`). The device's agent is
 * then the caller's `User-Agent`, as an `X-Device-IP` that is no address gives way.
 */
export function namedDeviceAgent(request: HitRequest): string | undefined {
  const agent = header(request, 'x-device-user-agent');
  return agent === '' ? undefined : agent;
}

/**
 * The device a request speaks for. Server-to-server notifiers (SSAI, publisher servers) send
 * the device's address in `X-Device-IP` (else `X-Forwarded-For`) and its agent in
 * `X-Device-User-Agent`, as OpenRTB 2.6 §7.8 and VAST 4 §1.1.3 specify; one that names no
 * address, or no agent (empty, or repeated), gives way to the caller's own. Of `X-Forwarded-For`,
 * the first hop, the client as it names itself; but from a trusted notifier (a proxy in front of
 * Tally, an SSAI server: `filter.trustedNotifiers`), the last hop that is not one, which a trusted
 * proxy appended after whatever the client wrote (among the last {@link MAX_FORWARDED_HOPS}; the
 * first hop where every one, all of them read, is trusted), unless that entry is no address: the
 * peer is then the device's address, as without the header.
 */
export function readDevice(request: HitRequest, filter: IvtFilter = NO_FILTER): Device {
  const deviceIp = validIp(header(request, 'x-device-ip'));
  const forwardedIp = forwardedClient(request, filter);
  const deviceAgent = namedDeviceAgent(request);
  const ip = deviceIp ?? forwardedIp ?? unmapIpv4(request.remoteAddress);
  const userAgent = deviceAgent ?? header(request, 'user-agent') ?? '';
  const userAgentTooLong = userAgent.length > MAX_USER_AGENT_BYTES;
  return {
    ip,
    userAgent: userAgentTooLong ? cutBetweenCharacters(userAgent, MAX_USER_AGENT_BYTES) : userAgent,
    userAgentTooLong,
  };
}

/** The address in a header entry, written bare or, as some proxies write it, with a port. */
export function validIp(text: string | undefined): string | undefined {
  const candidate = text?.trim();
  if (candidate === undefined) return undefined;
  const address = isIP(candidate) !== 0 ? candidate : withoutPort(candidate);
  return address === undefined ? undefined : canonicalIp(address);
}

/** `[2001:db8::5]:443` or `[2001:db8::5]`: an IPv6 address in brackets, its port after them. */
const BRACKETED_IPV6 = /^\[([^\]]+)\](?::(\d{1,5}))?$/;
/** `192.0.2.1:5555`: an IPv4 address and its port. */
const IPV4_WITH_PORT = /^([\d.]+):(\d{1,5})$/;
const MAX_PORT = 65_535;

/** `192.0.2.1:5555` → `192.0.2.1`, `[2001:db8::5]:443` (or `[2001:db8::5]`) → `2001:db8::5`. */
function withoutPort(text: string): string | undefined {
  const bracketed = BRACKETED_IPV6.exec(text);
  const match = bracketed ?? IPV4_WITH_PORT.exec(text);
  const [, address = '', port = '0'] = match ?? [];
  const family = bracketed === null ? 4 : 6;
  return isIP(address) === family && Number(port) <= MAX_PORT ? address : undefined;
}

/**
 * One spelling of an address a header gives (which `isIP` accepts), as a DSP reads it: IPv4 as it
 * is; IPv6 as RFC 5952 writes it (lower case, no leading zeros, the longest run of zero groups as
 * `::`; an address with an IPv4 tail, `::1.2.3.4`, in hex groups), without a zone id (`%eth0`,
 * which names an interface of the sender's host); an IPv4-mapped IPv6 address (`::FFFF:c000:201`)
 * as its IPv4 address. The dotted mapped form, which dual-stack proxies write, skips the URL
 * parser; the parser's refusal, which no address `isIP` accepts meets, keeps the hot path from
 * throwing should one.
 */
function canonicalIp(address: string): string {
  if (isIP(address) === 4) return address;
  const unzoned = address.split('%', 1)[0] ?? address;
  const lowered = unzoned.toLowerCase();
  if (lowered.startsWith('::ffff:') && isIP(lowered.slice(7)) === 4) return lowered.slice(7);
  let written: string;
  try {
    written = new URL(`http://[${unzoned}]/`).hostname.slice(1, -1);
  } catch {
    return lowered;
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(written);
  if (mapped === null) return written;
  const high = Number.parseInt(mapped[1] ?? '0', 16);
  const low = Number.parseInt(mapped[2] ?? '0', 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/** `::ffff:192.0.2.1` → `192.0.2.1`, so IPv4 block lists match dual-stack sockets. */
export function unmapIpv4(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
