import type { AccountStore } from '../ports/accounts.js';

/**
 * What `tally list-accounts` prints: a header, then a line for each account, tab-separated: its id
 * (what `replay-dead --account` takes), its name, when it was created (ISO, UTC) and how many
 * live (unrevoked) API keys it has (with none, no one can use the API for it).
 */
export function accountsText(accounts: AccountStore): string {
  const lines = accounts.listAccounts().map((account) => {
    const liveKeys = accounts.listKeys(account.id).filter((key) => key.revokedMs === null).length;
    return [account.id, account.name, new Date(account.createdMs).toISOString(), liveKeys].join('\t');
  });
  return `${['id', 'name', 'created', 'live keys'].join('\t')}\n${lines.map((line) => `${line}\n`).join('')}`;
}
