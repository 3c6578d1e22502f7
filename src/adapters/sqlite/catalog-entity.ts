import type Database from 'better-sqlite3';
import type {
  CatalogObjectKind,
  DeleteResult,
  Dependents,
  EntityStore,
  FieldProblem,
  ListQuery,
  WriteResult,
} from '../../ports/catalog.js';

/** A value SQLite stores. */
export type SqlValue = string | number | null;

/**
 * Runs `work` in one transaction, bumping the catalog version there when it succeeded, and then
 * tells the store's listeners which object of `kind` changed (`changedId` reads its id off the result).
 */
export type CatalogWriter = <R extends { ok: boolean }>(
  kind: CatalogObjectKind,
  changedId: (result: R) => number,
  work: () => R,
) => R;

/** Filter keys matched as case-insensitive substrings; every other key is equality. */
const SUBSTRING_FILTERS = new Set(['name']);

/**
 * One kind of catalog object in one table with `id`, `account_id`, `created_ms`, `updated_ms`.
 * Subclasses name the table and columns, check references and list dependents; this class
 * does the SQL and keeps every write inside the catalog writer's transaction.
 */
export abstract class SqliteEntityStore<
  T extends { id: number },
  Input,
  Filter extends object,
> implements EntityStore<T, Input, Filter> {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    protected readonly db: Database.Database,
    private readonly write: CatalogWriter,
  ) {}

  /** The table's name. */
  protected abstract readonly table: string;
  /** What its objects are called in catalog changes. */
  protected abstract readonly kind: CatalogObjectKind;
  /** The column behind each filter key. */
  protected abstract readonly filterColumns: Readonly<Record<keyof Filter & string, string>>;
  protected abstract fromRow(row: Record<string, SqlValue>): T;
  /** The columns to store for `input` (not id, account, timestamps). Called after `check` passed. */
  protected abstract columns(
    accountId: number,
    input: Input,
    existing: T | undefined,
  ): Record<string, SqlValue>;
  /** References and uniqueness, checked in the write transaction. */
  protected abstract check(
    accountId: number,
    input: Input,
    existing: T | undefined,
  ): WriteResult<T> | undefined;
  /** What may keep the object from being deleted (empty `ids` do not). */
  protected abstract dependents(accountId: number, existing: T): Dependents[];

  /** Hook after `check` passed and before the insert or update, in the same transaction. */
  protected beforeSave(_accountId: number, _input: Input, _existing: T | undefined, _nowMs: number): void {}

  /** Hook after an insert or update, in the same transaction (e.g. child rows). */
  protected afterSave(_accountId: number, _id: number, _input: Input): void {}

  /**
   * How to clear the blocking dependents, for the refusal message: only what can be done to them
   * (`delete or move` where all of them can move, `delete` where none can, each named where they
   * differ), and `revoke` for API keys.
   */
  protected fixFor(blocking: readonly Dependents[], _existing: T): string {
    const isKey = (dependent: Dependents) => dependent.noun.startsWith('API key');
    const keys = blocking.filter(isKey);
    const objects = blocking.filter((dependent) => !isKey(dependent));
    const fixed = objects.filter((dependent) => !dependent.movable);
    const movable = objects.filter((dependent) => dependent.movable);
    const named = (dependents: readonly Dependents[]) =>
      dependents
        .map((dependent) => (dependent.ids.length === 1 ? dependent.noun : dependent.nounPlural))
        .join(' and ');
    const isOne = (dependents: readonly Dependents[]) =>
      dependents.length === 1 && dependents[0]?.ids.length === 1;
    const them = isOne(objects) ? 'it' : 'them';
    const objectFix =
      fixed.length === 0
        ? `delete or move ${them}`
        : movable.length === 0
          ? `delete ${them}`
          : `delete the ${named(fixed)} and delete or move the ${named(movable)}`;
    if (keys.length === 0) return `${objectFix} first`;
    if (objects.length === 0) return `revoke ${isOne(keys) ? 'it' : 'them'} first`;
    return `${objectFix}, and revoke the ${isOne(keys) ? 'key' : 'keys'}, first`;
  }

  create(accountId: number, input: Input, nowMs: number): WriteResult<T> {
    return this.write(this.kind, idOfSaved, () => {
      const refused = this.check(accountId, input, undefined);
      if (refused !== undefined) return refused;
      this.beforeSave(accountId, input, undefined, nowMs);
      const columns = { account_id: accountId, ...this.columns(accountId, input, undefined) };
      const names = [...Object.keys(columns), 'created_ms', 'updated_ms'];
      const id = Number(
        this.statement(
          `INSERT INTO ${this.table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
        ).run(...Object.values(columns), nowMs, nowMs).lastInsertRowid,
      );
      this.afterSave(accountId, id, input);
      return this.saved(accountId, id);
    });
  }

  get(accountId: number, id: number): T | undefined {
    const row = this.statement(`SELECT * FROM ${this.table} WHERE id = ? AND account_id = ?`).get(
      id,
      accountId,
    ) as Record<string, SqlValue> | undefined;
    return row === undefined ? undefined : this.fromRow(row);
  }

  list(accountId: number, query: ListQuery<Filter>): T[] {
    const where = ['account_id = ?', 'id > ?'];
    const params: SqlValue[] = [accountId, query.afterId ?? 0];
    for (const [key, value] of Object.entries(query.filter) as [keyof Filter & string, unknown][]) {
      if (value === undefined) continue;
      const column = this.filterColumns[key];
      if (SUBSTRING_FILTERS.has(key)) {
        // `casefold`, registered by the catalog store: SQLite's own lower() lowers ASCII alone.
        where.push(`instr(casefold(${column}), casefold(?)) > 0`);
      } else {
        where.push(`${column} = ?`);
      }
      params.push(value as SqlValue);
    }
    const rows = this.statement(
      `SELECT * FROM ${this.table} WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`,
    ).all(...params, query.limit) as Record<string, SqlValue>[];
    return rows.map((row) => this.fromRow(row));
  }

  /** Every object of every account, by id (for the snapshot). */
  all(): T[] {
    const rows = this.statement(`SELECT * FROM ${this.table} ORDER BY id`).all() as Record<
      string,
      SqlValue
    >[];
    return rows.map((row) => this.fromRow(row));
  }

  /** The object with this id, whatever its account (for the snapshot). */
  byId(id: number): T | undefined {
    const row = this.statement(`SELECT * FROM ${this.table} WHERE id = ?`).get(id) as
      Record<string, SqlValue> | undefined;
    return row === undefined ? undefined : this.fromRow(row);
  }

  update(accountId: number, id: number, input: Input, nowMs: number): WriteResult<T> {
    return this.write(this.kind, idOfSaved, () => {
      const existing = this.get(accountId, id);
      if (existing === undefined) return { ok: false, reason: 'not_found' };
      const refused = this.check(accountId, input, existing);
      if (refused !== undefined) return refused;
      this.beforeSave(accountId, input, existing, nowMs);
      const columns = this.columns(accountId, input, existing);
      this.statement(
        `UPDATE ${this.table} SET ${Object.keys(columns)
          .map((name) => `${name} = ?`)
          .join(', ')}, updated_ms = ? WHERE id = ? AND account_id = ?`,
      ).run(...Object.values(columns), nowMs, id, accountId);
      this.afterSave(accountId, id, input);
      return this.saved(accountId, id);
    });
  }

  delete(accountId: number, id: number): DeleteResult {
    const deletedId = () => id;
    return this.write(this.kind, deletedId, (): DeleteResult => {
      const existing = this.get(accountId, id);
      if (existing === undefined) return { ok: false, reason: 'not_found' };
      const blocking = this.dependents(accountId, existing).filter((dependent) => dependent.ids.length > 0);
      if (blocking.length > 0) {
        return { ok: false, reason: 'in_use', dependents: blocking, fix: this.fixFor(blocking, existing) };
      }
      this.statement(`DELETE FROM ${this.table} WHERE id = ? AND account_id = ?`).run(id, accountId);
      return { ok: true };
    });
  }

  /** True when `table` (a catalog table) has row `id` in the account. */
  existsInAccount(table: string, accountId: number, id: number): boolean {
    return this.exists(`SELECT 1 FROM ${table} WHERE id = ? AND account_id = ?`, id, accountId);
  }

  /** A cached prepared statement. */
  protected statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** The ids a query answers (one `id` column). */
  protected ids(sql: string, ...params: SqlValue[]): number[] {
    return (this.statement(sql).all(...params) as { id: number }[]).map((row) => row.id);
  }

  /** True when the query finds a row. */
  protected exists(sql: string, ...params: SqlValue[]): boolean {
    return this.statement(sql).get(...params) !== undefined;
  }

  /** The trackers of each kind whose `column` is `id`. */
  protected trackerDependents(accountId: number, column: string, id: number): Dependents[] {
    return this.trackersWhere(accountId, `${column} = ?`, id);
  }

  /** The trackers of each kind of the account that match `condition` (SQL over `trackers`, with `params`). */
  protected trackersWhere(accountId: number, condition: string, ...params: SqlValue[]): Dependents[] {
    const sql = `SELECT id FROM trackers WHERE account_id = ? AND kind = ? AND (${condition}) ORDER BY id`;
    return [
      {
        noun: 'impression tracker',
        nounPlural: 'impression trackers',
        ids: this.ids(sql, accountId, 'impression', ...params),
        movable: true,
      },
      {
        noun: 'click tracker',
        nounPlural: 'click trackers',
        ids: this.ids(sql, accountId, 'click', ...params),
        movable: true,
      },
    ];
  }

  /** Live API keys scoped to an advertiser or publisher. */
  protected scopedKeyDependents(accountId: number, type: 'advertiser' | 'publisher', id: number): Dependents {
    return {
      noun: 'API key scoped to it',
      nounPlural: 'API keys scoped to it',
      movable: false,
      ids: this.ids(
        'SELECT id FROM api_keys WHERE account_id = ? AND scope_type = ? AND scope_id = ? AND revoked_ms IS NULL ORDER BY id',
        accountId,
        type,
        id,
      ),
    };
  }

  private saved(accountId: number, id: number): WriteResult<T> {
    const value = this.get(accountId, id);
    if (value === undefined) throw new Error(`${this.table} ${id} vanished inside its own transaction`);
    return { ok: true, value };
  }
}

/** The id of the object a successful create or update stored (0 for a refusal, which changes nothing). */
function idOfSaved<T extends { id: number }>(result: WriteResult<T>): number {
  return result.ok ? result.value.id : 0;
}

/** A refusal for one or more fields. */
export function invalid<T>(problems: FieldProblem[]): WriteResult<T> | undefined {
  return problems.length === 0 ? undefined : { ok: false, reason: 'invalid', problems };
}
