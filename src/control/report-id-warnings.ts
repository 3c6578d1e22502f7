/**
 * The warnings a report answers with when a filter names a catalog id its key knows no object by:
 * a mistyped id, whose report of nothing would otherwise read as no traffic. The report is
 * answered all the same, its rows what was recorded under the id, since an object deleted since
 * (a tracker is deleted whatever its hits) keeps its past traffic there; an inactive object is
 * still in the catalog, and is no unknown id.
 */
import type { CatalogStore, TrackerFilter } from '../ports/catalog.js';
import type { ReportDimension } from '../ports/ledger.js';
import type { Principal } from './auth.js';
import type { Owner } from './catalog/access.js';
import { sees } from './catalog/access.js';

/** Each report filter whose value is a catalog id, with the code of its warning and its noun. */
const CATALOG_ID_FILTERS = {
  publisherId: { code: 'unknown_publisher', noun: 'publisher' },
  advertiser: { code: 'unknown_advertiser', noun: 'advertiser' },
  lineItem: { code: 'unknown_line_item', noun: 'line item' },
  tracker: { code: 'unknown_tracker', noun: 'impression or click tracker' },
  placement: { code: 'unknown_placement', noun: 'placement' },
  paymentRule: { code: 'unknown_payment_rule', noun: 'payment rule' },
} as const;

/** A report filter whose value is a catalog id. */
export type CatalogIdFilter = keyof typeof CATALOG_ID_FILTERS;

/** The codes of a report's warnings, one for each {@link CatalogIdFilter}. */
export const REPORT_WARNING_CODES = Object.values(CATALOG_ID_FILTERS).map((filter) => filter.code);

/** A warning in a report's answer: an id filter names nothing its key knows of. */
export interface ReportWarning {
  code: (typeof CATALOG_ID_FILTERS)[CatalogIdFilter]['code'];
  /** The id the filter names. */
  id: number;
  message: string;
}

/** What a report reads of the catalog. */
export interface ReportCatalog {
  /** The OpenRTB publisher id (`externalId`) of the account's catalog publisher; null for none. */
  publisherExternalId(accountId: number, publisherId: number): string | null;
  /**
   * Whether `principal` knows of the object of id `id` that a `filter` filter names. An
   * account-wide key knows every object of its account. A scoped key knows the objects of its own
   * side it may read (an advertiser's key: its advertiser, line items and trackers; a publisher's:
   * its publisher, placements, payment rules and the trackers on it), and those of the other side
   * its trackers are on: the advertisers and line items of the trackers on its publisher; the
   * publishers and placements of its advertiser's trackers, and those publishers' payment rules
   * (any of which may price their hits). Any other object, there or not, is as unknown to it as
   * an id no object has, so that its reports tell it nothing of the rest of the account.
   */
  knows(principal: Principal, filter: CatalogIdFilter, id: number): boolean;
}

/** The {@link ReportCatalog} of `catalog`. */
export function reportCatalog(catalog: CatalogStore): ReportCatalog {
  /**
   * The owner of the object `filter` names, and the filter picking the trackers on it; undefined
   * when the account has no such object.
   */
  const lookUp = (
    accountId: number,
    filter: CatalogIdFilter,
    id: number,
  ): { owner: Owner; trackersOn: TrackerFilter } | undefined => {
    switch (filter) {
      case 'advertiser':
        return catalog.advertisers.get(accountId, id) === undefined
          ? undefined
          : { owner: { advertiserId: id }, trackersOn: { advertiserId: id } };
      case 'lineItem': {
        const lineItem = catalog.lineItems.get(accountId, id);
        return lineItem && { owner: { advertiserId: lineItem.advertiserId }, trackersOn: { lineItemId: id } };
      }
      case 'tracker': {
        const tracker = catalog.trackers.get(accountId, id);
        return tracker && { owner: tracker, trackersOn: {} };
      }
      case 'publisherId':
        return catalog.publishers.get(accountId, id) === undefined
          ? undefined
          : { owner: { publisherId: id }, trackersOn: { publisherId: id } };
      case 'placement': {
        const placement = catalog.placements.get(accountId, id);
        return (
          placement && { owner: { publisherId: placement.publisherId }, trackersOn: { placementId: id } }
        );
      }
      case 'paymentRule': {
        // Any tracker of its publisher may have hits it priced, not only those naming it.
        const rule = catalog.paymentRules.get(accountId, id);
        return (
          rule && { owner: { publisherId: rule.publisherId }, trackersOn: { publisherId: rule.publisherId } }
        );
      }
    }
  };
  return {
    publisherExternalId: (accountId, publisherId) =>
      catalog.publishers.get(accountId, publisherId)?.externalId ?? null,
    knows(principal, filter, id) {
      const found = lookUp(principal.accountId, filter, id);
      if (found === undefined) return false;
      const scope = principal.scope;
      if (scope === null) return true;
      const ownSide = scope.type === 'advertiser' ? 'advertiserId' : 'publisherId';
      if (found.owner[ownSide] !== undefined) return sees(principal, found.owner);
      const trackersOn = { ...found.trackersOn, [ownSide]: scope.id };
      return catalog.trackers.list(principal.accountId, { filter: trackersOn, limit: 1 }).length > 0;
    },
  };
}

/**
 * A warning for each id filter of `filters` (as `parseReportQuery` gives them) naming an object
 * `principal` does not know of (see {@link ReportCatalog.knows}), in the order of `filters`. Id 0,
 * which rows hold where they have no such object (an exchange row's tracker, a hit priced by its
 * `ancost`'s payment rule), is no catalog id and is not warned of.
 */
export function unknownIdWarnings(
  filters: Partial<Record<ReportDimension, string>>,
  principal: Principal,
  catalog: ReportCatalog,
): ReportWarning[] {
  const warnings: ReportWarning[] = [];
  for (const [dimension, value] of Object.entries(filters)) {
    if (!Object.hasOwn(CATALOG_ID_FILTERS, dimension) || value === undefined) continue;
    const filter = dimension as CatalogIdFilter;
    const id = Number(value);
    if (id === 0 || catalog.knows(principal, filter, id)) continue;
    const { code, noun } = CATALOG_ID_FILTERS[filter];
    const scope = principal.scope;
    const where = scope === null ? 'of the account' : `within your key's scope (${scope.type} ${scope.id})`;
    const why =
      scope === null
        ? 'a mistyped id, or one deleted since'
        : 'a mistyped id, one deleted since, or one outside the scope';
    warnings.push({
      code,
      id,
      message: `${filter}=${id} names no ${noun} ${where}: ${why}; the rows hold only what was recorded under it before (nothing, for an id never used): check the id`,
    });
  }
  return warnings;
}
