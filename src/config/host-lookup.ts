import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { errorCode } from '../lib/error-code.js';
import { isHostName } from './host-name.js';

/** Looks a host name up as `listen` does (the system resolver, `dns.lookup`). */
export type HostLookup = (host: string) => Promise<unknown>;

/**
 * Why Tally cannot listen on `host`, a host name that resolves to no address (`ENOTFOUND`), or
 * `undefined`. An IP address is not looked up (nor what is neither, refused before); a lookup that
 * fails otherwise (`EAI_AGAIN`: no DNS server answered) says nothing of the name, and is left to
 * the listen, which says what failed.
 */
export async function hostLookupProblem(
  host: string,
  lookupHost: HostLookup = lookup,
): Promise<string | undefined> {
  if (isIP(host) !== 0 || !isHostName(host)) return undefined;
  try {
    await lookupHost(host);
    return undefined;
  } catch (error) {
    return errorCode(error) === 'ENOTFOUND'
      ? 'does not resolve to an address (ENOTFOUND): give an address of this machine, or a host name that resolves to one; e.g. 0.0.0.0 (every interface), 127.0.0.1 or ::1'
      : undefined;
  }
}
