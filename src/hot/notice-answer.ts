import type { ServerResponse } from 'node:http';
import { sendNoContent, sendPixel, sendRedirect, sendUnavailable } from './responses.js';

/**
 * What a notice is answered with: the GIF, 204 for a beacon, 302 to the DSP's burl (Tally's burl,
 * counted), or 503 when it could not be committed.
 */
export type NoticeAnswer =
  | { kind: 'pixel' }
  | { kind: 'noContent' }
  | { kind: 'redirect'; location: string }
  | { kind: 'unavailable' };

export const PIXEL: NoticeAnswer = { kind: 'pixel' };
export const NO_CONTENT: NoticeAnswer = { kind: 'noContent' };
export const UNAVAILABLE: NoticeAnswer = { kind: 'unavailable' };

/** Writes a notice's answer through node:http (headers only for HEAD). */
export function sendNoticeAnswer(res: ServerResponse, answer: NoticeAnswer, head: boolean): void {
  switch (answer.kind) {
    case 'pixel':
      return sendPixel(res, head);
    case 'noContent':
      return sendNoContent(res);
    case 'redirect':
      return sendRedirect(res, answer.location);
    case 'unavailable':
      return sendUnavailable(res);
  }
}
