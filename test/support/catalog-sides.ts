import assert from 'node:assert/strict';
import type { CatalogStore, WriteResult } from '../../src/ports/catalog.js';
import { paymentRuleInput } from './payment-rules.js';

/** The ids of one side of a test catalog: an advertiser's line item, and a publisher's placement and payment rule. */
export interface CatalogSide {
  advertiser: number;
  lineItem: number;
  publisher: number;
  placement: number;
  paymentRule: number;
}

/** The id of the object a catalog write stored; fails the test naming the refusal otherwise. */
export function stored<T extends { id: number }>(result: WriteResult<T>): number {
  assert.equal(result.ok, true, JSON.stringify(result));
  return result.ok ? result.value.id : 0;
}

/**
 * Creates one side of a test catalog, each object named `name`: an advertiser with an active `cpm`
 * line item (a CPM of 2), and a publisher with a placement and an active revshare payment rule
 * (half), the publisher naming no OpenRTB id.
 */
export function createCatalogSide(
  catalog: CatalogStore,
  accountId: number,
  name: string,
  nowMs: number,
): CatalogSide {
  const advertiser = stored(catalog.advertisers.create(accountId, { name }, nowMs));
  const lineItem = stored(
    catalog.lineItems.create(
      accountId,
      { advertiserId: advertiser, name, revenueType: 'cpm', revenueValueMicros: 2_000_000, state: 'active' },
      nowMs,
    ),
  );
  const publisher = stored(catalog.publishers.create(accountId, { name, externalId: null }, nowMs));
  const placement = stored(catalog.placements.create(accountId, { publisherId: publisher, name }, nowMs));
  const paymentRule = stored(
    catalog.paymentRules.create(accountId, paymentRuleInput(publisher, { name }), nowMs),
  );
  return { advertiser, lineItem, publisher, placement, paymentRule };
}
