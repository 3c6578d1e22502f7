import { isIP } from 'node:net';
import { createIsbotFromList, isbot, list } from 'isbot';
import type { IvtRule, Outcome } from './outcome.js';
import { invalidTraffic, notCounted } from './outcome.js';
import type { Subnet } from './address-ranges.js';
import { AddressRanges } from './address-ranges.js';

/** The request facts the counting rules read. Header names are lower case, as node:http gives them. */
export interface HitRequest {
  method: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The TCP peer's address. */
  remoteAddress: string;
}

/** The device behind a request: itself, or the one a server-to-server notifier speaks for. */
export interface Device {
  ip: string;
  /** The device's User-Agent, cut to `MAX_USER_AGENT_BYTES` (as the ledger keeps it). */
  userAgent: string;
  /** Whether the User-Agent sent was longer than `MAX_USER_AGENT_BYTES`: no browser's is. */
  userAgentTooLong: boolean;
}

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

/**
 * The address of the client `X-Forwarded-For` names (see `readDevice`), if it names one. From a
 * trusted peer, the hops are read from the end, past trusted addresses only: each trusted proxy
 * vouches for the entry before its own, and for no other. An entry there that is no address (the
 * `unknown` some proxies write, an obfuscated identifier, nothing) ends the walk with none, as
 * nginx's `real_ip_recursive` and Express's `trust proxy` end it: every entry before it was written
 * by the client, which would otherwise name any device it likes.
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
  for (let at = hops.length - 1; at >= 0; at--) {
    const ip = validIp(hops[at]);
    if (ip === undefined) return undefined;
    if (!trusted(ip)) return ip;
  }
  return undefined;
}

/**
 * Most `X-Forwarded-For` hops read from its end: those the proxies in front of Tally appended (a
 * chain of a few), where the client's address as they saw it is. What comes before them the client
 * wrote itself, up to the head's 16 KiB: some two thousand addresses, each a look-up in the block
 * and trusted lists, milliseconds of the HTTP thread for one notice.
 */
const MAX_FORWARDED_HOPS = 16;

/** The last {@link MAX_FORWARDED_HOPS} hops of an `X-Forwarded-For` value, in order, unparsed. */
function lastHops(forwarded: string): string[] {
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

/** An empty filter: only the built-in rules (HEAD, prefetch, empty and bot User-Agents). */
export function defaultIvtFilter(): IvtFilter {
  return {
    userAgentPatterns: [],
    blockedIps: new AddressRanges([]),
    trustedNotifiers: new AddressRanges([]),
  };
}

/** The filter `readDevice` reads with when it is given none: no notifier is trusted. */
const NO_FILTER = defaultIvtFilter();

/**
 * The agent `X-Device-User-Agent` names, or `undefined` when it names none: absent, empty or
 * blank, or repeated (which the headers hold as empty: see `ruleHeaders`). The device's agent is
 * then the caller's `User-Agent`, as an `X-Device-IP` that is no address gives way.
 */
function namedDeviceAgent(request: HitRequest): string | undefined {
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
 * proxy appended after whatever the client wrote (among the last {@link MAX_FORWARDED_HOPS}),
 * unless that entry is no address: the peer is then the device's address, as without the header.
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

/**
 * Who fires a notice: a `browser` (markup on a web page, a tracker on a page), or an `app`: an
 * app's SDK, a video player, a CTV device, or a server firing a burl. Their HTTP stacks name
 * themselves in ways the bot list, made for browsers' traffic, takes for bots.
 */
export type Notifier = 'browser' | 'app';
/** Every {@link Notifier}. */
export const NOTIFIERS: readonly Notifier[] = ['browser', 'app'];

/**
 * The HTTP stacks apps, players and servers fire notices with that the bot list takes for bots,
 * named first in the User-Agent as each names itself by default: okhttp and Android's own `Dalvik`
 * (Android apps), ExoPlayer, Android's `stagefright`, FFmpeg's `Lavf`, Apple TV's `AppleTV`,
 * Google's IMA SDK, Unity, and the clients publishers' servers fire burls with: Go's own and resty;
 * Java's own, Apache HttpClient (and HttpAsyncClient, and the old Jakarta Commons one), Reactor
 * Netty (Spring's WebClient), Ktor (`Ktor client`, or `Ktor http-client` by its UserAgent plugin),
 * Vert.x's WebClient, AsyncHttpClient (`AHC/…`), Jetty's, Akka HTTP and Pekko HTTP; curl
 * (`curl/…`, its own agent only: `CURL (Link validity checker)` is a bot); Python's requests,
 * urllib, httpx and aiohttp; Node's own `fetch` (which names itself `node`), axios, node-fetch,
 * undici and got; Deno and Bun; Ruby's Net::HTTP (exactly `Ruby`: a crawler's `Ruby, Twurly …`
 * is not it) and Faraday; PHP's Guzzle and Symfony HttpClient; .NET's RestSharp; Rust's reqwest;
 * Elixir's hackney, Mint (Finch's) and Req; Perl's LWP (`libwww-perl/…`: its robot class,
 * `LWP::RobotUA`, names the robot instead), HTTP::Tiny and Mojo::UserAgent (`Mojolicious (Perl)`).
 */
const APP_HTTP_CLIENT =
  /^(?:okhttp|Dalvik|ExoPlayerLib|com\.google\.android\.exoplayer2|stagefright|Lavf|AppleTV\d+,\d+|GoogleInteractiveMediaAds|UnityPlayer|Go-http-client|go-resty|Java|Apache-Http(?:Async)?Client|Jakarta Commons-HttpClient|ReactorNetty|Ktor (?:client|http-client)|Vert\.x-WebClient|AHC\/|Jetty\/|akka-http|pekko-http|curl\/|libcurl|python-requests|Python-urllib|python-httpx|Python\/[\d.]+ aiohttp|node|axios|node-fetch|undici|got|Deno|Bun|Ruby$|Faraday|GuzzleHttp|Symfony HttpClient|RestSharp|reqwest|hackney|mint\/|req\/|libwww-perl|HTTP-Tiny|Mojolicious \(Perl)\b/i;
/**
 * An iOS or tvOS app's own User-Agent, which starts with the app's name (so any word the bot list
 * knows, `News`, `Feed`, `Yahoo`…) and ends with the stack it fires with: Apple's URL loading
 * system (`CFNetwork/… Darwin/…`), AFNetworking (`(iPhone; iOS 17.0; Scale/3.00)`) or Alamofire.
 * Any name passes but one declaring a robot: an agent spoofed so is beyond what lists can tell.
 */
const IOS_APP_HTTP_CLIENT =
  /^[^/()\s][^/()]*\/[^/()\s]+ (?:CFNetwork\/[\d.]+ Darwin\/[\d.]+|\((?:iPhone|iPad|iPod touch|Apple TV); (?:iOS|iPadOS|tvOS) [\d.]+; Scale\/[\d.]+\)|\([^()]*\) Alamofire\/[\d.]+)$/;
/** A User-Agent that declares a robot, whatever HTTP stack it names first. */
const DECLARED_ROBOT = /bot|crawl|spider|slurp/i;

/**
 * General invalid traffic and prefetch, or `undefined` when the request passes. Order: HEAD,
 * prefetch/prerender, a User-Agent too long or empty, known bots (an app's or server's HTTP stack
 * is not one when the `notifier` is an app), configured patterns, blocked IPs; then the
 * server-to-server notifier itself, and the TCP peer.
 */
export function screenRequest(
  request: HitRequest,
  device: Device,
  filter: IvtFilter,
  notifier: Notifier = 'browser',
): Outcome | undefined {
  if (request.method === 'HEAD') return invalidTraffic('head_request');
  if (isPrefetch(request)) return notCounted('prefetch');
  const rule =
    screenDevice(device, filter, notifier) ??
    screenRelayingAgent(request, filter) ??
    screenPeer(request, filter);
  return rule === undefined ? undefined : invalidTraffic(rule);
}

/**
 * A notifier that names the device's agent in `X-Device-User-Agent` is judged on its own agent
 * too, as a server's: one the bot list knows (but for the app and server HTTP stacks, and for a
 * bare `name/version`, as ad inserters name themselves), or a configured pattern, does not count
 * (or a crawler would count by naming a browser in the header).
 */
function screenRelayingAgent(request: HitRequest, filter: IvtFilter): IvtRule | undefined {
  if (namedDeviceAgent(request) === undefined) return undefined;
  const userAgent = header(request, 'user-agent') ?? '';
  if (userAgent.length > MAX_USER_AGENT_BYTES) return 'long_user_agent';
  if (isKnownRelayingBot(userAgent) && !isAppHttpClient(userAgent)) return 'bot_user_agent';
  return filter.userAgentPatterns.some((pattern) => pattern.test(userAgent))
    ? 'blocked_user_agent'
    : undefined;
}

function screenDevice(device: Device, filter: IvtFilter, notifier: Notifier): IvtRule | undefined {
  if (device.userAgentTooLong) return 'long_user_agent';
  if (device.userAgent.trim() === '') return 'empty_user_agent';
  if (isKnownBot(device.userAgent) && !(notifier === 'app' && isAppHttpClient(device.userAgent))) {
    return 'bot_user_agent';
  }
  if (filter.userAgentPatterns.some((pattern) => pattern.test(device.userAgent))) return 'blocked_user_agent';
  return filter.blockedIps.has(device.ip) ? 'blocked_ip' : undefined;
}

/**
 * The TCP peer itself is screened too, and the last {@link MAX_FORWARDED_HOPS} `X-Forwarded-For`
 * hops: a blocked address cannot escape the list by naming another device in `X-Device-IP` or
 * `X-Forwarded-For`. Behind a proxy or load balancer the peer is the proxy, and the client it saw
 * is the hop it appended last, after any the client wrote itself. A trusted notifier, as peer or
 * hop, is not screened: it relays for devices (an SSAI server in a data centre), and the device it
 * names is screened.
 */
function screenPeer(request: HitRequest, filter: IvtFilter): IvtRule | undefined {
  if (filter.blockedIps.rangeCount === 0) return undefined;
  if (isBlockedRelay(unmapIpv4(request.remoteAddress), filter)) return 'blocked_ip';
  const forwarded = header(request, 'x-forwarded-for');
  if (forwarded === undefined) return undefined;
  for (const hop of lastHops(forwarded)) {
    const ip = validIp(hop);
    if (ip !== undefined && isBlockedRelay(ip, filter)) return 'blocked_ip';
  }
  return undefined;
}

/** A peer or hop on the block list and not a trusted notifier. */
function isBlockedRelay(ip: string, filter: IvtFilter): boolean {
  return filter.blockedIps.has(ip) && !filter.trustedNotifiers.has(ip);
}

/**
 * Browser prefetch/prerender signals: `Sec-Purpose`, `Purpose`, `X-Purpose` or `X-Moz` naming
 * prefetch, prerender, preview or instant.
 */
export function isPrefetch(request: HitRequest): boolean {
  for (const name of ['sec-purpose', 'purpose', 'x-purpose', 'x-moz']) {
    const value = header(request, name)?.toLowerCase();
    if (value !== undefined && /prefetch|prerender|preview|instant/.test(value)) return true;
  }
  return false;
}

function isAppHttpClient(userAgent: string): boolean {
  return (
    (APP_HTTP_CLIENT.test(userAgent) || IOS_APP_HTTP_CLIENT.test(userAgent)) &&
    !DECLARED_ROBOT.test(userAgent)
  );
}

/** Most User-Agents whose bot verdict is remembered; real traffic repeats a few thousand agents. */
const BOT_VERDICT_CACHE_SIZE = 10_000;

/** `isBot`, memoised: the bot list's one large regular expression is costly per request. */
function memoisedVerdict(isBot: (userAgent: string) => boolean): (userAgent: string) => boolean {
  const verdicts = new Map<string, boolean>();
  return (userAgent) => {
    let verdict = verdicts.get(userAgent);
    if (verdict === undefined) {
      verdict = isBot(userAgent);
      if (verdicts.size >= BOT_VERDICT_CACHE_SIZE) verdicts.clear();
      verdicts.set(userAgent, verdict);
    }
    return verdict;
  };
}

/** The maintained bot list's verdict. */
const isKnownBot = memoisedVerdict(isbot);

/** Agents that are no more than a name and a version, as server-side ad inserters name themselves. */
const BARE_AGENTS = ['Example-Stitcher/1.0', 'Stitcher/2', 'Stitcher/1.0 (build)', 'Stitcher'];
/**
 * The bot list's verdict on a notifier relaying a device's notice: without its rules that take
 * every bare `name/version` agent for a bot, which is what a server relaying a device's notice
 * (an ad inserter) often is.
 */
const isKnownRelayingBot = memoisedVerdict(
  createIsbotFromList(
    list.filter((pattern) => !BARE_AGENTS.some((agent) => new RegExp(pattern, 'i').test(agent))),
  ),
);

function header(request: HitRequest, name: string): string | undefined {
  const value = request.headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined ? undefined : text.trim();
}

/** The address in a header entry, written bare or, as some proxies write it, with a port. */
function validIp(text: string | undefined): string | undefined {
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
function unmapIpv4(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
