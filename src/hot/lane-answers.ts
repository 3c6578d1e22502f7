import { STATUS_CODES } from 'node:http';
import type { NoticeAnswer } from './notice-answer.js';
import {
  GIF_HEADERS,
  NO_CACHE,
  PIXEL_GIF,
  RETRY_AFTER,
  statusHeaders,
  UNAVAILABLE_TEXT,
  UNAVAILABLE_TYPE,
} from './responses.js';

type Fixed = Exclude<NoticeAnswer['kind'], 'redirect' | 'body'>;

const STATUS_LINE: Readonly<Record<Fixed | 'redirect', string>> = {
  pixel: 'HTTP/1.1 200 OK',
  noContent: 'HTTP/1.1 204 No Content',
  redirect: 'HTTP/1.1 302 Found',
  unavailable: 'HTTP/1.1 503 Service Unavailable',
};

const UNAVAILABLE_BODY = Buffer.from(UNAVAILABLE_TEXT);

/**
 * The bytes of the notice lane's answers: the same status, headers and body node:http sends for
 * them, with `Date` (refreshed once a second), `Connection` and `Keep-Alive`. The fixed answers
 * are composed once a second and reused; a redirect and a body (a tracker hit's script or page)
 * are composed each time.
 */
export class LaneAnswers {
  private composedForSecond = -1;
  private readonly fixed = new Map<string, Buffer>();

  constructor(private readonly keepAliveTimeoutSeconds: number) {}

  /** The whole answer, headers only for HEAD. */
  bytes(answer: NoticeAnswer, head: boolean, keepAlive: boolean, nowMs: number): Buffer {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.composedForSecond) {
      this.fixed.clear();
      this.composedForSecond = second;
    }
    if (answer.kind === 'redirect') {
      return this.compose(
        STATUS_LINE.redirect,
        { Location: answer.location, 'Content-Length': '0' },
        undefined,
        keepAlive,
      );
    }
    if (answer.kind === 'body') {
      return this.compose(
        `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}`,
        {
          ...statusHeaders(answer.status),
          'Content-Type': answer.contentType,
          'Content-Length': String(answer.body.length),
        },
        head ? undefined : answer.body,
        keepAlive,
      );
    }
    const key = `${answer.kind}/${head}/${keepAlive}`;
    let bytes = this.fixed.get(key);
    if (bytes === undefined) {
      bytes = this.composeFixed(answer.kind, head, keepAlive);
      this.fixed.set(key, bytes);
    }
    return bytes;
  }

  private composeFixed(kind: Fixed, head: boolean, keepAlive: boolean): Buffer {
    switch (kind) {
      case 'pixel':
        return this.compose(STATUS_LINE.pixel, GIF_HEADERS, head ? undefined : PIXEL_GIF, keepAlive);
      case 'noContent':
        return this.compose(STATUS_LINE.noContent, {}, undefined, keepAlive);
      case 'unavailable':
        return this.compose(
          STATUS_LINE.unavailable,
          {
            ...RETRY_AFTER,
            'Content-Type': UNAVAILABLE_TYPE,
            'Content-Length': String(UNAVAILABLE_BODY.length),
          },
          head ? undefined : UNAVAILABLE_BODY,
          keepAlive,
        );
    }
  }

  private compose(
    statusLine: string,
    headers: Readonly<Record<string, string>>,
    body: Buffer | undefined,
    keepAlive: boolean,
  ): Buffer {
    const lines = [statusLine];
    for (const [name, value] of Object.entries({ ...NO_CACHE, ...headers })) lines.push(`${name}: ${value}`);
    lines.push(`Date: ${new Date(this.composedForSecond * 1000).toUTCString()}`);
    if (keepAlive)
      lines.push('Connection: keep-alive', `Keep-Alive: timeout=${this.keepAliveTimeoutSeconds}`);
    else lines.push('Connection: close');
    const headBytes = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    return body === undefined ? headBytes : Buffer.concat([headBytes, body]);
  }
}
