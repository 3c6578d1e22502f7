import type {
  CatalogView,
  EntityStore,
  PaymentRule,
  PaymentRuleFilter,
  PaymentRuleInput,
  PricingType,
  Tracker,
  TrackerFilter,
  TrackerInput,
} from '../../ports/catalog.js';
import { CATALOG_STATES, DEFAULT_PAYMENT_RULE_PRIORITY, PRICING_TYPES } from '../../ports/catalog.js';
import type { Route } from '../router.js';
import type { KnownIds } from '../unknown-ids.js';
import { crudRoutes } from './crud.js';
import { endedRuleWarnings } from './ended-rule-warning.js';
import { zeroPricedTrackers } from './tracker-warnings.js';
import { decimalOf, FieldReader, isoOf } from './validation.js';

const FIELDS = [
  'publisherId',
  'name',
  'pricingType',
  'revshare',
  'costCpm',
  'applyCostOnDefault',
  'maxRevshare',
  'targetEcpm',
  'priority',
  'isBase',
  'state',
  'startDate',
  'endDate',
  'placementIds',
];

/** Which pricing fields each pricing type uses (all of them required). */
const PRICING_FIELDS: Readonly<Record<PricingType, readonly string[]>> = {
  revshare: ['revshare'],
  cpm: ['costCpm'],
  dynamic: ['revshare', 'maxRevshare', 'targetEcpm'],
};

/**
 * `/v1/payment-rules`: `{publisherId, name, pricingType, revshare?, costCpm?, applyCostOnDefault?,
 * maxRevshare?, targetEcpm?, priority?, isBase?, state?, startDate?, endDate?, placementIds?}`.
 *
 * - `revshare` pays `revshare` (0–1) of revenue; `cpm` pays `costCpm` per 1000 (with
 *   `applyCostOnDefault`, also on default creatives); `dynamic` pays between `revshare` and
 *   `maxRevshare`, aiming at `targetEcpm`. Fields a pricing type does not use are refused
 *   when sent and answered as null; changing the type drops them.
 * - A publisher's first rule becomes its base rule; `isBase: true` makes a rule the base and
 *   demotes the old one to an inactive conditional rule (it prices nothing until made active).
 *   The base rule applies when no conditional rule (active, in its dates, on one of its
 *   placements; highest `priority` first, ties by lowest id) does.
 * - `publisherId` never changes.
 * - A write's answer carries `warnings` naming the publisher's trackers that book hits at a cost
 *   of 0 (`zeroPricedTrackers`: impression trackers, and click trackers of a `cpc` line item), read
 *   from `catalog`, the snapshot hits are priced by.
 * - A list filtered on a publisher the key knows nothing of warns of it (`known`).
 */
export function paymentRuleRoutes(
  store: EntityStore<PaymentRule, PaymentRuleInput, PaymentRuleFilter>,
  trackers: EntityStore<Tracker, TrackerInput, TrackerFilter>,
  catalog: () => CatalogView,
  known: KnownIds,
): Route[] {
  return crudRoutes({
    path: '/v1/payment-rules',
    noun: 'payment rule',
    nounPlural: 'payment rules',
    store,
    readScopes: ['publisher'],
    writeScopes: ['publisher'],
    owner: (rule) => ({ publisherId: rule.publisherId }),
    inputOwner: (input) => ({ publisherId: input.publisherId }),
    scopeFilterKey: { publisher: 'publisherId' },
    filters: {
      publisherId: { idOf: 'publisher' },
      state: CATALOG_STATES,
      pricingType: PRICING_TYPES,
      name: 'text',
    },
    knownIds: known,
    writeWarnings: (rule, principal) => [
      ...endedRuleWarnings(rule, Date.now()),
      ...zeroPricedTrackers(trackers, catalog(), principal.accountId, { publisherId: rule.publisherId }),
    ],
    parse: parsePaymentRule,
    toJson: (rule) => ({
      id: rule.id,
      publisherId: rule.publisherId,
      name: rule.name,
      pricingType: rule.pricingType,
      revshare: decimalOf(rule.revshareMicros),
      costCpm: decimalOf(rule.costCpmMicros),
      applyCostOnDefault: rule.applyCostOnDefault,
      maxRevshare: decimalOf(rule.maxRevshareMicros),
      targetEcpm: decimalOf(rule.targetEcpmMicros),
      priority: rule.priority,
      isBase: rule.isBase,
      state: rule.state,
      startDate: rule.startDate,
      endDate: rule.endDate,
      placementIds: rule.placementIds,
      createdAt: isoOf(rule.createdMs),
      updatedAt: isoOf(rule.updatedMs),
    }),
  });
}

function parsePaymentRule(
  body: unknown,
  mode: 'create' | 'replace' | 'patch',
  existing: PaymentRule | undefined,
): PaymentRuleInput {
  const fields = new FieldReader(body, mode, FIELDS, ['warnings']);
  const base = mode === 'patch' ? existing : undefined;
  const publisherId = fields.id('publisherId', existing?.publisherId ?? 0);
  const name = fields.name('name', base?.name ?? '');
  const pricingType = fields.oneOf('pricingType', PRICING_TYPES, base?.pricingType ?? 'revshare', {
    required: true,
  });
  const uses = PRICING_FIELDS[pricingType];
  // Stored pricing fields carry over only while the pricing type stays the same.
  const kept = base !== undefined && base.pricingType === pricingType ? base : undefined;
  const revshareMicros = fields.fraction('revshare', kept?.revshareMicros ?? null);
  const costCpmMicros = fields.amount('costCpm', kept?.costCpmMicros ?? null);
  const maxRevshareMicros = fields.fraction('maxRevshare', kept?.maxRevshareMicros ?? null);
  const targetEcpmMicros = fields.amount('targetEcpm', kept?.targetEcpmMicros ?? null);
  const applyCostOnDefault = fields.bool('applyCostOnDefault', kept?.applyCostOnDefault ?? false);
  const pricing: Record<string, number | null> = {
    revshare: revshareMicros,
    costCpm: costCpmMicros,
    maxRevshare: maxRevshareMicros,
    targetEcpm: targetEcpmMicros,
  };
  for (const [field, value] of Object.entries(pricing)) {
    // A value already refused as invalid is not also reported missing; nor is any against a
    // pricing type that was itself refused (the default one stands in for it).
    if (fields.hasProblem(field) || fields.hasProblem('pricingType')) continue;
    if (uses.includes(field) && value === null)
      fields.problem(field, `required for pricingType ${pricingType}: ${hint(field)}`);
    if (!uses.includes(field) && value !== null) {
      fields.problem(field, `does not apply to pricingType ${pricingType}; leave it out (or send null)`);
    }
  }
  if (applyCostOnDefault && pricingType !== 'cpm' && !fields.hasProblem('pricingType')) {
    fields.problem('applyCostOnDefault', 'applies to pricingType cpm only; leave it out or send false');
  }
  if (
    pricingType === 'dynamic' &&
    revshareMicros !== null &&
    maxRevshareMicros !== null &&
    revshareMicros > maxRevshareMicros
  ) {
    fields.problem('maxRevshare', 'must be at least revshare (the minimum share of a dynamic rule)');
  }
  const dates = readDates(fields, base);
  const isBase = fields.has('isBase') ? fields.bool('isBase', existing?.isBase ?? false) : undefined;
  // The publisher's first rule also becomes its base; the store checks that case.
  const staysOrBecomesBase = isBase ?? existing?.isBase ?? false;
  const input: PaymentRuleInput = {
    publisherId,
    name,
    pricingType,
    revshareMicros,
    costCpmMicros,
    applyCostOnDefault,
    maxRevshareMicros,
    targetEcpmMicros,
    priority: staysOrBecomesBase
      ? basePriority(fields, existing)
      : fields.integer('priority', base?.priority ?? DEFAULT_PAYMENT_RULE_PRIORITY, 1, 10),
    isBase,
    // A base rule prices whatever its state, so it is active: a rule made the base becomes active
    // (the store refuses `inactive` sent for it).
    state: fields.oneOf('state', CATALOG_STATES, staysOrBecomesBase ? 'active' : (base?.state ?? 'active')),
    ...dates,
    placementIds: fields.idList('placementIds', base?.placementIds ?? []),
  };
  fields.finish('payment rule');
  return input;
}

/**
 * A base rule's priority: what it has (the default for a new rule), kept for when another rule
 * becomes the base. A base rule is evaluated after every conditional rule whatever its priority,
 * so a different priority sent for it is refused rather than stored to no effect.
 */
function basePriority(fields: FieldReader, existing: PaymentRule | undefined): number {
  const kept = existing?.priority ?? DEFAULT_PAYMENT_RULE_PRIORITY;
  const sent = fields.integer('priority', kept, 1, 10);
  if (sent !== kept && !fields.hasProblem('priority')) {
    fields.problem(
      'priority',
      `a base rule has no priority: it prices every impression no conditional rule takes, whatever the priorities; leave priority out (the rule keeps ${kept} for when another rule becomes the base)`,
    );
  }
  return kept;
}

function readDates(
  fields: FieldReader,
  base: PaymentRule | undefined,
): { startDate: string | null; endDate: string | null } {
  const startDate = fields.date('startDate', base?.startDate ?? null);
  const endDate = fields.date('endDate', base?.endDate ?? null);
  if (startDate !== null && endDate !== null && endDate < startDate) {
    fields.problem('endDate', `must not be before startDate ${startDate} (both days are included)`);
  }
  return { startDate, endDate };
}

function hint(field: string): string {
  switch (field) {
    case 'revshare':
      return 'send the share as a fraction from 0 to 1, e.g. 0.5 for 50 %';
    case 'maxRevshare':
      return 'send the highest share as a fraction from 0 to 1';
    default:
      return 'send an amount in currency units, e.g. 1.25';
  }
}
