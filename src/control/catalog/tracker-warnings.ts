/**
 * Warnings about trackers' counting and pricing: a tracker's own, and those a write of its terms
 * answers with.
 */
import { clickPricingWarnings, impressionPricingWarnings } from '../../domain/pricing-warnings.js';
import type { PricingWarning, RuleNaming } from '../../domain/pricing-warnings.js';
import { checkRedirectTarget } from '../../domain/tracker-hit.js';
import type {
  CatalogView,
  EntityStore,
  RedirectAllowlist,
  Tracker,
  TrackerFilter,
  TrackerInput,
  TrackerView,
} from '../../ports/catalog.js';

/**
 * The snapshot's view of `tracker`, or `undefined` while the snapshot does not yet hold it as
 * stored (a write by another process, followed within a poll).
 */
function viewOf(tracker: Tracker, catalog: CatalogView): TrackerView | undefined {
  const view = catalog.findTracker(tracker.kind, { id: tracker.id });
  if (
    view === undefined ||
    view.accountId !== tracker.accountId ||
    view.lineItem.id !== tracker.lineItemId ||
    view.publisherId !== tracker.publisherId ||
    view.placementId !== tracker.placementId ||
    (view.paymentRule?.id ?? null) !== tracker.paymentRuleId ||
    view.clickUrl !== tracker.clickUrl
  )
    return undefined;
  return view;
}

/**
 * Why a tracker's hits would not count, besides its own state (which its answer shows), each the
 * reason they are recorded under: `inactive_line_item`, and for a click tracker `no_landing_page`
 * (its `clickUrl`, stored before the account's allow-list was enabled or changed, is one the
 * allow-list now refuses).
 */
export const COUNTING_WARNING_CODES = ['inactive_line_item', 'no_landing_page'] as const;

/** A warning in a tracker's answers that its hits would not count, saying what to change. */
interface CountingWarning {
  code: (typeof COUNTING_WARNING_CODES)[number];
  message: string;
}

/**
 * A tracker's counting warnings, as its hits would be decided now (see
 * {@link COUNTING_WARNING_CODES}). None while the snapshot does not yet hold the tracker as stored.
 */
export function trackerCountingWarnings(tracker: Tracker, catalog: CatalogView): CountingWarning[] {
  const view = viewOf(tracker, catalog);
  if (view === undefined) return [];
  const warnings: CountingWarning[] = [];
  if (view.lineItem.state !== 'active') {
    warnings.push({
      code: 'inactive_line_item',
      message: `line item ${view.lineItem.id} is inactive, so this tracker's hits are recorded as inactive_line_item and not counted: activate the line item (PATCH /v1/line-items/${view.lineItem.id} {"state": "active"}), or move the tracker to an active one`,
    });
  }
  if (view.kind === 'click' && view.clickUrl !== null) {
    const checked = checkRedirectTarget(view.clickUrl, catalog.redirectAllowlist(view.accountId));
    if (!checked.ok) {
      warnings.push({
        code: 'no_landing_page',
        message: `its clickUrl cannot be redirected to (${checked.reason}), so a click without a redir the allow-list admits is answered 400, recorded as no_landing_page and not counted: change the clickUrl to a landing page the allow-list admits, or add its host to the allow-list (PUT /v1/account/redirect-allowlist)`,
      });
    }
  }
  return warnings;
}

/**
 * A tracker's pricing warnings, as its hits would be priced now: an impression tracker's
 * (`impressionPricingWarnings`), or a click tracker's (`clickPricingWarnings`, of a `cpc` line item
 * only), naming rules as `naming` says. None while the snapshot does not yet hold the tracker as
 * stored.
 */
export function trackerPricingWarnings(
  tracker: Tracker,
  catalog: CatalogView,
  naming: RuleNaming = 'id_and_name',
): PricingWarning[] {
  const view = viewOf(tracker, catalog);
  if (view === undefined) return [];
  return (view.kind === 'click' ? clickPricingWarnings : impressionPricingWarnings)(
    {
      publisherId: view.publisherId,
      placementId: view.placementId,
      lineItem: view.lineItem,
      ownRule: view.paymentRule,
      publisherRules: catalog.paymentRules(view.publisherId),
    },
    Date.now(),
    naming,
  );
}

/** The code of the warning a line item's or payment rule's write answers with (see {@link zeroPricedTrackers}). */
export const WRITE_WARNING_CODES = ['trackers_priced_at_zero'] as const;

/** A warning in a write's answer about the trackers its terms price. */
interface WriteWarning {
  code: (typeof WRITE_WARNING_CODES)[number];
  message: string;
}

/**
 * The pricing warnings that book hits at a cost of 0; `own_rule_not_in_effect` does not: the
 * publisher's rules price the hits instead, and their own warnings say if at 0.
 */
const ZERO_COST_CODES: ReadonlySet<string> = new Set(['no_payment_rule', 'zero_media_cost']);

/** Most trackers a write's answer looks at. */
const MAX_CHECKED_TRACKERS = 500;

/** Most trackers a warning names by id. */
const MAX_TRACKERS_NAMED = 10;

/**
 * The warning a write of a line item's or payment rule's terms answers with when trackers those
 * terms price (`filter`: the line item's, the publisher's) book hits without ancost at a cost of 0
 * as the terms now stand, naming them (none: no warning): impression trackers, and click trackers
 * of a `cpc` line item, whose clicks the payment rules price too (see `trackerPricingWarnings`).
 * It looks at the first 500 of those trackers, of either kind, that are active.
 */
export function zeroPricedTrackers(
  trackers: EntityStore<Tracker, TrackerInput, TrackerFilter>,
  catalog: CatalogView,
  accountId: number,
  filter: Pick<TrackerFilter, 'lineItemId' | 'publisherId'>,
): WriteWarning[] {
  const checked = trackers.list(accountId, {
    // Inactive trackers count no hit, whatever their terms.
    filter: { ...filter, state: 'active' },
    limit: MAX_CHECKED_TRACKERS,
  });
  const zero = checked.filter((tracker) =>
    trackerPricingWarnings(tracker, catalog).some((warning) => ZERO_COST_CODES.has(warning.code)),
  );
  if (zero.length === 0) return [];
  const named = zero.slice(0, MAX_TRACKERS_NAMED);
  const more = zero.length - named.length;
  // Each kind's ids, read at its own path: one sequence numbers both, so an id names one kind.
  const kinds = [
    { kind: 'impression', path: '/v1/impression-trackers' },
    { kind: 'click', path: '/v1/click-trackers' },
  ]
    .map(({ kind, path }) => ({
      ids: named.filter((tracker) => tracker.kind === kind).map((tracker) => tracker.id),
      kind,
      path,
    }))
    .filter(({ ids }) => ids.length > 0);
  const lists = kinds.map(
    ({ ids, kind }) => `${kind} tracker${ids.length === 1 ? '' : 's'} ${ids.join(', ')}`,
  );
  // "impression trackers 1, 2 and click tracker 3", or "…, click tracker 3 and 9 more".
  const shown = more > 0 ? `${lists.join(', ')} and ${more} more` : lists.join(' and ');
  const of =
    checked.length === MAX_CHECKED_TRACKERS ? ` (of the first ${MAX_CHECKED_TRACKERS} looked at)` : '';
  const reads = kinds.map(({ ids, path }) => `${path}/${ids[0]}`).join(' or ');
  return [
    {
      code: 'trackers_priced_at_zero',
      message: `${shown}${of} book${zero.length === 1 ? 's' : ''} hits without ancost at a media cost of 0 as the terms now stand: each one's warnings (GET ${reads}) say why and what to change`,
    },
  ];
}

/** The code of the warning the redirect allow-list's answers carry (see {@link refusedClickUrls}). */
export const ALLOWLIST_WARNING_CODES = ['click_urls_refused'] as const;

/** A warning in the redirect allow-list's answers about the click trackers it leaves no landing page. */
interface AllowlistWarning {
  code: (typeof ALLOWLIST_WARNING_CODES)[number];
  message: string;
}

/** Most hosts a warning names. */
const MAX_HOSTS_NAMED = 10;

/**
 * The warning the redirect allow-list's answers carry when `allowlist` refuses the `clickUrl` of
 * active click trackers of the account (kept when the allow-list was enabled or changed after
 * they were saved), naming them and the hosts to add (none: no warning). It looks at the first
 * 500 active click trackers.
 */
export function refusedClickUrls(
  trackers: EntityStore<Tracker, TrackerInput, TrackerFilter>,
  accountId: number,
  allowlist: RedirectAllowlist,
): AllowlistWarning[] {
  if (!allowlist.enabled) return [];
  const checked = trackers.list(accountId, {
    filter: { kind: 'click', state: 'active' },
    limit: MAX_CHECKED_TRACKERS,
  });
  const refused = checked.filter(
    (tracker) => tracker.clickUrl !== null && !checkRedirectTarget(tracker.clickUrl, allowlist).ok,
  );
  const first = refused[0];
  if (first === undefined) return [];
  const shown = refused
    .slice(0, MAX_TRACKERS_NAMED)
    .map((tracker) => tracker.id)
    .join(', ');
  const more = refused.length > MAX_TRACKERS_NAMED ? ` and ${refused.length - MAX_TRACKERS_NAMED} more` : '';
  const of =
    checked.length === MAX_CHECKED_TRACKERS ? ` (of the first ${MAX_CHECKED_TRACKERS} looked at)` : '';
  const hosts = [...new Set(refused.map((tracker) => hostOf(tracker.clickUrl ?? '')))];
  const hostList = `${hosts.slice(0, MAX_HOSTS_NAMED).join(', ')}${hosts.length > MAX_HOSTS_NAMED ? ', …' : ''}`;
  const one = refused.length === 1;
  return [
    {
      code: 'click_urls_refused',
      message: `click tracker${one ? '' : 's'} ${shown}${more}${of}${one ? ' has a clickUrl' : ' have clickUrls'} this allow-list refuses (host${hosts.length === 1 ? '' : 's'} ${hostList}), so a click on ${one ? 'it' : 'them'} without a redir the allow-list admits is answered 400, recorded as no_landing_page and not counted: add the host${hosts.length === 1 ? '' : 's'} to domains, or change ${one ? 'its clickUrl' : 'their clickUrls'} (PATCH /v1/click-trackers/${first.id} {"clickUrl": "https://…"})`,
    },
  ];
}

/** The host of a stored click URL (an http(s) URL), lower case; the URL itself should it not parse. */
function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
  }
}
