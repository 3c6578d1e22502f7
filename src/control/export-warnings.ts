/**
 * Warnings an export of tracker tags answers with: trackers whose every hit on the exported tag
 * would be recorded and never counted, as the catalog stands, so that ad ops learn it before
 * trafficking the tag rather than from an empty report.
 */
import type { ExportParam } from '../domain/tag-export.js';
import { checkRedirectTarget } from '../domain/tracker-hit.js';
import type { CatalogStore, Tracker } from '../ports/catalog.js';

/**
 * Why an exported tag's hits would not count, each the outcome they are recorded with:
 * `inactive_tracker`, `inactive_line_item`, and, for a click tracker exported without `redir`,
 * `no_landing_page` (its `clickUrl` is one the account's enabled allow-list refuses).
 */
export const EXPORT_WARNING_CODES = ['inactive_tracker', 'inactive_line_item', 'no_landing_page'] as const;

/** One warning of an export: the tracker it is about, and a message saying what to change. */
export interface ExportWarning {
  code: (typeof EXPORT_WARNING_CODES)[number];
  trackerId: number;
  message: string;
}

/**
 * The warnings for exporting `trackers` (all of one account, `accountId`) with `params`, read
 * from the stored catalog: none for a tracker whose hits can count.
 */
export function exportWarnings(
  catalog: CatalogStore,
  accountId: number,
  trackers: readonly Tracker[],
  params: readonly ExportParam[],
): ExportWarning[] {
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
  }
  return warnings;
}
