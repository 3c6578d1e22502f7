import { closestName } from '../lib/closest-name.js';
import { unquotedJsonErrorMessage } from '../lib/json-error.js';
import { shown } from '../lib/shown.js';
import type { ConfigFile } from './config-file.js';
import { KEEPS_ONE, duplicatePaths } from './duplicate-paths.js';
import { JSON_STRING_ARRAY_START, commaInsideBrackets, jsonOrError } from './list-text.js';

/**
 * Tally's settings as given: each read by name (`publicUrl`), from its environment variable
 * (`TALLY_PUBLIC_URL`) or else the `TALLY_CONFIG` file, each problem added to `errors`.
 * Remembers the names read, so that {@link Settings.refuseUnknownNames} can tell a misspelt one.
 */
export class Settings {
  /** Every setting's name, as the file spells it. */
  private readonly names = new Set<string>();
  /** The settings the file gives as "", each refused once. */
  private readonly emptyInFile = new Set<string>();

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly file: ConfigFile,
    private readonly errors: string[],
  ) {}

  /** The setting's environment variable, unless it is unset or empty. */
  private fromEnv(name: string): string | undefined {
    const value = this.env[envNameOf(name)];
    return value !== undefined && value !== '' ? value : undefined;
  }

  /**
   * The setting's value, the variable's over the file's. The file's "" (a template whose variable
   * was unset) is refused, once, whatever the setting: as unset it would leave a default the
   * operator did not choose in force (a public `/metrics` for `metricsKey`, the directory Tally
   * starts in for `dataDir`); an empty variable is unset, as shells have it.
   */
  read(name: string): unknown {
    this.names.add(name);
    const value = this.fromEnv(name) ?? this.file[name];
    if (value !== '') return value;
    if (!this.emptyInFile.has(name)) {
      this.emptyInFile.add(name);
      this.errors.push(
        `${name}: "" in the TALLY_CONFIG file gives no value: give one, or leave ${name} out for its default`,
      );
    }
    return undefined;
  }

  /**
   * An integer setting, within `min`..`max` (never negative): decimal digits alone in the
   * environment variable (no sign, spaces, `0x` or exponent), an integer JSON number in the file.
   */
  int(name: string, fallback: number, min: number, max: number): number {
    const value = this.read(name);
    if (value === undefined) return fallback;
    const envText = this.fromEnv(name);
    const number = envText === undefined ? value : /^[0-9]+$/.test(envText) ? Number(envText) : undefined;
    if (typeof number === 'number' && Number.isInteger(number) && number >= min && number <= max)
      return number;
    this.errors.push(
      envText === undefined
        ? `${name}: ${shown(value)} in the TALLY_CONFIG file must be an integer from ${min} to ${max}, written as a JSON number`
        : `${name}: ${this.given(name)} must be a decimal integer from ${min} to ${max}`,
    );
    return fallback;
  }

  /**
   * A string setting; with `secret` (it may hold keys or a password), one the file gives as no
   * string is named by where it is, its value never shown.
   */
  text(name: string, fallback: string, secret = false): string {
    const value = this.read(name);
    if (value === undefined) return fallback;
    if (typeof value !== 'string') {
      const where = secret ? `the TALLY_CONFIG file's ${name}` : `${shown(value)} in the TALLY_CONFIG file`;
      this.errors.push(`${name}: ${where} must be a string`);
      return fallback;
    }
    return value;
  }

  /**
   * Where a setting's value came from, with the value: `TALLY_X="…"`, or the file's JSON value
   * as the file gives it (`"…" in the TALLY_CONFIG file`, `8080 in the TALLY_CONFIG file`: a number
   * is not shown as a string, which the file would be refused for); with `secret`, only where
   * (`TALLY_X`, or `the TALLY_CONFIG file's`): it may hold keys.
   */
  given(name: string, secret = false): string {
    const envText = this.fromEnv(name);
    if (secret) return envText === undefined ? `the TALLY_CONFIG file's ${name}` : envNameOf(name);
    return envText === undefined
      ? `${shown(this.file[name])} in the TALLY_CONFIG file`
      : `${envNameOf(name)}=${shown(envText)}`;
  }

  /** A list setting; with `patterns`, regular expressions, whose `(…)`, `[…]` and `{…}` may hold commas. */
  list(name: string, { patterns = false } = {}): string[] {
    const value = this.read(name);
    if (value === undefined) return [];
    if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
    if (typeof value === 'string') {
      // JSON when it reads as JSON, or begins as a JSON array of strings must (`[`, then `"` or
      // `]`: refused with where it stops when it is not JSON, rather than read as a list of
      // pieces of JSON); otherwise a comma-separated list, whose first pattern may be a character
      // class (`[Bb]ot-x,crawler`).
      const asJson = value.trim().startsWith('[') ? jsonOrError(value) : undefined;
      if (asJson !== undefined && 'error' in asJson && JSON_STRING_ARRAY_START.test(value)) {
        this.errors.push(
          `${name}: ${this.given(name, true)} begins as a JSON array of strings but is not JSON (SyntaxError: ${unquotedJsonErrorMessage(value, asJson.error)}): mend the JSON, or give a comma-separated list`,
        );
        return [];
      }
      if (asJson !== undefined && 'parsed' in asJson) {
        const { parsed } = asJson;
        if (Array.isArray(parsed) && parsed.every((item) => typeof item === 'string')) return parsed;
        this.errors.push(
          `${name}: ${this.given(name, true)} must be a JSON array of strings or a comma-separated list`,
        );
        return [];
      }
      // `bot{2,}` split at its comma would be two patterns, neither the one meant, both valid.
      if (patterns && commaInsideBrackets(value)) {
        this.errors.push(
          `${name}: ${this.given(name)} holds a comma inside a pattern's (…), […] or {…}, where a comma-separated list would split it: give the patterns as a JSON array of strings, such as ["crawler","bot{2,}"]`,
        );
        return [];
      }
      return value
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
    }
    this.errors.push(
      `${name}: ${this.given(name, true)} must be a list of strings: a JSON array of strings, or a comma-separated list in one string`,
    );
    return [];
  }

  /**
   * A setting holding JSON: the file's value as it is, a variable's (or the file's string) parsed,
   * refused when it is no JSON or names a member twice.
   */
  json(name: string): unknown {
    const value = this.read(name);
    if (typeof value !== 'string') return value;
    const json = jsonOrError(value);
    if ('error' in json) {
      // Not quoted: the value may hold keys.
      this.errors.push(
        `${name}: ${this.given(name, true)} must be JSON (SyntaxError: ${unquotedJsonErrorMessage(value, json.error)})`,
      );
      return undefined;
    }
    for (const path of duplicatePaths(value))
      this.errors.push(
        `${name}: ${this.given(name, true)} gives ${path} twice; give each once (${KEEPS_ONE})`,
      );
    return json.parsed;
  }

  /**
   * The settings read so far that both their environment variable and the file give, by name, with
   * the variable's: the variable's value is in force, the file's is not read.
   */
  overriddenInFile(): { setting: string; variable: string }[] {
    return [...this.names]
      .filter((name) => this.fromEnv(name) !== undefined && Object.hasOwn(this.file, name))
      .sort()
      .map((setting) => ({ setting, variable: envNameOf(setting) }));
  }

  /**
   * Refuses each name in the file, and each `TALLY_` variable, that is no setting read so far:
   * called once every setting has been read.
   */
  refuseUnknownNames(): void {
    // A misspelt setting in the file would otherwise leave its default in force, unnoticed.
    for (const name of Object.keys(this.file)) {
      if (!this.names.has(name)) {
        // A variable's name, as an operator moving the variables into the file writes it.
        const variableOf = [...this.names].find((setting) => envNameOf(setting) === name);
        const hint =
          variableOf === undefined
            ? meant(name, this.names)
            : ` (did you mean ${variableOf}? the file names each setting as its variable without TALLY_, camelCased)`;
        this.errors.push(
          `TALLY_CONFIG: ${shown(name)} is not a setting${hint}; the settings are ${[...this.names].sort().join(', ')}`,
        );
      }
    }
    // So would a misspelt environment variable, or one in lower case: `tally_port` is not `TALLY_PORT`.
    const envNames = new Set([...this.names].map(envNameOf));
    for (const name of Object.keys(this.env).sort()) {
      if (
        name.toUpperCase().startsWith('TALLY_') &&
        !envNames.has(name) &&
        !OTHER_TALLY_VARIABLES.has(name)
      ) {
        const names = [...envNames, ...OTHER_TALLY_VARIABLES];
        this.errors.push(
          `${shown(name)} is not a setting${meant(name, names)}; the settings are ${[...envNames, 'TALLY_CONFIG'].sort().join(', ')}`,
        );
      }
    }
  }
}

/** `publicUrl` → `TALLY_PUBLIC_URL`. */
function envNameOf(name: string): string {
  return `TALLY_${name.replace(/[A-Z]/g, (char) => `_${char}`).toUpperCase()}`;
}

/** ` (did you mean X?)` for the name a misspelt `name` most likely meant, or nothing. */
function meant(name: string, names: Iterable<string>): string {
  const closest = closestName(name, names);
  return closest === undefined ? '' : ` (did you mean ${closest}?)`;
}

/** `TALLY_` variables that are no setting: the config file's path, and the tests' Chromium. */
const OTHER_TALLY_VARIABLES = new Set(['TALLY_CONFIG', 'TALLY_CHROMIUM']);
