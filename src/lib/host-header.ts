/**
 * A Host header's value as RFC 9112 §3.2 and RFC 3986 §3.2.2 allow it: a registered name (letters,
 * digits, `-._~`, sub-delimiters, percent-escapes) or an IP literal in brackets, then an optional
 * port; empty is allowed too.
 */
const VALID_HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?$/;

/** Whether `value` (without the white space around it) is a valid Host header value. */
export function isValidHost(value: string): boolean {
  return VALID_HOST.test(value);
}

/**
 * What is wrong with a request's Host headers, as a message saying what to fix, or undefined:
 * RFC 9112 §3.2 has a server answer 400 to an HTTP/1.1 request without one, and to any request
 * with more than one or with an invalid one. `rawHeaders` are names and values, alternating.
 */
export function hostHeaderProblem(rawHeaders: readonly string[], httpVersion: string): string | undefined {
  const hosts: string[] = [];
  for (let at = 0; at + 1 < rawHeaders.length; at += 2) {
    if (rawHeaders[at]?.toLowerCase() === 'host') hosts.push(rawHeaders[at + 1] ?? '');
  }
  if (hosts.length === 0) {
    return httpVersion === '1.1'
      ? 'the request has no Host header: an HTTP/1.1 request must send one (RFC 9112 §3.2)'
      : undefined;
  }
  if (hosts.length > 1) return `the request has ${hosts.length} Host headers: send one (RFC 9112 §3.2)`;
  const host = (hosts[0] ?? '').trim();
  return isValidHost(host)
    ? undefined
    : `the Host header ${JSON.stringify(host)} is no host name or address: send the host (and port) the request is for (RFC 9112 §3.2)`;
}
