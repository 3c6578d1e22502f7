import type { PriceKeys } from './domain/price-crypto.js';
import { priceKeyOwner } from './domain/price-crypto.js';
import type { AccountStore } from './ports/accounts.js';

/** An account that price keys are given to and the ledger does not have, with the seats given keys. */
export interface PriceKeyAccountUnknown {
  accountId: number;
  /** The seats given keys for the account, in the order the setting gives them. */
  seats: string[];
}

/**
 * The accounts `priceKeys` (kept by `priceKeyName`: `<accountId>:<seat>`) gives keys to that
 * `accounts` does not have, in the order the setting first names them: a mistyped `accountId`
 * would otherwise fill that DSP's price macros empty with no word at start. None is refused: the
 * account may be created later, its wins filled from then on.
 */
export function priceKeysOfUnknownAccounts(
  priceKeys: ReadonlyMap<string, PriceKeys>,
  accounts: Pick<AccountStore, 'getAccount'>,
): PriceKeyAccountUnknown[] {
  const unknown = new Map<number, string[]>();
  for (const name of priceKeys.keys()) {
    const { accountId, seat } = priceKeyOwner(name);
    if (accounts.getAccount(accountId) !== undefined) continue;
    const seats = unknown.get(accountId) ?? [];
    seats.push(seat);
    unknown.set(accountId, seats);
  }
  return [...unknown].map(([accountId, seats]) => ({ accountId, seats }));
}
