/**
 * Warnings an export of tracker tags answers with: trackers whose every hit on the exported tag
 * would be recorded and never counted, as the catalog stands, and trackers whose hits would be
 * booked at a media cost of 0 by their terms, so that ad ops learn it before trafficking the tag
 * rather than from a report.
 */
import { PRICING_WARNING_CODES } from '../domain/pricing-warnings.js';
import type { ExportParam } from '../domain/tag-export.js';
import { checkRedirectTarget } from '../domain/tracker-hit.js';
import type { CatalogStore, CatalogView, Tracker } from '../ports/catalog.js';
import type { Principal } from './auth.js';
import { seesMediaCost } from './catalog/access.js';
import { trackerPricingWarnings } from './catalog/tracker-warnings.js';

/**
 * Why an exported tag's hits would not count, each the outcome they are recorded with:
 * `inactive_tracker`, `inactive_line_item`, and, for a click tracker exported without `redir`,
 * `no_landing_page` (its `clickUrl` is one the account's enabled allow-list refuses).
 */
const NOT_COUNTED_WARNING_CODES = ['inactive_tracker', 'inactive_line_item', 'no_landing_page'] as const;

/**
 * Every code of an export's warnings: why its hits would not count, then why they would be booked
 * at a media cost of 0 (`no_payment_rule`, `zero_media_cost`: the tracker's own pricing warnings).
 */
export const EXPORT_WARNING_CODES = [...NOT_COUNTED_WARNING_CODES, ...PRICING_WARNING_CODES] as const;

/** One warning of an export: the tracker it is about, and a message saying what to change. */
export interface ExportWarning {
  code: (typeof EXPORT_WARNING_CODES)[number];
  trackerId: number;
  message: string;
}

/** True for a warning that the tracker's hits would be booked at a media cost of 0. */
export function isPricingWarning(warning: ExportWarning): boolean {
  return (PRICING_WARNING_CODES as readonly string[]).includes(warning.code);
}

/**
 * The warnings for `principal` exporting `trackers` (all of its account) with `params`: why their
 * hits would not count, read from the stored `catalog`, then, to a key shown media cost (not one
 * scoped to an advertiser), each tracker's pricing warnings as its own answers carry them, read
 * from `view`, the snapshot hits are priced by (`trackerPricingWarnings`), each payment rule named
 * by its id alone. None for a tracker whose hits count at a cost.
 */
export function exportWarnings(
  catalog: CatalogStore,
  view: CatalogView,
  principal: Principal,
  trackers: readonly Tracker[],
  params: readonly ExportParam[],
): ExportWarning[] {
  const accountId = principal.accountId;
  const allowlist = catalog.redirectAllowlist(accountId);
  const warnings: ExportWarning[] = [];
  for (const tracker of trackers) {
    const noun = `${tracker.kind} tracker ${tracker.id}`;
    const path = `/v1/${tracker.kind}-trackers/${tracker.id}`;
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
    if (!seesMediaCost(principal)) continue;
    for (const warning of trackerPricingWarnings(tracker, view, 'id_only')) {
      warnings.push({ code: warning.code, trackerId: tracker.id, message: `${noun}: ${warning.message}` });
    }
  }
  return warnings;
}
