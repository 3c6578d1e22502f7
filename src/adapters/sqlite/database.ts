import Database from 'better-sqlite3';
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { makeDirectory } from '../../lib/make-dir.js';
import { errorCode } from '../../lib/error-code.js';
import { WRITE_LOCK_WAIT_MS } from '../../lib/busy-retry.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { ledgerNeedsRepair, repairLedger } from './ledger-repairs.js';

/** How hard SQLite syncs commits: FULL survives power loss, NORMAL (WAL) survives a process crash. */
export type SqliteSynchronous = 'FULL' | 'NORMAL';

/**
 * The database's schema is newer than this Tally knows (a newer Tally migrated it): this one
 * refuses to open it rather than read or write tables whose meaning may have changed.
 */
export class SchemaTooNewError extends Error {
  constructor(
    readonly path: string,
    /** The number of migrations the database has had. */
    readonly schemaVersion: number,
    /** The number of migrations this Tally knows. */
    readonly knownVersion: number,
  ) {
    super(
      `${path} has schema version ${schemaVersion}, written by a newer Tally; this one knows versions up to ` +
        `${knownVersion}: run the newer Tally on this data directory (or this one on a copy made before the upgrade)`,
    );
    this.name = 'SchemaTooNewError';
  }
}

/**
 * The database file is damaged, or is not a SQLite database at all (another file put in its
 * place, one cut short by a failed copy), or cannot be opened (a directory in its place, a file
 * this process may not read and write), or cannot be written (a full disk, a read-only volume, a
 * failing disk): Tally can neither read nor repair it, and refuses it rather than start without
 * the impressions it held. The message says what to do.
 */
export class DatabaseFileError extends Error {
  constructor(
    readonly path: string,
    /** SQLite's error. */
    cause: Error,
  ) {
    super(`${path} ${databaseFileProblem(path, errorCode(cause) ?? '', cause.message)}`, { cause });
    this.name = 'DatabaseFileError';
  }
}

/** What is wrong with the database file at `path`, given SQLite's error, and what to do. */
function databaseFileProblem(path: string, code: string, message: string): string {
  if (code.startsWith('SQLITE_BUSY'))
    return `is locked: another connection held its write lock longer than the ${WRITE_LOCK_WAIT_MS / 1000} s waited for it (SQLite: ${message}), a long transaction or a stalled writer; nothing more was written here: run the command again once it is done`;
  if (code === 'SQLITE_CANTOPEN')
    return `cannot be opened (SQLite: ${message}): it must be a file this process may read and write; move away a directory or anything else in its place`;
  if (code.startsWith('SQLITE_FULL'))
    return `cannot be written: its disk is full (SQLite: ${message}); free space on it and start again`;
  if (code.startsWith('SQLITE_READONLY'))
    return `cannot be written by this process (SQLite: ${message}): run Tally as the user owning the data directory, on a volume mounted read-write`;
  if (code.startsWith('SQLITE_IOERR')) {
    // A full disk fails some writes as I/O errors: growing tally.db-shm at start, for one.
    const freeBytes = availableBytes(dirname(path));
    if (freeBytes !== undefined && freeBytes < FULL_BELOW_BYTES)
      return `cannot be written: its disk is full (${freeBytes} bytes free; SQLite: ${message}, ${code}); free space on it and start again`;
    return `cannot be read or written: the disk failed (SQLite: ${message}, ${code}); check the disk and its free space, then start again`;
  }
  return (
    `is damaged or is not a SQLite database (SQLite: ${message}): restore it from a ` +
    `backup, deleting ${path}-wal and ${path}-shm if they are there (they belong to the damaged file)`
  );
}

/** Below this much space free to this process, a volume is full to SQLite: a WAL frame, a page. */
const FULL_BELOW_BYTES = 1024 * 1024;

/** The bytes this process may still write on the volume of `directory`, or `undefined` unknown. */
function availableBytes(directory: string): number | undefined {
  try {
    const { bavail, bsize } = statfsSync(directory);
    return bavail * bsize;
  } catch {
    return undefined;
  }
}

/**
 * Opens (creating it and its directory if needed, unless `create` is false) Tally's SQLite
 * database in WAL mode and applies pending migrations; throws {@link SchemaTooNewError} for a
 * database a newer Tally migrated, and {@link DatabaseFileError} for a file that is not a database
 * or whose first pages are damaged, or that cannot be opened (or is missing, without `create`).
 * (An empty file is a new database to SQLite, and is made one: the first start may have been
 * stopped before it wrote anything.) A thread that opens the database the server opened passes
 * `create: false`: were the data directory moved or unmounted meanwhile, it would otherwise count
 * into a new, empty ledger in its place. `beforeMigrating`, called with the schema version only
 * when a migration is to be applied, may throw to leave the database as it is.
 */
export function openSqlite(
  path: string,
  synchronous: SqliteSynchronous = 'FULL',
  {
    create = true,
    beforeMigrating,
  }: { create?: boolean; beforeMigrating?: (schemaVersion: number) => void } = {},
): Database.Database {
  if (create) makeDirectory(dirname(path));
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: !create });
  } catch (error) {
    if (error instanceof Database.SqliteError && error.code === 'SQLITE_CANTOPEN')
      throw new DatabaseFileError(path, error);
    // better-sqlite3 refuses a missing directory itself, with a TypeError.
    if (!create)
      throw new DatabaseFileError(path, new Database.SqliteError(String(error), 'SQLITE_CANTOPEN'));
    throw error;
  }
  try {
    // The first statement that reads the file: one that is no database fails here.
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.pragma(`busy_timeout = ${WRITE_LOCK_WAIT_MS}`);
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    db.pragma('foreign_keys = ON');
    migrate(db, path, beforeMigrating);
    // A file this process may read but not write (another user's, a read-only volume) opens and
    // reads: one write now says so at start, not at the first notice committed.
    db.prepare('UPDATE prune_progress SET events_below_id = events_below_id').run();
  } catch (error) {
    db.close();
    throw asDatabaseFileError(path, error);
  }
  return db;
}

/**
 * Whether the ledger at `path` may have migrations to apply: it is missing, its schema is older
 * than this Tally's, or it cannot be read to say (opening it then says why). Reads only the schema
 * version, on a read-only connection; creates and writes nothing.
 */
export function mayNeedMigrating(path: string): boolean {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    return (
      (db.pragma('user_version', { simple: true }) as number) < SQLITE_MIGRATIONS.length ||
      ledgerNeedsRepair(db)
    );
  } catch {
    return true;
  } finally {
    db?.close();
  }
}

/**
 * Makes `db` refuse a write at once (SQLITE_BUSY) while another connection holds the write lock,
 * where it waited up to the busy timeout: SQLite waits by sleeping, which on the HTTP thread
 * would stop its event loop (notices, `/healthz`, every other call unanswered) for as long. That
 * thread's writes wait on timers instead (`retryWhileBusy`), up to the same time.
 */
export function refuseWritesWhileLocked(db: Database.Database): void {
  db.pragma('busy_timeout = 0');
}

/**
 * `error` as a {@link DatabaseFileError} of the database at `path` when it is SQLite's for a file
 * Tally cannot use (damaged, full, read-only, failing); otherwise `error` itself.
 */
export function asDatabaseFileError(path: string, error: unknown): unknown {
  return error instanceof Database.SqliteError && UNUSABLE_FILE_CODE.test(error.code)
    ? new DatabaseFileError(path, error)
    : error;
}

/**
 * A WAL that grew past this (a reader held a snapshot for a minute while notices committed, and
 * no checkpoint could restart it) is cut back to it once a checkpoint restarts it, rather than
 * kept at its largest for good. Far above what the WAL holds in normal running (SQLite
 * checkpoints at 1000 pages), so that a commit never waits for the file to shrink and grow.
 */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * SQLite's codes for a file that is no database (NOTADB), a damaged one (CORRUPT, CORRUPT_…), or
 * one that cannot be written: a full disk (FULL), a read-only file or volume (READONLY…), a disk
 * that fails (IOERR…), one whose write lock another connection held past the busy timeout (BUSY…);
 * or one that cannot be opened at all (CANTOPEN: another user's, a directory).
 */
const UNUSABLE_FILE_CODE = /^SQLITE_(NOTADB|CORRUPT|FULL|READONLY|IOERR|CANTOPEN|BUSY)/;

/**
 * Runs `work` in a transaction that takes the write lock as it begins (BEGIN IMMEDIATE), waiting
 * up to the busy timeout for another connection's. Every transaction that writes begins so: one
 * begun deferred that reads before it writes pins a snapshot, and SQLite then refuses its first
 * write at once (SQLITE_BUSY, without waiting) whenever another connection committed meanwhile,
 * as the counting thread does hundreds of times a second.
 */
export function writeTransaction<T>(db: Database.Database, work: () => T): T {
  return db.transaction(work).immediate();
}

/**
 * Applies the migrations the database has not had, each in its own transaction, after repairing
 * what a migration since changed made otherwise in it (see `repairLedger`). The version is
 * read again under the write lock before each one: another process or thread opening the same
 * database (`tally create-account` beside a starting server) may have applied it meanwhile.
 */
function migrate(
  db: Database.Database,
  path: string,
  beforeMigrating: ((schemaVersion: number) => void) | undefined,
): void {
  const schemaVersion = () => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SQLITE_MIGRATIONS.length)
      throw new SchemaTooNewError(path, version, SQLITE_MIGRATIONS.length);
    return version;
  };
  // Up to date (the usual case): no write lock taken.
  const found = schemaVersion();
  if (found === SQLITE_MIGRATIONS.length && !ledgerNeedsRepair(db)) return;
  beforeMigrating?.(found);
  // As SQLite's procedure for schema changes has it: a table rebuilt (made anew, filled, the old
  // one dropped, the new renamed) is not seen as its rows deleted where another table's foreign
  // key names it, as event_rows.dims_id did event_dims in ledgers of c79cffa (since taken out of
  // migration 8). Each migration is then checked to leave every foreign key satisfied.
  db.pragma('foreign_keys = OFF');
  try {
    writeTransaction(db, () => repairLedger(db));
    let upToDate = false;
    while (!upToDate) {
      upToDate = writeTransaction(db, () => {
        const version = schemaVersion();
        const migration = SQLITE_MIGRATIONS[version];
        if (migration === undefined) return true;
        db.exec(migration);
        const broken = db.pragma('foreign_key_check') as { table: string; parent: string }[];
        if (broken.length > 0)
          throw new Error(
            `migration ${version + 1} left a row of ${broken[0]?.table} naming none of ${broken[0]?.parent}`,
          );
        db.pragma(`user_version = ${version + 1}`);
        return false;
      });
    }
  } finally {
    db.pragma('foreign_keys = ON');
  }
}
