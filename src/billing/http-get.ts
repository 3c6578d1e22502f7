import { headerText } from '../lib/header-text.js';
import { request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { BurlRefusal } from '../domain/burl-refusal.js';
import { burlRefusal, targetRefusal } from '../domain/burl-refusal.js';
import type { AddressPolicy } from './egress.js';
import { EgressRefusedError, guardedLookup } from './egress.js';
import { DnsCache } from './dns-cache.js';
import { tlsFailureText } from './tls-failure.js';

/** Redirects followed before giving up (browsers follow about 20; billing URLs need a few). */
export const MAX_REDIRECTS = 10;

/**
 * Most bytes of an answer's body read (and thrown away) before its connection is closed: a short
 * body is read to its end so that the connection can serve the next burl; a longer one is not
 * worth the counting thread's time.
 */
export const MAX_BODY_BYTES = 64 * 1024;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * How a GET ended: the final status (and, for one that is no 2xx, its `Retry-After` if it has one,
 * and where reached through redirects the URL that answered it, which the delivery's last error
 * names), or why there is none; a `permanent` failure (a refused address, a URL that cannot be
 * called) would fail the same way again.
 */
type GetResult =
  { status: number; redirectedTo?: string; retryAfter?: string } | { error: string; permanent: boolean };

const permanently = (error: string): GetResult => ({ error, permanent: true });
/** A failure the DSP may fix (an answer that is not a 2xx, in effect): worth retrying. */
const forNow = (error: string): GetResult => ({ error, permanent: false });

/**
 * GETs `url` with `headers`, following redirects (each hop's host looked up through `dns`, and
 * checked against `allows`, literal addresses included), within `timeoutMs` for the whole chain;
 * a burl `burlRefusal` refuses is a permanent failure, called nowhere. The result is the final
 * answer's status as soon as it arrives: the DSP has taken the burl once it answers 2xx, so a
 * body that is slow, endless or huge neither delays nor fails the delivery (each body is
 * discarded, at most `MAX_BODY_BYTES` of it read); a 2xx whose headers Node's parser refuses is a
 * 2xx still (see `refusedFramingStatus`). `abandon`, when it aborts, ends the call there, a
 * failure for now (`the call was abandoned`). Never throws.
 */
export async function httpGet(
  url: string,
  headers: Readonly<Record<string, string>>,
  timeoutMs: number,
  allows: AddressPolicy,
  dns: DnsCache = new DnsCache(),
  abandon?: AbortSignal,
): Promise<GetResult> {
  // The rule `POST /v1/wins` warns of a burl by.
  const refusal = burlRefusal(url, allows);
  if (refusal !== undefined) return permanently(refusalError(refusal, url));
  const call = new CallSignal(AbortSignal.timeout(timeoutMs), abandon);
  try {
    return await chainOf(new URL(url), headers, timeoutMs, allows, dns, call);
  } finally {
    call.finish();
  }
}

/**
 * The signal that ends one call: at its time limit, or when `abandon` aborts (Tally stopping) while
 * any of its requests is open, a 2xx body still being discarded included, so that no DSP trickling
 * one holds the shutdown up to the time limit. Not `AbortSignal.any`: `abandon` lives as long as
 * the relay, and Node keeps on it a record of every signal combined with it, never dropped
 * (nodejs/node#55351, #64476), some 60 bytes a call for good; this one unhooks itself from
 * `abandon` once the call has its result and its requests have all closed.
 */
class CallSignal {
  private readonly controller = new AbortController();
  readonly signal = this.controller.signal;
  private readonly onAbandon = () => this.controller.abort(this.abandon?.reason);
  private open = 0;
  private finished = false;

  constructor(
    readonly timeLimit: AbortSignal,
    readonly abandon: AbortSignal | undefined,
  ) {
    timeLimit.addEventListener('abort', () => this.controller.abort(timeLimit.reason), { once: true });
    if (abandon?.aborted === true) this.onAbandon();
    else abandon?.addEventListener('abort', this.onAbandon, { once: true });
  }

  /** Counts `request` open until it closes (its answer read, or its connection ended). */
  track(request: ClientRequest): void {
    this.open++;
    request.once('close', () => {
      this.open--;
      this.unhookWhenDone();
    });
  }

  /** The call has its result: it follows `abandon` only while a request of it is still open. */
  finish(): void {
    this.finished = true;
    this.unhookWhenDone();
  }

  private unhookWhenDone(): void {
    if (this.finished && this.open === 0) this.abandon?.removeEventListener('abort', this.onAbandon);
  }
}

/** GETs `burl` and the redirects it leads to, as `call` allows: see {@link httpGet}. */
async function chainOf(
  burl: URL,
  headers: Readonly<Record<string, string>>,
  timeoutMs: number,
  allows: AddressPolicy,
  dns: DnsCache,
  call: CallSignal,
): Promise<GetResult> {
  const { timeLimit, abandon, signal } = call;
  const lookup = guardedLookup(allows, dns);
  let target = burl;
  for (let hop = 0; ; hop++) {
    let response: IncomingMessage;
    try {
      response = await sent(target, { method: 'GET', headers, lookup, signal }, call);
    } catch (error) {
      const refusedFraming = refusedFramingStatus(error);
      if (refusedFraming !== undefined) return { status: refusedFraming };
      const message =
        error instanceof EgressRefusedError
          ? error.message
          : timeLimit.aborted
            ? `no answer within the ${timeoutMs} ms time limit`
            : abandon?.aborted === true
              ? 'the call was abandoned'
              : error instanceof Error
                ? (tlsFailureText(error) ?? `${error.name}: ${error.message}`)
                : String(error);
      const said = hop === 0 ? message : redirectedThere(message, target);
      return error instanceof EgressRefusedError ? permanently(said) : forNow(said);
    }
    discard(response);
    const status = response.statusCode ?? 0;
    const written = response.headers.location;
    if (!REDIRECT_STATUSES.has(status) || written === undefined) {
      if (status >= 200 && status < 300) return { status };
      const retryAfter = response.headers['retry-after'];
      return {
        status,
        ...(hop === 0 ? {} : { redirectedTo: target.href }),
        ...(retryAfter === undefined ? {} : { retryAfter }),
      };
    }
    // As browsers read it: a DSP writing a URL unencoded writes it in UTF-8, and `café` read byte
    // by byte would be another URL.
    const location = headerText(written);
    if (hop === MAX_REDIRECTS) return forNow(`more than ${MAX_REDIRECTS} redirects`);
    try {
      target = new URL(location, target);
    } catch {
      return forNow(`redirected to an invalid URL: ${location}`);
    }
    // A redirect to a refused address is never followed; one to a URL that is not http(s), or on
    // port 0, is the DSP's to fix.
    const redirectRefusal = targetRefusal(target, allows);
    if (redirectRefusal !== undefined) {
      const said = redirectedThere(refusalError(redirectRefusal, location), target);
      return redirectRefusal.kind === 'address' ? permanently(said) : forNow(said);
    }
  }
}

/**
 * A failure at a URL the burl redirected to, naming it: the DSP checking its burl alone would find
 * nothing wrong with it.
 */
function redirectedThere(message: string, url: URL): string {
  return `${message} (at ${url.href}, where the burl redirected)`;
}

/** A kept-alive connection reset before it brought an answer: closed by the server as it was reused. */
class StaleConnectionError extends Error {
  constructor(cause: Error) {
    super(cause.message, { cause });
    this.name = cause.name;
  }
}

/**
 * Sends `target` and resolves with its answer. A kept-alive connection the server closed just as
 * the request went out on it (reset before any answer, on a reused connection: the server's
 * keep-alive time ran out, 5 s by default in Node, 2 s in gunicorn) is no failure of the DSP,
 * which never read the request: it is sent again, once, on a connection of its own, as browsers do.
 */
async function sent(target: URL, options: RequestOptions, call: CallSignal): Promise<IncomingMessage> {
  try {
    return await sentOnce(target, options, call);
  } catch (error) {
    if (!(error instanceof StaleConnectionError)) throw error;
    return sentOnce(target, { ...options, agent: false }, call);
  }
}

/**
 * Sends `target` once; a reset of a reused connection before any answer is a {@link StaleConnectionError}.
 * A 101 Switching Protocols, though no upgrade was asked for, is an answer like any other, its
 * connection closed: without an `upgrade` listener Node would close it and end the call neither
 * way, nor would the time limit end it.
 */
function sentOnce(target: URL, options: RequestOptions, call: CallSignal): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(target, options, resolve);
    call.track(request);
    request
      .on('error', (error: NodeJS.ErrnoException) =>
        reject(request.reusedSocket && error.code === 'ECONNRESET' ? new StaleConnectionError(error) : error),
      )
      .on('upgrade', (response: IncomingMessage, socket: Duplex) => {
        socket.destroy();
        resolve(response);
      })
      .end();
  });
}

/**
 * The status line a 2xx answer begins with: `HTTP/1.1 200 OK`, or ended at once by a CR or, as curl
 * and browsers take it, a bare LF (`HTTP/1.1 200\n`, which Node refuses).
 */
const SUCCESS_STATUS_LINE = /^HTTP\/1\.[01] (2\d\d)[ \r\n]/;

/**
 * The 2xx status of an answer whose status line or headers Node's HTTP parser refused (an `HPE_…`
 * error: a `Content-Length` given twice, or beside `Transfer-Encoding`, as a proxy in front of a
 * DSP may write it; lines ended by a bare LF), read from the bytes the parser was given;
 * `undefined` for any other failure. Browsers and curl take such an answer: the DSP took the burl,
 * and calling it again at each retry until the deadline would bill it each time. Node closes that
 * connection.
 */
function refusedFramingStatus(error: unknown): number | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, rawPacket } = error as Error & { code?: unknown; rawPacket?: unknown };
  if (typeof code !== 'string' || !code.startsWith('HPE_') || !Buffer.isBuffer(rawPacket)) return undefined;
  const match = SUCCESS_STATUS_LINE.exec(rawPacket.subarray(0, 32).toString('latin1'));
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** What the relay says of a URL it refused to call, as the delivery's last error. */
function refusalError(refusal: BurlRefusal, url: string): string {
  switch (refusal.kind) {
    case 'not_a_url':
      return `not a URL: ${url}`;
    case 'scheme':
      return `cannot call a ${refusal.scheme} URL`;
    case 'port_zero':
      return `cannot call port 0: ${url}`;
    case 'address':
      return new EgressRefusedError(refusal.address, refusal.address).message;
  }
}

/**
 * Reads `response`'s body in the background and throws it away, closing the connection once
 * more than `MAX_BODY_BYTES` came; how the body ends (the time limit may cut it) changes nothing.
 */
function discard(response: IncomingMessage): void {
  let bytes = 0;
  response.on('error', () => {});
  response.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > MAX_BODY_BYTES) response.destroy();
  });
}
