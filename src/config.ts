import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { IvtFilter } from './domain/ivt.js';
import { buildIvtFilter } from './domain/ivt.js';
import type { PriceKeys } from './domain/price-crypto.js';
import type { RuleOverride } from './domain/rules.js';
import type { SqliteSynchronous } from './adapters/sqlite/database.js';
import type { PrivateNetworks } from './billing/egress.js';
import { closestName } from './lib/closest-name.js';
import { shown } from './lib/shown.js';
import { unquotedJsonErrorMessage } from './lib/json-error.js';
import { readAddressFile } from './address-file.js';
import { KEEPS_ONE, duplicatePaths } from './config/duplicate-paths.js';
import { isHostName } from './config/host-name.js';
import { JSON_STRING_ARRAY_START, commaInsideBrackets, jsonOrError } from './config/list-text.js';
import { isMailSender, isSmtpUrl } from './config/mail.js';
import { parsePriceKeyMap } from './config/price-keys.js';
import { defaultPublicUrl, problemOfPublicUrl } from './config/public-url.js';
import { parseRules } from './config/rules.js';
import { parseTokenKeys } from './config/token-keys.js';

/** Tally's configuration, parsed once at start from `TALLY_*` variables and an optional JSON file. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** Base of every URL Tally hands out, without a trailing slash. */
  publicUrl: string;
  adminKey: string | undefined;
  /** The bearer key `/metrics` asks for; `undefined`: it is public. */
  metricsKey: string | undefined;
  /** Token keys `id → 32-byte key`; the last listed signs. Generated into the data directory when absent. */
  tokenKeys: { id: number; key: Buffer }[] | undefined;
  ivtFilter: IvtFilter;
  /** Rule overrides for every publisher ('*') and per publisher id. */
  rules: ReadonlyMap<string, RuleOverride[]>;
  /** Google-scheme price encryption keys by seat, for `${AUCTION_PRICE:…}`. */
  priceKeys: ReadonlyMap<string, PriceKeys>;
  retentionDays: number;
  commitMaxBatch: number;
  commitMaxDelayMs: number;
  commitMaxQueue: number;
  sqliteSynchronous: SqliteSynchronous;
  burlRetrySeconds: number;
  burlTimeoutMs: number;
  burlConcurrency: number;
  /** Most burl calls in flight at once to one host. */
  burlHostConcurrency: number;
  /** Whether DSP burls may point at addresses outside the public internet. */
  burlPrivateNetworks: PrivateNetworks;
  maxBodyBytes: number;
  /** Threads registering `POST /v1/wins` calls side by side. */
  winThreads: number;
  /** A report with more rows than this is refused (400 `REPORT_TOO_LARGE`) rather than built. */
  reportMaxRows: number;
  /** `smtp://user:pass@host:port` for tag export by email; undefined when mail is not set up. */
  smtpUrl: string | undefined;
  mailFrom: string;
}

type Source = Record<string, unknown>;

/** The largest `TALLY_MAX_BODY_BYTES`: half of the longest string V8 holds, as a wins body is one. */
const MAX_BODY_BYTES_LIMIT = 256 * 1024 * 1024;

/**
 * Parses configuration: environment variables win over the file named by `TALLY_CONFIG`
 * (JSON whose keys are the variable names without `TALLY_`, camelCased, e.g. `publicUrl`).
 * Every error is reported at once, each saying what to fix.
 */
export function parseConfig(
  env: NodeJS.ProcessEnv,
): { ok: true; config: Config } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  let file: Source = {};
  if (env.TALLY_CONFIG !== undefined && env.TALLY_CONFIG !== '') {
    let fileText: string | undefined;
    try {
      // A byte order mark that begins it, as Windows editors save one, is no part of the JSON:
      // RFC 8259 §8.1 lets readers ignore it, as the API does in request bodies.
      fileText = readFileSync(env.TALLY_CONFIG, 'utf8').replace(/^\uFEFF/, '');
      const parsed: unknown = JSON.parse(fileText);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not a JSON object');
      file = parsed as Source;
      for (const path of duplicatePaths(fileText))
        errors.push(
          `TALLY_CONFIG: ${path} is given twice in ${env.TALLY_CONFIG}; give each setting once (${KEEPS_ONE})`,
        );
    } catch (error) {
      // Not quoted: the file may hold keys.
      const why =
        error instanceof SyntaxError && fileText !== undefined
          ? `SyntaxError: ${unquotedJsonErrorMessage(fileText, error)}`
          : String(error);
      errors.push(`TALLY_CONFIG: cannot read ${env.TALLY_CONFIG} as a JSON object (${why})`);
    }
  }
  /** Every setting's name, as the file spells it. */
  const settings = new Set<string>();
  /** The settings the file gives as "", each refused once. */
  const emptyInFile = new Set<string>();
  /** `publicUrl` → `TALLY_PUBLIC_URL`. */
  const envNameOf = (name: string) => `TALLY_${name.replace(/[A-Z]/g, (char) => `_${char}`).toUpperCase()}`;
  /** The setting's environment variable, unless it is unset or empty. */
  const fromEnv = (name: string): string | undefined => {
    const value = env[envNameOf(name)];
    return value !== undefined && value !== '' ? value : undefined;
  };
  /**
   * The setting's value, the variable's over the file's. The file's "" (a template whose variable
   * was unset) is refused, once, whatever the setting: as unset it would leave a default the
   * operator did not choose in force (a public `/metrics` for `metricsKey`, the directory Tally
   * starts in for `dataDir`); an empty variable is unset, as shells have it.
   */
  const read = (name: string): unknown => {
    settings.add(name);
    const value = fromEnv(name) ?? file[name];
    if (value !== '') return value;
    if (!emptyInFile.has(name)) {
      emptyInFile.add(name);
      errors.push(
        `${name}: "" in the TALLY_CONFIG file gives no value: give one, or leave ${name} out for its default`,
      );
    }
    return undefined;
  };
  /**
   * An integer setting, within `min`..`max` (never negative): decimal digits alone in the
   * environment variable (no sign, spaces, `0x` or exponent), an integer JSON number in the file.
   */
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const value = read(name);
    if (value === undefined) return fallback;
    const envText = fromEnv(name);
    const number = envText === undefined ? value : /^[0-9]+$/.test(envText) ? Number(envText) : undefined;
    if (typeof number === 'number' && Number.isInteger(number) && number >= min && number <= max)
      return number;
    errors.push(
      envText === undefined
        ? `${name}: ${JSON.stringify(value)} in the TALLY_CONFIG file must be an integer from ${min} to ${max}, written as a JSON number`
        : `${name}: ${envNameOf(name)}=${JSON.stringify(envText)} must be a decimal integer from ${min} to ${max}`,
    );
    return fallback;
  };
  /**
   * A string setting; with `secret` (it may hold keys or a password), one the file gives as no
   * string is named by where it is, its value never shown.
   */
  const text = (name: string, fallback: string, secret = false): string => {
    const value = read(name);
    if (value === undefined) return fallback;
    if (typeof value !== 'string') {
      const where = secret
        ? `the TALLY_CONFIG file's ${name}`
        : `${JSON.stringify(value)} in the TALLY_CONFIG file`;
      errors.push(`${name}: ${where} must be a string`);
      return fallback;
    }
    return value;
  };
  /**
   * Where a setting's value came from, with the value: `TALLY_X="…"`, or `"…" in the TALLY_CONFIG
   * file`; with `secret`, only where (`TALLY_X`, or `the TALLY_CONFIG file's`): it may hold keys.
   */
  const given = (name: string, secret = false): string => {
    const envText = fromEnv(name);
    if (secret) return envText === undefined ? `the TALLY_CONFIG file's ${name}` : envNameOf(name);
    return envText === undefined
      ? `${shown(String(file[name]))} in the TALLY_CONFIG file`
      : `${envNameOf(name)}=${shown(envText)}`;
  };
  /** A list setting; with `patterns`, regular expressions, whose `(…)`, `[…]` and `{…}` may hold commas. */
  const list = (name: string, { patterns = false } = {}): string[] => {
    const value = read(name);
    if (value === undefined) return [];
    if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
    if (typeof value === 'string') {
      // JSON when it reads as JSON, or begins as a JSON array of strings must (`[`, then `"` or
      // `]`: refused with where it stops when it is not JSON, rather than read as a list of
      // pieces of JSON); otherwise a comma-separated list, whose first pattern may be a character
      // class (`[Bb]ot-x,crawler`).
      const asJson = value.trim().startsWith('[') ? jsonOrError(value) : undefined;
      if (asJson !== undefined && 'error' in asJson && JSON_STRING_ARRAY_START.test(value)) {
        errors.push(
          `${name}: ${given(name, true)} begins as a JSON array of strings but is not JSON (SyntaxError: ${unquotedJsonErrorMessage(value, asJson.error)}): mend the JSON, or give a comma-separated list`,
        );
        return [];
      }
      if (asJson !== undefined && 'parsed' in asJson) {
        const { parsed } = asJson;
        if (Array.isArray(parsed) && parsed.every((item) => typeof item === 'string')) return parsed;
        errors.push(
          `${name}: ${given(name, true)} must be a JSON array of strings or a comma-separated list`,
        );
        return [];
      }
      // `bot{2,}` split at its comma would be two patterns, neither the one meant, both valid.
      if (patterns && commaInsideBrackets(value)) {
        errors.push(
          `${name}: ${given(name)} holds a comma inside a pattern's (…), […] or {…}, where a comma-separated list would split it: give the patterns as a JSON array of strings, such as ["crawler","bot{2,}"]`,
        );
        return [];
      }
      return value
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
    }
    errors.push(
      `${name}: ${given(name, true)} must be a list of strings: a JSON array of strings, or a comma-separated list in one string`,
    );
    return [];
  };
  const json = (name: string): unknown => {
    const value = read(name);
    if (typeof value !== 'string') return value;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch (error) {
      // Not quoted: the value may hold keys.
      errors.push(
        `${name}: ${given(name, true)} must be JSON (SyntaxError: ${unquotedJsonErrorMessage(value, error)})`,
      );
      return undefined;
    }
    for (const path of duplicatePaths(value))
      errors.push(`${name}: ${given(name, true)} gives ${path} twice; give each once (${KEEPS_ONE})`);
    return parsed;
  };

  const port = int('port', 8080, 0, 65535);
  const publicUrlGiven = read('publicUrl') !== undefined;
  // Port 0 picks a free port once listening, after the notice URLs' base is settled.
  if (port === 0 && !publicUrlGiven)
    errors.push(
      `port: ${given('port')} picks a free port, which notice URLs cannot name: set TALLY_PUBLIC_URL (publicUrl in the TALLY_CONFIG file) too, or another port`,
    );
  const host = text('host', '0.0.0.0');
  const hostIsAddress = isIP(host) !== 0 || isHostName(host);
  if (!hostIsAddress)
    errors.push(
      `host: ${given('host')} is neither an IP address nor a host name; e.g. 0.0.0.0 (every interface), 127.0.0.1 or ::1`,
    );
  const publicUrl = text('publicUrl', defaultPublicUrl(host, port)).replace(/\/+$/, '');
  const publicUrlProblem = problemOfPublicUrl(publicUrl);
  // A default built on a host or port already refused says nothing more: the operator set no
  // public URL.
  if (publicUrlProblem !== undefined && publicUrlGiven)
    errors.push(
      `publicUrl: ${given('publicUrl')} ${publicUrlProblem}: give the http(s) URL notices reach Tally at, such as https://tally.example.com`,
    );
  // Not set, its default is built on the host and port: the operator is told which to change.
  else if (publicUrlProblem !== undefined && hostIsAddress && port !== 0)
    errors.push(
      `publicUrl: TALLY_PUBLIC_URL is not set (nor publicUrl in the TALLY_CONFIG file), and its default, ${shown(publicUrl)} (the host and ${given('port')}), ${publicUrlProblem}: set TALLY_PUBLIC_URL to the http(s) URL notices reach Tally at, such as https://tally.example.com, or listen on another port`,
    );
  const blockedIpsFile = text('ivtBlockedIpsFile', '');
  const blockedIps = [
    ...list('ivtBlockedIps'),
    ...(blockedIpsFile === ''
      ? []
      : readAddressFile(blockedIpsFile, 'ivtBlockedIpsFile', given('ivtBlockedIpsFile', true), errors)),
  ];
  const ivt = buildIvtFilter(
    list('ivtUserAgents', { patterns: true }),
    blockedIps,
    list('ivtTrustedNotifiers'),
  );
  if (!ivt.ok) {
    const settingOf = {
      userAgents: 'ivtUserAgents',
      blockedIps: 'ivtBlockedIps',
      trustedNotifiers: 'ivtTrustedNotifiers',
    };
    errors.push(
      ...ivt.errors.map(
        (error) => `${settingOf[error.list]}: in ${given(settingOf[error.list], true)}, ${error.message}`,
      ),
    );
  }
  const sqliteSynchronous = text('sqliteSynchronous', 'FULL').toUpperCase();
  if (sqliteSynchronous !== 'FULL' && sqliteSynchronous !== 'NORMAL')
    errors.push(`sqliteSynchronous: ${given('sqliteSynchronous')} must be FULL or NORMAL`);
  const adminKey = text('adminKey', '', true) || undefined;
  // What `Authorization: Bearer <key>` can carry: a space, a control or a non-ASCII character would
  // make a key no request authenticates with.
  if (adminKey !== undefined && !/^[\x21-\x7e]{16,}$/.test(adminKey))
    errors.push(
      `adminKey: ${given('adminKey', true)} must be at least 16 characters, each a printable ASCII character other than a space`,
    );
  const metricsKey = text('metricsKey', '', true) || undefined;
  if (metricsKey !== undefined && !/^[\x21-\x7e]{16,}$/.test(metricsKey))
    errors.push(
      `metricsKey: ${given('metricsKey', true)} must be at least 16 characters, each a printable ASCII character other than a space`,
    );
  const burlPrivateNetworks = text('burlPrivateNetworks', 'deny').toLowerCase();
  if (burlPrivateNetworks !== 'deny' && burlPrivateNetworks !== 'allow')
    errors.push(`burlPrivateNetworks: ${given('burlPrivateNetworks')} must be deny (the default) or allow`);
  const smtpUrl = text('smtpUrl', '', true) || undefined;
  if (smtpUrl !== undefined && !isSmtpUrl(smtpUrl))
    errors.push(`smtpUrl: ${given('smtpUrl', true)} must look like smtp://user:pass@host:587`);
  const mailFrom = text('mailFrom', 'tally@localhost');
  if (!isMailSender(mailFrom))
    errors.push(
      `mailFrom: ${given('mailFrom')} must be the address tag exports are mailed from, e.g. tally@example.com or Tally <tally@example.com>`,
    );

  const dataDir = text('dataDir', './data');
  // A stray space from an env file names another directory, and serve would make a new ledger there.
  if (dataDir.trim() !== dataDir)
    errors.push(
      `dataDir: ${given('dataDir')} begins or ends with white space: give the data directory's path without it`,
    );

  const config: Config = {
    port,
    host,
    dataDir: resolve(dataDir),
    publicUrl,
    adminKey,
    metricsKey,
    tokenKeys: parseTokenKeys(text('tokenKeys', '', true), given('tokenKeys', true), errors),
    ivtFilter: ivt.ok ? ivt.filter : buildIvtFilterOrThrow(),
    rules: parseRules(json('rules'), given('rules', true), errors),
    priceKeys: parsePriceKeyMap(json('priceKeys'), given('priceKeys', true), errors),
    retentionDays: int('retentionDays', 100, 1, 3650),
    commitMaxBatch: int('commitMaxBatch', 2048, 1, 100_000),
    commitMaxDelayMs: int('commitMaxDelayMs', 0, 0, 1000),
    commitMaxQueue: int('commitMaxQueue', 50_000, 1, 10_000_000),
    sqliteSynchronous: sqliteSynchronous === 'NORMAL' ? 'NORMAL' : 'FULL',
    burlRetrySeconds: int('burlRetrySeconds', 10, 1, 3600),
    burlTimeoutMs: int('burlTimeoutMs', 10_000, 100, 120_000),
    burlConcurrency: int('burlConcurrency', 256, 1, 1024),
    burlHostConcurrency: int('burlHostConcurrency', 64, 1, 1024),
    burlPrivateNetworks: burlPrivateNetworks === 'allow' ? 'allow' : 'deny',
    // A body is read as one string, and V8's strings hold at most about 512 MiB.
    maxBodyBytes: int('maxBodyBytes', 16 * 1024 * 1024, 1024, MAX_BODY_BYTES_LIMIT),
    winThreads: int('winThreads', 2, 1, 64),
    reportMaxRows: int('reportMaxRows', 100_000, 1, 10_000_000),
    smtpUrl,
    mailFrom,
  };
  /**
   * Refuses a limit given above the limit that caps it, which would leave it no effect: the cap
   * wins. Only where both are given and valid: a default above a given cap is lowered to it.
   */
  const capped = (name: string, value: number, capName: string, cap: number, why: string) => {
    const bothGiven = read(name) !== undefined && read(capName) !== undefined;
    const bothValid = !errors.some(
      (error) => error.startsWith(`${name}:`) || error.startsWith(`${capName}:`),
    );
    if (bothGiven && bothValid && value > cap)
      errors.push(
        `${name}: ${given(name)} is more than ${capName}, ${given(capName)}, and ${why}: lower it or raise ${capName}`,
      );
  };
  capped(
    'commitMaxBatch',
    config.commitMaxBatch,
    'commitMaxQueue',
    config.commitMaxQueue,
    'a batch is taken from the queue, so it never holds more',
  );
  capped(
    'burlHostConcurrency',
    config.burlHostConcurrency,
    'burlConcurrency',
    config.burlConcurrency,
    'the calls to one host are among all the calls in flight',
  );
  // A misspelt setting in the file would otherwise leave its default in force, unnoticed.
  for (const name of Object.keys(file)) {
    if (!settings.has(name)) {
      // A variable's name, as an operator moving the variables into the file writes it.
      const variableOf = [...settings].find((setting) => envNameOf(setting) === name);
      const hint =
        variableOf === undefined
          ? meant(name, settings)
          : ` (did you mean ${variableOf}? the file names each setting as its variable without TALLY_, camelCased)`;
      errors.push(
        `TALLY_CONFIG: ${shown(name)} is not a setting${hint}; the settings are ${[...settings].sort().join(', ')}`,
      );
    }
  }
  // So would a misspelt environment variable, or one in lower case: `tally_port` is not `TALLY_PORT`.
  const envNames = new Set([...settings].map(envNameOf));
  for (const name of Object.keys(env).sort()) {
    if (name.toUpperCase().startsWith('TALLY_') && !envNames.has(name) && !OTHER_TALLY_VARIABLES.has(name)) {
      const names = [...envNames, ...OTHER_TALLY_VARIABLES];
      errors.push(
        `${shown(name)} is not a setting${meant(name, names)}; the settings are ${[...envNames, 'TALLY_CONFIG'].sort().join(', ')}`,
      );
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config };
}

/** ` (did you mean X?)` for the name a misspelt `name` most likely meant, or nothing. */
function meant(name: string, names: Iterable<string>): string {
  const closest = closestName(name, names);
  return closest === undefined ? '' : ` (did you mean ${closest}?)`;
}

/** `TALLY_` variables that are no setting: the config file's path, and the tests' Chromium. */
const OTHER_TALLY_VARIABLES = new Set(['TALLY_CONFIG', 'TALLY_CHROMIUM']);

function buildIvtFilterOrThrow(): IvtFilter {
  const empty = buildIvtFilter([], []);
  if (!empty.ok) throw new Error('an empty IVT filter cannot fail');
  return empty.filter;
}
