import type { AccountStore } from '../../ports/accounts.js';
import type { CatalogStore, CatalogView } from '../../ports/catalog.js';
import type { Route } from '../http.js';
import { advertiserRoutes } from './advertisers.js';
import { apiKeyRoutes } from './api-keys.js';
import { lineItemRoutes } from './line-items.js';
import { paymentRuleRoutes } from './payment-rules.js';
import { placementRoutes } from './placements.js';
import { publisherRoutes } from './publishers.js';
import { redirectAllowlistRoutes } from './redirect-allowlist.js';
import { trackerRoutes } from './trackers.js';

/**
 * Every catalog route: the entities, API keys and the account's redirect allow-list (access rules
 * in `access.ts`). `snapshot` is the catalog as hits are priced by it (for trackers' warnings).
 */
export function catalogRoutes(
  catalog: CatalogStore,
  accounts: AccountStore,
  snapshot: () => CatalogView,
): Route[] {
  return [
    ...advertiserRoutes(catalog.advertisers),
    ...lineItemRoutes(catalog.lineItems, catalog.trackers, snapshot),
    ...publisherRoutes(catalog.publishers),
    ...placementRoutes(catalog.placements),
    ...paymentRuleRoutes(catalog.paymentRules, catalog.trackers, snapshot),
    ...trackerRoutes(catalog.trackers, snapshot),
    ...apiKeyRoutes(accounts, catalog),
    ...redirectAllowlistRoutes(catalog),
  ];
}
