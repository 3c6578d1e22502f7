import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  sendBody,
  sendNoContent,
  sendPixel,
  sendRedirect,
  sendUnavailable,
  statusHeaders,
} from './responses.js';

/**
 * What a notice or tracker hit is answered with: the GIF, 204 for a beacon, 302 to the DSP's burl
 * (Tally's burl, counted) or to a hit's landing page, a small uncached body (a hit's script or the
 * page saying why a click lands nowhere), or 503 when it could not be committed.
 */
export type NoticeAnswer =
  | { kind: 'pixel' }
  | { kind: 'noContent' }
  | { kind: 'redirect'; location: string }
  | { kind: 'body'; status: number; contentType: string; body: Buffer }
  | { kind: 'unavailable' };

/** The answers that carry nothing but their kind, shared by every notice and hit. */
export const PIXEL: NoticeAnswer = { kind: 'pixel' };
export const NO_CONTENT: NoticeAnswer = { kind: 'noContent' };
export const UNAVAILABLE: NoticeAnswer = { kind: 'unavailable' };

/** Writes a notice's or hit's answer through node:http (headers only for HEAD). */
export function sendNoticeAnswer(res: ServerResponse, answer: NoticeAnswer, head: boolean): void {
  switch (answer.kind) {
    case 'pixel':
      return sendPixel(res, head);
    case 'noContent':
      return sendNoContent(res);
    case 'redirect':
      return sendRedirect(res, answer.location);
    case 'body':
      return sendBody(res, answer.status, answer.contentType, answer.body, statusHeaders(answer.status));
    case 'unavailable':
      return sendUnavailable(res);
  }
}

/**
 * Serves a notice or hit through node:http: `serve` decides and records it, then hands its answer
 * to the callback, which writes it (headers only for HEAD). The callback runs in the committer's,
 * which must not throw: a failure to write, or `serve` throwing before anything is recorded (a
 * catalog that cannot be read), rejects the promise instead. A request whose connection is gone
 * (the client reset it, as node:http read it or its body) is not served: its peer's address is
 * no longer known, so no IP rule could screen it, and no answer could reach the client, which
 * sends it again.
 */
export function sendAnswerOf(
  req: IncomingMessage,
  res: ServerResponse,
  serve: (done: (answer: NoticeAnswer) => void) => void,
): Promise<void> {
  if (req.socket.remoteAddress === undefined) {
    res.destroy();
    return Promise.resolve();
  }
  return new Promise((resolve, reject) =>
    serve((answer) => {
      try {
        sendNoticeAnswer(res, answer, req.method === 'HEAD');
        resolve();
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    }),
  );
}
