// Preloaded into a `tally serve` (`--import`) by a test that fills its disk: while the file named
// by FULL_DISK_FLAG exists, each SQLite connection, in every thread, may not grow its database
// past the pages it has (`max_page_count`), so that SQLite fails its writes as on a full disk
// (SQLITE_FULL, "database or disk is full"), the same error from the same code, without root to
// mount a small file system. Once the file is gone, the connections may grow again.
import { existsSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import type * as WorkerThreads from 'node:worker_threads';

/** The environment variable naming the file whose presence fills the disk. */
export const FULL_DISK_FLAG = 'FULL_DISK_FLAG';

/**
 * Holds every connection of `Database` this thread opens to its pages while `flagPath` exists.
 * Its source is run in each worker thread too, so it names nothing outside itself.
 */
function holdPagesWhileFlagged(
  Database: typeof BetterSqlite3,
  flagPath: string,
  fileExists: (path: string) => boolean,
): void {
  const connections = new Set<BetterSqlite3.Database>();
  // Taken with its `this` left open: it is called on each connection below.
  const prepare = Object.getOwnPropertyDescriptor(Database.prototype, 'prepare')?.value as (
    this: BetterSqlite3.Database,
    source: string,
  ) => BetterSqlite3.Statement;
  // Every connection Tally opens prepares statements: that is where this finds it.
  Database.prototype.prepare = function (this: BetterSqlite3.Database, source: string) {
    connections.add(this);
    return prepare.call(this, source);
  } as BetterSqlite3.Database['prepare'];
  let wasFull = false;
  setInterval(() => {
    const full = fileExists(flagPath);
    for (const db of connections) {
      if (!db.open) connections.delete(db);
      else if (full || wasFull) {
        // 4294967294: SQLite's own ceiling, in force while the disk is not full.
        const pages = full ? (db.pragma('page_count', { simple: true }) as number) : 4_294_967_294;
        db.pragma(`max_page_count = ${pages}`);
      }
    }
    wasFull = full;
  }, 20).unref();
}

const flagPath = process.env[FULL_DISK_FLAG];
if (flagPath !== undefined) {
  const require = createRequire(import.meta.url);
  holdPagesWhileFlagged(require('better-sqlite3') as typeof BetterSqlite3, flagPath, existsSync);
  // A worker thread runs no `--import`: each starts by holding its own connections the same way.
  const threads = require('node:worker_threads') as typeof WorkerThreads;
  const databaseUrl = import.meta.resolve('better-sqlite3');
  const Worker = threads.Worker;
  threads.Worker = class extends Worker {
    constructor(filename: string | URL, options: WorkerThreads.WorkerOptions = {}) {
      const start = options.eval === true ? String(filename) : `import(${JSON.stringify(String(filename))})`;
      const hold = `(${holdPagesWhileFlagged.toString()})(database.default, ${JSON.stringify(flagPath)}, fs.existsSync)`;
      super(
        `Promise.all([import('node:fs'), import(${JSON.stringify(databaseUrl)})])` +
          `.then(([fs, database]) => ${hold}).then(() => ${start})`,
        { ...options, eval: true },
      );
    }
  };
  syncBuiltinESMExports();
}
