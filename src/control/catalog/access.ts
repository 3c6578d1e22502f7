/**
 * Who may do what with the catalog API.
 *
 * Roles (unscoped keys):
 *
 * | route                                   | reader | editor | admin |
 * |-----------------------------------------|--------|--------|-------|
 * | GET    entities (list, read)            | yes    | yes    | yes   |
 * | POST / PATCH / PUT / DELETE entities    | 403    | yes    | yes   |
 * | /v1/api-keys (create, list, revoke)     | 403    | 403    | yes   |
 * | /v1/account/redirect-allowlist GET, PUT | 403    | 403    | yes   |
 *
 * "Entities" are advertisers, line items, publishers, placements, payment rules, impression
 * and click trackers. Readers may read entities so that report rows can be named; they
 * never write.
 *
 * Scoped keys (`scope: {type, id}`) keep their role for what their scope allows:
 *
 * | resource                         | advertiser-scoped key            | publisher-scoped key              |
 * |----------------------------------|----------------------------------|-----------------------------------|
 * | advertisers                      | its own only; no create/delete   | 403                               |
 * | line items                       | its advertiser's                 | 403                               |
 * | publishers                       | 403                              | its own only; no create/delete    |
 * | placements, payment rules        | 403                              | its publisher's                   |
 * | impression and click trackers    | its advertiser's (read, write)   | those on its publisher; read only |
 * | api keys, redirect allow-list    | 403                              | 403                               |
 *
 * - A resource outside the key's dimension answers 403 for every id, so nothing leaks.
 * - Within it, another advertiser's or publisher's object answers 404 exactly like a missing
 *   one, and lists show only the key's own objects (a list filter naming another advertiser
 *   or publisher is 403, as in reports; one naming another object outside the scope is warned
 *   of exactly as an id no object has: see `KnownIds.knows`).
 * - Fields unique across the account that a refusal would tell of, a tracker's `code`, are set
 *   and changed with an account-wide key only (403 to a scoped key, whatever the value).
 * - Scoped keys cannot create or change objects outside their scope (403). An
 *   advertiser-scoped editor attaches its trackers to any publisher, placement and payment
 *   rule of the account by id: the publisher side is the account's, shared with it by ad ops.
 * - Accounts are isolated: every lookup is by account, another account's object is 404.
 * - An advertiser-scoped key is shown no media cost (the publisher side's money, as its reports
 *   show none): a tracker's pricing warnings, a line item's write warnings and a tag export's
 *   pricing warnings, all about trackers booked at a media cost of 0, come to it empty.
 */
import type { KeyScope } from '../../ports/accounts.js';
import type { Principal } from '../auth.js';
import { requireRole } from '../auth.js';
import { ApiError } from '../api-error.js';

/** What a scoped key is limited to: one advertiser's or one publisher's objects. */
export type ScopeType = KeyScope['type'];

/** The advertiser and publisher an object (or a write) belongs to, where it has them. */
export interface Owner {
  advertiserId?: number;
  publisherId?: number;
}

/** Throws 403 unless a scoped key's dimension is one of `scopes` (unscoped keys pass). */
export function requireScopeType(principal: Principal, scopes: readonly ScopeType[], what: string): void {
  const scope = principal.scope;
  if (scope !== null && !scopes.includes(scope.type)) {
    throw new ApiError(
      403,
      'FORBIDDEN',
      `your key is scoped to ${scope.type} ${scope.id} and cannot ${what}; use an account-wide key`,
    );
  }
}

/** Throws 403 unless the key may write (editor or admin) objects of a resource owned by `scopes`. */
export function requireWriter(principal: Principal, scopes: readonly ScopeType[], what: string): void {
  requireRole(principal, 'editor');
  requireScopeType(principal, scopes, what);
}

/** True when the key may see an object with this owner. */
export function sees(principal: Principal, owner: Owner): boolean {
  const scope = principal.scope;
  if (scope === null) return true;
  return (scope.type === 'advertiser' ? owner.advertiserId : owner.publisherId) === scope.id;
}

/** Whether the key is shown media cost, the publisher side's money: not a key scoped to an advertiser. */
export function seesMediaCost(principal: Principal): boolean {
  return principal.scope?.type !== 'advertiser';
}

/** Throws 403 when a scoped key writes an object that would belong to another advertiser or publisher. */
export function requireOwnWrite(principal: Principal, owner: Owner): void {
  const scope = principal.scope;
  if (scope === null) return;
  const field = scope.type === 'advertiser' ? 'advertiserId' : 'publisherId';
  const value = owner[field];
  if (value !== undefined && value !== scope.id) {
    throw new ApiError(
      403,
      'FORBIDDEN',
      `your key is scoped to ${scope.type} ${scope.id}: ${field} must be ${scope.id}, not ${value}`,
    );
  }
}
