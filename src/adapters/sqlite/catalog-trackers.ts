import type {
  CatalogState,
  Dependents,
  FieldProblem,
  RedirectAllowlist,
  Tracker,
  TrackerFilter,
  TrackerInput,
  TrackerKind,
  WriteResult,
} from '../../ports/catalog.js';
import type { Notifier } from '../../domain/ivt.js';
import { checkRedirectTarget } from '../../domain/tracker-hit.js';
import type { SqlValue } from './catalog-entity.js';
import { invalid, SqliteEntityStore } from './catalog-entity.js';

/** Impression and click trackers on SQLite, in one table so that their ids never collide. */
export class SqliteTrackers extends SqliteEntityStore<Tracker, TrackerInput, TrackerFilter> {
  protected readonly table = 'trackers';
  protected readonly kind = 'tracker';
  protected readonly filterColumns = {
    kind: 'kind',
    advertiserId: 'advertiser_id',
    lineItemId: 'line_item_id',
    publisherId: 'publisher_id',
    placementId: 'placement_id',
    paymentRuleId: 'payment_rule_id',
    state: 'state',
    code: 'code',
    name: 'name',
  };

  protected fromRow(row: Record<string, SqlValue>): Tracker {
    return {
      id: row.id as number,
      accountId: row.account_id as number,
      kind: row.kind as TrackerKind,
      advertiserId: row.advertiser_id as number,
      name: row.name as string,
      code: row.code as string | null,
      lineItemId: row.line_item_id as number,
      publisherId: row.publisher_id as number,
      placementId: row.placement_id as number | null,
      paymentRuleId: row.payment_rule_id as number | null,
      state: row.state as CatalogState,
      clickUrl: row.click_url as string | null,
      firedBy: row.fired_by as Notifier,
      createdMs: row.created_ms as number,
      updatedMs: row.updated_ms as number,
    };
  }

  protected columns(_accountId: number, input: TrackerInput): Record<string, SqlValue> {
    return {
      kind: input.kind,
      advertiser_id: input.advertiserId,
      name: input.name,
      code: input.code,
      line_item_id: input.lineItemId,
      publisher_id: input.publisherId,
      placement_id: input.placementId,
      payment_rule_id: input.paymentRuleId,
      state: input.state,
      click_url: input.kind === 'click' ? input.clickUrl : null,
      fired_by: input.firedBy,
    };
  }

  protected check(
    accountId: number,
    input: TrackerInput,
    existing: Tracker | undefined,
  ): WriteResult<Tracker> | undefined {
    const problems: FieldProblem[] = [];
    if (existing !== undefined && existing.kind !== input.kind) {
      problems.push({
        field: 'kind',
        message: `tracker ${existing.id} is a ${existing.kind} tracker for good`,
      });
    }
    if (!this.existsInAccount('advertisers', accountId, input.advertiserId)) {
      problems.push({
        field: 'advertiserId',
        message: `there is no advertiser ${input.advertiserId} in this account; use an existing advertiser's id`,
      });
    } else if (
      !this.childOf('line_items', 'advertiser_id', accountId, input.advertiserId, input.lineItemId)
    ) {
      problems.push({
        field: 'lineItemId',
        message: `advertiser ${input.advertiserId} has no line item ${input.lineItemId}; use one of its line items (GET /v1/line-items?advertiserId=${input.advertiserId})`,
      });
    }
    if (!this.existsInAccount('publishers', accountId, input.publisherId)) {
      problems.push({
        field: 'publisherId',
        message: `there is no publisher ${input.publisherId} in this account; use an existing publisher's id`,
      });
    } else {
      if (
        input.placementId !== null &&
        !this.childOf('placements', 'publisher_id', accountId, input.publisherId, input.placementId)
      ) {
        problems.push({
          field: 'placementId',
          message: `publisher ${input.publisherId} has no placement ${input.placementId}; use one of its placements, or send "placementId": null for none`,
        });
      }
      if (
        input.paymentRuleId !== null &&
        !this.childOf('payment_rules', 'publisher_id', accountId, input.publisherId, input.paymentRuleId)
      ) {
        problems.push({
          field: 'paymentRuleId',
          message: `publisher ${input.publisherId} has no payment rule ${input.paymentRuleId}; use one of its rules, or send "paymentRuleId": null for none (the publisher's rules then apply)`,
        });
      }
    }
    if (input.kind === 'click' && input.clickUrl !== null && input.clickUrl !== existing?.clickUrl) {
      // A click URL the account's allow-list refuses would answer every click 400: refused here.
      // One stored before the allow-list was enabled or changed is kept (see the README).
      const checked = checkRedirectTarget(input.clickUrl, this.redirectAllowlist(accountId));
      if (!checked.ok) {
        problems.push({
          field: 'clickUrl',
          message: `${checked.reason}, so every click would be answered 400 with no landing page: use a landing page on one of its domains (GET /v1/account/redirect-allowlist), or add this host to them first`,
        });
      }
    }
    const refused = invalid<Tracker>(problems);
    if (refused !== undefined) return refused;
    if (
      input.code !== null &&
      this.exists(
        'SELECT 1 FROM trackers WHERE account_id = ? AND kind = ? AND code = ? AND id != ?',
        accountId,
        input.kind,
        input.code,
        existing?.id ?? 0,
      )
    ) {
      return {
        ok: false,
        reason: 'conflict',
        field: 'code',
        message: `code ${JSON.stringify(input.code)} is already used by another ${input.kind} tracker of this account; pick another code`,
      };
    }
    return undefined;
  }

  protected dependents(): Dependents[] {
    return [];
  }

  /** The account's redirect allow-list as stored; disabled with no domains when it never stored one. */
  redirectAllowlist(accountId: number): RedirectAllowlist {
    const row = this.statement('SELECT enabled, domains FROM redirect_allowlists WHERE account_id = ?').get(
      accountId,
    ) as { enabled: number; domains: string } | undefined;
    return row === undefined
      ? { enabled: false, domains: [] }
      : { enabled: row.enabled === 1, domains: JSON.parse(row.domains) as string[] };
  }

  private childOf(
    table: string,
    parentColumn: string,
    accountId: number,
    parentId: number,
    id: number,
  ): boolean {
    return this.exists(
      `SELECT 1 FROM ${table} WHERE id = ? AND ${parentColumn} = ? AND account_id = ?`,
      id,
      parentId,
      accountId,
    );
  }
}
