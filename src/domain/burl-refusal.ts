/**
 * Which DSP burls Tally's relay gives up without calling: the one rule the relay applies before
 * each call (`billing/http-get.ts`) and `POST /v1/wins` warns by (`win-billing-warnings.ts`).
 * Pure; never throws.
 */
import { isIP } from 'node:net';

/**
 * Why the relay does not call a URL: the URL parser (WHATWG's, as the relay's own) refuses it (a
 * space or control character in its host, a port that is not a number below 65536, no host, no
 * scheme); its scheme is not http or https; its port is 0, which no server listens on (Node's
 * HTTP client would call the scheme's default port instead); or its host is an IP address the
 * relay's policy refuses (outside the public internet, unless `TALLY_BURL_PRIVATE_NETWORKS` allows
 * it).
 */
export type BurlRefusal =
  | { kind: 'not_a_url' }
  | { kind: 'scheme'; scheme: string }
  | { kind: 'port_zero' }
  | { kind: 'address'; address: string };

/**
 * Why the relay never calls the DSP's burl `url` (its macros filled), or `undefined` for one it
 * calls. `allowsAddress` says whether an IP address may be called. A host name is not looked up
 * here: the relay refuses it only once it resolves to a refused address, when it is called.
 */
export function burlRefusal(
  url: string,
  allowsAddress: (address: string) => boolean,
): BurlRefusal | undefined {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { kind: 'not_a_url' };
  }
  return targetRefusal(target, allowsAddress);
}

/**
 * Why the relay does not call `target`, a burl or the target of a redirect it parsed: a scheme
 * other than http(s), port 0, or a host that is an IP address (IPv6 unbracketed, IPv4 as the parser
 * writes it, whatever the spelling) `allowsAddress` refuses; `undefined` for one it calls.
 */
export function targetRefusal(
  target: URL,
  allowsAddress: (address: string) => boolean,
): BurlRefusal | undefined {
  if (target.protocol !== 'http:' && target.protocol !== 'https:')
    return { kind: 'scheme', scheme: target.protocol };
  if (target.port === '0') return { kind: 'port_zero' };
  const host = target.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0 && !allowsAddress(host)) return { kind: 'address', address: host };
  return undefined;
}
