import { isIP } from 'node:net';
import { shown } from '../lib/shown.js';
import { isHostName } from './host-name.js';
import { defaultPublicUrl, problemOfPublicUrl } from './public-url.js';
import type { Settings } from './settings.js';

/** Where Tally listens, and the base of the URLs it hands out. */
export interface ListenAddress {
  port: number;
  host: string;
  /** Without a trailing slash. */
  publicUrl: string;
}

/**
 * Reads `port`, `host` and `publicUrl`, the last defaulting to one built on the other two; each
 * problem, including a public URL no notice could reach, is added to `errors`.
 */
export function readListenAddress(settings: Settings, errors: string[]): ListenAddress {
  const port = settings.int('port', 8080, 0, 65535);
  const publicUrlGiven = settings.read('publicUrl') !== undefined;
  // Port 0 picks a free port once listening, after the notice URLs' base is settled.
  if (port === 0 && !publicUrlGiven)
    errors.push(
      `port: ${settings.given('port')} picks a free port, which notice URLs cannot name: set TALLY_PUBLIC_URL (publicUrl in the TALLY_CONFIG file) too, or another port`,
    );
  const host = settings.text('host', '0.0.0.0');
  const hostIsAddress = isIP(host) !== 0 || isHostName(host);
  if (!hostIsAddress)
    errors.push(
      `host: ${settings.given('host')} is neither an IP address nor a host name; e.g. 0.0.0.0 (every interface), 127.0.0.1 or ::1`,
    );
  const publicUrl = settings.text('publicUrl', defaultPublicUrl(host, port)).replace(/\/+$/, '');
  const publicUrlProblem = problemOfPublicUrl(publicUrl);
  // A default built on a host or port already refused says nothing more: the operator set no
  // public URL.
  if (publicUrlProblem !== undefined && publicUrlGiven)
    errors.push(
      `publicUrl: ${settings.given('publicUrl')} ${publicUrlProblem}: give the http(s) URL notices reach Tally at, such as https://tally.example.com`,
    );
  // Not set, its default is built on the host and port: the operator is told which to change.
  else if (publicUrlProblem !== undefined && hostIsAddress && port !== 0)
    errors.push(
      `publicUrl: TALLY_PUBLIC_URL is not set (nor publicUrl in the TALLY_CONFIG file), and its default, ${shown(publicUrl)} (the host and ${settings.given('port')}), ${publicUrlProblem}: set TALLY_PUBLIC_URL to the http(s) URL notices reach Tally at, such as https://tally.example.com, or listen on another port`,
    );
  return { port, host, publicUrl };
}
