/** The `event_dims` row of a recorded event: its columns, its values, and a key to find its id by. */
import type { Outcome } from '../../domain/outcome.js';
import type { EventRecord } from '../../ports/ledger.js';

/**
 * The `event_dims` columns, in the order `dimsValues` gives them: first those the hourly rollups
 * group by, in the rollups' order, then the others.
 */
export const DIMS_COLUMNS =
  'account_id, outcome, reason, impression_type, format, channel, method, seat, publisher, advertiser_id, ' +
  'line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind, currency, ivt_rule, ' +
  'vast_error';
/**
 * How many of the dims values, the first ones, a rollup row takes as they are: the currency (kept
 * only for counted events), the invalid-traffic rule and the VAST error code follow them.
 */
export const ROLLUP_DIMS = 16;
/** Where the currency is among the dims values. */
export const CURRENCY_DIM = 16;
/** Where the invalid-traffic rule is among the dims values. */
export const IVT_RULE_DIM = 17;
/** Where the VAST error code is among the dims values: 0 for none, as the tables keep it. */
export const VAST_ERROR_DIM = 18;

/** An event's `event_dims` values, with the outcome it was recorded with. */
export function dimsValues(event: EventRecord, outcome: Outcome): (string | number)[] {
  const d = event.dims;
  return [
    d.accountId,
    outcome.outcome,
    outcome.outcome === 'counted' ? '' : outcome.reason,
    d.impressionType,
    d.format,
    d.channel,
    d.method,
    d.seat,
    d.publisher,
    d.advertiserId,
    d.lineItemId,
    d.trackerId,
    d.placementId,
    d.paymentRuleId,
    d.cachebusterMissing ? 1 : 0,
    d.kind,
    d.currency,
    outcome.outcome === 'not_counted' && outcome.reason === 'invalid_traffic' ? outcome.rule : '',
    d.vastError ?? 0,
  ];
}

/** True when two events recorded with these outcomes have the same `event_dims` row. */
export function sameDims(a: EventRecord, aOutcome: Outcome, b: EventRecord, bOutcome: Outcome): boolean {
  const x = a.dims;
  const y = b.dims;
  return (
    sameOutcome(aOutcome, bOutcome) &&
    x.accountId === y.accountId &&
    x.impressionType === y.impressionType &&
    x.format === y.format &&
    x.channel === y.channel &&
    x.method === y.method &&
    x.seat === y.seat &&
    x.publisher === y.publisher &&
    x.advertiserId === y.advertiserId &&
    x.lineItemId === y.lineItemId &&
    x.trackerId === y.trackerId &&
    x.placementId === y.placementId &&
    x.paymentRuleId === y.paymentRuleId &&
    x.cachebusterMissing === y.cachebusterMissing &&
    x.kind === y.kind &&
    x.currency === y.currency &&
    x.vastError === y.vastError
  );
}

function sameOutcome(a: Outcome, b: Outcome): boolean {
  if (a === b) return true;
  if (a.outcome === 'counted' || b.outcome === 'counted') return a.outcome === b.outcome;
  return (
    a.reason === b.reason &&
    (a.reason !== 'invalid_traffic' || (b.reason === 'invalid_traffic' && a.rule === b.rule))
  );
}

/** One string per distinct set of dims values (JSON: no two sets share it, whatever a seat holds). */
export function dimsKey(values: readonly (string | number)[]): string {
  return JSON.stringify(values);
}
