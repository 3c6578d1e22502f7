import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';

/** What every command refusing a missing data directory or ledger says to do, alike. */
const FIX =
  'set TALLY_DATA_DIR to the data directory the server runs on (the server makes it, and the ledger in it, when it first starts)';

/**
 * Why a command on the configured data directory refuses, in one line, when there is no directory
 * there, or, with `ledger`, no ledger (`tally.db`) in it; else `undefined`. Every command says it
 * so: it refuses rather than create a directory at a mistyped path (or at `./data`, with
 * TALLY_DATA_DIR forgotten) that no server reads, or report that an empty ledger made there holds
 * nothing to list or replay.
 */
export function missingDataDir(
  config: Pick<Config, 'dataDir'>,
  { ledger = false }: { ledger?: boolean } = {},
): string | undefined {
  if (statSync(config.dataDir, { throwIfNoEntry: false })?.isDirectory() !== true)
    return `Tally has no data directory at ${config.dataDir}: ${FIX}\n`;
  if (ledger && !existsSync(join(config.dataDir, 'tally.db')))
    return `Tally has no ledger (tally.db) in the data directory ${config.dataDir}: ${FIX}\n`;
  return undefined;
}
