/**
 * Which catalog objects a key knows of by id, and the warning an answer carries when a filter names
 * an id its key knows no object by: a mistyped id, whose answer of nothing would otherwise read as
 * nothing there. Reports and catalog lists both warn so, alike, so that to a scoped key an object
 * outside its scope is answered exactly as an id no object has, wherever the id is named.
 */
import type { CatalogStore, TrackerFilter } from '../ports/catalog.js';
import type { Principal } from './auth.js';
import type { Owner } from './catalog/access.js';
import { sees } from './catalog/access.js';

/** Each kind of catalog object a filter may name by id, with the code of its warning and its noun. */
export const CATALOG_OBJECTS = {
  publisher: { code: 'unknown_publisher', noun: 'publisher' },
  advertiser: { code: 'unknown_advertiser', noun: 'advertiser' },
  lineItem: { code: 'unknown_line_item', noun: 'line item' },
  tracker: { code: 'unknown_tracker', noun: 'impression or click tracker' },
  placement: { code: 'unknown_placement', noun: 'placement' },
  paymentRule: { code: 'unknown_payment_rule', noun: 'payment rule' },
} as const;

/** A kind of catalog object a filter may name by id. */
export type CatalogObject = keyof typeof CATALOG_OBJECTS;

/** The codes of the warnings, one for each {@link CatalogObject}. */
export const UNKNOWN_ID_WARNING_CODES = Object.values(CATALOG_OBJECTS).map((object) => object.code);

/** A warning in an answer: a filter names an id its key knows no object by. */
export interface UnknownIdWarning {
  code: (typeof CATALOG_OBJECTS)[CatalogObject]['code'];
  /** The id the filter names. */
  id: number;
  message: string;
}

/** Which catalog objects a key knows of. */
export interface KnownIds {
  /**
   * Whether `principal` knows of the `object` of id `id`. An account-wide key knows every object
   * of its account. A scoped key knows the objects of its own side it may read (an advertiser's
   * key: its advertiser, line items and trackers; a publisher's: its publisher, placements, payment
   * rules and the trackers on it), and those of the other side its trackers are on: the advertisers
   * and line items of the trackers on its publisher; the publishers and placements of its
   * advertiser's trackers, and those publishers' payment rules (any of which may price their
   * hits). Any other object, there or not, is as unknown to it as an id no object has, so that
   * what it is answered tells it nothing of the rest of the account.
   */
  knows(principal: Principal, object: CatalogObject, id: number): boolean;
}

/** The {@link KnownIds} of `catalog`, as it stands when asked. */
export function knownIds(catalog: CatalogStore): KnownIds {
  /**
   * The owner of the `object` of id `id`, and the filter picking the trackers on it; undefined
   * when the account has no such object.
   */
  const lookUp = (
    accountId: number,
    object: CatalogObject,
    id: number,
  ): { owner: Owner; trackersOn: TrackerFilter } | undefined => {
    switch (object) {
      case 'advertiser':
        return catalog.advertisers.get(accountId, id) === undefined
          ? undefined
          : { owner: { advertiserId: id }, trackersOn: { advertiserId: id } };
      case 'lineItem': {
        const lineItem = catalog.lineItems.get(accountId, id);
        return lineItem && { owner: { advertiserId: lineItem.advertiserId }, trackersOn: { lineItemId: id } };
      }
      case 'tracker': {
        const tracker = catalog.trackers.get(accountId, id);
        return tracker && { owner: tracker, trackersOn: {} };
      }
      case 'publisher':
        return catalog.publishers.get(accountId, id) === undefined
          ? undefined
          : { owner: { publisherId: id }, trackersOn: { publisherId: id } };
      case 'placement': {
        const placement = catalog.placements.get(accountId, id);
        return (
          placement && { owner: { publisherId: placement.publisherId }, trackersOn: { placementId: id } }
        );
      }
      case 'paymentRule': {
        // Any tracker of its publisher may have hits it priced, not only those naming it.
        const rule = catalog.paymentRules.get(accountId, id);
        return (
          rule && { owner: { publisherId: rule.publisherId }, trackersOn: { publisherId: rule.publisherId } }
        );
      }
    }
  };
  return {
    knows(principal, object, id) {
      const found = lookUp(principal.accountId, object, id);
      if (found === undefined) return false;
      const scope = principal.scope;
      if (scope === null) return true;
      const ownSide = scope.type === 'advertiser' ? 'advertiserId' : 'publisherId';
      if (found.owner[ownSide] !== undefined) return sees(principal, found.owner);
      const trackersOn = { ...found.trackersOn, [ownSide]: scope.id };
      return catalog.trackers.list(principal.accountId, { filter: trackersOn, limit: 1 }).length > 0;
    },
  };
}

/**
 * The warning for the filter `parameter=id`, which names a `object` `principal` does not know of
 * (see {@link KnownIds.knows}); `outcome` says what the answer holds for it.
 */
export function unknownIdWarning(
  principal: Principal,
  parameter: string,
  object: CatalogObject,
  id: number,
  outcome: string,
): UnknownIdWarning {
  const { code, noun } = CATALOG_OBJECTS[object];
  const scope = principal.scope;
  const where = scope === null ? 'of the account' : `within your key's scope (${scope.type} ${scope.id})`;
  const why =
    scope === null
      ? 'a mistyped id, or one deleted since'
      : 'a mistyped id, one deleted since, or one outside the scope';
  return {
    code,
    id,
    message: `${parameter}=${id} names no ${noun} ${where}: ${why}; ${outcome}: check the id`,
  };
}

/**
 * The `X-Tally-Warnings` header of an answer's unknown-id warnings, for a client that reads no body
 * (a CSV report has no place for them) or only its headers: each warning's code and the id it
 * names, comma-separated (`unknown_tracker;id=999999, unknown_line_item;id=7`); the JSON's
 * `warnings` say more. Only for an answer with warnings.
 */
export function warningsHeader(warnings: readonly UnknownIdWarning[]): string {
  return warnings.map((warning) => `${warning.code};id=${warning.id}`).join(', ');
}
