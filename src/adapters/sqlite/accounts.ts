import type Database from 'better-sqlite3';
import type { Account, AccountStore, ApiKeyRecord, KeyScope, Role } from '../../ports/accounts.js';

interface KeyRow {
  id: number;
  account_id: number;
  prefix: string;
  name: string;
  role: Role;
  scope_type: string;
  scope_id: number;
  created_ms: number;
  revoked_ms: number | null;
}

/** An account row's columns, named as an {@link Account}'s fields. */
const ACCOUNT_COLUMNS = 'id, name, created_ms AS createdMs';

/** The catalog table of each kind of object a key may be scoped to. */
const SCOPE_TABLES: Record<KeyScope['type'], string> = {
  advertiser: 'advertisers',
  publisher: 'publishers',
};

/** Accounts and API keys on SQLite. */
export class SqliteAccountStore implements AccountStore {
  constructor(private readonly db: Database.Database) {}

  createAccount(name: string, nowMs: number): Account {
    const id = Number(
      this.db.prepare('INSERT INTO accounts (name, created_ms) VALUES (?, ?)').run(name, nowMs)
        .lastInsertRowid,
    );
    return { id, name, createdMs: nowMs };
  }

  getAccount(id: number): Account | undefined {
    return this.db.prepare(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`).get(id) as
      Account | undefined;
  }

  listAccounts(): Account[] {
    return this.db.prepare(`SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY id`).all() as Account[];
  }

  addKey(
    accountId: number,
    hash: string,
    prefix: string,
    name: string,
    role: Role,
    scope: KeyScope | null,
    nowMs: number,
  ): ApiKeyRecord {
    const id = Number(
      this.db
        .prepare(
          `INSERT INTO api_keys (account_id, hash, prefix, name, role, scope_type, scope_id, created_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(accountId, hash, prefix, name, role, scope?.type ?? '', scope?.id ?? 0, nowMs).lastInsertRowid,
    );
    return { id, accountId, prefix, name, role, scope, createdMs: nowMs, revokedMs: null };
  }

  addScopedKey(
    accountId: number,
    hash: string,
    prefix: string,
    name: string,
    role: Role,
    scope: KeyScope,
    nowMs: number,
  ): ApiKeyRecord | undefined {
    // One statement: the check and the insert see the same database, under the same write lock.
    const inserted = this.db
      .prepare(
        `INSERT INTO api_keys (account_id, hash, prefix, name, role, scope_type, scope_id, created_ms)
         SELECT ?, ?, ?, ?, ?, ?, ?, ?
         WHERE EXISTS (SELECT 1 FROM ${SCOPE_TABLES[scope.type]} WHERE id = ? AND account_id = ?)`,
      )
      .run(accountId, hash, prefix, name, role, scope.type, scope.id, nowMs, scope.id, accountId);
    if (inserted.changes === 0) return undefined;
    const id = Number(inserted.lastInsertRowid);
    return { id, accountId, prefix, name, role, scope, createdMs: nowMs, revokedMs: null };
  }

  findKey(hash: string): ApiKeyRecord | undefined {
    const row = this.db.prepare('SELECT * FROM api_keys WHERE hash = ? AND revoked_ms IS NULL').get(hash) as
      KeyRow | undefined;
    return row === undefined ? undefined : toKey(row);
  }

  listKeys(accountId: number): ApiKeyRecord[] {
    return (
      this.db.prepare('SELECT * FROM api_keys WHERE account_id = ? ORDER BY id').all(accountId) as KeyRow[]
    ).map(toKey);
  }

  keyHashRevoked(hash: string): boolean {
    return (
      this.db.prepare('SELECT 1 FROM api_keys WHERE hash = ? AND revoked_ms IS NOT NULL').get(hash) !==
      undefined
    );
  }

  revokeKey(accountId: number, keyId: number, nowMs: number): boolean {
    return (
      this.db
        .prepare('UPDATE api_keys SET revoked_ms = ? WHERE id = ? AND account_id = ? AND revoked_ms IS NULL')
        .run(nowMs, keyId, accountId).changes === 1
    );
  }

  hasAdminKey(accountId: number): boolean {
    return (
      this.db
        .prepare(
          `SELECT 1 FROM api_keys WHERE account_id = ? AND role = 'admin' AND scope_type = '' AND revoked_ms IS NULL LIMIT 1`,
        )
        .get(accountId) !== undefined
    );
  }
}

function toKey(row: KeyRow): ApiKeyRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    prefix: row.prefix,
    name: row.name,
    role: row.role,
    scope: row.scope_type === '' ? null : { type: row.scope_type as KeyScope['type'], id: row.scope_id },
    createdMs: row.created_ms,
    revokedMs: row.revoked_ms,
  };
}
