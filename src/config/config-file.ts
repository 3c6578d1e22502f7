import { readFileSync } from 'node:fs';
import { unquotedJsonErrorMessage } from '../lib/json-error.js';
import { readPathShown } from '../lib/read-path.js';
import { KEEPS_ONE, duplicatePaths } from './duplicate-paths.js';

/** The settings a `TALLY_CONFIG` file gives, by name as the file spells them (`publicUrl`). */
export type ConfigFile = Record<string, unknown>;

/**
 * The settings of the JSON file `path` names (`TALLY_CONFIG`), none when it names no file; what
 * keeps it from being read, or a setting given twice in it, is added to `errors`.
 */
export function readConfigFile(path: string | undefined, errors: string[]): ConfigFile {
  let file: ConfigFile = {};
  if (path !== undefined && path !== '') {
    let fileText: string | undefined;
    try {
      // A byte order mark that begins it, as Windows editors save one, is no part of the JSON:
      // RFC 8259 §8.1 lets readers ignore it, as the API does in request bodies.
      fileText = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
      const parsed: unknown = JSON.parse(fileText);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not a JSON object');
      file = parsed as ConfigFile;
      for (const duplicate of duplicatePaths(fileText))
        errors.push(
          `TALLY_CONFIG: ${duplicate} is given twice in ${path}; give each setting once (${KEEPS_ONE})`,
        );
    } catch (error) {
      // Not quoted: the file may hold keys.
      const why =
        error instanceof SyntaxError && fileText !== undefined
          ? `SyntaxError: ${unquotedJsonErrorMessage(fileText, error)}`
          : String(error);
      errors.push(`TALLY_CONFIG: cannot read ${readPathShown(path)} as a JSON object (${why})`);
    }
  }
  return file;
}
