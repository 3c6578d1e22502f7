/**
 * The warnings a report answers with when a filter names a catalog id its key knows no object by
 * (see `unknown-ids.ts`): a mistyped id, whose report of nothing would otherwise read as no
 * traffic. The report is answered all the same, its rows what was recorded under the id, since an
 * object deleted since (a tracker is deleted whatever its hits) keeps its past traffic there; an
 * inactive object is still in the catalog, and is no unknown id.
 */
import type { CatalogStore } from '../ports/catalog.js';
import type { ReportDimension } from '../ports/ledger.js';
import type { Principal } from './auth.js';
import type { CatalogObject, KnownIds, UnknownIdWarning } from './unknown-ids.js';
import { knownIds, unknownIdWarning } from './unknown-ids.js';

/** Each report filter whose value is a catalog id, with the kind of object it names. */
const CATALOG_ID_FILTERS = {
  publisherId: 'publisher',
  advertiser: 'advertiser',
  lineItem: 'lineItem',
  tracker: 'tracker',
  placement: 'placement',
  paymentRule: 'paymentRule',
} as const satisfies Partial<Record<ReportDimension, CatalogObject>>;

/** What a report reads of the catalog: which ids its key knows of, and publishers' OpenRTB ids. */
export interface ReportCatalog extends KnownIds {
  /** The OpenRTB publisher id (`externalId`) of the account's catalog publisher; null for none. */
  publisherExternalId(accountId: number, publisherId: number): string | null;
}

/** The {@link ReportCatalog} of `catalog`. */
export function reportCatalog(catalog: CatalogStore): ReportCatalog {
  return {
    ...knownIds(catalog),
    publisherExternalId: (accountId, publisherId) =>
      catalog.publishers.get(accountId, publisherId)?.externalId ?? null,
  };
}

/**
 * A warning for each id filter of `filters` (as `parseReportQuery` gives them) naming an object
 * `principal` does not know of (see `KnownIds.knows`), in the order of `filters`. Id 0, which rows
 * hold where they have no such object (an exchange row's tracker, a hit priced by its `ancost`'s
 * payment rule), is no catalog id and is not warned of.
 */
export function unknownIdWarnings(
  filters: Partial<Record<ReportDimension, string>>,
  principal: Principal,
  catalog: KnownIds,
): UnknownIdWarning[] {
  const warnings: UnknownIdWarning[] = [];
  for (const [dimension, value] of Object.entries(filters)) {
    if (!Object.hasOwn(CATALOG_ID_FILTERS, dimension) || value === undefined) continue;
    const object = CATALOG_ID_FILTERS[dimension as keyof typeof CATALOG_ID_FILTERS];
    const id = Number(value);
    if (id === 0 || catalog.knows(principal, object, id)) continue;
    warnings.push(
      unknownIdWarning(
        principal,
        dimension,
        object,
        id,
        'the rows hold only what was recorded under it before (nothing, for an id never used)',
      ),
    );
  }
  return warnings;
}
