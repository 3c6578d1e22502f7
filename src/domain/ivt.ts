/**
 * Screening a notice or hit for general invalid traffic and prefetch: HEAD, prefetch signals, the
 * device's and a relaying notifier's User-Agents, blocked addresses.
 */
import { createIsbotFromList, isbot, list } from 'isbot';
import type { IvtRule, Outcome } from './outcome.js';
import { invalidTraffic, notCounted } from './outcome.js';
import type { HitRequest } from './hit-request.js';
import { header } from './hit-request.js';
import type { IvtFilter } from './ivt-filter.js';
import type { Device } from './read-device.js';
import { lastHops, MAX_USER_AGENT_BYTES, namedDeviceAgent, unmapIpv4, validIp } from './read-device.js';

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
 * (Android apps), ExoPlayer and its successor Media3 (`AndroidXMedia3/…`), Android's `stagefright`,
 * FFmpeg's `Lavf`, GStreamer's HTTP source (`GStreamer souphttpsrc`, set-top boxes' and older smart
 * TVs' players), Apple TV's `AppleTV`, Google's IMA SDK, Unity, and the clients publishers' servers
 * fire burls with: Go's own and resty; Java's own, Apache HttpClient (and HttpAsyncClient, and the
 * old Jakarta Commons one), Reactor Netty (Spring's WebClient), Ktor (`Ktor client`, or
 * `Ktor http-client` by its UserAgent plugin), Vert.x's WebClient, AsyncHttpClient (`AHC/…`),
 * Jetty's, Akka HTTP and Pekko HTTP; curl (`curl/…`, its own agent only:
 * `CURL (Link validity checker)` is a bot); Python's requests, urllib, httpx and aiohttp; Node's
 * own `fetch` (which names itself `node`), axios, node-fetch, undici and got; Deno and Bun; Ruby's
 * Net::HTTP (exactly `Ruby`: a crawler's `Ruby, Twurly …` is not it) and Faraday; PHP's Guzzle and
 * Symfony HttpClient; .NET's RestSharp; Rust's reqwest; Elixir's hackney, Mint (Finch's) and Req;
 * Perl's LWP (`libwww-perl/…`: its robot class, `LWP::RobotUA`, names the robot instead),
 * HTTP::Tiny and Mojo::UserAgent (`Mojolicious (Perl)`).
 */
const APP_HTTP_CLIENT =
  /^(?:okhttp|Dalvik|ExoPlayerLib|com\.google\.android\.exoplayer2|AndroidXMedia3\/|stagefright|Lavf|GStreamer souphttpsrc|AppleTV\d+,\d+|GoogleInteractiveMediaAds|UnityPlayer|Go-http-client|go-resty|Java|Apache-Http(?:Async)?Client|Jakarta Commons-HttpClient|ReactorNetty|Ktor (?:client|http-client)|Vert\.x-WebClient|AHC\/|Jetty\/|akka-http|pekko-http|curl\/|libcurl|python-requests|Python-urllib|python-httpx|Python\/[\d.]+ aiohttp|node|axios|node-fetch|undici|got|Deno|Bun|Ruby$|Faraday|GuzzleHttp|Symfony HttpClient|RestSharp|reqwest|hackney|mint\/|req\/|libwww-perl|HTTP-Tiny|Mojolicious \(Perl)\b/i;
/**
 * An iOS or tvOS app's own User-Agent, which starts with the app's name (so any word the bot list
 * knows, `News`, `Feed`, `Yahoo`…) and ends with the stack it fires with: Apple's URL loading
 * system (`CFNetwork/… Darwin/…`), AFNetworking (`(iPhone; iOS 17.0; Scale/3.00)`) or Alamofire.
 * Any name passes but one declaring a robot: an agent spoofed so is beyond what lists can tell.
 */
const IOS_APP_HTTP_CLIENT =
  /^[^/()\s][^/()]*\/[^/()\s]+ (?:CFNetwork\/[\d.]+ Darwin\/[\d.]+|\((?:iPhone|iPad|iPod touch|Apple TV); (?:iOS|iPadOS|tvOS) [\d.]+; Scale\/[\d.]+\)|\([^()]*\) Alamofire\/[\d.]+)$/;
/**
 * An Android app's player agent as ExoPlayer and Media3 write it (`Util.getUserAgent`): the app's
 * name and version, then `(Linux;Android <release>)` and the library, `ExoPlayerLib/…` or
 * `AndroidXMedia3/…`. The app's name comes first (so any word the bot list knows, `News`, `Google`,
 * `Feed`…); as for an iOS app's, any name passes but one declaring a robot.
 */
const ANDROID_APP_PLAYER_CLIENT =
  /^[^/()\s][^/()]*\/[^/()\s]+ \(Linux; ?Android [^;()]+\) (?:ExoPlayerLib|AndroidXMedia3)\/[\w.-]+$/;
/**
 * An Android app's own agent as Cronet (Chromium's network stack, which many Android apps fire
 * with) writes it by default: the package name and version, then
 * `(Linux; U; Android <release>; <locale>; <model>; Build/<id>; Cronet/<version>)`; or, as the
 * platform's own Cronet (`android.net.http.HttpEngine`, Android 14) writes it, `AndroidHttpClient`
 * in their place. The package name comes first (`com.bbc.news`: the bot list knows `.news`); as
 * for an iOS app's, any name passes but one declaring a robot.
 */
const ANDROID_APP_CRONET_CLIENT =
  /^(?:[^/()\s]+\/[^/()\s]+|AndroidHttpClient) \(Linux; U; Android [^()]*; Cronet\/[\d.]+\)$/;
/**
 * A User-Agent that declares a robot, whatever HTTP stack it names first: a bot, crawler or spider,
 * Yahoo's `Slurp`, a headless browser, or Google's ad crawler (`Mediapartners-Google`). A bot
 * declares itself with `bot` ending a word (`Googlebot/`, `AdsBot-Google`, `YandexBot`, `NewsBot`),
 * not with a word that only begins so, as apps' names do (`Botim`, `Bottle Flip`): those are
 * judged by their stack. So with `spider` and `crawl`: a robot has them inside or ending a word
 * (`Baiduspider-render/`, `360Spider`, `Bytespider`, `OnCrawl/`), as a word ending its name
 * (`Screaming Frog SEO Spider/19.0`, `Sogou web spider/4.0`, `(compatible; Spider)`) or says
 * `crawler` or `crawling` (`crawler4j`, `Feed Crawler`, `Crawling agent`, `/crawling-indexing/`);
 * an app's or a phone's name only begins with them (`Spider Solitaire`, `SpiderSolitaire`,
 * `Spider-Man`, `CrawlQuest`, `GLX Spider Build/…`).
 */
const DECLARED_ROBOT =
  /bot(?![a-z])|\B(?:crawl|spider)|(?:crawl|spider)(?![a-z]|[ -][a-z])|crawl(?:er|ing)|slurp|headless|mediapartners/i;

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
 * The TCP peer itself is screened too, and the last 16 `X-Forwarded-For` hops (`lastHops`): a
 * blocked address cannot escape the list by naming another device in `X-Device-IP` or
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
    (APP_HTTP_CLIENT.test(userAgent) ||
      IOS_APP_HTTP_CLIENT.test(userAgent) ||
      ANDROID_APP_PLAYER_CLIENT.test(userAgent) ||
      ANDROID_APP_CRONET_CLIENT.test(userAgent)) &&
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
