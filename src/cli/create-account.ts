import { SqliteAccountStore } from '../adapters/sqlite/accounts.js';
import { writeTransaction } from '../adapters/sqlite/database.js';
import type { Config } from '../config.js';
import { newApiKey } from '../control/auth.js';
import { NAME_MAX_LENGTH, validName } from '../control/catalog/validation.js';
import { OPERATOR_ACCOUNT_ID } from '../ports/accounts.js';
import { openCommandLedger } from './command-ledger.js';

/** The name the server gives the operator's account at first start. */
const OPERATOR_ACCOUNT_NAME = 'default';

/**
 * `tally create-account <name>`: creates an account in the data directory and its first
 * account-wide admin key, printed once (only its hash is stored). Safe while the server runs;
 * on a fresh data directory it first creates the operator's account (id 1), as the server would.
 * Returns the exit code. Throws a `KeyFileError` for a data directory a Tally served whose
 * ledger is lost, as the server refuses it: a new, empty one made here would be served.
 */
export function createAccount(
  config: Config,
  name: string | undefined,
  write: { out(text: string): void; err(text: string): void },
): number {
  // As catalog names: characters as a reader counts them, and none that breaks a line of a report.
  const trimmed = validName(name ?? '');
  if (trimmed === undefined) {
    write.err(
      `usage: tally create-account <name>  (a name of 1 to ${NAME_MAX_LENGTH} characters, without control characters)\n`,
    );
    return 2;
  }
  const db = openCommandLedger(config);
  try {
    const accounts = new SqliteAccountStore(db);
    const generated = newApiKey();
    const account = writeTransaction(db, () => {
      const nowMs = Date.now();
      // Before the server's first start the database is empty: account 1 must stay the operator's.
      if (accounts.getAccount(OPERATOR_ACCOUNT_ID) === undefined) {
        accounts.createAccount(OPERATOR_ACCOUNT_NAME, nowMs);
      }
      const created = accounts.createAccount(trimmed, nowMs);
      accounts.addKey(created.id, generated.hash, generated.prefix, 'first admin key', 'admin', null, nowMs);
      return created;
    });
    write.out(
      `Account ${account.id} (${JSON.stringify(account.name)}) created.\n` +
        `Administrator API key (shown once, store it now): ${generated.key}\n`,
    );
    return 0;
  } finally {
    db.close();
  }
}
