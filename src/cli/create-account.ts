import { SqliteAccountStore } from '../adapters/sqlite/accounts.js';
import { writeTransaction } from '../adapters/sqlite/database.js';
import type { Config } from '../config.js';
import { newApiKey } from '../control/auth.js';
import { NAME_MAX_LENGTH, validName } from '../control/catalog/validation.js';
import { OPERATOR_ACCOUNT_ID } from '../ports/accounts.js';
import { openCommandLedger } from './command-ledger.js';
import { missingDataDir } from './missing-data-dir.js';

/** The usage line of `tally create-account`. */
export const CREATE_ACCOUNT_USAGE =
  'tally create-account <name>  (or --name=<name>; quote a name with spaces: tally create-account "Acme Media"; put one beginning with - after --: tally create-account -- -Acme)';

/**
 * Reads the name `tally create-account` is given: its one argument, or `--name <name>` or
 * `--name=<name>`; after `--` an argument is the name whatever it begins with. Before it, another
 * argument beginning with `-` is refused rather than taken for a name (`--help` would create an
 * account "--help", and print its key), and so is a second name, and, named, a name given that is
 * none (blank, too long, or holding a control character). `name` is `undefined` when none is given.
 */
export function readAccountName(
  args: readonly string[],
): { ok: true; name: string | undefined } | { ok: false; error: string } {
  const names: { name: string; arg: string }[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    if (arg === '--') {
      names.push(...args.slice(index + 1).map((name) => ({ name, arg: name })));
      break;
    }
    if (arg === '--name') {
      const name = args[index + 1];
      if (name === undefined) return { ok: false, error: '--name needs a value: --name=<name>' };
      names.push({ name, arg });
      index++;
    } else if (arg.startsWith('--name=')) names.push({ name: arg.slice('--name='.length), arg });
    else if (arg.startsWith('-')) return { ok: false, error: `unexpected argument ${JSON.stringify(arg)}` };
    else names.push({ name: arg, arg });
  }
  const [first, second] = names;
  if (second !== undefined) return { ok: false, error: `unexpected argument ${JSON.stringify(second.arg)}` };
  if (first !== undefined && validName(first.name) === undefined) {
    return {
      ok: false,
      error: `${shownOnOneLine(first.name)} is no account name: give 1 to ${NAME_MAX_LENGTH} characters, not all spaces or invisible ones, without control characters or line breaks`,
    };
  }
  return { ok: true, name: first?.name };
}

/**
 * `text` as JSON, with the characters JSON writes as they are but that would not show in a line of
 * stderr escaped too: U+2028 and U+2029, which break it, and those that draw nothing (a zero-width
 * space, a right-to-left override), which would read as nothing there.
 */
function shownOnOneLine(text: string): string {
  return JSON.stringify(text).replace(
    /[\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/gu,
    // Each UTF-16 unit, as JSON escapes a character beyond U+FFFF (a tag character, U+E0001).
    (character) =>
      [...Array(character.length).keys()]
        .map((index) => `\\u${character.charCodeAt(index).toString(16).padStart(4, '0')}`)
        .join(''),
  );
}

/** The name the server gives the operator's account at first start. */
const OPERATOR_ACCOUNT_NAME = 'default';

/**
 * `tally create-account <name>`: creates an account in the data directory and its first
 * account-wide admin key, printed once (only its hash is stored). Safe while the server runs;
 * on a fresh data directory it first creates the operator's account (id 1), as the server would.
 * A name missing or refused is said (exit 2) before a missing data directory (exit 1): a first try
 * without a name is told its usage, not sent to make a directory. Answers the exit code. Throws a
 * `KeyFileError` for a data directory a Tally served whose ledger is lost, as the server refuses
 * it: a new, empty one made here would be served.
 */
export async function createAccount(
  config: Config,
  name: string | undefined,
  write: { out(text: string): void; err(text: string): void },
): Promise<number> {
  // As catalog names: characters as a reader counts them, and none that breaks a line of a report.
  const trimmed = validName(name ?? '');
  if (trimmed === undefined) {
    write.err(
      `usage: tally create-account <name>  (a name of 1 to ${NAME_MAX_LENGTH} characters, without control characters)\n`,
    );
    return 2;
  }
  const missing = missingDataDir(config);
  if (missing !== undefined) {
    write.err(missing);
    return 1;
  }
  const db = await openCommandLedger(config);
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
