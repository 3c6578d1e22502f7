import type {
  CatalogView,
  EntityStore,
  LineItem,
  LineItemFilter,
  LineItemInput,
  Tracker,
  TrackerFilter,
  TrackerInput,
} from '../../ports/catalog.js';
import { CATALOG_STATES, FRACTION_REVENUE_TYPES, REVENUE_TYPES } from '../../ports/catalog.js';
import type { Route } from '../router.js';
import type { KnownIds } from '../unknown-ids.js';
import { seesMediaCost } from './access.js';
import { crudRoutes } from './crud.js';
import { zeroPricedTrackers } from './tracker-warnings.js';
import { decimalOf, FieldReader, isoOf } from './validation.js';

const FIELDS = ['advertiserId', 'name', 'revenueType', 'revenueValue', 'state'];

/**
 * `/v1/line-items`: `{advertiserId, name, revenueType, revenueValue, state?}`. `revenueValue` is a
 * CPM in currency units for `cpm` and `cost_plus_cpm`, a price per click in currency units for
 * `cpc`, a fraction 0–1 for `cost_plus_margin` and `revshare` (0.25 = 25 %), and 0 (or absent)
 * for `none`. `advertiserId` never changes. A write's answer carries `warnings` naming its
 * trackers that book hits at a cost of 0 (`zeroPricedTrackers`: impression trackers, and click
 * trackers of a `cpc` line item), read from `catalog`, the snapshot hits are priced by. `known`:
 * which objects each key knows of, for the warnings of a list filtered on an unknown advertiser.
 */
export function lineItemRoutes(
  store: EntityStore<LineItem, LineItemInput, LineItemFilter>,
  trackers: EntityStore<Tracker, TrackerInput, TrackerFilter>,
  catalog: () => CatalogView,
  known: KnownIds,
): Route[] {
  return crudRoutes({
    path: '/v1/line-items',
    noun: 'line item',
    nounPlural: 'line items',
    store,
    readScopes: ['advertiser'],
    writeScopes: ['advertiser'],
    owner: (lineItem) => ({ advertiserId: lineItem.advertiserId }),
    inputOwner: (input) => ({ advertiserId: input.advertiserId }),
    scopeFilterKey: { advertiser: 'advertiserId' },
    filters: {
      advertiserId: { idOf: 'advertiser' },
      state: CATALOG_STATES,
      revenueType: REVENUE_TYPES,
      name: 'text',
    },
    knownIds: known,
    writeWarnings: (lineItem, principal) =>
      seesMediaCost(principal)
        ? zeroPricedTrackers(trackers, catalog(), principal.accountId, { lineItemId: lineItem.id })
        : [],
    parse(body, mode, existing) {
      const fields = new FieldReader(body, mode, FIELDS, ['warnings']);
      const base = mode === 'patch' ? existing : undefined;
      const advertiserId = fields.id('advertiserId', existing?.advertiserId ?? 0);
      const name = fields.name('name', base?.name ?? '');
      const revenueType = fields.oneOf('revenueType', REVENUE_TYPES, base?.revenueType ?? 'none', {
        required: true,
      });
      const isFraction = FRACTION_REVENUE_TYPES.includes(revenueType);
      // A changed revenue type needs its own value: the old one meant something else.
      const keepValue = base !== undefined && base.revenueType === revenueType;
      const value = isFraction
        ? fields.fraction('revenueValue', keepValue ? base.revenueValueMicros : null)
        : fields.amount('revenueValue', keepValue ? base.revenueValueMicros : null);
      // An invalid type or value has its own problem: no rule across them adds another.
      const checkAcross = !fields.hasProblem('revenueType') && !fields.hasProblem('revenueValue');
      if (checkAcross && value === null && revenueType !== 'none') {
        fields.problem(
          'revenueValue',
          isFraction
            ? `required for ${revenueType}: send a fraction from 0 to 1, e.g. 0.25 for 25 %`
            : revenueType === 'cpc'
              ? 'required for cpc: send the price of one click in currency units, e.g. 0.4'
              : `required for ${revenueType}: send the CPM in currency units, e.g. 2.5`,
        );
      }
      if (checkAcross && revenueType === 'none' && value !== null && value !== 0) {
        fields.problem(
          'revenueValue',
          'a line item with revenueType "none" has no revenue: send 0 or leave it out',
        );
      }
      const state = fields.oneOf('state', CATALOG_STATES, base?.state ?? 'active');
      fields.finish('line item');
      return { advertiserId, name, revenueType, revenueValueMicros: value ?? 0, state };
    },
    toJson: (lineItem) => ({
      id: lineItem.id,
      advertiserId: lineItem.advertiserId,
      name: lineItem.name,
      revenueType: lineItem.revenueType,
      revenueValue: decimalOf(lineItem.revenueValueMicros),
      state: lineItem.state,
      createdAt: isoOf(lineItem.createdMs),
      updatedAt: isoOf(lineItem.updatedMs),
    }),
  });
}
