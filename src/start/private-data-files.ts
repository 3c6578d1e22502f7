import { makeDataFilesPrivate } from '../data-file-modes.js';
import type { Logger } from '../lib/log.js';

/**
 * Makes the data directory and its files private to this process's user (see
 * `makeDataFilesPrivate`), warning of each that other users could read or write.
 */
export function keepDataFilesPrivate(dataDir: string, log: Logger): void {
  for (const file of makeDataFilesPrivate(dataDir)) {
    if ('toMode' in file)
      log.warn('data_file_mode_tightened', {
        ...file,
        note: 'its mode let other users read or write it (as whoever made, copied or restored it left it): Tally removed their access, as it keeps its data files to its own user',
      });
    else
      log.warn('data_file_mode_open', {
        ...file,
        note: 'other users can read or write it, and this process may not change that: make it private to the user Tally runs as (chown, chmod 600; chmod 700 the data directory)',
      });
  }
}
