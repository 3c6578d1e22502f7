/**
 * Xandr-style impression and click tracker hits (`/imptr`, `/clktr`): parsing their query
 * string, recognising placeholders a third-party ad server failed to replace, and checking a
 * redirect target before it goes into a `Location` header. Pure; never throws for bad input.
 */
import { domainToASCII } from 'node:url';
import { MAX_AMOUNT_MICROS, parseDecimalMicros } from './macros.js';
import { isPreviewQuery } from './preview.js';

/** Which tracker a hit is for: impression (`/imptr`) or click (`/clktr`). */
export type TrackerKind = 'impression' | 'click';

/** What a tracker hit's query string says. */
export interface TrackerHit {
  /** `id=`: a positive integer, else `undefined`. */
  id: number | undefined;
  /** `code=`: the tracker's custom code, used instead of `id`; `undefined` when absent or empty. */
  code: string | undefined;
  /** Optional `member=`: the account the tracker belongs to (a positive integer). */
  accountId: number | undefined;
  /**
   * True when `member=` is given but is not a positive integer: the hit names no tracker (rather
   * than the operator account's, which a hit without `member` names by its `code`).
   */
  memberMalformed: boolean;
  /** `t=1` JavaScript; `t=2` (the default, and any other value) an image. */
  pixelType: 'image' | 'javascript';
  /** `cachebuster=`; `undefined` when missing, empty or an unreplaced placeholder. */
  cachebuster: string | undefined;
  /** True when `cachebuster` is `undefined`: the hit counts but is flagged for ad ops. */
  cachebusterMissing: boolean;
  /** `ancost=` (media cost of this one event, decimal up to 999999.999999; more decimals than six are rounded to the micro) in micros; `undefined` when missing, a placeholder or malformed. */
  ancostMicros: number | undefined;
  /** True when an `ancost` value was given but is not a decimal within range (recorded as missing). */
  ancostMalformed: boolean;
  /**
   * A preview or ad-quality render, never counted: `preview=1` (Xandr's `${IS_PREVIEW}` filled in),
   * or a parameter before `redir` whose value a renderer filled with OpenRTB's `AUDIT`, as for
   * exchange notices (the tracker's own `code` aside: it is a name, not a macro).
   */
  preview: boolean;
  /** Everything after the first `redir=` parameter, as it stands (decoded once if it was percent-encoded); `undefined` when absent or empty. Check it with {@link checkRedirectTarget}. */
  redirect: string | undefined;
}

const REDIR_PARAM = 'redir=';

/**
 * Parses a tracker hit's raw query string (with or without its leading `?`). Never throws.
 *
 * `redir` must be the last parameter, as Xandr requires: everything after the first `redir=`
 * that starts a parameter is the target, taken as it stands, so an unencoded URL with its own
 * `?` and `&` works; a target that was percent-encoded as a whole (it starts with `http%3A` or
 * `https%3A`, any case) is decoded once. The parameters before it are read as
 * `application/x-www-form-urlencoded` (`+` is a space; escapes that are not well-formed UTF-8
 * stay as they are, so an unreplaced `%%CACHEBUSTER%%` is still recognised); when a parameter
 * repeats, its first value wins. A URL copied out of an HTML tag with its `&` still written
 * `&amp;` reads as the URL it stands for.
 */
export function parseTrackerHit(rawQuery: string): TrackerHit {
  const query = rawQuery.startsWith('?') ? rawQuery.slice(1) : rawQuery;
  const redirAt = redirStart(query);
  const params = readParams(redirAt === -1 ? query : query.slice(0, redirAt));
  const given = redirAt === -1 ? '' : query.slice(redirAt + REDIR_PARAM.length);
  // A URL copied out of an HTML tag has every `&` written `&amp;`, the target's own included.
  const target = query.endsWith('&amp;', redirAt) ? given.replace(/&amp;/g, '&') : given;

  const cachebuster = givenValue(params.get('cachebuster'));
  const ancostText = givenValue(params.get('ancost'));
  const ancostMicros = ancostText === undefined ? undefined : ancostToMicros(ancostText);
  const code = params.get('code')?.value;
  const member = params.get('member')?.value;
  const accountId = positiveInteger(member);
  return {
    id: positiveInteger(params.get('id')?.value),
    code: code === '' ? undefined : code,
    accountId,
    memberMalformed: member !== undefined && accountId === undefined,
    pixelType: params.get('t')?.value === '1' ? 'javascript' : 'image',
    cachebuster,
    cachebusterMissing: cachebuster === undefined,
    ancostMicros,
    ancostMalformed: ancostText !== undefined && ancostMicros === undefined,
    preview: isPreviewQuery(
      [...params].filter(([name]) => name !== 'code').map(([name, param]) => [name, param.value]),
    ),
    redirect: target === '' ? undefined : /^https?%3A/i.test(target) ? decodeLeniently(target) : target,
  };
}

/**
 * An `ancost` in micros: a decimal of at most 999999.999999, one with more decimals than six
 * rounded half up to the micro (a 1.2345 CPM's cost of one impression, `0.0012345`, is 1 235
 * micros), as every amount of an event is; `undefined` for any other text, or a rounded amount
 * above the maximum.
 */
function ancostToMicros(text: string): number | undefined {
  const beyondMicros = /^(\d*\.\d{6})(\d+)$/.exec(text);
  if (beyondMicros === null) return parseDecimalMicros(text);
  const micros = parseDecimalMicros(beyondMicros[1] ?? '');
  if (micros === undefined) return undefined;
  // The seventh decimal decides: half a micro or more rounds up.
  const rounded = micros + ((beyondMicros[2] ?? '').charAt(0) >= '5' ? 1 : 0);
  return rounded <= MAX_AMOUNT_MICROS ? rounded : undefined;
}

/**
 * Where the first `redir=` parameter starts (at the start or after a `&`, or after an `&amp;`
 * left by a URL copied out of an HTML tag), or -1.
 */
function redirStart(query: string): number {
  if (query.startsWith(REDIR_PARAM)) return 0;
  const match = /&(?:amp;)?redir=/.exec(query);
  return match === null ? -1 : match.index + match[0].length - REDIR_PARAM.length;
}

/** A parameter's value as sent and form-decoded. */
interface Param {
  raw: string;
  value: string;
}

/** `application/x-www-form-urlencoded` pairs, first occurrence of each name winning. */
function readParams(text: string): Map<string, Param> {
  const params = new Map<string, Param>();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    // `amp;id` is `id` after an `&amp;`: the URL was copied out of an HTML tag, unescaped.
    const name = formDecode(eq === -1 ? pair : pair.slice(0, eq)).replace(/^amp;/, '');
    const raw = eq === -1 ? '' : pair.slice(eq + 1);
    if (!params.has(name)) params.set(name, { raw, value: formDecode(raw) });
  }
  return params;
}

function formDecode(text: string): string {
  return decodeLeniently(text.replace(/\+/g, ' '));
}

/**
 * The decoded value, or `undefined` when absent or a placeholder. Both spellings are checked:
 * `%%CACHEBUSTER%%` sent as is would decode `%CA` into a byte and no longer look like a macro.
 */
function givenValue(param: Param | undefined): string | undefined {
  if (param === undefined || isUnreplacedPlaceholder(param.raw) || isUnreplacedPlaceholder(param.value)) {
    return undefined;
  }
  return param.value;
}

function positiveInteger(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,16}$/.test(text)) return undefined;
  const value = Number(text);
  return value > 0 && Number.isSafeInteger(value) ? value : undefined;
}

/** Percent-decodes each run of escapes that is well-formed UTF-8; other runs stay as they are. */
function decodeLeniently(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

/**
 * The whole-value macro forms of the ad servers Tally exports to, and their common cousins:
 * `[X]` (Xandr export placeholders, `[timestamp]`), `${X}` / `#{X}` (Xandr creative and custom
 * macros, OpenRTB), `{X}` / `{{X}}`, `%%X%%` (Google Ad Manager) and its typos `%%X%` / `%X%`, a
 * bare `%%`, and Campaign Manager 360's `%n`-style one-letter macros and `%eaid!`-style
 * expansions; and what a tag's script writes when its value is missing: `undefined`, `null`, `NaN`.
 */
const PLACEHOLDER_PATTERNS: readonly RegExp[] = [
  /^(?:undefined|null|nan)$/i,
  /^\[[\w.:-]*\]$/,
  /^[$#]\{[\w.:-]*\}$/,
  /^\{\{?[\w.:-]*\}?\}$/,
  /^%%?[\w.:-]*%%?$/,
  /^%[a-z]$/i,
  /^%[a-z][\w=]*!$/i,
];

/**
 * True when a parameter value is empty (or blank) or is nothing but a macro the ad server
 * failed to replace, case-insensitively: `[CACHEBUSTER]`, `${CACHEBUSTER}`, `%%CACHEBUSTER%%`,
 * `%%CACHEBUSTER%`, `%n`, `%%`, `[timestamp]`, `%%RANDOM%%`, `[REDIRECT_URL]`, `undefined`, … A value that
 * merely contains such a token (`123[X]`) is a real value.
 */
export function isUnreplacedPlaceholder(value: string): boolean {
  const trimmed = value.trim();
  return trimmed === '' || PLACEHOLDER_PATTERNS.some((pattern) => pattern.test(trimmed));
}

/** A per-account redirect allow-list. */
export interface RedirectAllowList {
  enabled: boolean;
  /** Registrable domains or hosts; a listed domain also allows its subdomains. */
  domains: readonly string[];
}

/** An allow-list switched off: any http(s) host. */
export const NO_REDIRECT_ALLOWLIST: RedirectAllowList = Object.freeze({ enabled: false, domains: [] });
/** An allow-list switched on with no host: no redirect. */
export const EVERY_REDIRECT_REFUSED: RedirectAllowList = Object.freeze({ enabled: true, domains: [] });

/**
 * Whether a redirect target may go into a `Location` header, and the URL to send. Refused:
 * an empty target or an unreplaced placeholder (`[REDIRECT_URL]`, `%%DEST_URL%%`, `%u`, …); any
 * control character (so no CR/LF header injection — checked before parsing, because the URL
 * parser would silently drop tabs and newlines); anything but an absolute `http://` or
 * `https://` URL; a URL with credentials (`https://bank.example@evil.example`); and, when the
 * allow-list is enabled, a host that is neither a listed domain nor a subdomain of one
 * (compared in punycode, case-insensitively, ignoring a trailing dot). The URL returned is the
 * WHATWG serialisation of the target: ASCII only, non-ASCII percent-encoded, host in punycode.
 */
export function checkRedirectTarget(
  target: string,
  allowlist: RedirectAllowList,
): { ok: true; url: string } | { ok: false; reason: string } {
  if (isUnreplacedPlaceholder(target)) {
    return refuse('the redirect target is empty or a placeholder the ad server did not replace');
  }
  if (hasControlCharacter(target)) return refuse('the redirect target contains control characters');
  if (!/^https?:\/\//i.test(target)) return refuse('the redirect target must be an absolute http(s) URL');
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return refuse('the redirect target is not a valid URL');
  }
  if (url.username !== '' || url.password !== '')
    return refuse('the redirect target must not carry credentials');
  const host = url.hostname.replace(/\.$/, '');
  if (host === '') return refuse('the redirect target has no host');
  if (!allowsHost(allowlist, host)) {
    return refuse(`the redirect host ${host} is not on the account's redirect allow-list`);
  }
  return { ok: true, url: url.href };
}

/**
 * Whether the account's allow-list lets Tally redirect to `url`'s host (any host when it is off);
 * false for a URL that does not parse.
 */
export function allowsRedirectTo(allowlist: RedirectAllowList, url: string): boolean {
  if (!allowlist.enabled) return true;
  try {
    return allowsHost(allowlist, new URL(url).hostname.replace(/\.$/, ''));
  } catch {
    return false;
  }
}

/**
 * Whether the allow-list lets Tally redirect to `host` (any host when it is off): the host itself
 * or a domain it is under is listed. A look-up per label of the host, whatever the list's length.
 */
function allowsHost(allowlist: RedirectAllowList, host: string): boolean {
  if (!allowlist.enabled) return true;
  const listed = listedHosts(allowlist.domains);
  for (let dot = -1; ;) {
    if (listed.has(host.slice(dot + 1))) return true;
    dot = host.indexOf('.', dot + 1);
    if (dot === -1) return false;
  }
}

/** Each allow-list's domains as hosts are compared with them, worked out once per list. */
const listedHostsByList = new WeakMap<readonly string[], ReadonlySet<string>>();

/** `domains` as hosts compare with them (see `listedHost`), the empty ones left out. */
function listedHosts(domains: readonly string[]): ReadonlySet<string> {
  let listed = listedHostsByList.get(domains);
  if (listed === undefined) {
    listed = new Set(domains.map(listedHost).filter((host) => host !== ''));
    listedHostsByList.set(domains, listed);
  }
  return listed;
}

/** C0 and C1 controls (CR, LF, TAB, NUL, …), DEL, and the Unicode line and paragraph separators. */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029) return true;
  }
  return false;
}

/** A listed domain as hosts compare with it: in punycode, without a leading `*.` or `.` or a trailing dot. */
function listedHost(domain: string): string {
  return domainToASCII(
    domain
      .trim()
      .replace(/^\*?\./, '')
      .replace(/\.$/, ''),
  );
}

function refuse(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}
