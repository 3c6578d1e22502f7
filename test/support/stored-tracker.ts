import assert from 'node:assert/strict';
import type { CatalogStore, TrackerKind, WriteResult } from '../../src/ports/catalog.js';

/** What a catalog write stored; fails the test when it refused. */
export function stored<T>(result: WriteResult<T>): T {
  if (!result.ok) assert.fail(`expected a stored object, got ${JSON.stringify(result)}`);
  return result.value;
}

/**
 * A tracker of `kind` in account 1 on a fresh advertiser, line item and publisher, named after its
 * kind (a click tracker lands on https://advertiser.example/); answers its id.
 */
export function storedTracker(catalog: CatalogStore, kind: TrackerKind, nowMs: number): number {
  const advertiser = stored(catalog.advertisers.create(1, { name: 'Adv' }, nowMs));
  const lineItem = stored(
    catalog.lineItems.create(
      1,
      {
        advertiserId: advertiser.id,
        name: 'LI',
        state: 'active',
        revenueType: 'none',
        revenueValueMicros: 0,
      },
      nowMs,
    ),
  );
  const publisher = stored(catalog.publishers.create(1, { name: 'Pub', externalId: null }, nowMs));
  const input = {
    kind,
    advertiserId: advertiser.id,
    name: kind,
    code: null,
    lineItemId: lineItem.id,
    publisherId: publisher.id,
    placementId: null,
    paymentRuleId: null,
    state: 'active' as const,
    clickUrl: kind === 'click' ? 'https://advertiser.example/' : null,
    firedBy: 'browser' as const,
  };
  return stored(catalog.trackers.create(1, input, nowMs)).id;
}
