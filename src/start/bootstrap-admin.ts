import { hashApiKey, newApiKey } from '../control/auth.js';
import type { Logger } from '../lib/log.js';
import type { AccountStore } from '../ports/accounts.js';
import { OPERATOR_ACCOUNT_ID } from '../ports/accounts.js';

const DEFAULT_ACCOUNT_NAME = 'default';

/**
 * How much of an operator's `TALLY_ADMIN_KEY` the key list shows as its prefix: enough to tell
 * keys apart, little of a key that may be as short as 16 characters.
 */
const ADMIN_KEY_PREFIX_CHARS = 4;

/**
 * Says `line` on stderr, where the operator who set `TALLY_ADMIN_KEY` at the console reads the
 * generated key and where Tally listens: stdout holds the JSON logs, which a pipeline may keep
 * out of sight, and the key that does not work would otherwise be told of there alone.
 */
function tellOperator(line: string): void {
  process.stderr.write(`\n${line}\n\n`);
}

/**
 * Makes sure the default account (id 1) exists with an admin key: `TALLY_ADMIN_KEY` when set
 * (one revoked through the API stays revoked, and one already stored as another kind of key stays
 * that key, each with a warning); else, unless the account has a
 * live unscoped admin key, a generated key printed once (only its hash is stored).
 */
export function bootstrapAdmin(accounts: AccountStore, adminKey: string | undefined, log: Logger): void {
  const nowMs = Date.now();
  const account =
    accounts.getAccount(OPERATOR_ACCOUNT_ID) ?? accounts.createAccount(DEFAULT_ACCOUNT_NAME, nowMs);
  if (adminKey !== undefined) {
    if (accounts.keyHashRevoked(hashApiKey(adminKey))) {
      const note = 'TALLY_ADMIN_KEY was revoked through the API and stays revoked; set a new one';
      log.warn('admin_key_revoked', { note });
      tellOperator(note);
      return;
    }
    const stored = accounts.findKey(hashApiKey(adminKey));
    if (stored !== undefined) {
      // A key already given out (another account's first key, an editor or scoped key) stays
      // what it is: the operator, who set it to administer the operator's account, is told.
      if (stored.accountId !== account.id || stored.role !== 'admin' || stored.scope !== null) {
        const note =
          `TALLY_ADMIN_KEY is already the API key ${stored.id} of account ${stored.accountId}, and not an ` +
          `unscoped admin key of the operator's account (${account.id}): it was not made one; set ` +
          'TALLY_ADMIN_KEY to a new key of your own';
        log.warn('admin_key_not_admin', {
          keyId: stored.id,
          accountId: stored.accountId,
          role: stored.role,
          scope: stored.scope,
          note,
        });
        tellOperator(note);
      }
    } else {
      accounts.addKey(
        account.id,
        hashApiKey(adminKey),
        adminKey.slice(0, ADMIN_KEY_PREFIX_CHARS),
        'TALLY_ADMIN_KEY',
        'admin',
        null,
        nowMs,
      );
    }
    return;
  }
  if (accounts.hasAdminKey(account.id)) return;
  const generated = newApiKey();
  accounts.addKey(account.id, generated.hash, generated.prefix, 'generated admin key', 'admin', null, nowMs);
  log.info('admin_key_created', { accountId: account.id, note: 'shown once; store it now' });
  // On stderr, for the operator: stdout carries the JSON logs, which a log pipeline keeps.
  process.stderr.write(`\nAdministrator API key (shown once, store it now): ${generated.key}\n\n`);
}
