import type Database from 'better-sqlite3';

/**
 * The SQL of every statement `db` prepares while `run` runs, in order: what a query-plan test then
 * explains. `db.prepare` is put back however `run` ends.
 */
export function sqlPreparedBy(db: Database.Database, run: () => void): string[] {
  const statements: string[] = [];
  const prepare = db.prepare.bind(db);
  db.prepare = (sql: string) => {
    statements.push(sql);
    return prepare(sql);
  };
  try {
    run();
  } finally {
    db.prepare = prepare;
  }
  return statements;
}
