import type { Logger } from '../lib/log.js';
import type { AccountStore } from '../ports/accounts.js';
import { priceKeysOfUnknownAccounts } from '../price-key-accounts.js';
import type { PriceKeys } from '../domain/price-crypto.js';

/** What `price_keys_account_unknown` says to do: nothing is refused, the account may come later. */
const PRICE_KEYS_ACCOUNT_UNKNOWN_NOTE =
  "TALLY_PRICE_KEYS (or the config file's priceKeys) gives keys to an account Tally does not have: " +
  'its wins get them once it is created (tally create-account); check the accountId if it should exist';

/** Warns of each account `priceKeys` gives keys to that `accounts` does not have. */
export function warnOfPriceKeysOfUnknownAccounts(
  priceKeys: ReadonlyMap<string, PriceKeys>,
  accounts: AccountStore,
  log: Logger,
): void {
  for (const { accountId, seats } of priceKeysOfUnknownAccounts(priceKeys, accounts))
    log.warn('price_keys_account_unknown', { accountId, seats, note: PRICE_KEYS_ACCOUNT_UNKNOWN_NOTE });
}
