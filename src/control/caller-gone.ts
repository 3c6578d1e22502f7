import type { ServerResponse } from 'node:http';

/**
 * A signal that aborts once `res` closes before it was sent: that happens only when the caller
 * went away, so work still waiting for it can be dropped.
 */
export function callerGone(res: ServerResponse): AbortSignal {
  const gone = new AbortController();
  res.once('close', () => gone.abort());
  return gone.signal;
}
