import { statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { errorCode } from '../lib/error-code.js';

/** What every command refusing a missing data directory or ledger says to do, alike. */
const FIX =
  'set TALLY_DATA_DIR to the data directory the server runs on (the server makes it, and the ledger in it, when it first starts)';

/**
 * Why a command on the configured data directory refuses, in one line, when there is no directory
 * there, or, with `ledger`, no ledger (`tally.db`) in it; else `undefined`. Every command says it
 * so: it refuses rather than create a directory at a mistyped path (or at `./data`, with
 * TALLY_DATA_DIR forgotten) that no server reads, or report that an empty ledger made there holds
 * nothing to list or replay. A path under a file names no directory either; one this user may not
 * look through (the server's user's, 0700) is said so, rather than called missing.
 */
export function missingDataDir(
  config: Pick<Config, 'dataDir'>,
  { ledger = false }: { ledger?: boolean } = {},
): string | undefined {
  const dir = look(config.dataDir);
  if (typeof dir === 'string') return closed(config.dataDir, dir);
  if (dir?.isDirectory() !== true) return `Tally has no data directory at ${config.dataDir}: ${FIX}\n`;
  if (!ledger) return undefined;
  const db = look(join(config.dataDir, 'tally.db'));
  if (typeof db === 'string') return closed(config.dataDir, db);
  if (db === undefined)
    return `Tally has no ledger (tally.db) in the data directory ${config.dataDir}: ${FIX}\n`;
  return undefined;
}

/**
 * What `path` is: its stats, `undefined` when nothing is there (a missing directory on its way, or
 * a file where a directory would be), or the code of the error that stops Tally looking (`EACCES`).
 */
function look(path: string): Stats | undefined | string {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOTDIR') return undefined;
    return code ?? String(error);
  }
}

/**
 * The refusal of a data directory Tally cannot look in, with the error's `code`: a permission
 * denied (`EACCES`, `EPERM`) is a question of which user runs the command.
 */
function closed(dataDir: string, code: string): string {
  if (code !== 'EACCES' && code !== 'EPERM')
    return `Tally cannot read the data directory ${dataDir} (${code}): ${FIX}\n`;
  return (
    `Tally may not read the data directory ${dataDir} (${code}: it, or a directory above it, is closed ` +
    `to this user): run the command as the user the server runs as, or ${FIX}\n`
  );
}
