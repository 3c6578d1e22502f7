/** What a key may do: everything, manage entities, or read reports. */
export type Role = 'admin' | 'editor' | 'reader';
/** Every {@link Role}. */
export const ROLES: readonly Role[] = ['admin', 'editor', 'reader'];

/** A key limited to one advertiser's or one publisher's objects and report rows. */
export interface KeyScope {
  type: 'advertiser' | 'publisher';
  id: number;
}

/** An account: the unit of isolation. */
export interface Account {
  id: number;
  name: string;
  createdMs: number;
}

/** A stored API key; the key itself is never stored, only its hash. */
export interface ApiKeyRecord {
  id: number;
  accountId: number;
  /** The first characters of the key, to recognise it in lists. */
  prefix: string;
  name: string;
  role: Role;
  scope: KeyScope | null;
  createdMs: number;
  revokedMs: number | null;
}

/** Accounts and API keys. */
export interface AccountStore {
  createAccount(name: string, nowMs: number): Account;
  getAccount(id: number): Account | undefined;
  /** Every account, in the order of their ids. */
  listAccounts(): Account[];
  /** Stores a key's hash; returns the record. */
  addKey(
    accountId: number,
    hash: string,
    prefix: string,
    name: string,
    role: Role,
    scope: KeyScope | null,
    nowMs: number,
  ): ApiKeyRecord;
  /**
   * Stores a key's hash scoped to `scope` when the scope's advertiser or publisher is in the
   * account, checked in the same write as the insert (so one deleted by another connection while
   * the write awaited the lock is never scoped to); `undefined`, nothing stored, when it is not.
   */
  addScopedKey(
    accountId: number,
    hash: string,
    prefix: string,
    name: string,
    role: Role,
    scope: KeyScope,
    nowMs: number,
  ): ApiKeyRecord | undefined;
  /** The live (unrevoked) key with this hash, or `undefined`. */
  findKey(hash: string): ApiKeyRecord | undefined;
  /** Every key of the account, revoked ones included, in the order of their ids. */
  listKeys(accountId: number): ApiKeyRecord[];
  /** True when a key with this hash was stored and later revoked (a revoked key is never revived). */
  keyHashRevoked(hash: string): boolean;
  /** Revokes a key of the account; false when there is no such live key. */
  revokeKey(accountId: number, keyId: number, nowMs: number): boolean;
  /**
   * True when the account has at least one live admin key scoped to no advertiser or publisher:
   * a scoped one can neither manage API keys nor set the redirect allow-list.
   */
  hasAdminKey(accountId: number): boolean;
}

/**
 * The operator's account, created at first start. Events that belong to no account — notices
 * whose token did not open — are recorded under it, so the operator sees them in reports.
 */
export const OPERATOR_ACCOUNT_ID = 1;
