import { DEFAULT_PAYMENT_RULE_PRIORITY } from '../../ports/catalog.js';
import type {
  CatalogState,
  Dependents,
  FieldProblem,
  PaymentRule,
  PaymentRuleFilter,
  PaymentRuleInput,
  Placement,
  PlacementFilter,
  PlacementInput,
  PricingType,
  Publisher,
  PublisherFilter,
  PublisherInput,
  WriteResult,
} from '../../ports/catalog.js';
import type { SqlValue } from './catalog-entity.js';
import { invalid, SqliteEntityStore } from './catalog-entity.js';

/** Publishers on SQLite. */
export class SqlitePublishers extends SqliteEntityStore<Publisher, PublisherInput, PublisherFilter> {
  protected readonly table = 'publishers';
  protected readonly kind = 'publisher';
  protected readonly filterColumns = { id: 'id', externalId: 'external_id', name: 'name' };

  protected fromRow(row: Record<string, SqlValue>): Publisher {
    return {
      id: row.id as number,
      accountId: row.account_id as number,
      name: row.name as string,
      externalId: row.external_id as string | null,
      createdMs: row.created_ms as number,
      updatedMs: row.updated_ms as number,
    };
  }

  protected columns(_accountId: number, input: PublisherInput): Record<string, SqlValue> {
    return { name: input.name, external_id: input.externalId };
  }

  protected check(
    accountId: number,
    input: PublisherInput,
    existing: Publisher | undefined,
  ): WriteResult<Publisher> | undefined {
    if (
      input.externalId !== null &&
      this.exists(
        'SELECT 1 FROM publishers WHERE account_id = ? AND external_id = ? AND id != ?',
        accountId,
        input.externalId,
        existing?.id ?? 0,
      )
    ) {
      return {
        ok: false,
        reason: 'conflict',
        field: 'externalId',
        message: `externalId ${JSON.stringify(input.externalId)} is already used by another publisher of this account; each publisher needs its own`,
      };
    }
    return undefined;
  }

  protected dependents(accountId: number, existing: Publisher): Dependents[] {
    return [
      {
        noun: 'placement',
        nounPlural: 'placements',
        movable: false,
        ids: this.ids(
          'SELECT id FROM placements WHERE account_id = ? AND publisher_id = ? ORDER BY id',
          accountId,
          existing.id,
        ),
      },
      {
        noun: 'payment rule',
        nounPlural: 'payment rules',
        movable: false,
        ids: this.ids(
          'SELECT id FROM payment_rules WHERE account_id = ? AND publisher_id = ? ORDER BY id',
          accountId,
          existing.id,
        ),
      },
      ...this.trackerDependents(accountId, 'publisher_id', existing.id),
      this.scopedKeyDependents(accountId, 'publisher', existing.id),
    ];
  }
}

/** Placements on SQLite. */
export class SqlitePlacements extends SqliteEntityStore<Placement, PlacementInput, PlacementFilter> {
  protected readonly table = 'placements';
  protected readonly kind = 'placement';
  protected readonly filterColumns = { publisherId: 'publisher_id', name: 'name' };

  protected fromRow(row: Record<string, SqlValue>): Placement {
    return {
      id: row.id as number,
      accountId: row.account_id as number,
      publisherId: row.publisher_id as number,
      name: row.name as string,
      createdMs: row.created_ms as number,
      updatedMs: row.updated_ms as number,
    };
  }

  protected columns(_accountId: number, input: PlacementInput): Record<string, SqlValue> {
    return { publisher_id: input.publisherId, name: input.name };
  }

  protected check(
    accountId: number,
    input: PlacementInput,
    existing: Placement | undefined,
  ): WriteResult<Placement> | undefined {
    return invalid(publisherProblems(this, 'placement', accountId, input.publisherId, existing));
  }

  protected dependents(accountId: number, existing: Placement): Dependents[] {
    return [
      ...this.trackerDependents(accountId, 'placement_id', existing.id),
      {
        noun: 'payment rule targeting it',
        nounPlural: 'payment rules targeting it',
        movable: true,
        ids: this.ids(
          'SELECT payment_rule_id AS id FROM payment_rule_placements WHERE placement_id = ? ORDER BY payment_rule_id',
          existing.id,
        ),
      },
    ];
  }
}

/** Payment rules on SQLite; their placement conditions live in `payment_rule_placements`. */
export class SqlitePaymentRules extends SqliteEntityStore<PaymentRule, PaymentRuleInput, PaymentRuleFilter> {
  protected readonly table = 'payment_rules';
  protected readonly kind = 'paymentRule';
  protected readonly filterColumns = {
    publisherId: 'publisher_id',
    state: 'state',
    pricingType: 'pricing_type',
    name: 'name',
  };

  protected fromRow(row: Record<string, SqlValue>): PaymentRule {
    return {
      id: row.id as number,
      accountId: row.account_id as number,
      publisherId: row.publisher_id as number,
      name: row.name as string,
      pricingType: row.pricing_type as PricingType,
      revshareMicros: row.revshare_micros as number | null,
      costCpmMicros: row.cost_cpm_micros as number | null,
      applyCostOnDefault: row.apply_cost_on_default === 1,
      maxRevshareMicros: row.max_revshare_micros as number | null,
      targetEcpmMicros: row.target_ecpm_micros as number | null,
      priority: row.priority as number,
      isBase: row.is_base === 1,
      state: row.state as CatalogState,
      startDate: row.start_date as string | null,
      endDate: row.end_date as string | null,
      placementIds: this.ids(
        'SELECT placement_id AS id FROM payment_rule_placements WHERE payment_rule_id = ? ORDER BY placement_id',
        row.id as number,
      ),
      createdMs: row.created_ms as number,
      updatedMs: row.updated_ms as number,
    };
  }

  /** Every rule of the publisher, by id (for the snapshot). */
  ofPublisher(publisherId: number): PaymentRule[] {
    const rows = this.statement('SELECT * FROM payment_rules WHERE publisher_id = ? ORDER BY id').all(
      publisherId,
    ) as Record<string, SqlValue>[];
    return rows.map((row) => this.fromRow(row));
  }

  protected columns(
    accountId: number,
    input: PaymentRuleInput,
    existing: PaymentRule | undefined,
  ): Record<string, SqlValue> {
    const isBase = input.isBase ?? existing?.isBase ?? !this.hasBase(accountId, input.publisherId);
    return {
      publisher_id: input.publisherId,
      name: input.name,
      pricing_type: input.pricingType,
      revshare_micros: input.revshareMicros,
      cost_cpm_micros: input.costCpmMicros,
      apply_cost_on_default: input.applyCostOnDefault ? 1 : 0,
      max_revshare_micros: input.maxRevshareMicros,
      target_ecpm_micros: input.targetEcpmMicros,
      priority: input.priority,
      is_base: isBase ? 1 : 0,
      state: input.state,
      start_date: input.startDate,
      end_date: input.endDate,
    };
  }

  protected check(
    accountId: number,
    input: PaymentRuleInput,
    existing: PaymentRule | undefined,
  ): WriteResult<PaymentRule> | undefined {
    const problems = publisherProblems(this, 'payment rule', accountId, input.publisherId, existing);
    if (problems.length > 0) return invalid(problems);
    for (const placementId of input.placementIds) {
      if (!this.placementOf(accountId, input.publisherId, placementId)) {
        problems.push({
          field: 'placementIds',
          message: `publisher ${input.publisherId} has no placement ${placementId}; list only its placements (GET /v1/placements?publisherId=${input.publisherId})`,
        });
      }
    }
    if (input.isBase === false && existing === undefined && !this.hasBase(accountId, input.publisherId)) {
      problems.push({
        field: 'isBase',
        message: `publisher ${input.publisherId} has no base rule yet, so its first rule is the base; send isBase: true or leave isBase out`,
      });
    }
    if (input.isBase === false && existing?.isBase === true) {
      problems.push({
        field: 'isBase',
        message: `payment rule ${existing.id} is publisher ${existing.publisherId}'s base rule and a publisher always has one; make another rule the base (isBase: true) instead`,
      });
    }
    problems.push(...this.baseRuleConditionProblems(accountId, input, existing));
    return invalid(problems);
  }

  /**
   * The base rule prices every impression no conditional rule takes, whatever its state,
   * placements and dates (evaluation ignores them), so a base rule must be active and have no
   * placements or dates: a publisher's first rule sent with `placementIds: [top]` became its base
   * and priced every placement, and a base rule set `inactive` went on pricing.
   */
  private baseRuleConditionProblems(
    accountId: number,
    input: PaymentRuleInput,
    existing: PaymentRule | undefined,
  ): FieldProblem[] {
    const becomesFirst =
      input.isBase === undefined && existing === undefined && !this.hasBase(accountId, input.publisherId);
    const isBase = input.isBase ?? existing?.isBase ?? becomesFirst;
    if (!isBase) return [];
    const why = becomesFirst
      ? `publisher ${input.publisherId} has no base rule yet, so this rule would be its base rule, which applies to every impression whatever its state, priority, placements and dates: create the base rule first, without conditions, then this one`
      : `a base rule applies to every impression of publisher ${input.publisherId} whatever its state, placements and dates`;
    const problems: FieldProblem[] = [];
    if (input.state === 'inactive') {
      problems.push({
        field: 'state',
        message: becomesFirst
          ? why
          : `${why}; make another rule the base first (isBase: true on it), which makes this one an inactive conditional rule`,
      });
    }
    // The API refuses another priority for a rule it knows is the base; only the store knows
    // that a publisher's first rule becomes it.
    if (becomesFirst && input.priority !== DEFAULT_PAYMENT_RULE_PRIORITY) {
      problems.push({ field: 'priority', message: why });
    }
    if (input.placementIds.length > 0) {
      problems.push({ field: 'placementIds', message: `${why}; send [] on the base rule` });
    }
    for (const [field, value] of [
      ['startDate', input.startDate],
      ['endDate', input.endDate],
    ] as const) {
      if (value !== null) problems.push({ field, message: `${why}; send null on the base rule` });
    }
    return problems;
  }

  protected override beforeSave(
    accountId: number,
    input: PaymentRuleInput,
    existing: PaymentRule | undefined,
    nowMs: number,
  ): void {
    if (input.isBase !== true || existing?.isBase === true) return;
    // The old base becomes an inactive conditional rule: left active, with no dates or
    // placements, it would match every event and outrank the new base.
    this.statement(
      `UPDATE payment_rules SET is_base = 0, state = 'inactive', updated_ms = ?
       WHERE account_id = ? AND publisher_id = ? AND is_base = 1`,
    ).run(nowMs, accountId, input.publisherId);
  }

  protected override afterSave(_accountId: number, id: number, input: PaymentRuleInput): void {
    this.statement('DELETE FROM payment_rule_placements WHERE payment_rule_id = ?').run(id);
    const insert = this.statement(
      'INSERT INTO payment_rule_placements (payment_rule_id, placement_id, publisher_id) VALUES (?, ?, ?)',
    );
    for (const placementId of new Set(input.placementIds)) insert.run(id, placementId, input.publisherId);
  }

  /**
   * The trackers that name the rule as their own; for a base rule also the publisher's trackers
   * that name none, which it prices (deleted, it would leave their hits costing nothing); and the
   * publisher's other rules, which need a base rule.
   */
  protected dependents(accountId: number, existing: PaymentRule): Dependents[] {
    return [
      ...(existing.isBase
        ? this.trackersWhere(
            accountId,
            'payment_rule_id = ? OR (publisher_id = ? AND payment_rule_id IS NULL)',
            existing.id,
            existing.publisherId,
          )
        : this.trackerDependents(accountId, 'payment_rule_id', existing.id)),
      {
        noun: `other payment rule of publisher ${existing.publisherId}`,
        nounPlural: `other payment rules of publisher ${existing.publisherId}`,
        movable: false,
        ids: existing.isBase
          ? this.ids(
              'SELECT id FROM payment_rules WHERE account_id = ? AND publisher_id = ? AND id != ? ORDER BY id',
              accountId,
              existing.publisherId,
              existing.id,
            )
          : [],
      },
    ];
  }

  protected override fixFor(blocking: readonly Dependents[], existing: PaymentRule): string {
    if (!existing.isBase) return super.fixFor(blocking, existing);
    if (blocking.some((dependent) => dependent.noun.startsWith('other payment rule'))) {
      return `it is the publisher's base rule: make another rule the base (PATCH it with isBase: true) or delete the others, and move or delete any trackers, first`;
    }
    return `it is publisher ${existing.publisherId}'s base rule, which prices the hits of its trackers that name no payment rule of their own: make another rule the base (POST one with isBase: true), or move the trackers to another publisher or delete them, first`;
  }

  private hasBase(accountId: number, publisherId: number): boolean {
    return this.exists(
      'SELECT 1 FROM payment_rules WHERE account_id = ? AND publisher_id = ? AND is_base = 1',
      accountId,
      publisherId,
    );
  }

  private placementOf(accountId: number, publisherId: number, placementId: number): boolean {
    return this.exists(
      'SELECT 1 FROM placements WHERE id = ? AND publisher_id = ? AND account_id = ?',
      placementId,
      publisherId,
      accountId,
    );
  }
}

/** A child's publisher must exist in the account and never changes. */
function publisherProblems(
  store: { existsInAccount(table: string, accountId: number, id: number): boolean },
  noun: string,
  accountId: number,
  publisherId: number,
  existing: { id: number; publisherId: number } | undefined,
): FieldProblem[] {
  if (existing !== undefined && existing.publisherId !== publisherId) {
    return [
      {
        field: 'publisherId',
        message: `${noun} ${existing.id} belongs to publisher ${existing.publisherId} for good; create a new ${noun} for publisher ${publisherId}`,
      },
    ];
  }
  if (!store.existsInAccount('publishers', accountId, publisherId)) {
    return [
      {
        field: 'publisherId',
        message: `there is no publisher ${publisherId} in this account; create it first (POST /v1/publishers) or use an existing publisher's id`,
      },
    ];
  }
  return [];
}
