import type { CounterSink } from './metrics.js';

/** What a request refused for its method asked for: a notice, a tracker hit or a tunnel. */
export type RefusedMethodTarget = 'notice' | 'tracker' | 'connect';

/**
 * Requests answered 405 that no ledger, log or report holds: a notice (`target="notice"`) or
 * tracker hit (`tracker`) sent by a method notices do not come by (`PUT`, `DELETE`, a CORS
 * preflight's `OPTIONS`…), and a `CONNECT` (`connect`), a tunnel asked of Tally, which is no proxy.
 * A rise of the first two is a client sending its notices or hits by the wrong method, lost; of
 * `connect`, clients taking Tally for a proxy (scanners among them). The API's 405s are in
 * `tally_api_errors_total{code="METHOD_NOT_ALLOWED"}`.
 */
export const REFUSED_METHODS_METRIC = {
  name: 'tally_refused_method_requests_total',
  help: 'Requests answered 405 for their method, recorded nowhere else: notices and tracker hits by a method other than GET, HEAD or POST, and CONNECT (target: notice, tracker, connect)',
  targets: ['notice', 'tracker', 'connect'],
} as const satisfies { name: string; help: string; targets: readonly RefusedMethodTarget[] };

/** Counts one request refused 405 for its method in {@link REFUSED_METHODS_METRIC}. */
export function countRefusedMethod(counters: CounterSink, target: RefusedMethodTarget): void {
  counters.inc(REFUSED_METHODS_METRIC.name, REFUSED_METHODS_METRIC.help, { target });
}
