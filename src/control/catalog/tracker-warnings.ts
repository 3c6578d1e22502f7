/** Warnings about trackers' pricing: a tracker's own, and those a write of its terms answers with. */
import { impressionPricingWarnings } from '../../domain/pricing-warnings.js';
import type { PricingWarning } from '../../domain/pricing-warnings.js';
import type { CatalogView, EntityStore, Tracker, TrackerFilter, TrackerInput } from '../../ports/catalog.js';

/**
 * An impression tracker's pricing warnings, as its hits would be priced now. None while the
 * snapshot does not yet hold the tracker as stored (a write by another process, followed within
 * a poll).
 */
export function trackerPricingWarnings(tracker: Tracker, catalog: CatalogView): PricingWarning[] {
  const view = catalog.findTracker('impression', { id: tracker.id });
  if (
    view === undefined ||
    view.accountId !== tracker.accountId ||
    view.lineItem.id !== tracker.lineItemId ||
    view.publisherId !== tracker.publisherId ||
    view.placementId !== tracker.placementId ||
    (view.paymentRule?.id ?? null) !== tracker.paymentRuleId
  )
    return [];
  return impressionPricingWarnings(
    {
      publisherId: view.publisherId,
      placementId: view.placementId,
      lineItem: view.lineItem,
      ownRule: view.paymentRule,
      publisherRules: catalog.paymentRules(view.publisherId),
    },
    Date.now(),
  );
}

/** The code of the warning a line item's or payment rule's write answers with (see {@link zeroPricedTrackers}). */
export const WRITE_WARNING_CODES = ['trackers_priced_at_zero'] as const;

/** A warning in a write's answer about the trackers its terms price. */
export interface WriteWarning {
  code: (typeof WRITE_WARNING_CODES)[number];
  message: string;
}

/** Most trackers a write's answer looks at. */
const MAX_CHECKED_TRACKERS = 500;

/**
 * The warning a write of a line item's or payment rule's terms answers with when impression
 * trackers those terms price (`filter`: the line item's, the publisher's) book hits without
 * ancost at a cost of 0 as the terms now stand, naming them (none: no warning). It looks at the
 * first 500 such trackers that are active.
 */
export function zeroPricedTrackers(
  trackers: EntityStore<Tracker, TrackerInput, TrackerFilter>,
  catalog: CatalogView,
  accountId: number,
  filter: Pick<TrackerFilter, 'lineItemId' | 'publisherId'>,
): WriteWarning[] {
  const checked = trackers.list(accountId, {
    // Inactive trackers count no hit, whatever their terms.
    filter: { ...filter, kind: 'impression', state: 'active' },
    limit: MAX_CHECKED_TRACKERS,
  });
  const zeroIds = checked
    .filter((tracker) => trackerPricingWarnings(tracker, catalog).length > 0)
    .map((tracker) => tracker.id);
  if (zeroIds.length === 0) return [];
  const shown = zeroIds.slice(0, 10).join(', ');
  const more = zeroIds.length > 10 ? ` and ${zeroIds.length - 10} more` : '';
  const of =
    checked.length === MAX_CHECKED_TRACKERS ? ` (of the first ${MAX_CHECKED_TRACKERS} looked at)` : '';
  return [
    {
      code: 'trackers_priced_at_zero',
      message: `impression tracker${zeroIds.length === 1 ? '' : 's'} ${shown}${more}${of} book${zeroIds.length === 1 ? 's' : ''} hits without ancost at a media cost of 0 as the terms now stand: each one's warnings (GET /v1/impression-trackers/${zeroIds[0]}) say why and what to change`,
    },
  ];
}
