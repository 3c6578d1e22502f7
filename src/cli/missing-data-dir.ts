import { statSync } from 'node:fs';
import type { Config } from '../config.js';

/**
 * Why a command that writes into the configured data directory refuses, when there is no
 * directory there, or `undefined`: it refuses rather than create one at a mistyped path (or at
 * `./data`, with TALLY_DATA_DIR forgotten) that no server reads.
 */
export function missingDataDir(config: Pick<Config, 'dataDir'>): string | undefined {
  if (statSync(config.dataDir, { throwIfNoEntry: false })?.isDirectory() === true) return undefined;
  return `Tally has no data directory at ${config.dataDir}: set TALLY_DATA_DIR to the one the server runs on (the server creates it when it first starts, or create it with mkdir)\n`;
}
