import type {
  Advertiser,
  AdvertiserFilter,
  AdvertiserInput,
  CatalogState,
  Dependents,
  FieldProblem,
  LineItem,
  LineItemFilter,
  LineItemInput,
  RevenueType,
  WriteResult,
} from '../../ports/catalog.js';
import type { SqlValue } from './catalog-entity.js';
import { invalid, SqliteEntityStore } from './catalog-entity.js';

/** Advertisers on SQLite. */
export class SqliteAdvertisers extends SqliteEntityStore<Advertiser, AdvertiserInput, AdvertiserFilter> {
  protected readonly table = 'advertisers';
  protected readonly kind = 'advertiser';
  protected readonly filterColumns = { id: 'id', name: 'name' };

  protected fromRow(row: Record<string, SqlValue>): Advertiser {
    return {
      id: row.id as number,
      accountId: row.account_id as number,
      name: row.name as string,
      createdMs: row.created_ms as number,
      updatedMs: row.updated_ms as number,
    };
  }

  protected columns(_accountId: number, input: AdvertiserInput): Record<string, SqlValue> {
    return { name: input.name };
  }

  protected check(): undefined {
    return undefined;
  }

  protected dependents(accountId: number, existing: Advertiser): Dependents[] {
    return [
      {
        noun: 'line item',
        nounPlural: 'line items',
        movable: false,
        ids: this.ids(
          'SELECT id FROM line_items WHERE account_id = ? AND advertiser_id = ? ORDER BY id',
          accountId,
          existing.id,
        ),
      },
      ...this.trackerDependents(accountId, 'advertiser_id', existing.id),
      this.scopedKeyDependents(accountId, 'advertiser', existing.id),
    ];
  }
}

/** Line items on SQLite. */
export class SqliteLineItems extends SqliteEntityStore<LineItem, LineItemInput, LineItemFilter> {
  protected readonly table = 'line_items';
  protected readonly kind = 'lineItem';
  protected readonly filterColumns = {
    advertiserId: 'advertiser_id',
    state: 'state',
    revenueType: 'revenue_type',
    name: 'name',
  };

  protected fromRow(row: Record<string, SqlValue>): LineItem {
    return {
      id: row.id as number,
      accountId: row.account_id as number,
      advertiserId: row.advertiser_id as number,
      name: row.name as string,
      revenueType: row.revenue_type as RevenueType,
      revenueValueMicros: row.revenue_value_micros as number,
      state: row.state as CatalogState,
      createdMs: row.created_ms as number,
      updatedMs: row.updated_ms as number,
    };
  }

  protected columns(_accountId: number, input: LineItemInput): Record<string, SqlValue> {
    return {
      advertiser_id: input.advertiserId,
      name: input.name,
      revenue_type: input.revenueType,
      revenue_value_micros: input.revenueValueMicros,
      state: input.state,
    };
  }

  protected check(
    accountId: number,
    input: LineItemInput,
    existing: LineItem | undefined,
  ): WriteResult<LineItem> | undefined {
    const problems: FieldProblem[] = [];
    if (existing !== undefined && existing.advertiserId !== input.advertiserId) {
      problems.push({
        field: 'advertiserId',
        message: `line item ${existing.id} belongs to advertiser ${existing.advertiserId} for good; create a new line item for advertiser ${input.advertiserId}`,
      });
    } else if (!this.existsInAccount('advertisers', accountId, input.advertiserId)) {
      problems.push({
        field: 'advertiserId',
        message: `there is no advertiser ${input.advertiserId} in this account; create it first (POST /v1/advertisers) or use an existing advertiser's id`,
      });
    }
    return invalid(problems);
  }

  protected dependents(accountId: number, existing: LineItem): Dependents[] {
    return this.trackerDependents(accountId, 'line_item_id', existing.id);
  }
}
