import { resolve } from 'node:path';
import type { IvtFilter } from './domain/ivt-filter.js';
import type { PriceKeys } from './domain/price-crypto.js';
import type { RuleOverride } from './domain/rules.js';
import type { SqliteSynchronous } from './adapters/sqlite/database.js';
import type { PrivateNetworks } from './billing/egress.js';
import { readConfigFile } from './config/config-file.js';
import { readIvtFilter } from './config/ivt-settings.js';
import { readListenAddress } from './config/listen-address.js';
import { readMailSettings } from './config/mail.js';
import { parsePriceKeyMap } from './config/price-keys.js';
import { parseRules } from './config/rules.js';
import { Settings } from './config/settings.js';
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
  /**
   * How long an answer's bytes may stop moving before its connection is closed, as nginx's
   * `send_timeout` (up to twice this: see `httpServing`).
   */
  sendTimeoutSeconds: number;
  /**
   * How long a shutdown waits for the requests in flight, their connections and the burl calls in
   * flight before it closes or abandons those left.
   */
  shutdownGraceSeconds: number;
  /**
   * The free space, in MiB, the data directory's disk must keep for Tally to say it is ready: below
   * it `/readyz` answers 503 (a load balancer sends traffic elsewhere) while notices are still
   * served and counted; 0 turns the check off. Read every 5 s (see `dataDiskSpace`).
   */
  minFreeDiskMb: number;
  /**
   * Most connections open at once (node:http's `server.maxConnections`, the notice lane's included):
   * one opened past it is closed at once, unanswered, and counted in
   * `tally_connections_dropped_total`. Each holds a file descriptor: keep it under the process's
   * limit (`ulimit -n`; Node raises the soft limit to the hard one at start), less
   * `burlConcurrency` for the relay's calls and some 100 for the ledger's files, the threads and
   * the logs: past that limit connections are closed uncounted and Tally's own files and burl
   * calls fail to open.
   */
  maxConnections: number;
  /** `smtp://user:pass@host:port` for tag export by email; undefined when mail is not set up. */
  smtpUrl: string | undefined;
  mailFrom: string;
  /**
   * The settings the `TALLY_CONFIG` file gives that their environment variables override, each by
   * its name in the file and its variable's (never a value: some are keys), in name order.
   */
  overriddenInFile: { setting: string; variable: string }[];
}

/** The largest `TALLY_MAX_BODY_BYTES`: half of the longest string V8 holds, as a wins body is one. */
const MAX_BODY_BYTES_LIMIT = 256 * 1024 * 1024;

/** The largest `TALLY_MIN_FREE_DISK_MB`: 1 PiB, more than any disk has, so that no floor is refused. */
const MAX_MIN_FREE_DISK_MB = 1024 ** 3;

/**
 * Parses configuration: environment variables win over the file named by `TALLY_CONFIG`
 * (JSON whose keys are the variable names without `TALLY_`, camelCased, e.g. `publicUrl`).
 * Every error is reported at once, each saying what to fix.
 */
export function parseConfig(
  env: NodeJS.ProcessEnv,
): { ok: true; config: Config } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  const settings = new Settings(env, readConfigFile(env.TALLY_CONFIG, errors), errors);
  const { port, host, publicUrl } = readListenAddress(settings, errors);
  const ivtFilter = readIvtFilter(settings, errors);
  const sqliteSynchronous = settings.text('sqliteSynchronous', 'FULL').toUpperCase();
  if (sqliteSynchronous !== 'FULL' && sqliteSynchronous !== 'NORMAL')
    errors.push(`sqliteSynchronous: ${settings.given('sqliteSynchronous')} must be FULL or NORMAL`);
  const adminKey = readBearerKey(settings, 'adminKey', errors);
  const metricsKey = readBearerKey(settings, 'metricsKey', errors);
  const burlPrivateNetworks = settings.text('burlPrivateNetworks', 'deny').toLowerCase();
  if (burlPrivateNetworks !== 'deny' && burlPrivateNetworks !== 'allow')
    errors.push(
      `burlPrivateNetworks: ${settings.given('burlPrivateNetworks')} must be deny (the default) or allow`,
    );
  const { smtpUrl, mailFrom } = readMailSettings(settings, errors);

  const dataDir = settings.text('dataDir', './data');
  // A stray space from an env file names another directory, and serve would make a new ledger there.
  if (dataDir.trim() !== dataDir)
    errors.push(
      `dataDir: ${settings.given('dataDir')} begins or ends with white space: give the data directory's path without it`,
    );

  const config: Config = {
    port,
    host,
    dataDir: resolve(dataDir),
    publicUrl,
    adminKey,
    metricsKey,
    tokenKeys: parseTokenKeys(
      settings.text('tokenKeys', '', true),
      settings.given('tokenKeys', true),
      errors,
    ),
    ivtFilter,
    rules: parseRules(settings.json('rules'), settings.given('rules', true), errors),
    priceKeys: parsePriceKeyMap(settings.json('priceKeys'), settings.given('priceKeys', true), errors),
    retentionDays: settings.int('retentionDays', 100, 1, 3650),
    commitMaxBatch: settings.int('commitMaxBatch', 2048, 1, 100_000),
    commitMaxDelayMs: settings.int('commitMaxDelayMs', 0, 0, 1000),
    commitMaxQueue: settings.int('commitMaxQueue', 50_000, 1, 10_000_000),
    sqliteSynchronous: sqliteSynchronous === 'NORMAL' ? 'NORMAL' : 'FULL',
    burlRetrySeconds: settings.int('burlRetrySeconds', 10, 1, 3600),
    burlTimeoutMs: settings.int('burlTimeoutMs', 10_000, 100, 120_000),
    burlConcurrency: settings.int('burlConcurrency', 256, 1, 1024),
    burlHostConcurrency: settings.int('burlHostConcurrency', 64, 1, 1024),
    burlPrivateNetworks: burlPrivateNetworks === 'allow' ? 'allow' : 'deny',
    // A body is read as one string, and V8's strings hold at most about 512 MiB.
    maxBodyBytes: settings.int('maxBodyBytes', 16 * 1024 * 1024, 1024, MAX_BODY_BYTES_LIMIT),
    winThreads: settings.int('winThreads', 2, 1, 64),
    reportMaxRows: settings.int('reportMaxRows', 100_000, 1, 10_000_000),
    sendTimeoutSeconds: settings.int('sendTimeoutSeconds', 30, 1, 3600),
    shutdownGraceSeconds: settings.int('shutdownGraceSeconds', 10, 1, 3600),
    minFreeDiskMb: settings.int('minFreeDiskMb', 512, 0, MAX_MIN_FREE_DISK_MB),
    // Linux's default ceiling of open files a process may be given (`fs.nr_open`).
    maxConnections: settings.int('maxConnections', 10_000, 1, 1024 * 1024),
    smtpUrl,
    mailFrom,
    overriddenInFile: settings.overriddenInFile(),
  };
  refuseAboveCap(
    settings,
    errors,
    { name: 'commitMaxBatch', value: config.commitMaxBatch },
    { name: 'commitMaxQueue', value: config.commitMaxQueue },
    'a batch is taken from the queue, so it never holds more',
  );
  refuseAboveCap(
    settings,
    errors,
    { name: 'burlHostConcurrency', value: config.burlHostConcurrency },
    { name: 'burlConcurrency', value: config.burlConcurrency },
    'the calls to one host are among all the calls in flight',
  );
  settings.refuseUnknownNames();
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config };
}

/**
 * A key that requests give as `Authorization: Bearer <key>` (`adminKey`, `metricsKey`), or
 * `undefined` when it is not set.
 */
function readBearerKey(settings: Settings, name: string, errors: string[]): string | undefined {
  const key = settings.text(name, '', true) || undefined;
  // What `Authorization: Bearer <key>` can carry: a space, a control or a non-ASCII character would
  // make a key no request authenticates with.
  if (key !== undefined && !/^[\x21-\x7e]{16,}$/.test(key)) {
    // A key read whole from a file (a secret created from one, an env file saved with CRLF) ends
    // with its line break.
    const around =
      key.trim() !== key
        ? '; it begins or ends with white space (a line break from the file it was read from?): remove it'
        : '';
    errors.push(
      `${name}: ${settings.given(name, true)} must be at least 16 characters, each a printable ASCII character other than a space${around}`,
    );
  }
  return key;
}

/**
 * Refuses a limit given above the limit that caps it, which would leave it no effect: the cap
 * wins. Only where both are given and valid: a default above a given cap is lowered to it.
 */
function refuseAboveCap(
  settings: Settings,
  errors: string[],
  limit: { name: string; value: number },
  cap: { name: string; value: number },
  why: string,
): void {
  const bothGiven = settings.read(limit.name) !== undefined && settings.read(cap.name) !== undefined;
  const bothValid = !errors.some(
    (error) => error.startsWith(`${limit.name}:`) || error.startsWith(`${cap.name}:`),
  );
  if (bothGiven && bothValid && limit.value > cap.value)
    errors.push(
      `${limit.name}: ${settings.given(limit.name)} is more than ${cap.name}, ${settings.given(cap.name)}, and ${why}: lower it or raise ${cap.name}`,
    );
}
