import type {
  CatalogView,
  EntityStore,
  Tracker,
  TrackerFilter,
  TrackerInput,
  TrackerKind,
} from '../../ports/catalog.js';
import { CATALOG_STATES } from '../../ports/catalog.js';
import { NOTIFIERS } from '../../domain/ivt.js';
import type { Route } from '../router.js';
import type { KnownIds } from '../unknown-ids.js';
import { seesMediaCost } from './access.js';
import { crudRoutes } from './crud.js';
import { trackerOfOtherKind } from './tracker-kind.js';
import { trackerCountingWarnings, trackerPricingWarnings } from './tracker-warnings.js';
import { FieldReader, isoOf } from './validation.js';

/** A tracker's `code`: safe in a query string as it stands, as hits send it (`code=…`). */
export const TRACKER_CODE = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,99}$/;
const CODE_HINT =
  "1 to 100 letters, digits, '.', '_', '~' or '-' starting with a letter or digit (hits send it as code=…), or null for none";

/** Why only an account-wide key sets a tracker's `paymentRuleId`. */
const PAYMENT_RULE_ACCOUNT_WIDE = `the rule prices the publisher's side of the tracker's hits, which is not the advertiser's to choose`;

const FIELDS = [
  'advertiserId',
  'name',
  'code',
  'lineItemId',
  'publisherId',
  'placementId',
  'paymentRuleId',
  'state',
  'firedBy',
];

/**
 * `/v1/impression-trackers` and `/v1/click-trackers`: `{advertiserId, name, code?, lineItemId,
 * publisherId, placementId?, paymentRuleId?, state?, firedBy?}`, click trackers also `clickUrl?`
 * (the landing page when a hit has no `redir`). `firedBy` is `browser` (the default) or `app` (see
 * `TrackerInput.firedBy`).
 * The line item must be the advertiser's; the placement and payment rule the publisher's. Both
 * kinds share one id sequence. Both kinds' answers carry `warnings`, read from `catalog`, the
 * snapshot their hits are decided and priced by: why its hits would not count
 * (`trackerCountingWarnings`), and terms under which its hits would be booked at a cost of 0
 * (`trackerPricingWarnings`; for a click tracker, of a `cpc` line item only), these not to a key
 * scoped to an advertiser, which is shown no media cost. A list filtered on an advertiser, line
 * item, publisher, placement or payment rule the key knows nothing of warns of it (`known`).
 */
export function trackerRoutes(
  store: EntityStore<Tracker, TrackerInput, TrackerFilter>,
  catalog: () => CatalogView,
  known: KnownIds,
): Route[] {
  return [...routesFor('impression', store, catalog, known), ...routesFor('click', store, catalog, known)];
}

function routesFor(
  kind: TrackerKind,
  store: EntityStore<Tracker, TrackerInput, TrackerFilter>,
  catalog: () => CatalogView,
  known: KnownIds,
): Route[] {
  const noun = `${kind} tracker`;
  const fieldNames = kind === 'click' ? [...FIELDS, 'clickUrl'] : FIELDS;
  return crudRoutes({
    path: `/v1/${kind}-trackers`,
    noun,
    nounPlural: `${noun}s`,
    store,
    readScopes: ['advertiser', 'publisher'],
    writeScopes: ['advertiser'],
    owner: (tracker) => ({ advertiserId: tracker.advertiserId, publisherId: tracker.publisherId }),
    inputOwner: (input) => ({ advertiserId: input.advertiserId }),
    scopeFilterKey: { advertiser: 'advertiserId', publisher: 'publisherId' },
    filters: {
      advertiserId: { idOf: 'advertiser' },
      lineItemId: { idOf: 'lineItem' },
      publisherId: { idOf: 'publisher' },
      placementId: { idOf: 'placement' },
      paymentRuleId: { idOf: 'paymentRule' },
      state: CATALOG_STATES,
      code: 'text',
      name: 'text',
    },
    knownIds: known,
    fixedFilter: { kind },
    accountWideFields: {
      code: `codes are unique across the account, so a refusal of one would tell of another advertiser's tracker`,
      paymentRuleId: PAYMENT_RULE_ACCOUNT_WIDE,
    },
    scopedProblem(problem, input, existing, scope) {
      // Kept as it must be by a scoped key, a tracker's own rule is its old publisher's, which the
      // store would have it send null for (403 to this key).
      const ruleKept = input.paymentRuleId !== null && input.paymentRuleId === existing.paymentRuleId;
      if (problem.field !== 'paymentRuleId' || !ruleKept || input.publisherId === existing.publisherId)
        return problem;
      const to = `publisher ${input.publisherId}`;
      return {
        field: 'paymentRuleId',
        message: `the tracker's own payment rule ${existing.paymentRuleId} is publisher ${existing.publisherId}'s, which ${to} does not have, and your key is scoped to ${scope.type} ${scope.id}, which may not change paymentRuleId (${PAYMENT_RULE_ACCOUNT_WIDE}): ask someone with an account-wide key to move it (with "paymentRuleId": null, or one of ${to}'s rules), or create a tracker on ${to} with this key, whose hits that publisher's rules then price`,
      };
    },
    elsewhere: (tracker) =>
      tracker.kind === kind ? undefined : trackerOfOtherKind(noun, tracker.id, tracker.kind, 'resource'),
    parse(body, mode, existing) {
      const fields = new FieldReader(body, mode, fieldNames, ['warnings']);
      const base = mode === 'patch' ? existing : undefined;
      const input: TrackerInput = {
        kind,
        advertiserId: fields.id('advertiserId', base?.advertiserId ?? 0),
        name: fields.name('name', base?.name ?? ''),
        code: fields.optionalText('code', base?.code ?? null, TRACKER_CODE, CODE_HINT),
        lineItemId: fields.id('lineItemId', base?.lineItemId ?? 0),
        publisherId: fields.id('publisherId', base?.publisherId ?? 0),
        placementId: fields.optionalId('placementId', base?.placementId ?? null),
        paymentRuleId: fields.optionalId('paymentRuleId', base?.paymentRuleId ?? null),
        state: fields.oneOf('state', CATALOG_STATES, base?.state ?? 'active'),
        clickUrl: kind === 'click' ? fields.url('clickUrl', base?.clickUrl ?? null) : null,
        firedBy: fields.oneOf('firedBy', NOTIFIERS, base?.firedBy ?? 'browser'),
      };
      fields.finish(noun);
      return input;
    },
    toJson: (tracker, principal) => ({
      id: tracker.id,
      advertiserId: tracker.advertiserId,
      name: tracker.name,
      code: tracker.code,
      lineItemId: tracker.lineItemId,
      publisherId: tracker.publisherId,
      placementId: tracker.placementId,
      paymentRuleId: tracker.paymentRuleId,
      state: tracker.state,
      firedBy: tracker.firedBy,
      ...(kind === 'click' ? { clickUrl: tracker.clickUrl } : {}),
      warnings: [
        ...trackerCountingWarnings(tracker, catalog()),
        ...(seesMediaCost(principal) ? trackerPricingWarnings(tracker, catalog()) : []),
      ],
      createdAt: isoOf(tracker.createdMs),
      updatedAt: isoOf(tracker.updatedMs),
    }),
  });
}
