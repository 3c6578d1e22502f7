import type { IncomingMessage } from 'node:http';

/**
 * Requests that asked `Expect: 100-continue` and have not yet been told to send their body, each
 * with the call that tells it. A request refused before its body is read (no key, too large a
 * `Content-Length`, an unknown path) is answered with its final status instead, as RFC 9110
 * §10.1.1 has it: its client then never sends a body only to have the connection reset under it,
 * losing the answer that said what to fix.
 */
const owed = new WeakMap<IncomingMessage, (sent: () => void) => void>();

/**
 * Notes that `req` waits for `100 Continue`, which `sendContinue` writes once its body is wanted,
 * then calls `sent` (it may wait for the answers before it on the connection: see
 * `continueIfOwed`).
 */
export function deferContinue(req: IncomingMessage, sendContinue: (sent: () => void) => void): void {
  owed.set(req, sendContinue);
}

/**
 * Tells `req`'s client to send its body, if it waits to be told; once. `then` runs once it is
 * told: at once when it waits for nothing, else once `100 Continue` is written, which for a request
 * pipelined behind another waits for that one's answer (never, should the connection close first).
 */
export function continueIfOwed(req: IncomingMessage, then: () => void = () => undefined): void {
  const sendContinue = owed.get(req);
  if (sendContinue === undefined) return then();
  owed.delete(req);
  sendContinue(then);
}
