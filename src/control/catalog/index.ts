import type { AccountStore } from '../../ports/accounts.js';
import type { CatalogStore, CatalogView } from '../../ports/catalog.js';
import type { Route } from '../router.js';
import { advertiserRoutes } from './advertisers.js';
import { apiKeyRoutes } from './api-keys.js';
import { lineItemRoutes } from './line-items.js';
import { paymentRuleRoutes } from './payment-rules.js';
import { placementRoutes } from './placements.js';
import { publisherRoutes } from './publishers.js';
import { redirectAllowlistRoutes } from './redirect-allowlist.js';
import { trackerRoutes } from './trackers.js';
import { knownIds } from '../unknown-ids.js';

/**
 * Every catalog route: the entities, API keys and the account's redirect allow-list (access rules
 * in `access.ts`). `snapshot` is the catalog as hits are priced by it (for trackers' warnings);
 * lists warn of an id filter naming an object the key knows nothing of, read from `catalog`.
 */
export function catalogRoutes(
  catalog: CatalogStore,
  accounts: AccountStore,
  snapshot: () => CatalogView,
): Route[] {
  const known = knownIds(catalog);
  return [
    ...advertiserRoutes(catalog.advertisers, known),
    ...lineItemRoutes(catalog.lineItems, catalog.trackers, snapshot, known),
    ...publisherRoutes(catalog.publishers, known),
    ...placementRoutes(catalog.placements, known),
    ...paymentRuleRoutes(catalog.paymentRules, catalog.trackers, snapshot, known),
    ...trackerRoutes(catalog.trackers, snapshot, known),
    ...apiKeyRoutes(accounts, catalog),
    ...redirectAllowlistRoutes(catalog),
  ];
}
