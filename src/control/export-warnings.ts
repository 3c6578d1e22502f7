/**
 * Warnings an export of tracker tags answers with: trackers whose every hit on the exported tag
 * would be recorded and never counted, as the catalog stands, tags without a cachebuster, whose
 * every hit would be counted as a new one and flagged, and trackers whose hits would be booked at
 * a media cost of 0 by their terms, so that ad ops learn it before trafficking the tag rather
 * than from a report.
 */
import { PRICING_WARNING_CODES } from '../domain/pricing-warnings.js';
import type { ExportOptions, PlaceholderSyntax } from '../domain/tag-export.js';
import { AD_SERVER_MACROS } from '../domain/tag-export.js';
import { checkRedirectTarget } from '../domain/tracker-hit.js';
import type { CatalogStore, CatalogView, Tracker } from '../ports/catalog.js';
import type { Principal } from './auth.js';
import { seesMediaCost } from './catalog/access.js';
import { trackerPricingWarnings } from './catalog/tracker-warnings.js';

/**
 * Why an exported tag's hits would not count: `https_not_served`, an `https://` tag of a Tally
 * whose public URL is `http://`, which no hit reaches; then each outcome the hits are recorded
 * with: `inactive_tracker`, `inactive_line_item`, and, for a click tracker exported without
 * `redir`, `no_landing_page` (its `clickUrl` is one the account's enabled allow-list refuses).
 */
const NOT_COUNTED_WARNING_CODES = [
  'https_not_served',
  'inactive_tracker',
  'inactive_line_item',
  'no_landing_page',
] as const;

/**
 * Why an exported tag's hits would count but be flagged: `cachebuster_missing`, a tag without
 * `cachebuster`, whose hits (impressions and clicks alike) are each counted as a new one, a repeat
 * included, and flagged `cachebusterMissing`.
 */
const FLAGGED_WARNING_CODES = ['cachebuster_missing'] as const;

/**
 * Every code of an export's warnings: why its hits would not count, why they would be flagged,
 * then why they would be booked at a media cost of 0 (`no_payment_rule`, `zero_media_cost`: the
 * tracker's own pricing warnings).
 */
export const EXPORT_WARNING_CODES = [
  ...NOT_COUNTED_WARNING_CODES,
  ...FLAGGED_WARNING_CODES,
  ...PRICING_WARNING_CODES,
] as const;

/** One warning of an export: the tracker it is about, and a message saying what to change. */
export interface ExportWarning {
  code: (typeof EXPORT_WARNING_CODES)[number];
  trackerId: number;
  message: string;
}

/**
 * What a warning says of the tracker's hits: they would not be counted (`not_counted`), counted
 * but flagged (`flagged`), or booked at a media cost of 0 (`pricing`).
 */
export function warningKind(warning: ExportWarning): 'not_counted' | 'flagged' | 'pricing' {
  if ((PRICING_WARNING_CODES as readonly string[]).includes(warning.code)) return 'pricing';
  if ((FLAGGED_WARNING_CODES as readonly string[]).includes(warning.code)) return 'flagged';
  return 'not_counted';
}

/**
 * Who fills the cachebuster each placeholder syntax writes (see `AD_SERVER_MACROS`), as the
 * `cachebuster_missing` warning says it.
 */
const CACHEBUSTER_FILLED_BY: Readonly<Record<PlaceholderSyntax, string>> = {
  xandr:
    "Xandr's export placeholder, for ad ops to replace with the random-number macro of the ad server serving the tag",
  gam: 'which Google Ad Manager fills with a random number each time it serves the tag',
  cm360: 'which Campaign Manager 360 fills with a random number each time it serves the tag',
  xandr_macros: 'which Xandr fills with a random number each time it serves the creative',
  vast: 'which the VAST player fills with a random number each time it fires the tag',
};

/**
 * The warnings for `principal` exporting `trackers` (all of its account) with `options`' params,
 * placeholders and scheme: first, a `secure` export while `publicUrl` (`TALLY_PUBLIC_URL`) is
 * `http://`, that its `https://` tags reach no Tally; then why their hits would not count, read
 * from the stored `catalog`; then, without `cachebuster` in the params, that each hit would be
 * counted as a new one and flagged (to every key, one per tracker, naming the placeholders'
 * cachebuster); then, to a key shown media cost (not one scoped to an advertiser), each tracker's
 * pricing warnings as its own answers carry them, read from `view`, the snapshot hits are priced by
 * (`trackerPricingWarnings`), each payment rule named by its id alone. None for a tracker whose
 * hits count, each as itself, at a cost.
 */
export function exportWarnings(
  catalog: CatalogStore,
  view: CatalogView,
  principal: Principal,
  trackers: readonly Tracker[],
  options: Pick<ExportOptions, 'params' | 'placeholders' | 'secure'>,
  publicUrl: string,
): ExportWarning[] {
  const { params, placeholders } = options;
  const httpsNotServed = options.secure && /^http:/i.test(publicUrl);
  const accountId = principal.accountId;
  const allowlist = catalog.redirectAllowlist(accountId);
  const warnings: ExportWarning[] = [];
  for (const tracker of trackers) {
    const noun = `${tracker.kind} tracker ${tracker.id}`;
    const path = `/v1/${tracker.kind}-trackers/${tracker.id}`;
    if (httpsNotServed) {
      warnings.push({
        code: 'https_not_served',
        trackerId: tracker.id,
        message: `${noun}'s tag is an https:// URL ("secure": true, the default), but this Tally's public URL, TALLY_PUBLIC_URL, is ${publicUrl}, served over plain http, so no hit on the tag reaches it: export with "secure": false for a plain-http Tally (an https page then blocks its script tag and upgrades its pixel to https), or serve Tally over TLS and set TALLY_PUBLIC_URL to its https:// URL`,
      });
    }
    if (tracker.state !== 'active') {
      warnings.push({
        code: 'inactive_tracker',
        trackerId: tracker.id,
        message: `${noun} is inactive, so every hit on its tag is recorded as inactive_tracker and not counted: activate it (PATCH ${path} {"state": "active"}) before the tag goes live`,
      });
    }
    const lineItem = catalog.lineItems.get(accountId, tracker.lineItemId);
    if (lineItem !== undefined && lineItem.state !== 'active') {
      warnings.push({
        code: 'inactive_line_item',
        trackerId: tracker.id,
        message: `${noun}'s line item ${lineItem.id} is inactive, so every hit on its tag is recorded as inactive_line_item and not counted: activate the line item (PATCH /v1/line-items/${lineItem.id} {"state": "active"}) before the tag goes live`,
      });
    }
    if (tracker.kind === 'click' && tracker.clickUrl !== null && !params.includes('redir')) {
      const checked = checkRedirectTarget(tracker.clickUrl, allowlist);
      if (!checked.ok) {
        warnings.push({
          code: 'no_landing_page',
          trackerId: tracker.id,
          message: `${noun}'s clickUrl cannot be redirected to (${checked.reason}), and the tag carries no redir, so every click on it is answered 400, recorded as no_landing_page and not counted: change the clickUrl (PATCH ${path}) to a landing page the allow-list admits, add its host to the allow-list (PUT /v1/account/redirect-allowlist), or export with "redir" in params`,
        });
      }
    }
    if (!params.includes('cachebuster')) {
      const macro = AD_SERVER_MACROS[placeholders].cachebuster;
      warnings.push({
        code: 'cachebuster_missing',
        trackerId: tracker.id,
        message: `${noun}'s tag carries no cachebuster, so a repeated ${tracker.kind} cannot be told from a new one: every hit on it is recorded as a new one and flagged cachebusterMissing: add "cachebuster" to params, and the tag carries cachebuster=${macro}, ${CACHEBUSTER_FILLED_BY[placeholders]}`,
      });
    }
    if (!seesMediaCost(principal)) continue;
    for (const warning of trackerPricingWarnings(tracker, view, 'id_only')) {
      warnings.push({ code: warning.code, trackerId: tracker.id, message: `${noun}: ${warning.message}` });
    }
  }
  return warnings;
}
