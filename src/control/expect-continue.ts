import type { IncomingMessage } from 'node:http';

/**
 * Requests that asked `Expect: 100-continue` and have not yet been told to send their body, each
 * with the call that tells it. A request refused before its body is read (no key, too large a
 * `Content-Length`, an unknown path) is answered with its final status instead, as RFC 9110
 * §10.1.1 has it: its client then never sends a body only to have the connection reset under it,
 * losing the answer that said what to fix.
 */
const owed = new WeakMap<IncomingMessage, () => void>();

/** Notes that `req` waits for `100 Continue`, which `sendContinue` writes once its body is wanted. */
export function deferContinue(req: IncomingMessage, sendContinue: () => void): void {
  owed.set(req, sendContinue);
}

/** Tells `req`'s client to send its body, if it waits to be told; once. */
export function continueIfOwed(req: IncomingMessage): void {
  const sendContinue = owed.get(req);
  if (sendContinue === undefined) return;
  owed.delete(req);
  sendContinue();
}
